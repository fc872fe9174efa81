"""Plots (matplotlib PNGs) and a short markdown report, from the metrics and curves files."""

import csv
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from stages.errors import UserError  # noqa: E402
from stages.outputs import atomic_path  # noqa: E402
from stages.rouge import ROUGE_TYPES  # noqa: E402

EXAMPLES_IN_REPORT = 3


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


# Every ASCII punctuation character may be backslash-escaped in CommonMark; these are the ones
# that can start markup (emphasis, links, headings, lists, tables, HTML, entities, code).
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~=:])")


def as_text(text: str) -> str:
    """`text` on one markdown line, shown as itself: nothing in it is read as markup."""
    return _MARKUP.sub(r"\\\1", " ".join(text.split()))


def as_code_block(text: str) -> list[str]:
    """`text` as a fenced code block whose fence no run of backticks inside can close."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return [fence, text, fence]


def write_report(path: Path, baseline: dict, finetuned: dict, examples: list[dict], plots: list[Path]) -> None:
    """A markdown page: the metrics table, the plots, and a few summaries beside their references.

    `examples` rows hold dialogue, references, baseline and finetuned.
    """
    lines = [
        "# Flan-T5 + LoRA on DialogSum: results",
        "",
        f"ROUGE F1 on {finetuned['num_dialogues']} test dialogues ({finetuned['num_references']} references): "
        "mean over dialogues of the average over each dialogue's references "
        "(best-of-references in brackets).",
        "",
        "| metric | zero-shot | LoRA | change |",
        "|---|---|---|---|",
    ]
    for name in ROUGE_TYPES:
        lines.append(
            f"| {name} | {baseline[name]:.4f} ({baseline['best_reference'][name]:.4f}) "
            f"| {finetuned[name]:.4f} ({finetuned['best_reference'][name]:.4f}) "
            f"| {finetuned[name] - baseline[name]:+.4f} |"
        )
    lines += ["", *[f"![{p.stem}]({p.relative_to(path.parent)})" for p in plots], "", "## Examples", ""]
    for example in examples:
        lines += [f"### {as_text(example['id'])}", "", *as_code_block(example["dialogue"]), ""]
        lines += [f"- **reference {i}:** {as_text(ref)}" for i, ref in enumerate(example["references"], start=1)]
        lines += [f"- **zero-shot:** {as_text(example['baseline'])}", f"- **LoRA:** {as_text(example['finetuned'])}", ""]
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines), encoding="utf-8")
