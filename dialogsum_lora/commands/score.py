"""Score any predictions file with the project's ROUGE, and compare two of them.

Each row needs `prediction` and `references` (a list), or with --test the `id` of a test dialogue, whose references
it takes (every test dialogue predicted once). Prints the metrics JSON the pipeline writes, 95% intervals included.
With --against, OTHER (the same dialogues: by id, or else row by row) is scored too, and `comparison` holds FILE
minus OTHER: the paired comparison `evaluate` writes to reports/.
"""

import argparse
import json
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError

from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.files import read_jsonl
from dialogsum_lora.params import Seed
from dialogsum_lora.params.analysis import AnalysisParams
from dialogsum_lora.schema import Record, Text, parse
from dialogsum_lora.scoring.rouge import check_has_words

# A dialogue's references: one or more, each one ROUGE can score against.
References = Annotated[list[Annotated[Text, AfterValidator(check_has_words)]], Field(min_length=1)]


class _Row(Record):
    model_config = ConfigDict(extra="ignore")  # a user's file may carry columns of its own


class IdRow(_Row):  # with --test
    id: Text
    prediction: str


class ScoredRow(IdRow):
    id: Text | None = None
    references: References


class TestRow(_Row):
    id: Text
    references: References


def _rows(path: Path, schema) -> list:
    return [parse(schema, row, f"{path} row {number}") for number, row in enumerate(read_jsonl(path), start=1)]


def _matched(path: Path, ids: list[str], other_path: Path, other_ids: list[str]) -> list[int]:
    """For each row of `path`, the index of the row of `other_path` with its id: both hold the same dialogues, once."""
    where: dict[str, int] = {}
    for index, identifier in enumerate(other_ids):
        if identifier in where:
            raise UserError(f"{other_path} row {index + 1}: id {identifier!r} appears twice: one row per dialogue")
        where[identifier] = index
    seen: set[str] = set()
    for number, identifier in enumerate(ids, start=1):
        if identifier not in where or identifier in seen:
            there = "appears twice" if identifier in seen else f"is not in {other_path}"
            raise UserError(f"{path} row {number}: id {identifier!r} {there}")
        seen.add(identifier)
    if missing := [identifier for identifier in where if identifier not in seen]:
        raise UserError(
            f"{path} has no prediction for {len(missing)} of the {len(where)} dialogues of {other_path} "
            f"(first: {missing[0]!r}): score complete prediction files only"
        )
    return [where[identifier] for identifier in ids]


def read_predictions(path: Path, test_file: Path | None = None) -> tuple[list[str], list[str] | None, list[list[str]]]:
    """The predictions of a file, their ids (None without --test and without ids) and each one's references."""
    rows = _rows(path, ScoredRow if test_file is None else IdRow)
    if not rows:
        raise UserError(f"{path} holds no predictions")
    ids = [row.id for row in rows] if all(row.id is not None for row in rows) else None
    if test_file is None:
        return [row.prediction for row in rows], ids, [row.references for row in rows]
    test = _rows(test_file, TestRow)
    order = _matched(path, ids, test_file, [row.id for row in test])
    return [row.prediction for row in rows], ids, [test[i].references for i in order]


def score_file(
    path: Path, test_file: Path | None = None, against: Path | None = None, resamples: int = 1000, seed: int = 42
) -> dict:
    """The metrics of a predictions file, 95% intervals included, and with `against`, their paired `comparison`."""
    from dialogsum_lora.results.analysis import paired_comparison
    from dialogsum_lora.scoring.metrics import corpus_metrics

    predictions, ids, references = read_predictions(path, test_file)
    scored, candidate = corpus_metrics(predictions, references, resamples, seed)
    if against is not None:
        other_predictions, other_ids, other_references = read_predictions(against, test_file)
        if ids is not None and other_ids is not None:
            order = _matched(path, ids, against, other_ids)
        elif other_references == references:
            order = range(len(references))
        else:
            raise UserError(
                f"{path} and {against} do not predict the same dialogues (their references differ row by "
                "row): compare predictions of the same test dialogues, in the same order or with ids"
            )
        _, other = corpus_metrics([other_predictions[i] for i in order], references)
        scored["comparison"] = {"against": str(against), **paired_comparison(candidate, other, resamples, seed)}
    return scored


def within(field) -> Callable[[str], int]:
    """An argparse `type`: a whole number the schema `field` accepts, or a usage error in pydantic's words."""
    adapter = TypeAdapter(Annotated[(int, *field.metadata)])

    def number(text: str) -> int:
        try:
            return adapter.validate_python(text)
        except ValidationError as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error.errors()[0]['msg']}") from None

    return number


def score(arguments: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="dialogsum-score", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="JSON Lines predictions file")
    parser.add_argument("--test", type=Path, help="take references from this prepared test split, by id")
    parser.add_argument(
        "--against", type=Path, metavar="OTHER", help="compare with OTHER's predictions (FILE minus OTHER)"
    )
    # The same bounds as params.yaml's analysis.resamples and seed.
    resamples = within(AnalysisParams.model_fields["resamples"])
    parser.add_argument("--resamples", type=resamples, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=within(typing.get_args(Seed)[1]), default=42, help="their seed (default 42)")
    args = parser.parse_args(arguments)
    scored = score_file(args.file, args.test, args.against, args.resamples, args.seed)
    if blank := scored["blank_predictions"]:
        from dialogsum_lora.scoring.metrics import NO_WORDS

        print(f"warning: {blank} of {scored['num_dialogues']} predictions in {args.file} {NO_WORDS}", file=sys.stderr)
    print(json.dumps(scored, indent=2))


def main() -> None:
    run_main(score)


if __name__ == "__main__":
    main()
