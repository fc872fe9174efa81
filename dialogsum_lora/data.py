"""Load a dialogue-summary dataset from the hub or a local directory, by its split and column names (`data.splits`,
`data.columns`; DialogSum's own by default: docs/pipeline.md), every row checked. Train and validation rows become
{id, dialogue, summary, topic}, test rows {id, dialogue, references, topics}, one per dialogue; without topics
`topic` is null and `topics` empty."""

import re
from pathlib import Path
from statistics import fmean

from dialogsum_lora.errors import UserError
from dialogsum_lora.files import RECORD_SUFFIXES, Row, read_records
from dialogsum_lora.hub import hub_failure, local_directory, offline_unless_reachable
from dialogsum_lora.params.data import Columns, Splits
from dialogsum_lora.paths import SPLITS
from dialogsum_lora.provenance import directory_hash
from dialogsum_lora.scoring.rouge import check_has_words

# DialogSum's two layouts, the presets `data.splits` and `data.columns` default to: the hub's splits, or the authors'
# files where a local directory holds them. Its columns, as ever: the id in `id` or (the authors') `fname`, row by
# row; a test split's references and topics numbered (summary1..3, topic1..3) or not; a topic may be missing.
HUB = Splits(train="train", validation="validation", test="test")
AUTHORS = Splits(train="dialogsum.train.jsonl", validation="dialogsum.dev.jsonl", test="dialogsum.test.jsonl")
DIALOGSUM_COLUMNS = Columns(id="id", dialogue="dialogue", summary="summary", topic="topic")
_REFERENCE_SUFFIX = re.compile(r"^(.+)_\d+$")  # the hub's test ids: test_0_1, test_0_2, ... for dialogue test_0


def load_source(
    source: str, revision: str | None, splits: Splits | None = None, columns: Columns | None = None
) -> tuple[dict[str, list[Row]], str]:
    """Every split of `source` (a local directory or a hub dataset id), checked, and the exact version loaded:
    the directory's content hash, or the hub commit (whatever branch `revision` names)."""
    directory = local_directory(source, revision, "data.source", "knkarthick/dialogsum")
    authors = directory is not None and any((directory / name).exists() for name in AUTHORS.model_dump().values())
    splits = splits or (AUTHORS if authors else HUB)
    if directory is not None:
        raw, resolved = _read_local(directory, splits), directory_hash(directory)
    else:
        raw, resolved = _read_hub(source, revision, splits)
    strict, columns = columns is not None, columns or DIALOGSUM_COLUMNS  # strict: every column named must be there
    return {split: _normalise(split, rows, where, columns, strict) for split, (rows, where) in raw.items()}, resolved


def _read_local(directory: Path, names: Splits) -> dict[str, tuple[list[tuple[str, Row]], str]]:
    splits = {}
    for split in SPLITS:
        name = getattr(names, split)
        candidates = [name] if Path(name).suffix in RECORD_SUFFIXES else [name + suffix for suffix in RECORD_SUFFIXES]
        found = [directory / candidate for candidate in candidates if (directory / candidate).exists()]
        if len(found) > 1:
            raise UserError(
                f"{directory}: more than one file for the {split} split: {', '.join(map(str, found))}; keep one"
            )
        if not found:
            files = sorted(path.name for path in directory.iterdir() if path.suffix in RECORD_SUFFIXES) or ["none"]
            raise UserError(
                f"{directory}: no {split} split (expected {candidates[0]}; its record files: {', '.join(files)}): "
                f"set data.splits.{split} to one, or data.splits to null for DialogSum's "
                f"{', '.join(f'{s}.jsonl' for s in SPLITS)} (or .csv/.parquet) or "
                f"{', '.join(AUTHORS.model_dump().values())}"
            )
        splits[split] = (list(read_records(found[0])), str(found[0]))
    return splits


