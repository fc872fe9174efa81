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
from pathlib import Path

from dialogsum_lora.errors import ArgumentParser, UserError, bounded_int, run_main
from dialogsum_lora.params import AnalysisParams, Params, interval
from dialogsum_lora.records import read_jsonl


def _check_row(path: Path, number: int, row: dict, needs_references: bool) -> None:
    if not isinstance(row.get("prediction"), str):
        raise UserError(f"{path} row {number}: needs 'prediction', a string, got {row.get('prediction')!r:.60}")
    if needs_references:
        _check_references(path, number, row.get("references"))
    else:
        _check_id(path, number, row.get("id"))


def _check_references(path: Path, number: int, references) -> None:
    if not isinstance(references, list) or not references or not all(isinstance(r, str) and r.strip() for r in references):
        raise UserError(f"{path} row {number}: needs 'references', a non-empty list of non-empty strings, got {references!r:.60}")


def _check_id(path: Path, number: int, identifier) -> None:
    if not isinstance(identifier, str):
        raise UserError(f"{path} row {number}: needs 'id', a string naming a test dialogue, got {identifier!r:.60}")


def _references_from_test(path: Path, rows: list[dict], test_file: Path) -> list[list[str]]:
    references = {}
    for number, row in enumerate(read_jsonl(test_file), start=1):
        _check_id(test_file, number, row.get("id"))
        _check_references(test_file, number, row.get("references"))
        if row["id"] in references:
            raise UserError(f"{test_file} row {number}: id {row['id']!r} appears twice: one row per test dialogue")
        references[row["id"]] = row["references"]
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        identifier = row.get("id")
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
    return [references[row["id"]] for row in rows]


def read_predictions(path: Path, test_file: Path | None = None) -> tuple[list[dict], list[list[str]]]:
    """The rows of a predictions file and each row's references; a malformed row is a UserError naming it."""
    rows = read_jsonl(path)
    if not rows:
        raise UserError(f"{path} holds no predictions")
    for number, row in enumerate(rows, start=1):
        _check_row(path, number, row, needs_references=test_file is None)
    references = [row["references"] for row in rows] if test_file is None else _references_from_test(path, rows, test_file)
    return rows, references


def _aligned(path: Path, rows: list[dict], references: list[list[str]], other_path: Path, other_rows: list[dict],
             other_references: list[list[str]]) -> list[int]:
    """For each row of `path`, the index of the same dialogue's row in `other_path`."""
    if all("id" in row for row in rows) and all("id" in row for row in other_rows):
        where = {row["id"]: index for index, row in enumerate(other_rows)}
        if len(where) == len(other_rows) and sorted(where) == sorted(row["id"] for row in rows):
            return [where[row["id"]] for row in rows]
        raise UserError(f"{path} and {other_path} do not predict the same dialogues (their ids differ): "
                        "compare predictions of the same test dialogues")
    if other_references != references:
        raise UserError(f"{path} and {other_path} do not predict the same dialogues (their references differ row by "
                        "row): compare predictions of the same test dialogues, in the same order or with ids")
    return list(range(len(rows)))


def score_file(path: Path, test_file: Path | None = None, against: Path | None = None, resamples: int = 1000,
               seed: int = 42) -> dict:
    """The metrics of a predictions file (with 95% intervals from `resamples`, drawn from `seed`),
    and with `against`, its paired comparison with that file as `comparison`."""
    from dialogsum_lora.analysis import paired_comparison
    from dialogsum_lora.rouge import load_rouge_metric

    rows, references = read_predictions(path, test_file)
    metric = load_rouge_metric()
    scored = metric.compute(predictions=[row["prediction"] for row in rows], references=references,
                            resamples=resamples, seed=seed, per_dialogue=True)
    mine = scored.pop("per_dialogue")
    if against is not None:
        other_rows, other_references = read_predictions(against, test_file)
        order = _aligned(path, rows, references, against, other_rows, other_references)
        theirs = metric.compute(predictions=[other_rows[i]["prediction"] for i in order], references=references,
                                per_dialogue=True)["per_dialogue"]
        scored["comparison"] = {"against": str(against), **paired_comparison(mine, theirs, resamples, seed)}
    return scored


def score() -> None:
    parser = ArgumentParser(description="Score a predictions file with the project's ROUGE (95% bootstrap intervals).")
    parser.add_argument("file", type=Path, help="JSON Lines predictions file")
    parser.add_argument("--test", type=Path, help="take references from this prepared test split, by id")
    parser.add_argument("--against", type=Path, metavar="OTHER",
                        help="compare with this predictions file of the same dialogues (paired bootstrap: FILE minus OTHER)")
    # The same bounds as params.yaml's analysis.resamples and seed.
    parser.add_argument("--resamples", type=bounded_int(interval(AnalysisParams, "resamples")), default=1000,
                        help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=bounded_int(interval(Params, "seed")), default=42,
                        help="seed of the resamples (default 42, as params.yaml)")
    args = parser.parse_args()
    print(json.dumps(score_file(args.file, args.test, args.against, args.resamples, args.seed), indent=2))


def main() -> None:
    run_main(score)


if __name__ == "__main__":
    main()
