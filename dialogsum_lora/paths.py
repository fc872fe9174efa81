"""Every path the stages read or write, as dvc.yaml names them (relative to REPO_ROOT, where they run)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

PARAMS_FILE = Path("params.yaml")
SAMPLE_DIR = Path("data/sample")

# prepare
SPLITS = ("train", "validation", "test")
SPLIT_FILES = {split: Path(f"data/prepared/{split}.jsonl") for split in SPLITS}
DATA_STATS_FILE = Path("reports/data_stats.json")

# The two systems compared (the base model alone, and with the weights trained), named so everywhere.
BASELINE, FINETUNED = "baseline", "finetuned"
BASELINE_DIR = Path("reports") / BASELINE
FINETUNED_DIR = Path("reports") / FINETUNED
# The project's ROUGE as an `evaluate` metric module, loaded by path
ROUGE_METRIC_DIR = REPO_ROOT / "dialogsum_lora" / "scoring" / "dialogsum_rouge"

# evaluate
COMPARISON_FILE = Path("reports/comparison.json")
TOPICS_FILE = Path("reports/topics.json")
PLOTS_DIR = Path("reports/plots")
ROUGE_PLOT = PLOTS_DIR / "rouge.png"
TOPICS_PLOT = PLOTS_DIR / "topics.png"
LENGTHS_PLOT = PLOTS_DIR / "lengths.png"
LOSS_PLOT = PLOTS_DIR / "loss.png"
VALIDATION_ROUGE_PLOT = PLOTS_DIR / "validation_rouge.png"
PLOTS = (ROUGE_PLOT, TOPICS_PLOT, LENGTHS_PLOT, LOSS_PLOT, VALIDATION_ROUGE_PLOT)
REPORT_FILE = Path("reports/report.md")
MODEL_CARD_FILE = Path("reports/model_card.md")  # the adapter's model card, with the test results

# finetune
ADAPTER_DIR = Path("models/adapter")
CURVES_DIR = Path("reports/train")  # dvclive: metrics.json, plots/metrics/{train,eval}/*.tsv
TRAIN_LOSS_FILE = CURVES_DIR / "plots/metrics/train/loss.tsv"
VALIDATION_LOSS_FILE = CURVES_DIR / "plots/metrics/eval/loss.tsv"
VALIDATION_ROUGE_FILES = {
    name: CURVES_DIR / f"plots/metrics/eval/{name}.tsv" for name in ("rouge1", "rouge2", "rougeL", "rougeLsum")
}

# Not DVC outputs: resumable checkpoints, and wall times.
CHECKPOINTS_DIR = Path(".trainer")
TIMING_DIR = Path("reports/timing")


def metrics_file(results_dir: Path) -> Path:
    """The headline ROUGE alone: what `dvc metrics diff` and `dvc exp show` compare."""
    return results_dir / "metrics.json"


def scores_file(results_dir: Path) -> Path:
    """The metrics, with their intervals, counts, best-of-references scores and lengths."""
    return results_dir / "scores.json"


def predictions_file(results_dir: Path) -> Path:
    return results_dir / "predictions.jsonl"


def provenance_file(results_dir: Path) -> Path:
    return results_dir / "provenance.json"
