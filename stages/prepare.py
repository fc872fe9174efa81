"""Stage `prepare`: load DialogSum, validate every row, write one file per split.

    python -m stages.prepare

Reads params `data`; writes data/prepared/{train,validation,test}.jsonl and
reports/data_stats.json. The test split has one row per dialogue with all of
its references.
"""

from pathlib import Path

from stages.data import SPLITS, load_source, split_statistics, write_jsonl
from stages.errors import run_main
from stages.outputs import write_json
from stages.params import load_params

PREPARED_DIR = Path("data/prepared")
STATS_FILE = Path("reports/data_stats.json")


def main() -> None:
    params = load_params()

    splits, resolved = load_source(params.data.source, params.data.revision)

    stats = {
        "source": {"name": params.data.source, "revision": params.data.revision, "resolved": resolved},
        **split_statistics(splits),
    }

    for split in SPLITS:
        write_jsonl(PREPARED_DIR / f"{split}.jsonl", splits[split])
    write_json(STATS_FILE, stats)
    print(
        "prepared "
        + ", ".join(f"{split}: {stats[split]['dialogues']} dialogues" for split in SPLITS)
        + f" ({stats['test']['references']} test references)"
    )
    if stats["test"]["also_in_train"]:
        print(f"warning: {stats['test']['also_in_train']} test dialogues also appear in the train split (leakage)")


if __name__ == "__main__":
    run_main(main)
