"""The PNG plots (matplotlib): ROUGE of both models with their intervals, ROUGE per topic,
summary lengths, the training curves dvclive logged (losses, validation ROUGE), and the ROUGE
of the experiments of a sweep (dialogsum-experiments)."""

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
matplotlib.rcParams["text.parse_math"] = False  # a topic or param holding $ is drawn as it is, never as math
import matplotlib.pyplot as plt  # noqa: E402

from dialogsum_lora.errors import UserError  # noqa: E402
from dialogsum_lora.files.outputs import atomic_path  # noqa: E402
from dialogsum_lora.paths import BASELINE, FINETUNED  # noqa: E402
from dialogsum_lora.scoring.metrics import mean_reference_words  # noqa: E402
from dialogsum_lora.scoring.rouge import ROUGE_TYPES  # noqa: E402

FORMAT = "png"


def check_plot_path(path: Path) -> None:
    """Refuse a plot path whose extension is not the format written."""
    if Path(path).suffix.lower() != f".{FORMAT}":
        raise UserError(f"{path}: plots are written as PNG, so the file name must end in .{FORMAT}")


def _save(figure, path: Path) -> None:
    check_plot_path(path)
    with atomic_path(path) as temporary:
        # No "Software" stamp: the PNG depends on the data, not the matplotlib build.
        figure.savefig(temporary, format=FORMAT, dpi=120, metadata={"Software": None})
    plt.close(figure)


def plot_rouge(baseline: dict, finetuned: dict, path: Path) -> None:
    """Grouped bars: baseline vs finetuned F1 for each ROUGE type, with 95% intervals when known."""
    figure, axes = plt.subplots(figsize=(6, 3.6))
    positions = range(len(ROUGE_TYPES))
    width = 0.38
    for offset, (label, metrics) in zip((-width / 2, width / 2), ((BASELINE, baseline), (FINETUNED, finetuned))):
        values = [metrics[n] for n in ROUGE_TYPES]
        intervals = metrics.get("ci95")
        errors = [[v - intervals[n]["low"] for n, v in zip(ROUGE_TYPES, values)],
                  [intervals[n]["high"] - v for n, v in zip(ROUGE_TYPES, values)]] if intervals else None
        bars = axes.bar([p + offset for p in positions], values, width, yerr=errors, capsize=3, label=label)
        axes.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    axes.set_xticks(list(positions), ROUGE_TYPES)
    axes.set_ylabel("F1 (mean over dialogues)")
    axes.set_title(f"ROUGE on {finetuned['num_dialogues']} test dialogues" + (" (95% intervals)" if "ci95" in finetuned else ""))
    axes.legend()
    figure.tight_layout()
    _save(figure, path)


def plot_topics(topics: dict, path: Path, shown: int = 20) -> None:
    """Horizontal bars: ROUGE-1 of both models on the `shown` topics with the most test dialogues;
    the title says how many of how many topics it shows."""
    rows = topics["topics"][:shown]
    figure, axes = plt.subplots(figsize=(6.4, 1.2 + 0.32 * max(len(rows), 1)))
    if rows:
        positions = range(len(rows))
        for offset, system in zip((0.2, -0.2), (BASELINE, FINETUNED)):
            axes.barh([p + offset for p in positions], [r[system]["rouge1"] for r in rows], 0.4, label=system)
        axes.set_yticks(list(positions), [f"{r['topic'][:40]} ({r['dialogues']})" for r in rows], fontsize=7)
        axes.invert_yaxis()
        axes.legend(fontsize=7)
    else:
        axes.text(0.5, 0.5, f"no topic has {topics['min_dialogues']} or more test dialogues", ha="center", va="center")
        axes.set_yticks([])
    axes.set_xlabel("ROUGE-1 F1 (mean over the topic's dialogues)")
    left_out = len(topics["topics"]) - len(rows)
    axes.set_title(f"ROUGE-1 by topic: {len(rows)} of the {len(topics['topics'])} topics with at least "
                   f"{topics['min_dialogues']} test dialogues" + (", those with most" if left_out else ""), fontsize=9)
    figure.tight_layout()
    _save(figure, path)


def plot_lengths(references: list[list[str]], predictions: dict[str, list[str]], path: Path,
                 cut: dict[str, list[bool]] | None = None, max_new_tokens: int | None = None) -> None:
    """Each summary's words against its references' mean words, with the lines of equal, twice and
    half the length; summaries that stopped at max_new_tokens (`cut`, per system) drawn as crosses."""
    reference_words = mean_reference_words(references)
    figure, axes = plt.subplots(figsize=(5, 4.4))
    for number, (label, texts) in enumerate(predictions.items()):
        flags = (cut or {}).get(label) or [False] * len(texts)
        for marker, kept in (("o", False), ("x", True)):
            points = [(r, len(t.split())) for r, t, flag in zip(reference_words, texts, flags) if flag == kept]
            if points or marker == "o":
                axes.scatter(*zip(*points) if points else ([], []), s=8 if marker == "o" else 14, alpha=0.5,
                             marker=marker, color=f"C{number}",
                             label=label if marker == "o" else f"{label}, cut at {max_new_tokens} new tokens")
    top = max([*reference_words, *(len(t.split()) for texts in predictions.values() for t in texts), 1])
    for factor, style in ((1, "-"), (2, ":"), (0.5, ":")):
        axes.plot([0, top], [0, top * factor], style, color="grey", linewidth=0.8)
    axes.set_xlim(0, top * 1.05)
    axes.set_ylim(0, top * 1.05)
    axes.set_xlabel("reference words (mean of the dialogue's references)")
    axes.set_ylabel("summary words")
    axes.set_title("Summary length vs references (lines: x1/2, x1, x2)", fontsize=10)
    axes.legend()
    figure.tight_layout()
    _save(figure, path)


