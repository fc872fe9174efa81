"""The complete model card: the adapter's card (dialogsum_lora/model_card.py) with the test
results, zero-shot against fine-tuned ROUGE (with the 95% intervals and the paired comparison
when the metrics hold them), and the same scores as model-index metadata.

`evaluate` writes it to reports/model_card.md; `dialogsum-export` writes the merged model's
from the results in reports/ when they were computed with the adapter it exports. Apart from
model_card.py, which finetune uses for the adapter's card before there are any results; the
scores are written as report.md writes them.
"""

from pathlib import Path

from dialogsum_lora.errors import UserError
from dialogsum_lora.markdown import as_text
from dialogsum_lora.model_card import KNOWN_DATASETS, model_name, render_card
from dialogsum_lora.outputs import atomic_path, read_json
from dialogsum_lora.paths import (
    BASELINE_DIR, COMPARISON_FILE, DATA_STATS_FILE, FINETUNED_DIR, metrics_file, provenance_file,
)
from dialogsum_lora.provenance import directory_hash, read_data_source
from dialogsum_lora.rouge import ROUGE_TYPES, change_text, p_value_text, score_text

ROUGE_NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}


def complete_card(
    record: dict, data_source: dict, baseline: dict, finetuned: dict, comparison: dict | None = None, *,
    merged: bool = False,
) -> str:
    """The card of the adapter `record` describes (or of the merged model) with its test results:
    the data's source as provenance.read_data_source returns it, the metrics of baseline and evaluate, and
    the comparison of the two if there is one."""
    revision = data_source["resolved"]
    return render_card(
        record, merged=merged, data_revision=revision,
        results=_results(record, revision, baseline, finetuned, comparison),
        model_index=_model_index(record, revision, finetuned),
    )


def write_card(path: Path, text: str) -> None:
    """Write a card, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def results_of(adapter_dir: Path) -> tuple[dict, dict, dict, dict | None] | None:
    """(data source, baseline, finetuned, comparison) from reports/, if evaluate computed them with
    the adapter now in `adapter_dir` (its provenance names the adapter by content); else None."""
    finetuned_provenance = provenance_file(FINETUNED_DIR)
    if not finetuned_provenance.is_file():
        return None
    evaluated = read_json(finetuned_provenance)
    adapter = evaluated.get("adapter") if isinstance(evaluated, dict) else None
    if not isinstance(adapter, dict) or adapter.get("resolved") != directory_hash(adapter_dir):
        return None
    comparison = read_json(COMPARISON_FILE) if COMPARISON_FILE.is_file() else None
    return (read_data_source(DATA_STATS_FILE), read_json(metrics_file(BASELINE_DIR)), read_json(metrics_file(FINETUNED_DIR)),
            comparison)


def _change(baseline: dict, finetuned: dict, comparison: dict | None, name: str) -> str:
    paired = (comparison or {}).get(name)
    if not paired:
        return f"{finetuned[name] - baseline[name]:+.4f}"
    return f"{change_text(paired)}, p {p_value_text(paired['p_value'], comparison['resamples'])}"


def _results(record: dict, revision: str, baseline: dict, finetuned: dict, comparison: dict | None) -> list[str]:
    source = record["data"]["source"]
    data = KNOWN_DATASETS[source]["name"] if source in KNOWN_DATASETS else as_text(source)
    intervals = "ci95" in finetuned and "ci95" in baseline
    lines = [
        f"ROUGE F1 (`rouge_score`, Porter stemming) on the {finetuned['num_dialogues']:,} dialogues of the test split "
        f"of {data} (revision {revision}; {finetuned['num_references']:,} references): the mean over dialogues of "
        "the average over each dialogue's references. The base model alone (zero-shot) and with the adapter, "
        "with the same prompt and generation settings"
        + ("; in brackets, 95% intervals over the test dialogues" if intervals else "") + ".",
        "",
        "| metric | zero-shot | fine-tuned | change |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {ROUGE_NAMES[name]} | {score_text(baseline, name)} | {score_text(finetuned, name)} "
        f"| {_change(baseline, finetuned, comparison, name)} |"
        for name in ROUGE_TYPES
    ]
    if comparison:
        lines += ["", "The change is paired, dialogue by dialogue: its 95% interval and p-value."]
    return lines


def _model_index(record: dict, revision: str, finetuned: dict) -> list[dict]:
    source = record["data"]["source"]
    dataset = {"name": KNOWN_DATASETS.get(source, {"name": source})["name"], "type": source, "split": "test",
               "revision": revision}
    metrics = [{"type": "rouge", "name": ROUGE_NAMES[name], "value": round(finetuned[name], 4)} for name in ROUGE_TYPES]
    return [{"name": model_name(record), "results": [
        {"task": {"type": "summarization", "name": "Summarization"}, "dataset": dataset, "metrics": metrics},
    ]}]
