"""Score any predictions file with the project's ROUGE, and compare two of them.

    dialogsum-score FILE.jsonl [--test data/prepared/test.jsonl] [--against OTHER.jsonl]
                    [--resamples 1000] [--seed 42]

Each row needs `prediction` (a string) and `references` (a list of strings).
With --test, rows need an `id` instead of references: each test dialogue's
references come from the test split, and an id missing from the file, or one
the test split does not have, is an error. Prints the same metrics JSON the
pipeline writes, 95% bootstrap intervals included. With --against, OTHER (the
same dialogues: the same ids, or without ids the same references row by row)
is scored too, and `comparison` holds FILE minus OTHER per ROUGE type: the
paired bootstrap comparison `evaluate` writes to reports/comparison.json.
"""

import json
import sys
import typing
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from dialogsum_lora.commands.arguments import ArgumentParser, within
from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.files.records import read_jsonl
from dialogsum_lora.params import Seed
from dialogsum_lora.params.analysis import AnalysisParams
from dialogsum_lora.schema import Record, Text, Unicode, parse
from dialogsum_lora.scoring.rouge import check_has_words


class _Row(Record):
    model_config = ConfigDict(extra="ignore")  # a user's file may carry columns of its own


Reference = Annotated[Text, AfterValidator(check_has_words)]  # a reference ROUGE can score against


class ScoredRow(_Row):
    id: Text | None = Field(default=None, description="the dialogue's id, to match it with another file's")
    prediction: Unicode = Field(description="the summary to score")
    references: list[Reference] = Field(min_length=1, description="the dialogue's reference summaries")


class IdRow(_Row):
    id: Text = Field(description="the id of a test dialogue")
    prediction: Unicode = Field(description="the summary to score")


class TestRow(_Row):
    id: Text = Field(description="the id of a test dialogue")
    references: list[Reference] = Field(min_length=1, description="the dialogue's reference summaries")


_SEED = typing.get_args(Seed)[1]  # the FieldInfo of params.yaml's seed


def _rows(path: Path, schema) -> list:
    return [parse(schema, row, f"{path} row {number}") for number, row in enumerate(read_jsonl(path), start=1)]


def _references_from_test(path: Path, rows: list[IdRow], test_file: Path) -> list[list[str]]:
    references = {}
    for number, row in enumerate(_rows(test_file, TestRow), start=1):
        if row.id in references:
            raise UserError(f"{test_file} row {number}: id {row.id!r} appears twice: one row per test dialogue")
        references[row.id] = row.references
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        identifier = row.id
        if identifier not in references:
            raise UserError(f"{path} row {number}: id {identifier!r} is not in {test_file}")
        if identifier in seen:
            raise UserError(f"{path} row {number}: id {identifier!r} is predicted twice")
        seen.add(identifier)
    missing = [identifier for identifier in references if identifier not in seen]
    if missing:
        raise UserError(
            f"{path} has no prediction for {len(missing)} of the {len(references)} test dialogues "
            f"(first: {missing[0]!r}): score complete prediction files only"
        )
    return [references[row.id] for row in rows]


def read_predictions(path: Path, test_file: Path | None = None) -> tuple[list[str], list[str] | None, list[list[str]]]:
    """The predictions of a file, their ids (None without --test and without ids) and each one's
    references; a malformed row is a UserError naming the file, the row and the key."""
    if test_file is None:
        rows = _rows(path, ScoredRow)
        ids = [row.id for row in rows] if rows and all(row.id is not None for row in rows) else None
        references = [row.references for row in rows]
    else:
        rows = _rows(path, IdRow)
        ids = [row.id for row in rows]
        references = _references_from_test(path, rows, test_file)
    if not rows:
        raise UserError(f"{path} holds no predictions")
    return [row.prediction for row in rows], ids, references


def _aligned(
    path: Path,
    ids: list[str] | None,
    references: list[list[str]],
    other_path: Path,
    other_ids: list[str] | None,
    other_references: list[list[str]],
) -> list[int]:
    """For each row of `path`, the index of the same dialogue's row in `other_path`."""
    if ids is not None and other_ids is not None:
        where = {identifier: index for index, identifier in enumerate(other_ids)}
        if len(where) == len(other_ids) and sorted(where) == sorted(ids) and len(set(ids)) == len(ids):
            return [where[identifier] for identifier in ids]
        raise UserError(
            f"{path} and {other_path} do not predict the same dialogues (their ids differ): "
            "compare predictions of the same test dialogues"
        )
    if other_references != references:
        raise UserError(
            f"{path} and {other_path} do not predict the same dialogues (their references differ row by "
            "row): compare predictions of the same test dialogues, in the same order or with ids"
        )
    return list(range(len(references)))


def score_file(
    path: Path, test_file: Path | None = None, against: Path | None = None, resamples: int = 1000, seed: int = 42
) -> dict:
    """The metrics of a predictions file (with 95% intervals from `resamples`, drawn from `seed`),
    and with `against`, its paired comparison with that file as `comparison`."""
    from dialogsum_lora.results.analysis import paired_comparison
    from dialogsum_lora.scoring.metrics import corpus_metrics

    predictions, ids, references = read_predictions(path, test_file)
    scored, candidate = corpus_metrics(predictions, references, resamples, seed)
    if against is not None:
        other_predictions, other_ids, other_references = read_predictions(against, test_file)
        order = _aligned(path, ids, references, against, other_ids, other_references)
        _, other = corpus_metrics([other_predictions[i] for i in order], references)
        scored["comparison"] = {"against": str(against), **paired_comparison(candidate, other, resamples, seed)}
    return scored


def score() -> None:
    parser = ArgumentParser(description="Score a predictions file with the project's ROUGE (95% bootstrap intervals).")
    parser.add_argument("file", type=Path, help="JSON Lines predictions file")
    parser.add_argument("--test", type=Path, help="take references from this prepared test split, by id")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="OTHER",
        help="compare with this predictions file of the same dialogues (paired bootstrap: FILE minus OTHER)",
    )
    # The same bounds as params.yaml's analysis.resamples and seed.
    parser.add_argument(
        "--resamples",
        type=within(AnalysisParams.model_fields["resamples"]),
        default=1000,
        help="bootstrap resamples (default 1000)",
    )
    parser.add_argument(
        "--seed", type=within(_SEED), default=42, help="seed of the resamples (default 42, as params.yaml)"
    )
    args = parser.parse_args()
    scored = score_file(args.file, args.test, args.against, args.resamples, args.seed)
    if scored["blank_predictions"]:
        print(
            f"warning: {scored['blank_predictions']} of {scored['num_dialogues']} predictions in {args.file} hold no "
            "word ROUGE can score (blank, zero-width characters only, or no Latin letters or digits): each scores 0",
            file=sys.stderr,
        )
    print(json.dumps(scored, indent=2))


def main() -> None:
    run_main(score)


if __name__ == "__main__":
    main()
