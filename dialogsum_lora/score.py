"""Score any predictions file with the project's ROUGE.

    python -m dialogsum_lora.score FILE.jsonl [--test data/prepared/test.jsonl]

Each row needs `prediction` (a string) and `references` (a list of strings).
With --test, rows need an `id` instead of references: each test dialogue's
references come from the test split, and an id missing from the file, or one
the test split does not have, is an error. Prints the same metrics JSON the
pipeline writes.
"""

import json
from pathlib import Path

from dialogsum_lora.records import read_jsonl
from dialogsum_lora.errors import ArgumentParser, UserError, run_main
from dialogsum_lora.rouge import score_corpus


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


def score_file(path: Path, test_file: Path | None = None) -> dict:
    """The metrics of a predictions file; a malformed row is a UserError naming it."""
    rows = read_jsonl(path)
    if not rows:
        raise UserError(f"{path} holds no predictions")
    for number, row in enumerate(rows, start=1):
        _check_row(path, number, row, needs_references=test_file is None)
    references = [row["references"] for row in rows] if test_file is None else _references_from_test(path, rows, test_file)
    metrics, _ = score_corpus([row["prediction"] for row in rows], references)
    return metrics


def score() -> None:
    parser = ArgumentParser(description="Score a predictions file with the project's ROUGE.")
    parser.add_argument("file", type=Path, help="JSON Lines predictions file")
    parser.add_argument("--test", type=Path, help="take references from this prepared test split, by id")
    args = parser.parse_args()
    print(json.dumps(score_file(args.file, args.test), indent=2))


def main() -> None:
    run_main(score)


if __name__ == "__main__":
    main()
