"""Generate summaries of the test dialogues in length-sorted batches, and score them.

Shared by `baseline` (base model) and `evaluate` (base model + adapter), so
both are generated and scored the same way.
"""

from pathlib import Path

import torch
from tqdm.auto import tqdm

from stages import distributed
from stages.data import Row, write_jsonl
from stages.errors import UserError
from stages.outputs import write_json
from stages.params import Params
from stages.prompt import build_prompt, encode
from stages.provenance import Stopwatch
from stages.rouge import ROUGE_TYPES, score_corpus


@torch.inference_mode()
def generate_summaries(
    model,
    tokenizer,
    encoded: list[list[int]],
    *,
    max_new_tokens: int,
    num_beams: int,
    batch_size: int,
    desc: str = "generating",
) -> list[str] | None:
    """Summarise each tokenised prompt, returning the summaries in the prompts' order.

    Prompts are sorted longest first so each batch pads to similar lengths (and
    an out-of-memory shows up on the first batch), and decoded greedily unless
    num_beams > 1. Under several processes each takes every N-th prompt of that
    order and rank 0 gets all the summaries back; the other ranks get None.
    """
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
    mine = order[distributed.rank() :: distributed.world_size()]
    device = next(model.parameters()).device
    summaries: list[str] = []
    quiet = {} if distributed.is_main_process() else {"disable": True}  # one progress bar, rank 0's
    with tqdm(total=len(mine), desc=desc, unit="dialogue", **quiet) as progress:
        for start in range(0, len(mine), batch_size):
            indices = mine[start : start + batch_size]
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in indices]}, return_tensors="pt").to(device)
            output = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                do_sample=False,
            )
            summaries += [text.strip() for text in tokenizer.batch_decode(output, skip_special_tokens=True)]
            progress.update(len(indices))
    return distributed.gather_in_order(summaries, mine, len(encoded))


def summarise_and_score(
    model, tokenizer, params: Params, test_rows: list[Row], out_dir: Path, stage: str, provenance: dict
) -> dict | None:
    """Generate a summary per test dialogue, score it, write predictions.jsonl, metrics.json
    and provenance.json to `out_dir`, and the generation time to reports/timing/STAGE.json.

    Returns the metrics written (on rank 0; other processes only generate and get None).
    """
    prompts = [build_prompt(params.prompt.template, row["dialogue"]) for row in test_rows]
    # Long dialogues are cut to max_source_tokens: count them, rather than hide it.
    encoded, truncated = encode(tokenizer, prompts, params.prompt.max_source_tokens)
    with Stopwatch(stage) as stopwatch:
        predictions = generate_summaries(
            model,
            tokenizer,
            encoded,
            max_new_tokens=params.generate.max_new_tokens,
            num_beams=params.generate.num_beams,
            batch_size=params.generate.batch_size,
            desc=stage,
        )
    if predictions is None:
        return None
    stopwatch.write(dialogues_per_second=round(len(prompts) / stopwatch.seconds, 2))
    references = [row["references"] for row in test_rows]
    metrics, per_dialogue = score_corpus(predictions, references)
    metrics["truncated_prompts"] = truncated
    write_jsonl(
        out_dir / "predictions.jsonl",
        [
            {
                "id": row["id"],
                "prediction": prediction,
                "references": row["references"],
                "rouge": {name: round(scores["mean"][name], 4) for name in ROUGE_TYPES},
            }
            for row, prediction, scores in zip(test_rows, predictions, per_dialogue)
        ],
    )
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "provenance.json", provenance)
    return metrics


def check_predictions_match(predictions: list[Row], test_rows: list[Row], path: Path) -> None:
    """Refuse a predictions file (as summarise_and_score writes it) that is not one string
    prediction per test dialogue, in the test split's order."""
    expected = [row["id"] for row in test_rows]
    found = [row.get("id") for row in predictions]
    if found != expected:
        raise UserError(f"{path} does not hold the test dialogues in order (stale?): run `dvc repro` to remake it")
    for number, row in enumerate(predictions, start=1):
        if not isinstance(row.get("prediction"), str):
            raise UserError(f"{path} line {number}: prediction must be text, got {row.get('prediction')!r}")


def check_metrics(metrics, path: Path) -> None:
    """Refuse a metrics file that lacks a headline score (as summarise_and_score writes them)."""
    for name in (*ROUGE_TYPES, "num_dialogues"):
        value = metrics.get(name) if isinstance(metrics, dict) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UserError(f"{path} has no number {name!r}: run `dvc repro` to remake it")
