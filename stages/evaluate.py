"""Stage `evaluate`: summarise the test dialogues with base model + adapter, score them with
95% intervals, compare them with the zero-shot baseline on the same dialogues (paired
bootstrap, per topic, lengths), and write plots and a report.

    python -m stages.evaluate

Reads params `seed`, `processes`, `model`, `prompt.template`,
`prompt.max_source_tokens`, `generate` and `analysis`; reads the test split, the
data statistics, the base model, the adapter, the baseline results and the
training curves; writes reports/finetuned/{metrics.json,predictions.jsonl,provenance.json},
reports/comparison.json, reports/topics.json, reports/plots/*.png, reports/report.md and
the adapter's complete model card, reports/model_card.md.
"""

import dataclasses

from dialogsum_lora.errors import run_main
from dialogsum_lora.outputs import check_writable, read_json, require
from dialogsum_lora.params import load_params
from dialogsum_lora.paths import (
    ADAPTER_DIR, BASELINE_DIR, COMPARISON_FILE, DATA_STATS_FILE, FINETUNED_DIR, LENGTHS_PLOT, LOSS_PLOT,
    MODEL_CARD_FILE, PLOTS, PLOTS_DIR, REPORT_FILE, ROUGE_PLOT, SPLIT_FILES, TIMING_DIR, TOPICS_FILE, TOPICS_PLOT,
    TRAIN_LOSS_FILE, VALIDATION_LOSS_FILE, VALIDATION_ROUGE_FILES, VALIDATION_ROUGE_PLOT, metrics_file,
    predictions_file, results_files,
)
from dialogsum_lora.records import read_jsonl


def main() -> None:
    # Params first: a mistake is reported before torch and the model load (seconds).
    params = load_params()
    from dialogsum_lora import distributed
    from dialogsum_lora.adapter import check_adapter, load_merged_model, read_record
    from dialogsum_lora.analysis import against_zero_shot, comparison_line
    from dialogsum_lora.card_results import complete_card, write_card
    from dialogsum_lora.generation import check_metrics, check_predictions_match, rescore, summarise_and_score
    from dialogsum_lora.modeling import (
        load_tokenizer, make_deterministic, model_directory, pick_device, pick_dtype,
    )
    from dialogsum_lora.outputs import write_json
    from dialogsum_lora.plots import plot_curves, plot_lengths, plot_rouge, plot_topics, read_curve
    from dialogsum_lora.provenance import directory_hash, model_provenance, read_data_source
    from dialogsum_lora.report import EXAMPLES_IN_REPORT, write_report
    from dialogsum_lora.rouge import summary_line

    # Inputs: every one read and checked (and the outputs' place) before anything is written.
    test_rows = read_jsonl(require(SPLIT_FILES["test"]))
    baseline_metrics = read_json(require(metrics_file(BASELINE_DIR)))
    baseline_predictions = read_jsonl(require(predictions_file(BASELINE_DIR)))
    check_predictions_match(baseline_predictions, test_rows, predictions_file(BASELINE_DIR))
    check_metrics(baseline_metrics, metrics_file(BASELINE_DIR))
    losses = {"training": read_curve(TRAIN_LOSS_FILE), "validation": read_curve(VALIDATION_LOSS_FILE)}
    validation_rouge = {name: read_curve(file) for name, file in VALIDATION_ROUGE_FILES.items()}
    model_dir, resolved = model_directory(params.model.name, params.model.revision)
    check_adapter(ADAPTER_DIR, resolved)
    adapter = read_record(ADAPTER_DIR)
    data_source = read_data_source(require(DATA_STATS_FILE))
    check_writable([*results_files(FINETUNED_DIR), COMPARISON_FILE, TOPICS_FILE, *PLOTS, REPORT_FILE, MODEL_CARD_FILE,
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
    scored = summarise_and_score(model, tokenizer, params, test_rows, FINETUNED_DIR, "evaluate", provenance)
    if scored is None:
        return
    metrics, finetuned_scores, finetuned_predictions = scored
    print(f"fine-tuned {summary_line(metrics)}")

    # ... compares them with zero-shot on the same dialogues ...
    zero_shot_scores = rescore(baseline_predictions, test_rows, baseline_metrics, metrics_file(BASELINE_DIR))
    found = against_zero_shot(test_rows, zero_shot_scores, finetuned_scores, params.analysis.resamples, params.seed,
                              params.analysis.min_topic_dialogues, EXAMPLES_IN_REPORT)
    write_json(COMPARISON_FILE, found["comparison"])
    write_json(TOPICS_FILE, found["topics"])

    # ... and writes the plots and the report.
    zero_shot_predictions = [row["prediction"] for row in baseline_predictions]
    plot_rouge(baseline_metrics, metrics, ROUGE_PLOT)
    plot_topics(found["topics"], TOPICS_PLOT)
    plot_lengths([row["references"] for row in test_rows], {"zero-shot": zero_shot_predictions,
                                                            "LoRA": finetuned_predictions}, LENGTHS_PLOT)
    plot_curves(losses, LOSS_PLOT, "cross-entropy loss", "LoRA fine-tuning: loss")
    plot_curves(validation_rouge, VALIDATION_ROUGE_PLOT, "F1 on validation dialogues", "LoRA fine-tuning: validation ROUGE")

    def example(index: int) -> dict:
        return {**test_rows[index], "zero_shot": zero_shot_predictions[index], "finetuned": finetuned_predictions[index],
                "zero_shot_rouge1": zero_shot_scores[index]["mean"]["rouge1"],
                "finetuned_rouge1": finetuned_scores[index]["mean"]["rouge1"]}

    run = {**adapter, "data": data_source, "model": provenance["model"], "seed": params.seed,
           "prompt": {"max_source_tokens": params.prompt.max_source_tokens}, "generate": dataclasses.asdict(params.generate),
           "resamples": params.analysis.resamples}
    write_report(REPORT_FILE, run, baseline_metrics, metrics, found["comparison"], found["topics"],
                 [example(i) for i in found["gains"]], [example(i) for i in found["losses"]], list(PLOTS))
    print(f"LoRA minus zero-shot on the same dialogues: {comparison_line(found['comparison'])}")
    write_card(MODEL_CARD_FILE, complete_card(adapter, data_source, baseline_metrics, metrics, found["comparison"]))
    print(f"plots in {PLOTS_DIR}/, report in {REPORT_FILE}, model card in {MODEL_CARD_FILE}")


if __name__ == "__main__":
    run_main(main)
