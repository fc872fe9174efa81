"""Stage `baseline`: summaries of every test dialogue by the base model alone, scored: zero-shot,
or few-shot (`baseline.shots` training dialogues with their summaries before every prompt).

    python -m stages.baseline

Reads the params `Reads` names (dvc.yaml lists the same), data/prepared/{train,test}.jsonl (the
shots are drawn from train) and the base model; writes
reports/baseline/{metrics.json,scores.json,predictions.jsonl,provenance.json} (provenance.json names the
shots).
"""

from dialogsum_lora.errors import run_main
from dialogsum_lora.files import read_jsonl, require
from dialogsum_lora.params import load_params
from dialogsum_lora.params.baseline import BaselineParams
from dialogsum_lora.params.summaries import SummaryParams
from dialogsum_lora.paths import BASELINE, BASELINE_DIR, SPLIT_FILES
from dialogsum_lora.subsets import seeded_subset


class Reads(SummaryParams):  # the params it reads, as dvc.yaml lists them
    baseline: BaselineParams


def main() -> None:
    # Params first (the shots against the training split's size too): a mistake is reported before
    # torch and the model load.
    params = load_params(Reads)
    # The training split only for shots: a zero-shot baseline reads none of it.
    train_rows = read_jsonl(require(SPLIT_FILES["train"])) if params.baseline.shots else []
    params.baseline.check(len(train_rows))
    from dialogsum_lora import distributed
    from dialogsum_lora.evaluation import summarise_and_score
    from dialogsum_lora.modeling import base
    from dialogsum_lora.prompt import shot_tokens
    from dialogsum_lora.provenance import model_provenance
    from dialogsum_lora.results.text import prompting_text, summary_line

    # Inputs, checked (and the outputs' place) before any process starts work. The same shots
    # before every test dialogue: drawn once, from baseline.seed, nested as train.dialogues' subsets are.
    params.generate.check()
    test_rows = read_jsonl(require(SPLIT_FILES["test"]))
    shots = seeded_subset(train_rows, params.baseline.shots, params.baseline.seed)
    model_dir, resolved = base.model_directory(params.model.name, params.model.revision)
    tokenizer = base.load_tokenizer(model_dir)
    shot_tokens(tokenizer, params.prompt, shots)  # shots that leave no room for a dialogue are refused here
    distributed.relaunch_if_needed(params.processes, "stages.baseline")

    # The model.
    distributed.init_for_generation()
    base.make_deterministic(params.baseline.seed)
    device = base.pick_device()
    dtype = base.pick_dtype(device)
    model = base.load_base_model(model_dir, dtype, device)

    # Work and outputs: rank 0 writes the predictions, metrics and provenance.
    provenance = model_provenance(params.model, resolved, device, dtype)
    provenance["shots"] = {"ids": [row["id"] for row in shots], "seed": params.baseline.seed}
    scored = summarise_and_score(
        model, tokenizer, test_rows, params, params.baseline.seed, BASELINE_DIR, "baseline", provenance, shots
    )
    if scored is not None:
        print(summary_line(f"{BASELINE} ({prompting_text(len(shots))})", scored[0]))


if __name__ == "__main__":
    run_main(main)
