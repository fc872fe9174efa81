"""What the intervals, the paired comparison and the per-topic analysis add to `evaluate`.

    python benchmarks/analysis.py [--csv FILE] [--repeats N]     # or: python -m benchmarks.analysis

On the published DialogSum predictions (500 dialogues x 3 references: the table
in ../shared/data/dlai-lab2, or --csv), times what `evaluate` did before issue 13
(scoring its predictions) and what it does now besides (the 95% intervals,
scoring the baseline's predictions again, the paired comparison, ROUGE per
topic, and the topic and length plots), and prints the medians and the added
seconds.
"""

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.rouge import PUBLISHED, read_table
from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import run_main
from dialogsum_lora.paths import BASELINE, FINETUNED
from dialogsum_lora.results.analysis import against_baseline
from dialogsum_lora.results.plots import plot_lengths, plot_topics
from dialogsum_lora.scoring.metrics import corpus_metrics


def median_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=PUBLISHED, help="the published results table")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    table = read_table(args.csv)
    finetuned_summaries, references = table["peft_model_summaries"]
    baseline_summaries, _ = table["original_model_summaries"]
    rows = [{"topics": [f"topic {i % 60}"]} for i in range(len(references))]  # 60 topics of 8 or 9 dialogues

    def before():
        corpus_metrics(finetuned_summaries, references)

    def after():
        _, finetuned = corpus_metrics(finetuned_summaries, references, args.resamples, 42)
        _, baseline = corpus_metrics(baseline_summaries, references)
        found = against_baseline(rows, baseline, finetuned, args.resamples, 42, 5, 5)
        with tempfile.TemporaryDirectory() as directory:
            plot_topics(found["topics"], Path(directory) / "topics.png")
            plot_lengths(
                references,
                {BASELINE: baseline_summaries, FINETUNED: finetuned_summaries},
                Path(directory) / "lengths.png",
            )

    before_s, after_s = median_seconds(before, args.repeats), median_seconds(after, args.repeats)
    print(
        f"{len(references)} dialogues x {len(references[0])} references, {args.resamples} resamples, "
        f"median of {args.repeats}"
    )
    print(f"scoring alone (before):                               {before_s:7.3f} s")
    print("scoring with intervals, baseline rescored, comparison,")
    print(f"  topics and the two new plots (after):                {after_s:7.3f} s")
    print(f"added to evaluate:                                    {after_s - before_s:7.3f} s")


if __name__ == "__main__":
    run_main(main)