def _read_hub(
    dataset_id: str, revision: str | None, names: Splits
) -> tuple[dict[str, tuple[list[tuple[str, Row]], str]], str]:
    import datasets
    from huggingface_hub import HfApi

    offline = offline_unless_reachable()
    try:
        # Resolve the revision once and load that commit: the commit recorded is the one read.
        commit = None if offline else HfApi().dataset_info(dataset_id, revision=revision).sha
        loaded = datasets.load_dataset(dataset_id, revision=commit or revision)
    except Exception as error:  # the hub and datasets raise many types; all mean the same to a user
        raise UserError(
            f"{hub_failure(f'dataset {dataset_id!r}', revision, offline, error)}; and there is no local directory of "
            "that name. Check the id and your network, or run offline: set data.source to a local directory such as "
            "data/sample (see `make demo`)"
        ) from None
    names = {split: getattr(names, split) for split in SPLITS}
    for split, name in names.items():
        if name not in loaded:
            raise UserError(
                f"dataset {dataset_id!r} has no {name} split (it has {', '.join(loaded)}): data.splits.{split}"
            )
    splits = {
        split: (
            [(f"{dataset_id} {name} row {i + 1}", row) for i, row in enumerate(loaded[name])],
            f"{dataset_id} {name}",
        )
        for split, name in names.items()
    }
    return splits, commit or f"{revision or 'main'} (offline, from the local cache: commit not resolved)"


def _missing(row: Row, column: str, where: str) -> UserError:
    return UserError(f"{where}: missing column {column!r} (columns: {', '.join(map(str, row))}; data.columns)")


def _text(row: Row, column: str, where: str) -> str:
    if column not in row:
        raise _missing(row, column, where)
    value = row[column]
    if not isinstance(value, str):
        raise UserError(f"{where}: {column} must be text, got {value!r:.40}")
    if not value.strip():
        raise UserError(f"{where}: empty {column}: every row needs a non-empty {column}")
    return value.strip()


def _summary(row: Row, column: str, where: str) -> str:
    """A summary (or test reference) ROUGE can score: against one it cannot, every summary would score 0."""
    try:
        return check_has_words(_text(row, column, where))
    except ValueError as error:
        raise UserError(f"{where}: {column} {error}: ROUGE cannot tell a good summary of it from a bad one") from None


def _optional_text(row: Row, column: str, where: str) -> str | None:
    """Like _text, but a missing, null or blank value is None (topics are optional)."""
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _text(row, column, where)


def _id(row: Row, columns: Columns, strict: bool, where: str) -> str:
    column = columns.id if strict or columns.id in row or "fname" not in row else "fname"
    value = row.get(column)
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else _text(row, column, where)


def _references(row: Row, columns: Columns, where: str) -> list[str]:
    """A test row's reference columns: those data.columns.summary lists, or its one name's numbered columns."""
    return columns.summary if len(columns.summary) > 1 else _numbered(row, columns.summary[0], where)


def _topics(row: Row, columns: Columns, strict: bool, where: str, numbered: bool = False) -> list[str]:
    """The row's topic column (a test row's may be numbered as its summaries); none for data.columns.topic null. A
    topic column that params.yaml names must be there (DialogSum's may be missing)."""
    if columns.topic is None:
        return []
    found = _numbered(row, columns.topic, where) if numbered else [columns.topic]
    if strict and not any(column in row for column in found):
        raise _missing(row, columns.topic, where)
    return found


def _normalise(split: str, rows: list[tuple[str, Row]], where: str, columns: Columns, strict: bool) -> list[Row]:
    if not rows:
        raise UserError(f"{where}: the {split} split has no rows")
    if split == "test":
        return _group_references(rows, columns, strict)
    seen: dict[str, str] = {}
    result = []
    for location, row in rows:
        topic = _topics(row, columns, strict, location)
        example = {
            "id": _id(row, columns, strict, location),
            "dialogue": _text(row, columns.dialogue, location),
            "summary": _summary(row, columns.summary[0], location),
            "topic": _optional_text(row, topic[0], location) if topic else None,
        }
        if example["id"] in seen:
            raise UserError(f"{location}: duplicate id {example['id']!r} (first at {seen[example['id']]})")
        seen[example["id"]] = location
        result.append(example)
    return result


