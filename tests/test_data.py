import json

import pytest

from stages.data import load_source, read_jsonl
from stages.errors import UserError

from conftest import SAMPLE_DIR, SHARED_DATA


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _hub_dir(tmp_path, train=None, validation=None, test=None):
    rows = {
        "train": train or [{"id": "t1", "dialogue": "#Person1#: Hi.", "summary": "A greeting.", "topic": "x"}],
        "validation": validation or [{"id": "v1", "dialogue": "#Person1#: Bye.", "summary": "A goodbye.", "topic": "x"}],
        "test": test
        or [
            {"id": "s1", "dialogue": "#Person1#: Yes?", "summary": "First.", "topic": "x"},
            {"id": "s1", "dialogue": "#Person1#: Yes?", "summary": "Second.", "topic": "x"},
        ],
    }
    for split, split_rows in rows.items():
        _write_jsonl(tmp_path / f"{split}.jsonl", split_rows)
    return tmp_path


def test_sample_data_groups_test_references_by_dialogue():
    splits = load_source(str(SAMPLE_DIR), None)
    raw_test = read_jsonl(SAMPLE_DIR / "test.jsonl")
    assert len(splits["train"]) == 32 and len(splits["validation"]) == 8
    assert len(raw_test) == 24
    assert len(splits["test"]) == 8
    assert all(len(row["references"]) == 3 for row in splits["test"])
    first = splits["test"][0]
    assert first["references"] == [row["summary"] for row in raw_test[:3]]
    assert set(first) == {"id", "dialogue", "references"}
    assert set(splits["train"][0]) == {"id", "dialogue", "summary"}


def test_csv_and_parquet_hub_layouts_load_like_jsonl(tmp_path):
    import pyarrow
    import pyarrow.parquet

    expected = load_source(str(SAMPLE_DIR), None)
    for suffix in ("csv", "parquet"):
        directory = tmp_path / suffix
        directory.mkdir()
        for split in ("train", "validation", "test"):
            table = pyarrow.Table.from_pylist(read_jsonl(SAMPLE_DIR / f"{split}.jsonl"))
            if suffix == "csv":
                import pyarrow.csv

                pyarrow.csv.write_csv(table, directory / f"{split}.csv")
            else:
                pyarrow.parquet.write_table(table, directory / f"{split}.parquet")
        assert load_source(str(directory), None) == expected


def test_authors_layout_reads_numbered_summaries(tmp_path):
    _write_jsonl(tmp_path / "dialogsum.train.jsonl", [{"fname": "train_1", "dialogue": "a b", "summary": "s", "topic": "t"}])
    _write_jsonl(tmp_path / "dialogsum.dev.jsonl", [{"fname": "dev_1", "dialogue": "c d", "summary": "s", "topic": "t"}])
    _write_jsonl(
        tmp_path / "dialogsum.test.jsonl",
        [{"fname": "test_1", "dialogue": "e f", "summary1": "one", "summary2": "two", "summary3": "three"}],
    )
    splits = load_source(str(tmp_path), None)
    assert splits["validation"] == [{"id": "dev_1", "dialogue": "c d", "summary": "s"}]
    assert splits["test"] == [{"id": "test_1", "dialogue": "e f", "references": ["one", "two", "three"]}]


@pytest.mark.skipif(not (SHARED_DATA / "dialogsum").exists(), reason="../shared/data is not beside the repository")
def test_real_dialogsum_test_split_has_500_dialogues_with_3_references(tmp_path):
    source = SHARED_DATA / "dialogsum"
    for name in ("dialogsum.dev.jsonl", "dialogsum.test.jsonl"):
        (tmp_path / name).symlink_to(source / name)
    # No train split offline: train on dev, as the data README suggests.
    (tmp_path / "dialogsum.train.jsonl").symlink_to(source / "dialogsum.dev.jsonl")
    splits = load_source(str(tmp_path), None)
    assert len(splits["test"]) == 500
    assert all(len(row["references"]) == 3 for row in splits["test"])
    assert len(splits["validation"]) == 500


@pytest.mark.parametrize(
    "split, rows, message",
    [
        ("train", [{"id": "t1", "summary": "s"}], "train.jsonl line 1: missing column 'dialogue'"),
        ("train", [{"id": "t1", "dialogue": "   ", "summary": "s"}], "train.jsonl line 1: empty dialogue"),
        ("validation", [{"id": "v1", "dialogue": "d", "summary": ""}], "validation.jsonl line 1: empty summary"),
        (
            "train",
            [{"id": "t1", "dialogue": "d", "summary": "s"}, {"id": "t1", "dialogue": "e", "summary": "s"}],
            "train.jsonl line 2: duplicate id 't1'",
        ),
        (
            "test",
            [{"id": "s1", "dialogue": "d", "summary": "s"}, {"id": "s1", "dialogue": "other", "summary": "s"}],
            "test.jsonl line 2: duplicate id 's1' with a different dialogue",
        ),
    ],
)
def test_bad_rows_name_file_line_and_problem(tmp_path, split, rows, message):
    _hub_dir(tmp_path, **{split: rows})
    with pytest.raises(UserError) as error:
        load_source(str(tmp_path), None)
    assert message in str(error.value)


def test_malformed_file_contents_are_clear_errors(tmp_path):
    _hub_dir(tmp_path)
    (tmp_path / "train.jsonl").write_text('{"id": "t1", "dialogue": "d", "summary": "s"}\n{"id": "t2", \n')
    with pytest.raises(UserError, match=r"train.jsonl line 2: not valid JSON"):
        load_source(str(tmp_path), None)

    (tmp_path / "train.jsonl").write_bytes(b'{"id": "t1", "dialogue": "caf\xe9", "summary": "s"}\n')
    with pytest.raises(UserError, match=r"train.jsonl is not UTF-8"):
        load_source(str(tmp_path), None)

    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(UserError, match=r"train.jsonl is empty"):
        load_source(str(tmp_path), None)

    (tmp_path / "train.jsonl").unlink()
    with pytest.raises(UserError, match=r"no train split \(expected train.jsonl\)"):
        load_source(str(tmp_path), None)


def test_unreachable_hub_dataset_fails_fast_with_offline_advice():
    with pytest.raises(UserError) as error:
        load_source("knkarthick/dialogsum", None)
    assert "knkarthick/dialogsum" in str(error.value) and "data/sample" in str(error.value)


def test_source_that_is_neither_directory_nor_hub_id(tmp_path):
    with pytest.raises(UserError, match="neither a directory nor a hub dataset id"):
        load_source(str(tmp_path / "missing" / "dir"), None)
