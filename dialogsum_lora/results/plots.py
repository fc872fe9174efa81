"""The PNG plots of evaluate and dialogsum-experiments, drawn for a paper: PAPER_WIDTH wide at DPI, no text under
MIN_FONT points, long labels shortened or wrapped, nothing clipped, legends under the axes (never over data)."""

import csv
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib import ticker, transforms
from matplotlib.figure import Figure  # not pyplot: files only, no display and no global state

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import atomic_path
from dialogsum_lora.paths import BASELINE, FINETUNED
from dialogsum_lora.scoring.metrics import mean_reference_words
from dialogsum_lora.scoring.rouge import ROUGE_TYPES

PAPER_WIDTH = 6.5  # inches: the text width of a US-letter or A4 paper with its usual margins
DPI = 200  # crisp in print, a few hundred kB a plot
MIN_FONT = 8  # points at the printed size: tick labels, legends and notes included
TITLE_FONT = 9
TITLE_CHARACTERS = 80  # a title's line at TITLE_FONT across PAPER_WIDTH; longer ones wrap
LABEL_CHARACTERS = 40  # a topic or an experiment's label line; longer ones are shortened
STYLE = {
    "font.size": MIN_FONT,  # labels, ticks and legends are "medium": this size
    "figure.titlesize": TITLE_FONT,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "text.parse_math": False,  # a topic or param holding $ is drawn as it is, never as math
}
MAX_EXPERIMENTS = 15  # bars of more runs than this are unreadable at a paper's size: the best ones are drawn


@contextmanager
def _figure(path: Path, height: float, title: str, legend_columns: int = 0) -> Iterator:
    """The axes of a figure `height` inches tall, `title` wrapped above, a legend under; written to `path` on exit."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(PAPER_WIDTH, height), layout="constrained")
        yield figure.subplots()
        if legend_columns:
            figure.legend(loc="outside lower center", ncols=legend_columns)
        lines = (textwrap.fill(line, TITLE_CHARACTERS, break_on_hyphens=False) for line in title.split("\n"))
        figure.suptitle("\n".join(lines))
        with atomic_path(path) as temporary:
            # No "Software" stamp: the PNG depends on the data, not the matplotlib build.
            figure.savefig(temporary, format="png", metadata={"Software": None})


def _shortened(text: str, size: int = LABEL_CHARACTERS) -> str:
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


def _errors(values: list[float], intervals: list[dict | None], scale: float = 1) -> list[list[float]] | None:
    """matplotlib's error bars of `values` from their intervals (scaled), or None unless every value has one."""
    if not all(intervals):
        return None
    return [
        [value - scale * interval["low"] for value, interval in zip(values, intervals)],
        [scale * interval["high"] - value for value, interval in zip(values, intervals)],
    ]


def plot_rouge(baseline: dict, finetuned: dict, path: Path) -> None:
    """Grouped bars: baseline vs finetuned F1 for each ROUGE type, with 95% intervals when known."""
    intervals = " (95% intervals)" if "ci95" in finetuned else ""
    with _figure(path, 3.0, f"ROUGE on {finetuned['num_dialogues']} test dialogues{intervals}") as axes:
        positions = range(len(ROUGE_TYPES))
        width = 0.38
        for offset, (label, metrics) in zip((-width / 2, width / 2), ((BASELINE, baseline), (FINETUNED, finetuned))):
            values = [metrics[n] for n in ROUGE_TYPES]
            errors = _errors(values, [(metrics.get("ci95") or {}).get(n) for n in ROUGE_TYPES])
            bars = axes.bar([p + offset for p in positions], values, width, yerr=errors, capsize=3, label=label)
            axes.bar_label(bars, fmt="%.3f", padding=2)
        axes.set_xticks(list(positions), ROUGE_TYPES)
        axes.set_ylabel("F1 (mean over dialogues)")
        axes.margins(y=0.12)  # room for the values above the bars
        axes.legend()


