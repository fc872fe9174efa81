"""The PNG plots (matplotlib): ROUGE of both models, the training curves dvclive logged, and
the ROUGE of the experiments of a sweep (dialogsum-experiments)."""

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from dialogsum_lora.errors import UserError  # noqa: E402
from dialogsum_lora.outputs import atomic_path  # noqa: E402
from dialogsum_lora.rouge import ROUGE_TYPES  # noqa: E402


def _save(figure, path: Path) -> None:
    with atomic_path(path) as temporary:
        # No "Software" stamp: the PNG depends on the data, not the matplotlib build.
        figure.savefig(temporary, format="png", dpi=120, metadata={"Software": None})
    plt.close(figure)


def plot_rouge(baseline: dict, finetuned: dict, path: Path) -> None:
    """Grouped bars: baseline vs fine-tuned F1 for each ROUGE type."""
    figure, axes = plt.subplots(figsize=(6, 3.6))
    positions = range(len(ROUGE_TYPES))
    width = 0.38
    for offset, (label, metrics) in zip((-width / 2, width / 2), (("zero-shot", baseline), ("LoRA", finetuned))):
        bars = axes.bar([p + offset for p in positions], [metrics[n] for n in ROUGE_TYPES], width, label=label)
        axes.bar_label(bars, fmt="%.3f", fontsize=7)
    axes.set_xticks(list(positions), ROUGE_TYPES)
    axes.set_ylabel("F1 (mean over dialogues)")
    axes.set_title(f"ROUGE on {finetuned['num_dialogues']} test dialogues")
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


def plot_losses(curves: dict[str, tuple[list[int], list[float]]], path: Path) -> None:
    """Training and validation loss against the optimiser step."""
    figure, axes = plt.subplots(figsize=(6, 3.6))
    for label, (steps, values) in curves.items():
        axes.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=label)
    axes.set_xlabel("optimiser step")
    axes.set_ylabel("cross-entropy loss")
    axes.set_title("LoRA fine-tuning")
    axes.legend()
    figure.tight_layout()
    _save(figure, path)


def plot_experiments(rows: list[dict], keys: list[str], path: Path) -> None:
    """Grouped bars: each experiment's fine-tuned ROUGE x100 (rows as dialogsum_lora.experiments
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
    axes.set_ylabel("ROUGE F1 x100 (fine-tuned)")
    axes.set_title("Experiments, best rouge1 first" + (" (95% intervals)" if any(r["metrics"].get("ci95") for r in rows) else ""))
    axes.legend(fontsize=7)
    figure.tight_layout()
    _save(figure, path)
