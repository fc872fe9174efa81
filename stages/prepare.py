"""Stage `prepare`: load the dialogues (DialogSum, or any dataset by its column names), check every row, write one
file per split.

    python -m stages.prepare

Reads params `data` and the data it names (a hub dataset or a local directory, e.g.
data/sample); writes data/prepared/{train,validation,test}.jsonl (the test split one row per
dialogue with all of its references) and reports/data_stats.json.
"""

from dialogsum_lora.data import load_source, split_statistics
from dialogsum_lora.errors import run_main
from dialogsum_lora.files import write_json, write_jsonl
from dialogsum_lora.params import StageParams, load_params
from dialogsum_lora.params.data import DataParams
from dialogsum_lora.paths import DATA_STATS_FILE, SPLIT_FILES, SPLITS


class Reads(StageParams):  # as dvc.yaml lists them
    data: DataParams


def main() -> None:
    # Params.
    params = load_params(Reads)
    # Inputs: every split, every row checked.
    data = params.data
    splits, resolved = load_source(data.source, data.revision, data.splits, data.columns)

    # Work: what was loaded, and how it looks.
    stats = {
        "source": {"name": params.data.source, "revision": params.data.revision, "resolved": resolved},
        **split_statistics(splits),
    }

    # Outputs.
    for split in SPLITS:
        write_jsonl(SPLIT_FILES[split], splits[split])
    write_json(DATA_STATS_FILE, stats)
    print(
        "prepared "
        + ", ".join(f"{split}: {stats[split]['dialogues']} dialogues" for split in SPLITS)
        + f" ({stats['test']['references']} test references)"
    )
    for split in ("validation", "test"):
        if stats[split]["also_in_train"]:
            print(
                f"warning: {stats[split]['also_in_train']} {split} dialogues also appear in the train split (leakage)"
            )


if __name__ == "__main__":
    run_main(main)