def plot_topics(topics: dict, path: Path, shown: int = 20) -> None:
    """Horizontal bars: ROUGE-1 of both models on the `shown` topics with the most test dialogues."""
    every, least = topics["topics"], topics["min_dialogues"]
    rows = every[:shown]
    most = "\n(those with the most dialogues)" if rows != every else ""
    title = f"ROUGE-1 by topic: {len(rows)} of the {len(every)} topics with at least {least} test dialogues{most}"
    with _figure(path, 1.3 + 0.26 * max(len(rows), 1), title, 2 if rows else 0) as axes:
        if rows:
            positions = range(len(rows))
            for offset, system in zip((-0.2, 0.2), (BASELINE, FINETUNED)):
                axes.barh([p + offset for p in positions], [r[system]["rouge1"] for r in rows], 0.4, label=system)
            axes.set_yticks(list(positions), [f"{_shortened(r['topic'])} ({r['dialogues']})" for r in rows])
            axes.invert_yaxis()
        else:
            axes.text(0.5, 0.5, f"no topic has {least} or more test dialogues", ha="center", va="center")
            axes.set_yticks([])
        axes.set_xlabel("ROUGE-1 F1 (mean over the topic's dialogues)")


def plot_lengths(
    references: list[list[str]],
    predictions: dict[str, list[str]],
    path: Path,
    cut: dict[str, list[bool]] | None = None,
    max_new_tokens: int | None = None,
) -> None:
    """Each summary's words against its references' mean; those cut at max_new_tokens (`cut`) as counted crosses."""
    reference_words, cut = mean_reference_words(references), cut or {}
    anything_cut = any(any(flags) for flags in cut.values())
    none_cut = f"; none cut at {max_new_tokens} new tokens" if max_new_tokens is not None and not anything_cut else ""
    with _figure(path, 4.0, f"Summary length vs references (lines: x1/2, x1, x2){none_cut}", 2) as axes:
        for number, (label, texts) in enumerate(predictions.items()):
            flags = cut.get(label) or [False] * len(texts)
            for marker, size, kept in (("o", 8, False), ("x", 14, True)):
                points = [(r, len(t.split())) for r, t, flag in zip(reference_words, texts, flags) if flag == kept]
                if points or not kept:
                    named = f"{label}: {len(points)} cut at {max_new_tokens} new tokens" if kept else label
                    xy = zip(*points) if points else ([], [])
                    axes.scatter(*xy, s=size, alpha=0.5, marker=marker, color=f"C{number}", label=named)
        top = max([*reference_words, *(len(t.split()) for texts in predictions.values() for t in texts), 1])
        for factor, style in ((1, "-"), (2, ":"), (0.5, ":")):
            axes.plot([0, top], [0, top * factor], style, color="grey", linewidth=0.8)
        axes.set_xlim(0, top * 1.05)
        axes.set_ylim(0, top * 1.05)
        axes.set_xlabel("reference words (mean of the dialogue's references)")
        axes.set_ylabel("summary words")


def read_curve(tsv: Path) -> tuple[list[int], list[float]]:
    """(steps, values) from a dvclive metric file; empty if it was never logged."""
    if not tsv.exists():
        return [], []
    try:
        with tsv.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        value_column = next(c for c in rows[0] if c not in ("step", "timestamp")) if rows else None
        return [int(r["step"]) for r in rows], [float(r[value_column]) for r in rows]
    except (OSError, ValueError, TypeError, KeyError, StopIteration) as error:
        raise UserError(f"{tsv} is not a dvclive metric file ({type(error).__name__}: {error})") from None


def plot_curves(
    curves: dict[str, tuple[list[int], list[float]]], path: Path, ylabel: str, title: str, kept_step: int
) -> None:
    """Curves against the optimiser step, with a line at the step whose weights finetune kept."""
    with _figure(path, 3.0, title) as axes:
        for label, (steps, values) in curves.items():
            if steps:
                axes.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=label)
        kept = f"weights kept (step {kept_step:,})"
        axes.axvline(kept_step, color="black", linestyle="--", linewidth=0.8, label=kept)
        if any(steps for steps, _ in curves.values()):
            axes.legend()
        else:
            axes.text(0.5, 0.5, "nothing logged", ha="center", va="center")
        axes.set_xlabel("optimiser step")
        axes.set_ylabel(ylabel)


