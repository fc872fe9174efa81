"""Stage `baseline`: zero-shot summaries of every test dialogue by the base model, scored.

    python -m stages.baseline

Reads params `seed`, `processes`, `model`, `prompt.template`,
`prompt.max_source_tokens`, `generate` and `analysis.resamples`; reads data/prepared/test.jsonl and
the base model; writes reports/baseline/{metrics.json,predictions.jsonl,provenance.json}.
"""

from dialogsum_lora.errors import run_main
from dialogsum_lora.outputs import check_writable, require
from dialogsum_lora.params import load_params
from dialogsum_lora.paths import BASELINE_DIR, SPLIT_FILES, TIMING_DIR, results_files
from dialogsum_lora.records import read_jsonl


def main() -> None:
    # Params first: a mistake is reported before torch and the model load (seconds).
    params = load_params()
    from dialogsum_lora import distributed
    from dialogsum_lora.generation import summarise_and_score
    from dialogsum_lora.modeling import (
        load_base_model, load_tokenizer, make_deterministic, model_directory, pick_device, pick_dtype,
    )
    from dialogsum_lora.provenance import model_provenance
    from dialogsum_lora.rouge import summary_line

    # Inputs, checked (and the outputs' place) before any process starts work.
    test_rows = read_jsonl(require(SPLIT_FILES["test"]))
    model_dir, resolved = model_directory(params.model.name, params.model.revision)
    check_writable([*results_files(BASELINE_DIR), TIMING_DIR / "baseline.json"])
    distributed.relaunch_if_needed(params.processes, "stages.baseline")

    # The model.
    distributed.init_for_generation()
    make_deterministic(params.seed)
    device = pick_device()
    dtype = pick_dtype(device)
    tokenizer = load_tokenizer(model_dir)
    model = load_base_model(model_dir, dtype, device)

    # Work and outputs: rank 0 writes the predictions, metrics and provenance.
    provenance = model_provenance(params, resolved, device, dtype)
    scored = summarise_and_score(model, tokenizer, params, test_rows, BASELINE_DIR, "baseline", provenance)
    if scored is not None:
        print(f"baseline {summary_line(scored[0])}")


if __name__ == "__main__":
    run_main(main)
