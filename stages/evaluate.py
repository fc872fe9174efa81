"""Stage `evaluate`: summarise the test dialogues with base model + adapter (or the fully fine-tuned
model), score them with 95% intervals, compare them with the baseline on the same dialogues (paired
bootstrap, per topic, lengths), and write plots, a report and the model card.

    python -m stages.evaluate

Reads the params `Reads` names (dvc.yaml lists the same), the test split, the data statistics,
the base model, the adapter, the baseline's results and the training curves; writes
reports/finetuned/{metrics.json,scores.json,predictions.jsonl,provenance.json}, reports/comparison.json,
reports/topics.json, reports/plots/*.png, reports/report.md and reports/model_card.md.
"""

from dialogsum_lora import paths
from dialogsum_lora.errors import run_main
from dialogsum_lora.files import read_jsonl, require
from dialogsum_lora.params import Seed, load_params
from dialogsum_lora.params.summaries import SummaryParams


class Reads(SummaryParams):  # the params it reads, as dvc.yaml lists them
    seed: Seed


def main() -> None:
    # Params first: a mistake is reported before torch and the model load.
    params = load_params(Reads)
    from dialogsum_lora import distributed
    from dialogsum_lora.evaluation import Metrics, ResultsProvenance, rescore, summarise_and_score
    from dialogsum_lora.files import write_json, write_text
    from dialogsum_lora.modeling import base
    from dialogsum_lora.modeling.adapter import check_adapter, load_merged_model
    from dialogsum_lora.provenance import directory_hash, model_provenance, read_data_source
    from dialogsum_lora.results.analysis import against_baseline
    from dialogsum_lora.results.cards import render_card
    from dialogsum_lora.results.plots import plot_curves, plot_lengths, plot_rouge, plot_topics, read_curve
    from dialogsum_lora.results.report import EXAMPLES_IN_REPORT, write_report
    from dialogsum_lora.results.run import METHOD_NAMES, Results
    from dialogsum_lora.results.text import comparison_line, summary_line
    from dialogsum_lora.schema import read_checked

    # Inputs: every one read and checked (and the outputs' place) before anything is written.
    params.generate.check()
    test_rows = read_jsonl(require(paths.SPLIT_FILES["test"]))
    baseline_file = require(paths.scores_file(paths.BASELINE_DIR))
    baseline_metrics = read_checked(Metrics, baseline_file).model_dump(exclude_none=True)
    baseline_predictions = read_jsonl(require(paths.predictions_file(paths.BASELINE_DIR)))
    baseline_scores = rescore(baseline_predictions, test_rows, baseline_metrics, paths.BASELINE_DIR)
    # The baseline compared against: its shots.
    shots = read_checked(ResultsProvenance, require(paths.provenance_file(paths.BASELINE_DIR))).shots
    losses = {"training": read_curve(paths.TRAIN_LOSS_FILE), "validation": read_curve(paths.VALIDATION_LOSS_FILE)}
    validation_rouge = {name: read_curve(file) for name, file in paths.VALIDATION_ROUGE_FILES.items()}
    model_dir, resolved = base.model_directory(params.model.name, params.model.revision)
    record = check_adapter(paths.ADAPTER_DIR, resolved)
    data_source = read_data_source(require(paths.DATA_STATS_FILE))
    distributed.relaunch_if_needed(params.processes, "stages.evaluate")

    # The model: the adapter merged into the base weights costs nothing per decoding step.
    distributed.init_for_generation()
    base.make_deterministic(params.seed)
    device = base.pick_device()
    dtype = base.pick_dtype(device)
    model = load_merged_model(model_dir, paths.ADAPTER_DIR, record, dtype, device)
    tokenizer = base.load_tokenizer(paths.ADAPTER_DIR)  # the tokenizer it was trained with

    # Work: rank 0 writes the predictions, metrics and provenance ...
    provenance = model_provenance(params.model, resolved, device, dtype)
    provenance["adapter"] = {"path": str(paths.ADAPTER_DIR), "resolved": directory_hash(paths.ADAPTER_DIR)}
    scored = summarise_and_score(
        model, tokenizer, test_rows, params, params.seed, paths.FINETUNED_DIR, "evaluate", provenance
    )
    if scored is None:
        return
    metrics, finetuned_scores, finetuned = scored

    # ... compares them with the baseline on the same dialogues ...
    found = against_baseline(
        test_rows,
        baseline_scores,
        finetuned_scores,
        params.analysis.resamples,
        params.seed,
        params.analysis.min_topic_dialogues,
        EXAMPLES_IN_REPORT,
    )
    write_json(paths.COMPARISON_FILE, found["comparison"])
    write_json(paths.TOPICS_FILE, found["topics"])

    # ... and writes the plots, the report and the model card, all describing the run alike.
    summaries = {paths.BASELINE: [row["prediction"] for row in baseline_predictions], paths.FINETUNED: finetuned.texts}
    cut = {
        paths.BASELINE: [row.get("cut_at_max_new_tokens", False) for row in baseline_predictions],
        paths.FINETUNED: finetuned.unfinished,
    }
    plot_rouge(baseline_metrics, metrics, paths.ROUGE_PLOT)
    plot_topics(found["topics"], paths.TOPICS_PLOT)
    plot_lengths(
        [row["references"] for row in test_rows], summaries, paths.LENGTHS_PLOT, cut, params.generate.max_new_tokens
    )
    kept_step = record.training.kept.step
    trained = METHOD_NAMES[record.method]
    plot_curves(losses, paths.LOSS_PLOT, "cross-entropy loss", f"{trained}: loss", kept_step)
    plot_curves(
        validation_rouge,
        paths.VALIDATION_ROUGE_PLOT,
        "F1 on validation dialogues",
        f"{trained}: validation ROUGE",
        kept_step,
    )

    scores = {paths.BASELINE: baseline_scores, paths.FINETUNED: finetuned_scores}

    def example(index: int) -> dict:
        return {
            **test_rows[index],
            **{
                system: {"summary": summaries[system][index], "rouge1": scores[system][index]["mean"]["rouge1"]}
                for system in scores
            },
        }

    results = Results(data_source, params.generate.decoding(), baseline_metrics, metrics, found["comparison"], shots)
    write_report(
        paths.REPORT_FILE,
        record,
        results,
        params.model.name,
        found["topics"],
        [example(i) for i in found["gains"]],
        [example(i) for i in found["losses"]],
        list(paths.PLOTS),
    )
    write_text(paths.MODEL_CARD_FILE, render_card(record, results=results))
    print(summary_line(paths.FINETUNED, metrics))
    print(comparison_line(found["comparison"]))
    print(f"plots in {paths.PLOTS_DIR}/, report in {paths.REPORT_FILE}, model card in {paths.MODEL_CARD_FILE}")


if __name__ == "__main__":
    run_main(main)
