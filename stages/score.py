"""Score any predictions file with the project's ROUGE.

    python -m stages.score FILE.jsonl

Each row needs `prediction` (a string) and `references` (a list of strings);
prints the same metrics JSON the pipeline writes.
"""

import argparse
import json
from pathlib import Path

from stages.data import read_jsonl
from stages.errors import UserError, run_main
from stages.rouge import score_corpus


def score_file(path: Path) -> dict:
    """The metrics of a predictions file; a malformed row is a UserError naming it."""
    rows = read_jsonl(path)
    if not rows:
        raise UserError(f"{path} holds no predictions")
    for number, row in enumerate(rows, start=1):
        references = row.get("references")
        if not isinstance(row.get("prediction"), str):
            raise UserError(f"{path} row {number}: needs a string 'prediction'")
        if not isinstance(references, list) or not references or not all(isinstance(r, str) for r in references):
            raise UserError(f"{path} row {number}: needs 'references', a non-empty list of strings")
    metrics, _ = score_corpus([row["prediction"] for row in rows], [row["references"] for row in rows])
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description="Score a predictions file (rows with prediction and references).")
    parser.add_argument("file", type=Path, help="JSON Lines predictions file")
    print(json.dumps(score_file(parser.parse_args().file), indent=2))


if __name__ == "__main__":
    run_main(main)
