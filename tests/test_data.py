import csv
import json

import pytest

from stages.data import load_source, read_jsonl, write_jsonl
from stages.errors import UserError

from conftest import SAMPLE_DIR, SHARED_DATA


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _hub_dir(tmp_path, train=None, validation=None, test=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
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
    splits = load_source(str(SAMPLE_DIR), None)[0]
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

    expected = load_source(str(SAMPLE_DIR), None)[0]
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
        assert load_source(str(directory), None)[0] == expected


def test_authors_layout_reads_numbered_summaries(tmp_path):
    _write_jsonl(tmp_path / "dialogsum.train.jsonl", [{"fname": "train_1", "dialogue": "a b", "summary": "s", "topic": "t"}])
    _write_jsonl(tmp_path / "dialogsum.dev.jsonl", [{"fname": "dev_1", "dialogue": "c d", "summary": "s", "topic": "t"}])
    _write_jsonl(
        tmp_path / "dialogsum.test.jsonl",
        [{"fname": "test_1", "dialogue": "e f", "summary1": "one", "summary2": "two", "summary3": "three"}],
    )
    splits = load_source(str(tmp_path), None)[0]
    assert splits["validation"] == [{"id": "dev_1", "dialogue": "c d", "summary": "s"}]
    assert splits["test"] == [{"id": "test_1", "dialogue": "e f", "references": ["one", "two", "three"]}]


@pytest.mark.skipif(not (SHARED_DATA / "dialogsum").exists(), reason="../shared/data is not beside the repository")
def test_real_dialogsum_test_split_has_500_dialogues_with_3_references(tmp_path):
    source = SHARED_DATA / "dialogsum"
    for name in ("dialogsum.dev.jsonl", "dialogsum.test.jsonl"):
        (tmp_path / name).symlink_to(source / name)
    # No train split offline: train on dev, as the data README suggests.
    (tmp_path / "dialogsum.train.jsonl").symlink_to(source / "dialogsum.dev.jsonl")
    splits = load_source(str(tmp_path), None)[0]
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
    with pytest.raises(UserError, match="is neither a directory nor a hub id such as knkarthick/dialogsum"):
        load_source(str(tmp_path / "missing" / "dir"), None)


def _write_csv(path, rows, encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    expected = load_source(str(_hub_dir(tmp_path / "plain")), None)[0]
    jsonl = _hub_dir(tmp_path / "jsonl")
    for split in ("train", "validation", "test"):
        (jsonl / f"{split}.jsonl").write_bytes(b"\xef\xbb\xbf" + (jsonl / f"{split}.jsonl").read_bytes())
    assert load_source(str(jsonl), None)[0] == expected
    spreadsheet = tmp_path / "csv"
    spreadsheet.mkdir()
    for split in ("train", "validation", "test"):
        _write_csv(spreadsheet / f"{split}.csv", read_jsonl(tmp_path / "plain" / f"{split}.jsonl"), encoding="utf-8-sig")
    assert (spreadsheet / "train.csv").read_bytes().startswith(b"\xef\xbb\xbfid,")
    assert load_source(str(spreadsheet), None)[0] == expected


def test_csv_records_span_lines_hold_long_fields_and_errors_name_them(tmp_path):
    _hub_dir(tmp_path)
    (tmp_path / "train.jsonl").unlink()
    long_dialogue = "#Person1#: " + "word " * 60_000  # 300 kB, past the csv module's 128 kB default
    rows = [
        {"id": "t1", "dialogue": "#Person1#: Hi.\n#Person2#: Hello.\n#Person1#: Bye.", "summary": "Greetings.", "topic": "x"},
        {"id": "t2", "dialogue": long_dialogue, "summary": "Long.", "topic": "x"},
    ]
    _write_csv(tmp_path / "train.csv", rows)
    train = load_source(str(tmp_path), None)[0]["train"]
    assert [row["dialogue"] for row in train] == [rows[0]["dialogue"], long_dialogue.strip()]

    text = (tmp_path / "train.csv").read_text()
    (tmp_path / "train.csv").write_text(text + 't3,"#Person1#: A\n#Person2#: B",only three\n')
    with pytest.raises(UserError, match=r"train.csv record 3 \(lines 6-7\): 3 fields, but the header has 4"):
        load_source(str(tmp_path), None)
    (tmp_path / "train.csv").write_text(text + "t3,d,s,x,extra\n")
    with pytest.raises(UserError, match=r"train.csv record 3 \(line 6\): 5 fields, but the header has 4"):
        load_source(str(tmp_path), None)
    (tmp_path / "train.csv").write_text(text + 't3,"unterminated\n')
    with pytest.raises(UserError, match=r"train.csv line \d+: not valid CSV"):
        load_source(str(tmp_path), None)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "t1", "dialogue": "d", "summary": 42}', "train.jsonl line 1: summary must be text, got 42"),
        ('{"id": "t1", "dialogue": ["d"], "summary": "s"}', "train.jsonl line 1: dialogue must be text, got ['d']"),
        ('{"id": "t1", "dialogue": null, "summary": "s"}', "train.jsonl line 1: dialogue must be text, got None"),
        ('{"id": 1.5, "dialogue": "d", "summary": "s"}', "train.jsonl line 1: id must be text, got 1.5"),
        ('{"id": "t1", "dialogue": "\\ud800", "summary": "s"}', "train.jsonl line 1: dialogue is not valid Unicode"),
        ('{"id": "t1", "dialogue": ' + "[" * 100_000 + "]" * 100_000 + "}", "train.jsonl line 1: unreadable JSON (RecursionError"),
        ('{"id": ' + "9" * 5000 + ', "dialogue": "d", "summary": "s"}', "train.jsonl line 1: unreadable JSON (ValueError"),
        ('[1, 2]', "train.jsonl line 1: expected a JSON object, got list"),
    ],
)
def test_values_of_the_wrong_type_or_shape_say_so(tmp_path, content, message):
    _hub_dir(tmp_path)
    (tmp_path / "train.jsonl").write_text(content + "\n")
    with pytest.raises(UserError) as error:
        load_source(str(tmp_path), None)
    assert message in str(error.value)


