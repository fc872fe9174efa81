"""The markdown report: what was compared, the scores with their intervals and significance,
lengths, topics, the plots, and the dialogues fine-tuning helped and hurt most; every id,
name and text written as text, never as markup."""

from pathlib import Path

from dialogsum_lora.markdown import as_code_block, as_text
from dialogsum_lora.outputs import atomic_path
from dialogsum_lora.rouge import ROUGE_TYPES, change_text, p_value_text, score_text

EXAMPLES_IN_REPORT = 5  # largest gains, and as many largest losses
TOPIC_COLUMNS = ("rouge1", "rougeL")

def describe_run(run: dict) -> list[str]:
    """The header: model, data and key params the results come from. `run` holds model and
    data ({name, resolved}), lora, train, training ({steps, epochs}), prompt and generate
    (the params), seed and resamples."""
    lora, train, generate = run["lora"], run["train"], run["generate"]
    decoding = "greedy decoding" if generate["num_beams"] == 1 else f"beam search ({generate['num_beams']} beams)"
    return [
        f"# LoRA fine-tuning of {as_text(run['model']['name'])}: DialogSum results",
        "",
        f"- **base model:** {as_text(run['model']['name'])} ({as_text(run['model']['resolved'])})",
        f"- **data:** {as_text(run['data']['name'])} ({as_text(run['data']['resolved'])})",
        f"- **LoRA:** r {lora['r']}, alpha {lora['alpha']:g}, dropout {lora['dropout']:g} on "
        f"{as_text(', '.join(lora['target_modules']))}",
        f"- **training:** {run['training']['steps']} steps ({run['training']['epochs']:g} epochs) at batch "
        f"{train['batch_size']}, learning rate {train['learning_rate']:g}, seed {run['seed']}",
        f"- **generation:** {decoding}, at most {generate['max_new_tokens']} new tokens, prompts cut to "
        f"{run['prompt']['max_source_tokens']} tokens",
        f"- **intervals:** 95% bootstrap over test dialogues, {run['resamples']:,} resamples",
        "",
    ]


def headline(baseline: dict, finetuned: dict, comparison: dict) -> list[str]:
    """The scores with intervals, the paired comparison, and the significance line."""
    resamples = comparison["resamples"]
    lines = [
        "## Scores",
        "",
        f"ROUGE F1 on {finetuned['num_dialogues']} test dialogues ({finetuned['num_references']} references): mean "
        "over dialogues of the average over each dialogue's references, [95% interval]. The change is LoRA minus "
        "zero-shot on the same dialogues; p is the one-sided bootstrap p-value of \"LoRA is better\"; wins, ties "
        "and losses count dialogues.",
        "",
        "| metric | zero-shot | LoRA | change [95% interval] | p | wins / ties / losses | best reference: zero-shot, LoRA |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ROUGE_TYPES:
        c = comparison[name]
        lines.append(
            f"| {name} | {score_text(baseline, name)} | {score_text(finetuned, name)} "
            f"| {change_text(c)} | {p_value_text(c['p_value'], resamples)} "
            f"| {c['wins']} / {c['ties']} / {c['losses']} "
            f"| {baseline['best_reference'][name]:.4f}, {finetuned['best_reference'][name]:.4f} |"
        )
    c = comparison["rouge1"]
    verdict = "better than" if c["low"] > 0 else "worse than" if c["high"] < 0 else "not distinguishable from"
    lines += [
        "",
        f"**Significance:** on ROUGE-1, LoRA is {verdict} zero-shot at the 95% level: {change_text(c)}, "
        f"p {p_value_text(c['p_value'], resamples)} over {resamples:,} resamples.",
        "",
    ]
    return lines


def lengths(baseline: dict, finetuned: dict) -> list[str]:
    zero_shot, tuned = baseline["length"], finetuned["length"]
    return [
        "## Lengths",
        "",
        f"References average {tuned['reference_words']:.1f} words.",
        "",
        "| | zero-shot | LoRA |",
        "|---|---|---|",
        f"| mean words | {zero_shot['prediction_words']:.1f} | {tuned['prediction_words']:.1f} |",
        f"| over twice the references' length | {zero_shot['over_twice_reference']:.1%} | {tuned['over_twice_reference']:.1%} |",
        f"| under half the references' length | {zero_shot['under_half_reference']:.1%} | {tuned['under_half_reference']:.1%} |",
        "",
    ]


def topics_table(topics: dict) -> list[str]:
    lines = ["## By topic", ""]
    if not topics["topics"]:
        return lines + [f"No topic has {topics['min_dialogues']} or more test dialogues.", ""]
    lines += [
        f"Topics with at least {topics['min_dialogues']} test dialogue{'' if topics['min_dialogues'] == 1 else 's'} "
        "(a dialogue counts under each topic its "
        "annotators gave).",
        "",
        "| topic | dialogues | " + " | ".join(f"{n} zero-shot | {n} LoRA" for n in TOPIC_COLUMNS) + " |",
        "|---|---|" + "---|---|" * len(TOPIC_COLUMNS),
    ]
    for topic in topics["topics"]:
        scores = " | ".join(f"{topic['zero_shot'][n]:.4f} | {topic['finetuned'][n]:.4f}" for n in TOPIC_COLUMNS)
        lines.append(f"| {as_text(topic['topic'])} | {topic['dialogues']} | {scores} |")
    return lines + [""]


def examples_section(title: str, examples: list[dict]) -> list[str]:
    """Each example: id, ROUGE-1 change, dialogue, references and both summaries."""
    lines = [f"## {title}", ""]
    if not examples:
        return lines + ["None.", ""]
    for example in examples:
        change = example["finetuned_rouge1"] - example["zero_shot_rouge1"]
        lines += [f"### {as_text(example['id'])} (ROUGE-1 {change:+.4f})", "", *as_code_block(example["dialogue"]), ""]
        lines += [f"- **reference {i}:** {as_text(ref)}" for i, ref in enumerate(example["references"], start=1)]
        lines += [
            f"- **zero-shot** (ROUGE-1 {example['zero_shot_rouge1']:.4f}): {as_text(example['zero_shot'])}",
            f"- **LoRA** (ROUGE-1 {example['finetuned_rouge1']:.4f}): {as_text(example['finetuned'])}",
            "",
        ]
    return lines


def write_report(path: Path, run: dict, baseline: dict, finetuned: dict, comparison: dict, topics: dict,
                 gains: list[dict], losses: list[dict], plots: list[Path]) -> None:
    """A markdown page of the run's results (see the module docstring). `gains` and `losses`
    rows hold id, dialogue, references, zero_shot, finetuned and their rouge1."""
    lines = [
        *describe_run(run),
        *headline(baseline, finetuned, comparison),
        *lengths(baseline, finetuned),
        *topics_table(topics),
        "## Plots",
        "",
        *[f"![{p.stem}]({p.relative_to(path.parent)})" for p in plots],
        "",
        *examples_section("Largest gains (ROUGE-1)", gains),
        *examples_section("Largest losses (ROUGE-1)", losses),
    ]
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines), encoding="utf-8")