def plot_experiments(rows: list[dict], keys: list[str], path: Path) -> None:
    """Horizontal grouped bars: finetuned ROUGE x100 of the best MAX_EXPERIMENTS runs, labelled by name and params."""
    shown = rows[:MAX_EXPERIMENTS]
    labels = []
    for row in shown:
        params = " ".join(f"{key}={row['params'].get(key, '')}" for key in keys)
        wrapped = textwrap.wrap(params, LABEL_CHARACTERS, max_lines=2, placeholder=" …")
        labels.append("\n".join([_shortened(row["name"]), *wrapped]))
    runs = f"The best {len(shown)} of {len(rows)} runs" if len(shown) < len(rows) else "Experiments"
    intervals = " (95% intervals)" if any(row["metrics"].get("ci95") for row in shown) else ""
    title = f"{runs}, best rouge1 first{intervals}"
    with _figure(path, 1.3 + 0.45 * len(shown), title, len(ROUGE_TYPES)) as axes:
        width = 0.8 / len(ROUGE_TYPES)
        for number, name in enumerate(ROUGE_TYPES):
            positions = [index + (number - (len(ROUGE_TYPES) - 1) / 2) * width for index in range(len(shown))]
            values = [100 * row["metrics"][name] for row in shown]
            errors = _errors(values, [(row["metrics"].get("ci95") or {}).get(name) for row in shown], 100)
            axes.barh(positions, values, width, xerr=errors, capsize=2, label=name)
        axes.set_yticks(range(len(shown)), labels)
        axes.invert_yaxis()
        axes.set_xlabel(f"ROUGE F1 x100 ({FINETUNED})")


def plot_against(points: dict[str, list[tuple]], key: str, path: Path, left_out: Sequence[str] = ()) -> None:
    """Finetuned ROUGE-1 x100 against a numeric param, a line per series of experiments.curve_points (drawn a little
    apart so intervals do not hide), seeds counted in the legend or beside each point."""
    labels, counted = [], []  # counted: whether the legend gives the series' number of seeds
    for label, series in points.items():
        counts = {seeds for *_, seeds in series}
        counted.append(len(counts) == 1 and max(counts) > 1)
        each = f" ({max(counts)} seeds a point)" if counted[-1] else ""
        labels.append(textwrap.fill(label + each, LABEL_CHARACTERS, break_on_hyphens=False))
    legend_lines = sum(max(label.count("\n") + 1 for label in labels[i : i + 2]) for i in range(0, len(labels), 2))
    note = f"; left out: {'; '.join(left_out)}" if left_out else ""
    title = f"ROUGE-1 against {key} (95% intervals){note}"
    with _figure(path, 3.2 + 0.15 * legend_lines, title, min(len(labels), 2)) as axes:
        for number, (label, in_legend, series) in enumerate(zip(labels, counted, points.values())):
            apart = (number - (len(points) - 1) / 2) * 0.04  # inches, the same on a linear or a log axis
            shifted = axes.transData + transforms.ScaledTranslation(apart, 0, axes.figure.dpi_scale_trans)
            xs, values, lows, highs, seeds = zip(*series)
            scaled = [100 * v for v in values]
            errors = _errors(scaled, [{"low": low, "high": high} for low, high in zip(lows, highs)], 100)
            axes.errorbar(xs, scaled, yerr=errors, marker="o", markersize=4, capsize=3, label=label, transform=shifted)
            # Drawn through another transform than the data's, the points do not widen the axes' limits by themselves.
            axes.update_datalim([(x, 100 * bound) for x, low, high in zip(xs, lows, highs) for bound in (low, high)])
            for x, value, count in zip(xs, values, seeds):
                if count > 1 and not in_legend:
                    axes.annotate(
                        f"{count} seeds", (x, 100 * value), xycoords=shifted, textcoords="offset points", xytext=(4, 4)
                    )
        axes.autoscale_view()
        values = [x for series in points.values() for x, *_ in series]
        if min(values) > 0 and max(values) >= 10 * min(values):  # data sizes, ranks: a learning curve's axis
            axes.set_xscale("log")
            # Tick labels as plain numbers: the log scale's default ones are math text, which STYLE turns off.
            axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
            axes.xaxis.set_minor_formatter(ticker.NullFormatter())
        axes.margins(x=0.12)
        axes.set_xlabel(key)
        axes.set_ylabel(f"ROUGE-1 F1 x100 ({FINETUNED})")
