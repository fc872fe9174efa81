"""Load DialogSum from the hub or a local directory, validate it, and read/write prepared splits.

Two layouts are accepted for a local directory:
- the hub's: train, validation and test files (.jsonl, .csv or .parquet) with
  columns id, dialogue, summary, topic, the test split holding one row per
  (dialogue, reference), consecutive rows repeating the dialogue;
- the DialogSum authors': dialogsum.train/dev/test.jsonl, the test split
  with one row per dialogue and its references in summary1, summary2, ...

Either way the result is the same: train and validation rows
{id, dialogue, summary}, and test rows {id, dialogue, references}, one per
dialogue with ALL its references.
"""

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from statistics import fmean

from stages.errors import UserError
from stages.hub import offline_unless_reachable
from stages.outputs import atomic_path

SPLITS = ("train", "validation", "test")
HUB_SUFFIXES = (".jsonl", ".csv", ".parquet")
AUTHORS_FILES = {"train": "dialogsum.train.jsonl", "validation": "dialogsum.dev.jsonl", "test": "dialogsum.test.jsonl"}
_NUMBERED_SUMMARY = re.compile(r"^summary(\d+)$")

Row = dict[str, object]


def load_source(source: str, revision: str | None) -> dict[str, list[Row]]:
    """Load and validate every split of `source` (a local directory or a hub dataset id)."""
    path = Path(source)
    if path.is_dir():
        raw = _read_local(path)
    elif path.exists() or source.startswith((".", "/")) or source.count("/") != 1:
        raise UserError(
            f"data.source {source!r} is neither a directory nor a hub dataset id (owner/name): "
            "point it at a directory with train/validation/test files, or at e.g. knkarthick/dialogsum"
        )
    else:
        raw = _read_hub(source, revision)
    return {split: _normalise(split, rows, where) for split, (rows, where) in raw.items()}


def _read_local(directory: Path) -> dict[str, tuple[list[tuple[str, Row]], str]]:
    if any((directory / name).exists() for name in AUTHORS_FILES.values()):
        files = {split: directory / name for split, name in AUTHORS_FILES.items()}
    else:
        files = {}
        for split in SPLITS:
            found = [directory / f"{split}{suffix}" for suffix in HUB_SUFFIXES if (directory / f"{split}{suffix}").exists()]
            if len(found) > 1:
                raise UserError(f"{directory}: more than one file for the {split} split: {', '.join(map(str, found))}; keep one")
            files[split] = found[0] if found else directory / f"{split}.jsonl"
    for split, file in files.items():
        if not file.exists():
            raise UserError(
                f"{directory}: no {split} split (expected {file.name}); a data directory needs train, "
                f"validation and test files: {', '.join(f'{s}.jsonl' for s in SPLITS)} (or .csv/.parquet), "
                f"or the DialogSum authors' {', '.join(AUTHORS_FILES.values())}"
            )
    return {split: (list(_read_rows(file)), str(file)) for split, file in files.items()}


def _read_rows(file: Path) -> Iterator[tuple[str, Row]]:
    """Yield (location, row) for each record of a .jsonl, .csv or .parquet file."""
    if file.stat().st_size == 0:
        raise UserError(f"{file} is empty")
    if file.suffix == ".parquet":
        import pyarrow.parquet

        for number, row in enumerate(pyarrow.parquet.read_table(file).to_pylist(), start=1):
            yield f"{file} row {number}", row
        return
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{file} is not UTF-8 text (byte {error.start}): save it as UTF-8") from None
    if file.suffix == ".csv":
        # Line 1 is the header, so the first record is line 2.
        for number, row in enumerate(csv.DictReader(text.splitlines(keepends=True)), start=2):
            yield f"{file} line {number}", row
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{file} line {number}: not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(row, dict):
            raise UserError(f"{file} line {number}: expected a JSON object, got {type(row).__name__}")
        yield f"{file} line {number}", row


