"""report.md: the run (results/run.py's rows), the scores and what the paired comparison can tell, lengths,
topics, the plots, and the dialogues fine-tuning helped and hurt most; every text written as text, never markup."""

from pathlib import Path

from dialogsum_lora.files import write_text
from dialogsum_lora.modeling.adapter import AdapterRecord
from dialogsum_lora.paths import BASELINE, FINETUNED
from dialogsum_lora.results.run import METHOD_NAMES, Results, describe_run
from dialogsum_lora.results.text import as_code_block, as_text, change_text, p_value_text, score_text, verdict
from dialogsum_lora.scoring.metrics import NO_WORDS
from dialogsum_lora.scoring.rouge import ROUGE_TYPES

EXAMPLES_IN_REPORT = 5  # largest gains, and as many largest losses
TOPIC_COLUMNS = ("rouge1", "rougeL")
WARNINGS = {  # the metrics' counts of summaries the report warns of
    "blank_predictions": NO_WORDS,
    "unfinished_summaries": "stopped at generate.max_new_tokens before the model ended them: they are cut short, "
    "and score as they are",
}


def header(trained: str, model_name: str, data_name: str, run: list[tuple[str, str]]) -> list[str]:
    """The title (`trained`: a run.METHOD_NAMES value) and the run's description, a bullet per row."""
    return [
        f"# {trained[0].upper()}{trained[1:]} of {as_text(model_name)} on {as_text(data_name)}: results",
        "",
        *(f"- **{what}:** {value}" for what, value in run),
        "",
    ]


def scores(baseline: dict, finetuned: dict, comparison: dict) -> list[str]:
    """report.md's Scores section and the model cards' Results: scores, intervals, paired changes, warnings."""
    lines = [
        f"ROUGE F1 (`rouge_score`, Porter stemming) on {finetuned['num_dialogues']} test dialogues "
        f"({finetuned['num_references']} references): mean over dialogues of the average over each dialogue's "
        f"references, [95% interval]. The change is {FINETUNED} minus {BASELINE} on the same dialogues; p is the "
        f'one-sided bootstrap p-value of "{FINETUNED} is better"; wins, ties and losses count dialogues.',
        "",
        f"| metric | {BASELINE} | {FINETUNED} | change [95% interval] | p | wins / ties / losses | best reference: "
        f"{BASELINE}, {FINETUNED} |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ROUGE_TYPES:
        c = comparison[name]
        lines.append(
            f"| {name} | {score_text(baseline, name)} | {score_text(finetuned, name)} "
            f"| {change_text(c)} | {p_value_text(comparison, name)} "
            f"| {c['wins']} / {c['ties']} / {c['losses']} "
            f"| {baseline['best_reference'][name]:.4f}, {finetuned['best_reference'][name]:.4f} |"
        )
    lines += ["", f"**Significance:** {verdict(comparison)}"]
    for key, what in WARNINGS.items():
        counts = {system: metrics.get(key, 0) for system, metrics in ((BASELINE, baseline), (FINETUNED, finetuned))}
        if any(counts.values()):
            said = " and ".join(f"{count} {system}" for system, count in counts.items() if count)
            lines += ["", f"**Warning:** {said} summaries of the {finetuned['num_dialogues']} {what}."]
    return lines


def lengths(baseline: dict, finetuned: dict) -> list[str]:
    systems = (baseline["length"], finetuned["length"])
    rows = (
        ("mean words", "prediction_words", ".1f"),
        ("over twice the references' length", "over_twice_reference", ".1%"),
        ("under half the references' length", "under_half_reference", ".1%"),
    )
    return [
        "## Lengths",
        "",
        f"References average {finetuned['length']['reference_words']:.1f} words.",
        "",
        f"| | {BASELINE} | {FINETUNED} |",
        "|---|---|---|",
        *(
            f"| {what} | " + " | ".join(f"{system[key]:{form}}" for system in systems) + " |"
            for what, key, form in rows
        ),
        "",
    ]


def topics_table(topics: dict) -> list[str]:
    lines = ["## By topic", ""]
    if not topics["topics"]:
        return lines + [f"No topic has {topics['min_dialogues']} or more test dialogues.", ""]
    lines += [
        f"Topics with at least {topics['min_dialogues']} test dialogue{'' if topics['min_dialogues'] == 1 else 's'} "
        "(a dialogue counts under each topic its annotators gave).",
        "",
        "| topic | dialogues | " + " | ".join(f"{n} {BASELINE} | {n} {FINETUNED}" for n in TOPIC_COLUMNS) + " |",
        "|---|---|" + "---|---|" * len(TOPIC_COLUMNS),
    ]
    for topic in topics["topics"]:
        scores = " | ".join(f"{topic[BASELINE][n]:.4f} | {topic[FINETUNED][n]:.4f}" for n in TOPIC_COLUMNS)
        lines.append(f"| {as_text(topic['topic'])} | {topic['dialogues']} | {scores} |")
    return lines + [""]


def examples_section(title: str, examples: list[dict]) -> list[str]:
    lines = [f"## {title}", ""]
    if not examples:
        return lines + ["None.", ""]
    for example in examples:
        change = example[FINETUNED]["rouge1"] - example[BASELINE]["rouge1"]
        lines += [f"### {as_text(example['id'])} (ROUGE-1 {change:+.4f})", "", *as_code_block(example["dialogue"]), ""]
        lines += [f"- **reference {i}:** {as_text(ref)}" for i, ref in enumerate(example["references"], start=1)]
        lines += [
            f"- **{system}** (ROUGE-1 {example[system]['rouge1']:.4f}): {as_text(example[system]['summary'])}"
            for system in (BASELINE, FINETUNED)
        ]
        lines.append("")
    return lines


def write_report(
    path: Path,
    record: AdapterRecord,
    results: Results,
    model_name: str,
    topics: dict,
    gains: list[dict],
    losses: list[dict],
    plots: list[Path],
) -> None:
    """`gains` and `losses` rows: id, dialogue, references and, under each system's name, its summary and rouge1."""
    lines = [
        *header(METHOD_NAMES[record.method], model_name, results.data.name, describe_run(record, results)),
        "## Scores",
        "",
        *scores(results.baseline, results.finetuned, results.comparison),
        "",
        *lengths(results.baseline, results.finetuned),
        *topics_table(topics),
        "## Plots",
        "",
        *[f"![{p.stem}]({p.relative_to(path.parent)})" for p in plots],
        "",
        *examples_section("Largest gains (ROUGE-1)", gains),
        *examples_section("Largest losses (ROUGE-1)", losses),
    ]
    write_text(path, "\n".join(lines))
