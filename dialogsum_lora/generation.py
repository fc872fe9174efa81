"""Generate summaries of the test dialogues in length-sorted batches, and score them.

Shared by `baseline` (base model) and `evaluate` (base model + adapter), so
both are generated and scored the same way, and by `dialogsum-summarise`, so a
user's own dialogues are summarised as the test dialogues were.
"""

from pathlib import Path

import torch
from tqdm.auto import tqdm

from dialogsum_lora import distributed
from dialogsum_lora.records import Row, write_jsonl
from dialogsum_lora.errors import UserError
from dialogsum_lora.outputs import write_json
from dialogsum_lora.params import GenerateParams, Params, PromptParams
from dialogsum_lora.paths import metrics_file, predictions_file, provenance_file
from dialogsum_lora.prompt import build_prompt, encode
from dialogsum_lora.provenance import Stopwatch
from dialogsum_lora.rouge import ROUGE_TYPES, load_rouge_metric


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
    progress: bool = True,
) -> list[str] | None:
    """Summarise each tokenised prompt, returning the summaries in the prompts' order.

    Prompts are sorted longest first so each batch pads to similar lengths (and
    an out-of-memory shows up on the first batch), and decoded greedily unless
    num_beams > 1. Under several processes each takes every N-th prompt of that
    order and rank 0 gets all the summaries back; the other ranks get None. A
    progress bar (rank 0's) shows unless `progress` is False.
    """
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
    mine = distributed.my_share(order)
    device = next(model.parameters()).device
    summaries: list[str] = []
    shown = progress and distributed.is_main_process()  # one progress bar, rank 0's
    with tqdm(total=len(mine), desc=desc, unit="dialogue", disable=not shown) as bar:
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
            bar.update(len(indices))
    return distributed.gather_in_order(summaries, mine, len(encoded))


def summarise_dialogues(
    model, tokenizer, dialogues: list[str], prompt: PromptParams, generate: GenerateParams, *, desc: str,
    progress: bool = True,
) -> tuple[list[str] | None, int]:
    """Each dialogue's summary (as generate_summaries returns them) from its prompt, cut to
    prompt.max_source_tokens, and how many prompts were cut. The one way every stage and
    command turns dialogues into summaries."""
    prompts = [build_prompt(prompt.template, dialogue) for dialogue in dialogues]
    # Long dialogues are cut to max_source_tokens: count them, rather than hide it.
    encoded, truncated = encode(tokenizer, prompts, prompt.max_source_tokens)
    summaries = generate_summaries(
        model,
        tokenizer,
        encoded,
        max_new_tokens=generate.max_new_tokens,
        num_beams=generate.num_beams,
        batch_size=generate.batch_size,
        desc=desc,
        progress=progress,
    )
    return summaries, truncated


def summarise_and_score(
    model, tokenizer, params: Params, test_rows: list[Row], out_dir: Path, stage: str, provenance: dict
) -> tuple[dict, list[dict], list[str]] | None:
    """Generate a summary per test dialogue, score it (with 95% intervals), write
    predictions.jsonl, metrics.json and provenance.json to `out_dir`, and the generation time
    to reports/timing/STAGE.json.

    Returns the metrics written, each dialogue's scores and the summaries (on rank 0; other
    processes only generate and get None).
    """
    with Stopwatch(stage) as stopwatch:
        predictions, truncated = summarise_dialogues(
            model, tokenizer, [row["dialogue"] for row in test_rows], params.prompt, params.generate, desc=stage
        )
    if predictions is None:
        return None
    stopwatch.write(dialogues_per_second=round(len(test_rows) / stopwatch.seconds, 2))
    metrics = load_rouge_metric().compute(
        predictions=predictions,
        references=[row["references"] for row in test_rows],
        resamples=params.analysis.resamples,
        seed=params.seed,
        per_dialogue=True,
    )
    per_dialogue = metrics.pop("per_dialogue")
    metrics["truncated_prompts"] = truncated
    write_jsonl(
        predictions_file(out_dir),
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
    write_json(metrics_file(out_dir), metrics)
    write_json(provenance_file(out_dir), provenance)
    return metrics, per_dialogue, predictions


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


def rescore(predictions: list[Row], test_rows: list[Row], metrics: dict, path: Path) -> list[dict]:
    """Each dialogue's scores of a predictions file that check_predictions_match passed; refused
    if they do not give its metrics file's (`path`) headline scores, as a stale pair would not."""
    scored = load_rouge_metric().compute(
        predictions=[row["prediction"] for row in predictions],
        references=[row["references"] for row in test_rows],
        per_dialogue=True,
    )
    if any(scored[name] != metrics[name] for name in ROUGE_TYPES):
        raise UserError(f"{path} does not hold the scores of the predictions beside it (stale?): run `dvc repro` to remake both")
    return scored["per_dialogue"]


def check_metrics(metrics, path: Path) -> None:
    """Refuse a metrics file unlike those summarise_and_score writes: every score a fraction in
    [0, 1], the best-of-references ones too, and the counts whole numbers."""
    def number(mapping, name: str, low: float, high: float) -> None:
        value = mapping.get(name) if isinstance(mapping, dict) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
            raise UserError(f"{path} has no number {name!r} in [{low}, {high}]: run `dvc repro` to remake it")

    for name in ROUGE_TYPES:
        number(metrics, name, 0, 1)
        number(metrics.get("best_reference") if isinstance(metrics, dict) else None, name, 0, 1)
    for name in ("num_dialogues", "num_references"):
        number(metrics, name, 1, float("inf"))