def _read_hub(dataset_id: str, revision: str | None) -> dict[str, tuple[list[tuple[str, Row]], str]]:
    import datasets

    offline_unless_reachable()
    try:
        loaded = datasets.load_dataset(dataset_id, revision=revision)
    except Exception as error:  # the hub raises many types; all mean the same to a user
        raise UserError(
            f"could not load dataset {dataset_id!r} (revision {revision}) from the Hugging Face hub, "
            f"and there is no local directory of that name: "
            f"{type(error).__name__}: {error}. Check the id and your network, or run offline: "
            "set data.source to a local directory such as data/sample (see `make demo`)"
        ) from None
    missing = [split for split in SPLITS if split not in loaded]
    if missing:
        raise UserError(f"dataset {dataset_id!r} has no {missing[0]} split (it has {', '.join(loaded)})")
    return {
        split: ([(f"{dataset_id} {split} row {i + 1}", row) for i, row in enumerate(loaded[split])], f"{dataset_id} {split}")
        for split in SPLITS
    }


def _text(row: Row, column: str, location: str) -> str:
    if column not in row:
        raise UserError(f"{location}: missing column {column!r} (columns: {', '.join(map(str, row))})")
    value = row[column]
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{location}: empty {column}: every row needs a non-empty {column}")
    return value.strip()


def _normalise(split: str, rows: list[tuple[str, Row]], where: str) -> list[Row]:
    if not rows:
        raise UserError(f"{where}: the {split} split has no rows")
    if split == "test":
        return _group_references(rows, where)
    seen: dict[str, str] = {}
    result = []
    for location, row in rows:
        example = {
            "id": _id(row, location),
            "dialogue": _text(row, "dialogue", location),
            "summary": _text(row, "summary", location),
        }
        if example["id"] in seen:
            raise UserError(f"{location}: duplicate id {example['id']!r} (first at {seen[example['id']]})")
        seen[example["id"]] = location
        result.append(example)
    return result


def _id(row: Row, location: str) -> str:
    key = "id" if "id" in row else "fname"
    value = row.get(key)
    if value is None or not str(value).strip():
        raise UserError(f"{location}: missing id (an 'id' or 'fname' column)")
    return str(value).strip()


def _group_references(rows: list[tuple[str, Row]], where: str) -> list[Row]:
    """One test row per dialogue, with all its references in file order.

    Rows that repeat a dialogue (the hub layout) add their summary to it; rows
    with summary1, summary2, ... (the authors' layout) carry them all.
    """
    by_dialogue: dict[str, Row] = {}
    first_seen: dict[str, str] = {}  # id -> where it first appeared
    for location, row in rows:
        dialogue = _text(row, "dialogue", location)
        numbered = sorted(
            (int(m.group(1)), column) for column in row if (m := _NUMBERED_SUMMARY.match(str(column)))
        )
        columns = [column for _, column in numbered] or ["summary"]
        references = [_text(row, column, location) for column in columns]
        identifier = _id(row, location)
        if dialogue in by_dialogue:
            by_dialogue[dialogue]["references"].extend(references)
            continue
        if identifier in first_seen:
            raise UserError(
                f"{location}: duplicate id {identifier!r} with a different dialogue than at "
                f"{first_seen[identifier]}: test rows that share an id must repeat the same dialogue"
            )
        first_seen[identifier] = location
        by_dialogue[dialogue] = {"id": identifier, "dialogue": dialogue, "references": references}
    return list(by_dialogue.values())


def split_statistics(splits: dict[str, list[Row]]) -> dict:
    """Dialogues and mean words per split, test references, and test dialogues also in train."""
    stats = {
        split: {"dialogues": len(rows), "mean_dialogue_words": round(fmean(len(r["dialogue"].split()) for r in rows), 2)}
        for split, rows in splits.items()
    }
    stats["test"]["references"] = sum(len(row["references"]) for row in splits["test"])
    # Test dialogues seen in training would inflate the scores: count them, don't hide them.
    train_dialogues = {row["dialogue"] for row in splits["train"]}
    stats["test"]["also_in_train"] = sum(row["dialogue"] in train_dialogues for row in splits["test"])
    return stats


def write_jsonl(path: Path, rows: list[Row]) -> None:
    """Write rows as JSON Lines, atomically: a reader sees the old file or the whole new one."""
    with atomic_path(path) as temporary:
        with temporary.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[Row]:
    """Read a JSON Lines file written by write_jsonl (or any jsonl of objects)."""
    if not path.exists():
        raise UserError(f"{path} not found: run `dvc repro` to create it")
    return [row for _, row in _read_rows(path)]