def _group_references(rows: list[tuple[str, Row]], columns: Columns, strict: bool) -> list[Row]:
    """One test row per dialogue, its references in file order: a hub dialogue's consecutive rows have one id,
    or ids that differ in a _N suffix (test_0_1, test_0_2: test_0). No id or dialogue text may recur: it would be
    scored twice, or two rows would merge silently."""
    grouped: list[tuple[str, Row]] = []  # (where the dialogue's first row is, its test row)
    previous_id = None
    for location, row in rows:
        dialogue = _text(row, columns.dialogue, location)
        references = [_summary(row, column, location) for column in _references(row, columns, location)]
        topics = [
            topic
            for column in _topics(row, columns, strict, location, numbered=True)
            if (topic := _optional_text(row, column, location))
        ]
        identifier = _id(row, columns, strict, location)
        shared = _shared_id(previous_id, identifier) if grouped and dialogue == grouped[-1][1]["dialogue"] else None
        if shared is not None:
            grouped[-1][1]["id"] = shared
            grouped[-1][1]["references"].extend(references)
            grouped[-1][1]["topics"].extend(topics)
        else:
            grouped.append(
                (location, {"id": identifier, "dialogue": dialogue, "references": references, "topics": topics})
            )
        previous_id = identifier
    first_with_id, first_with_dialogue = {}, {}  # id or dialogue: where it first is
    for location, row in grouped:
        if row["id"] in first_with_id:
            raise UserError(
                f"{location}: duplicate id {row['id']!r} with a different dialogue than at {first_with_id[row['id']]}: "
                "the rows of one test dialogue must be consecutive and repeat the same dialogue"
            )
        if row["dialogue"] in first_with_dialogue:
            raise UserError(
                f"{location}: the same dialogue as at {first_with_dialogue[row['dialogue']]}, under another id "
                f"({row['id']!r}): give a dialogue one id and put its reference rows together, or remove the copy"
            )
        first_with_id[row["id"]] = first_with_dialogue[row["dialogue"]] = location
    return [row for _, row in grouped]


def _numbered(row: Row, name: str, where: str) -> list[str]:
    """The row's columns numbered after `name` (summary1, summary2, ...) in number order, or `name` alone."""
    pattern = re.compile(rf"{re.escape(name)}(\d+)")
    numbered = [(int(m.group(1)), column) for column in row if (m := pattern.fullmatch(str(column)))]
    if numbered and name in row:
        raise UserError(f"{where}: both {name!r} and {sorted(numbered)[0][1]!r}: keep {name!r} or its numbered columns")
    return [column for _, column in sorted(numbered)] or [name]


def _shared_id(previous: str, current: str) -> str | None:
    """The dialogue's id if two consecutive rows are references of one dialogue, else None."""
    if previous == current:
        return current
    before, after = _REFERENCE_SUFFIX.match(previous), _REFERENCE_SUFFIX.match(current)
    if before and after and before.group(1) == after.group(1):
        return before.group(1)
    return None


def split_statistics(splits: dict[str, list[Row]]) -> dict:
    """Dialogues and mean words per split, test references, and validation and test dialogues also in train."""
    stats = {
        split: {
            "dialogues": len(rows),
            "mean_dialogue_words": round(fmean(len(r["dialogue"].split()) for r in rows), 2),
        }
        for split, rows in splits.items()
    }
    stats["test"]["references"] = sum(len(row["references"]) for row in splits["test"])
    # Dialogues seen in training would inflate the validation curves and the test scores: count
    # them, don't hide them.
    train_dialogues = {row["dialogue"] for row in splits["train"]}
    for split in ("validation", "test"):
        stats[split]["also_in_train"] = sum(row["dialogue"] in train_dialogues for row in splits[split])
    return stats
