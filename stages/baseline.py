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
from stages.modeling import make_deterministic, load_base_model, load_tokenizer, pick_device, pick_dtype
from stages.params import load_params
from stages.prepare import PREPARED_DIR
from stages.provenance import model_provenance
from stages.rouge import summary_line

OUT_DIR = Path("reports/baseline")


def main() -> None:
    params = load_params()
    distributed.relaunch_if_needed(params.processes, "stages.baseline")
    distributed.init_for_generation()
    make_deterministic(params.seed)
    test_rows = read_jsonl(PREPARED_DIR / "test.jsonl")

    device = pick_device()
    dtype = pick_dtype(device)
    tokenizer = load_tokenizer(params.model.name, params.model.revision)
    model = load_base_model(params.model.name, params.model.revision, dtype, device)

    provenance = model_provenance(params, model, device, dtype)
    metrics = summarise_and_score(model, tokenizer, params, test_rows, OUT_DIR, "baseline", provenance)
    if metrics is not None:  # rank 0
        print(f"baseline {summary_line(metrics)}")


if __name__ == "__main__":
    run_main(main)
