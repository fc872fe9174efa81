"""A system's test summaries, scored and written (baseline, evaluate: predictions.jsonl, metrics.json for DVC,
scores.json, provenance.json), and read back through one schema each."""

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import Row, write_json, write_jsonl
from dialogsum_lora.params import Seed
from dialogsum_lora.params.generate import GenerateParams
from dialogsum_lora.params.summaries import SummaryParams
from dialogsum_lora.paths import metrics_file, predictions_file, provenance_file, scores_file
from dialogsum_lora.provenance import DataSource, write_timing
from dialogsum_lora.schema import Record, Text
from dialogsum_lora.scoring.metrics import NO_WORDS, corpus_metrics
from dialogsum_lora.scoring.rouge import ROUGE_TYPES

if TYPE_CHECKING:
    from dialogsum_lora.generation import Summaries


class Interval(Record):
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)


class Scores(Record):
    rouge1: float = Field(ge=0, le=1)
    rouge2: float = Field(ge=0, le=1)
    rougeL: float = Field(ge=0, le=1)
    rougeLsum: float = Field(ge=0, le=1)


class Lengths(Record):
    prediction_words: float = Field(ge=0)
    reference_words: float = Field(ge=0)
    over_twice_reference: float = Field(ge=0, le=1)
    under_half_reference: float = Field(ge=0, le=1)


class Metrics(Scores):  # scores.json (ROUGE as fractions)
    ci95: dict[str, Interval] | None = None
    num_dialogues: int = Field(ge=1)
    num_references: int = Field(ge=1)
    best_reference: Scores
    blank_predictions: int = Field(ge=0)
    length: Lengths
    truncated_prompts: int = Field(ge=0)
    unfinished_summaries: int = Field(ge=0)


class UsedPrompt(Record):  # what of `prompt` summaries are made with (max_target_tokens is training's)
    template: Text
    max_source_tokens: int


class AdapterIdentity(Record):
    path: Text
    resolved: Text  # sha256: of the adapter directory's files


class Shots(Record):
    """The training dialogues (ids, in order) put before every baseline prompt, and their seed; no ids: zero-shot."""

    ids: list[Text]
    seed: Seed


class ResultsProvenance(Record):
    model: DataSource
    environment: dict[str, str]
    prompt: UsedPrompt
    generate: GenerateParams
    adapter: AdapterIdentity | None = None  # evaluate's: the adapter it used
    shots: Shots | None = None  # baseline's: what its prompts start with


def summarise_and_score(
    model,
    tokenizer,
    test_rows: list[Row],
    params: SummaryParams,
    seed: int,
    out_dir: Path,
    stage: str,
    provenance: dict,
    shots: Sequence[Row] = (),
) -> tuple[dict, list[dict], "Summaries"] | None:
    """Summarise (after the `shots`, if any) and score the test dialogues into `out_dir`, the time into reports/timing/;
    on rank 0 the metrics written, each dialogue's scores and the Summaries, None on the other processes."""
    from dialogsum_lora.generation import summarise_dialogues  # torch: not for the commands reading results

    prompt, generate = params.prompt, params.generate
    dialogues = [row["dialogue"] for row in test_rows]
    start = time.perf_counter()
    summaries, truncated = summarise_dialogues(
        model, tokenizer, dialogues, prompt, generate.decoding(), generate.batch_size, desc=stage, shots=shots
    )
    if summaries is None:
        return None
    predictions, seconds = summaries.texts, time.perf_counter() - start
    write_timing(stage, seconds, dialogues_per_second=round(len(test_rows) / seconds, 2))
    metrics, per_dialogue = corpus_metrics(
        predictions, [row["references"] for row in test_rows], params.analysis.resamples, seed
    )
    metrics |= {"truncated_prompts": truncated, "unfinished_summaries": sum(summaries.unfinished)}
    limit = f"generate.max_new_tokens={generate.max_new_tokens}"
    for key, why in {
        "unfinished_summaries": f"stopped at {limit} before the model ended them: they are cut short",
        "blank_predictions": NO_WORDS,
    }.items():
        if metrics[key]:
            print(f"warning: {metrics[key]} of {len(predictions)} {stage} summaries {why}", file=sys.stderr)
    write_jsonl(
        predictions_file(out_dir),
        [
            {
                "id": row["id"],
                "prediction": prediction,
                "references": row["references"],
                "rouge": {name: round(scores["mean"][name], 4) for name in ROUGE_TYPES},
                "cut_at_max_new_tokens": unfinished,
            }
            for row, prediction, scores, unfinished in zip(test_rows, predictions, per_dialogue, summaries.unfinished)
        ],
    )
    write_json(scores_file(out_dir), metrics)
    # DVC names a metric by its key, and by its file too when two files share the key: the baseline's
    # under its own name keeps `dvc exp show`'s columns short (rouge1, ..., baseline.rouge1, ...).
    headline = {name: metrics[name] for name in ROUGE_TYPES}
    write_json(metrics_file(out_dir), {"baseline": headline} if stage == "baseline" else headline)
    # What the summaries depend on, as dvc.yaml lists it for baseline and evaluate: never a key they do not declare.
    used_prompt = prompt.model_dump(include=set(UsedPrompt.model_fields))
    write_json(provenance_file(out_dir), {**provenance, "prompt": used_prompt, "generate": generate.model_dump()})
    return metrics, per_dialogue, summaries


def rescore(predictions: list[Row], test_rows: list[Row], metrics: dict, directory: Path) -> list[dict]:
    """Each dialogue's scores of the predictions in results `directory`; refused if they are not of the test
    dialogues in order, or do not give the headline scores of the metrics beside them (a stale pair)."""
    if [row.get("id") for row in predictions] != [row["id"] for row in test_rows]:
        raise UserError(
            f"{predictions_file(directory)} does not hold the test dialogues in order (stale?): run `dvc repro` to "
            "remake it"
        )
    scored, per_dialogue = corpus_metrics(
        [row["prediction"] for row in predictions], [row["references"] for row in test_rows]
    )
    if any(scored[name] != metrics[name] for name in ROUGE_TYPES):
        raise UserError(
            f"{scores_file(directory)} does not hold the scores of the predictions beside it (stale?): run "
            "`dvc repro` to remake both"
        )
    return per_dialogue
