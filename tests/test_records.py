"""Record files: every file a user hands in is read, or refused in one line naming the place;
what a stage writes reads back identically."""

import csv

import pytest
from conftest import write_hub_dir as _hub_dir

from dialogsum_lora.data import load_source
from dialogsum_lora.errors import UserError
from dialogsum_lora.files import read_jsonl, write_jsonl


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
        _write_csv(
            spreadsheet / f"{split}.csv", read_jsonl(tmp_path / "plain" / f"{split}.jsonl"), encoding="utf-8-sig"
        )
    assert (spreadsheet / "train.csv").read_bytes().startswith(b"\xef\xbb\xbfid,")
    assert load_source(str(spreadsheet), None)[0] == expected


def test_csv_records_span_lines_hold_long_fields_and_errors_name_them(tmp_path):
    _hub_dir(tmp_path)
    (tmp_path / "train.jsonl").unlink()
    long_dialogue = "#Person1#: " + "word " * 60_000  # 300 kB, past the csv module's 128 kB default
    rows = [
        {
            "id": "t1",
            "dialogue": "#Person1#: Hi.\n#Person2#: Hello.\n#Person1#: Bye.",
            "summary": "Greetings.",
            "topic": "x",
        },
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


def test_malformed_file_contents_are_clear_errors(tmp_path):
    _hub_dir(tmp_path)
    (tmp_path / "train.jsonl").write_text('{"id": "t1", "dialogue": "d", "summary": "s"}\n{"id": "t2", \n')
    with pytest.raises(UserError, match=r"train.jsonl line 2: not valid JSON"):
        load_source(str(tmp_path), None)

    (tmp_path / "train.jsonl").write_bytes(b'{"id": "t1", "dialogue": "caf\xe9", "summary": "s"}\n')
    with pytest.raises(UserError, match=r"train.jsonl is not UTF-8"):
        load_source(str(tmp_path), None)

    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(UserError, match=r"train.jsonl: the train split has no rows"):
        load_source(str(tmp_path), None)

    (tmp_path / "train.jsonl").unlink()
    with pytest.raises(UserError, match=r"no train split \(expected train.jsonl;"):
        load_source(str(tmp_path), None)


def test_a_csv_of_only_a_byte_order_mark_is_refused(tmp_path):
    _hub_dir(tmp_path)
    (tmp_path / "train.jsonl").unlink()
    (tmp_path / "train.csv").write_bytes(b"\xef\xbb\xbf")  # an empty spreadsheet, exported
    with pytest.raises(UserError, match="train.csv has no header line"):
        load_source(str(tmp_path), None)
