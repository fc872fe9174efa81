"""Stage `evaluate`: summarise the test dialogues with base model + adapter, score them, and
compare with the zero-shot baseline in plots and a report.

    python -m stages.evaluate

Reads params `seed`, `processes`, `model`, `prompt.template`,
`prompt.max_source_tokens` and `generate`; reads the test split and its source
(reports/data_stats.json), the base model, the adapter, the baseline results and
the training curves; writes
reports/finetuned/{metrics.json,predictions.jsonl,provenance.json},
reports/plots/{rouge,loss}.png, reports/report.md and the adapter's complete model
card, reports/model_card.md.
"""

from dialogsum_lora.errors import run_main
from dialogsum_lora.outputs import check_writable, read_json, require
from dialogsum_lora.params import load_params
from dialogsum_lora.paths import (
    ADAPTER_DIR, BASELINE_DIR, FINETUNED_DIR, LOSS_PLOT, MODEL_CARD_FILE, PLOTS_DIR, REPORT_FILE, ROUGE_PLOT,
    SPLIT_FILES, TIMING_DIR, TRAIN_LOSS_FILE, VALIDATION_LOSS_FILE, metrics_file, predictions_file, results_files,
)
from dialogsum_lora.records import read_jsonl


def main() -> None:
    # Params first: a mistake is reported before torch and the model load (seconds).
    params = load_params()
    from dialogsum_lora import distributed
    from dialogsum_lora.adapter import check_adapter, load_merged_model, read_record
    from dialogsum_lora.card_results import complete_card, read_data_source, write_card
    from dialogsum_lora.generation import check_metrics, check_predictions_match, summarise_and_score
    from dialogsum_lora.modeling import (
        load_tokenizer, make_deterministic, model_directory, pick_device, pick_dtype,
    )
    from dialogsum_lora.plots import plot_losses, plot_rouge, read_curve
    from dialogsum_lora.provenance import directory_hash, model_provenance
    from dialogsum_lora.report import EXAMPLES_IN_REPORT, write_report
    from dialogsum_lora.rouge import summary_line

    # Inputs: every one read and checked (and the outputs' place) before anything is written.
    test_rows = read_jsonl(require(SPLIT_FILES["test"]))
    baseline_metrics = read_json(require(metrics_file(BASELINE_DIR)))
    baseline_predictions = read_jsonl(require(predictions_file(BASELINE_DIR)))
    check_predictions_match(baseline_predictions, test_rows, predictions_file(BASELINE_DIR))
    check_metrics(baseline_metrics, metrics_file(BASELINE_DIR))
    curves = {"training": read_curve(TRAIN_LOSS_FILE), "validation": read_curve(VALIDATION_LOSS_FILE)}
    model_dir, resolved = model_directory(params.model.name, params.model.revision)
    check_adapter(ADAPTER_DIR, resolved)
    adapter_record, data_source = read_record(ADAPTER_DIR), read_data_source()
    check_writable([*results_files(FINETUNED_DIR), ROUGE_PLOT, LOSS_PLOT, REPORT_FILE, MODEL_CARD_FILE,
                    TIMING_DIR / "evaluate.json"])
    distributed.relaunch_if_needed(params.processes, "stages.evaluate")

    # The model: the adapter merged into the base weights costs nothing per decoding step.
    distributed.init_for_generation()
    make_deterministic(params.seed)
    device = pick_device()
    dtype = pick_dtype(device)
    model = load_merged_model(model_dir, ADAPTER_DIR, dtype, device)
    tokenizer = load_tokenizer(ADAPTER_DIR)  # the tokenizer it was trained with

    # Work: rank 0 writes the predictions, metrics and provenance ...
    provenance = model_provenance(params, resolved, device, dtype)
    provenance["adapter"] = {"path": str(ADAPTER_DIR), "resolved": directory_hash(ADAPTER_DIR)}
    metrics = summarise_and_score(model, tokenizer, params, test_rows, FINETUNED_DIR, "evaluate", provenance)
    if metrics is None:
        return
    print(f"fine-tuned {summary_line(metrics)}")

    # ... and the plots and the report.
    plot_rouge(baseline_metrics, metrics, ROUGE_PLOT)
    plot_losses(curves, LOSS_PLOT)
    finetuned_predictions = read_jsonl(predictions_file(FINETUNED_DIR))
    examples = [
        {**row, "baseline": zero_shot["prediction"], "finetuned": tuned["prediction"]}
        for row, zero_shot, tuned in list(zip(test_rows, baseline_predictions, finetuned_predictions))[:EXAMPLES_IN_REPORT]
    ]
    write_report(REPORT_FILE, baseline_metrics, metrics, examples, [ROUGE_PLOT, LOSS_PLOT])
    write_card(MODEL_CARD_FILE, complete_card(adapter_record, data_source, baseline_metrics, metrics))
    print(f"plots in {PLOTS_DIR}/, report in {REPORT_FILE}, model card in {MODEL_CARD_FILE}")


if __name__ == "__main__":
    run_main(main)
