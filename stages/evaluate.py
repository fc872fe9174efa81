"""Stage `evaluate`: summarise the test dialogues with base model + adapter; plots and report.

    python -m stages.evaluate

Reads params `seed`, `processes`, `model`, `prompt` and `generate`; reads the test split, the
adapter, the baseline results and the training curves; writes
reports/finetuned/{metrics.json,predictions.jsonl,provenance.json},
reports/plots/*.png and
reports/report.md.
"""

from pathlib import Path

from stages import distributed
from stages.baseline import OUT_DIR as BASELINE_DIR
from stages.data import read_jsonl
from stages.errors import run_main
from stages.finetune import ADAPTER_DIR, CURVES_DIR
from stages.generation import check_metrics, check_predictions_match, summarise_and_score
from stages.modeling import (
    check_adapter,
    load_adapter,
    load_base_model,
    load_tokenizer,
    make_deterministic,
    model_directory,
    pick_device,
    pick_dtype,
)
from stages.outputs import check_writable, read_json, require
from stages.params import load_params
from stages.prepare import PREPARED_DIR
from stages.provenance import TIMING_DIR, directory_hash, model_provenance
from stages.report import EXAMPLES_IN_REPORT, plot_losses, plot_rouge, read_curve, write_report
from stages.rouge import summary_line

OUT_DIR = Path("reports/finetuned")
PLOTS_DIR = Path("reports/plots")
REPORT_FILE = Path("reports/report.md")


def main() -> None:
    params = load_params()
    # Every input is read and checked before anything is written.
    test_rows = read_jsonl(require(PREPARED_DIR / "test.jsonl"))
    baseline_metrics = read_json(require(BASELINE_DIR / "metrics.json"))
    baseline_predictions = read_jsonl(require(BASELINE_DIR / "predictions.jsonl"))
    check_predictions_match(baseline_predictions, test_rows, BASELINE_DIR / "predictions.jsonl")
    check_metrics(baseline_metrics, BASELINE_DIR / "metrics.json")
    curves = {
        "training": read_curve(CURVES_DIR / "plots/metrics/train/loss.tsv"),
        "validation": read_curve(CURVES_DIR / "plots/metrics/eval/loss.tsv"),
    }
    model_dir, resolved = model_directory(params.model.name, params.model.revision)
    check_adapter(ADAPTER_DIR, resolved)
    rouge_plot, loss_plot = PLOTS_DIR / "rouge.png", PLOTS_DIR / "loss.png"
    check_writable([OUT_DIR / "predictions.jsonl", rouge_plot, loss_plot, REPORT_FILE, TIMING_DIR / "evaluate.json"])
    distributed.relaunch_if_needed(params.processes, "stages.evaluate")

    distributed.init_for_generation()
    make_deterministic(params.seed)
    device = pick_device()
    dtype = pick_dtype(device)
    base = load_base_model(model_dir, dtype, device)
    # Merged into the base weights the adapter costs nothing per decoding step (BENCHMARKS.md).
    model = load_adapter(base, ADAPTER_DIR).merge_and_unload()
    tokenizer = load_tokenizer(ADAPTER_DIR)  # the tokenizer it was trained with

    provenance = model_provenance(params, resolved, device, dtype)
    provenance["adapter"] = {"path": str(ADAPTER_DIR), "resolved": directory_hash(ADAPTER_DIR)}
    metrics = summarise_and_score(model, tokenizer, params, test_rows, OUT_DIR, "evaluate", provenance)
    if metrics is None:  # not rank 0: rank 0 writes the plots and the report
        return
    print(f"fine-tuned {summary_line(metrics)}")

    plot_rouge(baseline_metrics, metrics, rouge_plot)
    plot_losses(curves, loss_plot)
    finetuned_predictions = read_jsonl(OUT_DIR / "predictions.jsonl")
    examples = [
        {**row, "baseline": zero_shot["prediction"], "finetuned": tuned["prediction"]}
        for row, zero_shot, tuned in list(zip(test_rows, baseline_predictions, finetuned_predictions))[:EXAMPLES_IN_REPORT]
    ]
    write_report(REPORT_FILE, baseline_metrics, metrics, examples, [rouge_plot, loss_plot])
    print(f"plots in {PLOTS_DIR}/, report in {REPORT_FILE}")


if __name__ == "__main__":
    run_main(main)
