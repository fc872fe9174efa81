"""Scoring time: dialogsum_lora.scoring.rouge against rouge_score's own stemming tokenizer.

    python benchmarks/rouge.py [--csv FILE] [--repeats N]       # or: python -m benchmarks.rouge

Scores the published DialogSum predictions (500 dialogues x 3 references, the
table in ../shared/data/dlai-lab2 when it is there, or --csv) with the
project's scorer, then with one built on rouge_score's DefaultTokenizer
(use_stemmer=True), and prints the median wall time of each and their ratio.
Every per-dialogue score must be the same both ways, or it stops with an error.
"""

import csv
import statistics
import time
from pathlib import Path

from rouge_score import rouge_scorer

from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.scoring import rouge

PUBLISHED = Path(__file__).resolve().parents[2] / "shared/data/dlai-lab2/dialogue-summary-training-results.csv"
COLUMNS = ("original_model_summaries", "peft_model_summaries")


def read_table(path: Path, columns=COLUMNS) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per prediction column: (one prediction per dialogue, that dialogue's three references).

    The table has one row per reference: rows 3i, 3i+1 and 3i+2 are dialogue i,
    with the same prediction in each column.
    """
    if not path.is_file():
        raise UserError(f"{path} not found: pass --csv with the published DialogSum results table")
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    groups = [rows[i : i + 3] for i in range(0, len(rows), 3)]
    table = {}
    for column in columns:
        if not groups or any(len(g) != 3 or len({row[column] for row in g}) != 1 for g in groups):
            raise UserError(f"{path}: column {column} needs rows in threes, one prediction per three")
        table[column] = (
            [g[0][column] for g in groups],
            [[row["human_baseline_summaries"] for row in g] for g in groups],
        )
    return table


def timed(make_scorer, predictions: list[str], references: list[list[str]], repeats: int) -> tuple[float, list]:
    """Median seconds of score_corpus (each time a new scorer, and no stem cached), and its per-dialogue scores."""
    seconds = []
    for _ in range(repeats):
        rouge.StemmingTokenizer.stem.cache_clear()
        scorer = make_scorer()
        start = time.perf_counter()
        _, per_dialogue = rouge.score_corpus(predictions, references, scorer)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), per_dialogue


def rouge_scores_own_scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(list(rouge.ROUGE_TYPES), use_stemmer=True)


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=PUBLISHED)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for column, (predictions, references) in read_table(args.csv).items():
        base_seconds, base_scores = timed(rouge_scores_own_scorer, predictions, references, args.repeats)
        our_seconds, our_scores = timed(rouge.make_scorer, predictions, references, args.repeats)
        if our_scores != base_scores:
            raise UserError(f"{column}: StemmingTokenizer changed a score; it must give rouge_score's own tokens")
        print(
            f"{column}: {len(predictions)} dialogues, {sum(map(len, references))} references, median of "
            f"{args.repeats}: "
            f"rouge_score's tokenizer {base_seconds:.2f} s, dialogsum_lora.scoring.rouge {our_seconds:.2f} s, "
            f"x{base_seconds / our_seconds:.2f}, every score identical"
        )


if __name__ == "__main__":
    run_main(main)
