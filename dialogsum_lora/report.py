"""The markdown report: what was compared, the scores, the plots and a few summaries, with
every id and text written as text, never as markup."""

from pathlib import Path

from dialogsum_lora.markdown import as_code_block, as_text
from dialogsum_lora.outputs import atomic_path
from dialogsum_lora.rouge import ROUGE_TYPES

EXAMPLES_IN_REPORT = 3


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