def test_integer_ids_are_read_as_text(tmp_path):
    _hub_dir(tmp_path, train=[{"id": 7, "dialogue": "d", "summary": "s"}])
    assert load_source(str(tmp_path), None)[0]["train"] == [{"id": "7", "dialogue": "d", "summary": "s"}]


def test_a_split_that_is_a_directory_or_a_parquet_that_is_not(tmp_path):
    _hub_dir(tmp_path)
    (tmp_path / "train.jsonl").unlink()
    (tmp_path / "train.jsonl").mkdir()
    with pytest.raises(UserError, match=r"train.jsonl is a directory, not a file"):
        load_source(str(tmp_path), None)
    (tmp_path / "train.jsonl").rmdir()
    (tmp_path / "train.parquet").write_text("id,dialogue,summary\n")
    with pytest.raises(UserError, match=r"train.parquet is not a readable parquet file"):
        load_source(str(tmp_path), None)


LINE_BREAKERS = "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e\r\r\n\n"


def test_what_prepare_writes_reads_back_identically(tmp_path):
    # str.splitlines() breaks at every one of these; JSON Lines records end at "\n" only.
    rows = [
        {"id": f"r{i}", "dialogue": f"#Person1#: one{breaker}two{breaker}", "references": [f"a{breaker}b"]}
        for i, breaker in enumerate(LINE_BREAKERS)
    ]
    write_jsonl(tmp_path / "test.jsonl", rows)
    assert read_jsonl(tmp_path / "test.jsonl") == rows
    assert len((tmp_path / "test.jsonl").read_bytes().split(b"\n")) == len(rows) + 1


def test_a_file_that_would_not_read_back_is_never_left_in_place(tmp_path, monkeypatch):
    from stages import data

    (tmp_path / "test.jsonl").write_text("old\n")
    monkeypatch.setattr(data, "read_jsonl", lambda path: [{"different": True}])
    with pytest.raises(RuntimeError, match="does not read back as written"):
        write_jsonl(tmp_path / "test.jsonl", [{"id": "x"}])
    assert (tmp_path / "test.jsonl").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.jsonl"]


def test_hub_test_ids_with_reference_suffixes_group_into_one_dialogue(tmp_path):
    test = [{"id": f"test_0_{k}", "dialogue": "#Person1#: Yes?", "summary": f"Ref {k}.", "topic": "x"} for k in (1, 2, 3)]
    test.append({"id": "test_1_1", "dialogue": "#Person1#: No.", "summary": "Only one.", "topic": "x"})
    _hub_dir(tmp_path, test=test)
    assert load_source(str(tmp_path), None)[0]["test"] == [
        {"id": "test_0", "dialogue": "#Person1#: Yes?", "references": ["Ref 1.", "Ref 2.", "Ref 3."]},
        {"id": "test_1_1", "dialogue": "#Person1#: No.", "references": ["Only one."]},
    ]


@pytest.mark.parametrize(
    "ids",
    [("a", "b"), ("test_0_1", "test_1_1")],  # consecutive, but not references of one dialogue
)
def test_one_dialogue_under_two_ids_is_refused_not_merged(tmp_path, ids):
    test = [{"id": identifier, "dialogue": "#Person1#: Same.", "summary": "S.", "topic": "x"} for identifier in ids]
    _hub_dir(tmp_path, test=test)
    with pytest.raises(UserError) as error:
        load_source(str(tmp_path), None)
    assert f"test.jsonl line 2: the same dialogue as at {tmp_path / 'test.jsonl'} line 1, under another id ('{ids[1]}')" in str(error.value)