def read_curve(tsv: Path) -> tuple[list[int], list[float]]:
    """(steps, values) from a dvclive metric file; empty if it was never logged."""
    if not tsv.exists():
        return [], []
    try:
        with tsv.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        value_column = next(c for c in rows[0] if c not in ("step", "timestamp")) if rows else None
        return [int(r["step"]) for r in rows], [float(r[value_column]) for r in rows]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, StopIteration) as error:
        raise UserError(f"{tsv} is not a dvclive metric file ({type(error).__name__}: {error})") from None


def plot_curves(curves: dict[str, tuple[list[int], list[float]]], path: Path, ylabel: str, title: str,
                kept_step: int | None = None) -> None:
    """Curves against the optimiser step (the losses; validation ROUGE), with a line at the step whose
    adapter finetune kept; a note if none was logged."""
    figure, axes = plt.subplots(figsize=(6, 3.6))
    for label, (steps, values) in curves.items():
        if steps:
            axes.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=label)
    if kept_step is not None:
        axes.axvline(kept_step, color="black", linestyle="--", linewidth=0.8, label=f"adapter kept (step {kept_step:,})")
    if any(steps for steps, _ in curves.values()):
        axes.legend()
    else:
        axes.text(0.5, 0.5, "nothing logged", ha="center", va="center")
    axes.set_xlabel("optimiser step")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.tight_layout()
    _save(figure, path)


def plot_experiments(rows: list[dict], keys: list[str], path: Path) -> None:
    """Grouped bars: each experiment's finetuned ROUGE x100 (rows as dialogsum_lora.commands.experiments
    gives them, best first), with its 95% interval when the metrics hold one, labelled by name
    and changed params."""
    figure, axes = plt.subplots(figsize=(max(6.0, 1.4 * len(rows) + 2), 4.2))
    width = 0.8 / len(ROUGE_TYPES)
    for number, name in enumerate(ROUGE_TYPES):
        positions = [index + (number - (len(ROUGE_TYPES) - 1) / 2) * width for index in range(len(rows))]
        values = [100 * row["metrics"][name] for row in rows]
        intervals = [(row["metrics"].get("ci95") or {}).get(name) for row in rows]
        errors = None
        if all(intervals):
            errors = [[value - 100 * interval["low"] for value, interval in zip(values, intervals)],
                      [100 * interval["high"] - value for value, interval in zip(values, intervals)]]
        axes.bar(positions, values, width, yerr=errors, capsize=2, label=name)
    labels = [row["name"] + "".join(f"\n{key}={row['params'].get(key, '')}" for key in keys) for row in rows]
    axes.set_xticks(range(len(rows)), labels, fontsize=7)
    axes.set_ylabel(f"ROUGE F1 x100 ({FINETUNED})")
    axes.set_title("Experiments, best rouge1 first" + (" (95% intervals)" if any(r["metrics"].get("ci95") for r in rows) else ""))
    axes.legend(fontsize=7)
    figure.tight_layout()
    _save(figure, path)


def plot_against(points: dict[str, list[tuple]], key: str, path: Path, left_out: int = 0) -> None:
    """Finetuned ROUGE-1 x100 against a numeric param: a line per series (the other changed params),
    each point (x, score, low, high, seeds) with its 95% interval (over seeds and dialogues where
    several seeds ran it), its number of seeds beside it when more than one."""
    figure, axes = plt.subplots(figsize=(6, 3.8))
    for label, series in points.items():
        xs, values, lows, highs, seeds = zip(*series)
        errors = [[100 * (v - low) for v, low in zip(values, lows)], [100 * (high - v) for v, high in zip(values, highs)]]
        axes.errorbar(xs, [100 * v for v in values], yerr=errors, marker="o", markersize=4, capsize=3, label=label)
        for x, value, count in zip(xs, values, seeds):
            if count > 1:
                axes.annotate(f"{count} seeds", (x, 100 * value), textcoords="offset points", xytext=(4, 4), fontsize=7)
    values = [x for series in points.values() for x, *_ in series]
    if min(values) > 0 and max(values) >= 10 * min(values):  # data sizes, ranks: a learning curve's axis
        axes.set_xscale("log")
        # Tick labels as plain numbers: the log scale's default ones are math text, which this module turns off.
        axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.margins(x=0.12)
    axes.set_xlabel(key)
    axes.set_ylabel(f"ROUGE-1 F1 x100 ({FINETUNED})")
    note = f"\n{left_out} run(s) without a number for it left out" if left_out else ""
    axes.set_title(f"ROUGE-1 against {key} (95% intervals){note}", fontsize=9)
    axes.legend(fontsize=7)
    figure.tight_layout()
    _save(figure, path)
