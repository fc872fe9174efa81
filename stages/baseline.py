"""Stage `baseline`: zero-shot summaries of every test dialogue by the base model.

    python -m stages.baseline

Reads params `seed`, `processes`, `model`, `prompt` and `generate`; reads
data/prepared/test.jsonl; writes reports/baseline/{metrics.json,predictions.jsonl,provenance.json}.
"""

from pathlib import Path

from stages import distributed
from stages.data import read_jsonl
from stages.errors import run_main
from stages.generation import summarise_and_score
from stages.modeling import load_base_model, load_tokenizer, make_deterministic, model_directory, pick_device, pick_dtype
from stages.params import load_params
from stages.prepare import PREPARED_DIR
from stages.outputs import check_writable, require
from stages.provenance import TIMING_DIR, model_provenance
from stages.rouge import summary_line

OUT_DIR = Path("reports/baseline")


def main() -> None:
    params = load_params()
    test_rows = read_jsonl(require(PREPARED_DIR / "test.jsonl"))
    model_dir, resolved = model_directory(params.model.name, params.model.revision)
    check_writable([OUT_DIR / "predictions.jsonl", TIMING_DIR / "baseline.json"])
    distributed.relaunch_if_needed(params.processes, "stages.baseline")

    distributed.init_for_generation()
    make_deterministic(params.seed)
    device = pick_device()
    dtype = pick_dtype(device)
    tokenizer = load_tokenizer(model_dir)
    model = load_base_model(model_dir, dtype, device)
    provenance = model_provenance(params, resolved, device, dtype)
    metrics = summarise_and_score(model, tokenizer, params, test_rows, OUT_DIR, "baseline", provenance)
    if metrics is not None:  # rank 0
        print(f"baseline {summary_line(metrics)}")


if __name__ == "__main__":
    run_main(main)
