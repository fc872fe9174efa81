"""Stage `prepare`: load DialogSum, validate every row, write one file per split.

    python -m stages.prepare

Reads params `data` and the data it names (a hub dataset or a local
directory, e.g. data/sample); writes data/prepared/{train,validation,test}.jsonl
(the test split one row per dialogue with all of its references) and
reports/data_stats.json.
"""

from dialogsum_lora.data import load_source, split_statistics
from dialogsum_lora.errors import run_main
from dialogsum_lora.outputs import check_writable, write_json
from dialogsum_lora.params import load_params
from dialogsum_lora.paths import DATA_STATS_FILE, SPLIT_FILES, SPLITS
from dialogsum_lora.records import write_jsonl


def main() -> None:
    # Params, and where the outputs go.
    params = load_params()
    check_writable([*SPLIT_FILES.values(), DATA_STATS_FILE])

    # Inputs: every split, every row checked.
    splits, resolved = load_source(params.data.source, params.data.revision)

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
    if stats["test"]["also_in_train"]:
        print(f"warning: {stats['test']['also_in_train']} test dialogues also appear in the train split (leakage)")


if __name__ == "__main__":
    run_main(main)
