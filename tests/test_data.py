"""DialogSum in either layout, or another dataset by its split and column names, becomes the same splits: every row
checked, test references grouped by dialogue, and a dialogue under two ids refused."""

import pytest
from conftest import RENAMED, SAMPLE_DIR, SHARED_DATA, write_jsonl_rows, write_renamed_csvs, write_samsum_shaped
from conftest import write_hub_dir as _hub_dir

from dialogsum_lora.data import load_source, split_statistics
from dialogsum_lora.errors import UserError
from dialogsum_lora.files import read_jsonl
from dialogsum_lora.params.data import Columns, Splits


def test_sample_data_groups_test_references_by_dialogue():
    splits = load_source(str(SAMPLE_DIR), None)[0]
    raw_test = read_jsonl(SAMPLE_DIR / "test.jsonl")
    assert len(splits["train"]) == 32 and len(splits["validation"]) == 8
    assert len(raw_test) == 24
    assert len(splits["test"]) == 8
    assert all(len(row["references"]) == 3 for row in splits["test"])
    first = splits["test"][0]
    assert first["references"] == [row["summary"] for row in raw_test[:3]]
    assert set(first) == {"id", "dialogue", "references", "topics"}
    assert first["topics"] == [row["topic"] for row in raw_test[:3]]  # one per reference row, as annotated
    assert set(splits["train"][0]) == {"id", "dialogue", "summary", "topic"}
    assert splits["train"][0]["topic"] == read_jsonl(SAMPLE_DIR / "train.jsonl")[0]["topic"]


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
    write_jsonl_rows(
        tmp_path / "dialogsum.train.jsonl", [{"fname": "train_1", "dialogue": "a b", "summary": "s", "topic": "t"}]
    )
    write_jsonl_rows(
        tmp_path / "dialogsum.dev.jsonl", [{"fname": "dev_1", "dialogue": "c d", "summary": "s", "topic": "t"}]
    )
    write_jsonl_rows(
        tmp_path / "dialogsum.test.jsonl",
        [
            {
                "fname": "test_1",
                "dialogue": "e f",
                "summary1": "one",
                "summary2": "two",
                "summary3": "three",
                "topic3": "c",
                "topic1": "a",
                "topic2": " ",
            }
        ],
    )
    splits = load_source(str(tmp_path), None)[0]
    assert splits["validation"] == [{"id": "dev_1", "dialogue": "c d", "summary": "s", "topic": "t"}]
    # topic1, topic2, ... in number order; a blank topic is no topic
    assert splits["test"] == [
        {"id": "test_1", "dialogue": "e f", "references": ["one", "two", "three"], "topics": ["a", "c"]}
    ]


def test_topics_are_optional_but_must_be_text(tmp_path):
    splits = load_source(
        str(
            _hub_dir(
                tmp_path / "none",
                train=[{"id": "t1", "dialogue": "d", "summary": "s"}],
                test=[{"id": "s1", "dialogue": "d", "summary": "x"}],
            )
        ),
        None,
    )[0]
    assert splits["train"][0]["topic"] is None and splits["test"][0]["topics"] == []
    with pytest.raises(UserError, match="test.jsonl line 1: topic must be text, got 7"):
        load_source(
            str(_hub_dir(tmp_path / "bad", test=[{"id": "s1", "dialogue": "d", "summary": "x", "topic": 7}])), None
        )


def test_any_dataset_loads_by_its_split_and_column_names(tmp_path):
    sample = load_source(str(SAMPLE_DIR), None)[0]
    # SAMSum's shape: id, dialogue, summary, one reference per test dialogue, no topic: DialogSum's names do.
    samsum = write_samsum_shaped(tmp_path / "samsum")
    loaded = load_source(str(samsum), None)[0]
    assert [row["references"] for row in loaded["test"]] == [row["references"][:1] for row in sample["test"]]
    assert loaded["train"][0] == {**sample["train"][0], "topic": None}
    # Other names, two reference columns: the test split's references in their order, train's from the first.
    splits, columns = Splits(**RENAMED["splits"]), Columns(**RENAMED["columns"])
    renamed = load_source(str(write_renamed_csvs(tmp_path / "renamed")), None, splits, columns)[0]
    assert [row["references"] for row in renamed["test"]] == [row["references"][:2] for row in sample["test"]]
    assert [row["topics"] for row in renamed["test"]] == [row["topics"][:1] for row in sample["test"]]
    assert renamed["train"] == sample["train"] and renamed["validation"] == sample["validation"]
    named = Splits(train="train.csv", validation="dev", test="test.csv")  # a file by its name too
    assert load_source(str(tmp_path / "renamed"), None, named, columns)[0] == renamed


@pytest.mark.parametrize(
    "change, facts",
    [
        ({"dialogue": "dialog"}, ("train.csv record 1", "missing column 'dialog'", "conversation, text, ref_a, ref_b")),
        ({"summary": ["ref_a", "ref_c"]}, ("test.csv record 1", "missing column 'ref_c'", "category")),
        (
            {"topic": "topics"},
            ("train.csv record 1", "missing column 'topics'", "data.columns"),
        ),  # named: must be there
    ],
)
def test_a_column_the_file_lacks_is_one_line_listing_the_columns_it_has(tmp_path, change, facts):
    directory = write_renamed_csvs(tmp_path)
    with pytest.raises(UserError) as error:
        load_source(str(directory), None, Splits(**RENAMED["splits"]), Columns(**{**RENAMED["columns"], **change}))
    assert all(fact in str(error.value) for fact in facts), error.value


def test_a_split_the_directory_lacks_names_the_file_expected(tmp_path):
    with pytest.raises(UserError) as error:
        load_source(str(write_renamed_csvs(tmp_path)), None, Splits(train="train", validation="valid", test="test"))
    facts = ("no validation split", "valid.jsonl", "dev.csv, test.csv, train.csv", "data.splits.validation")
    assert all(fact in str(error.value) for fact in facts), error.value


def test_dialogsum_ids_are_id_or_fname_row_by_row_in_either_layout(tmp_path):
    rows = [{"fname": "t1", "dialogue": "d", "summary": "s"}]
    assert load_source(str(_hub_dir(tmp_path / "hub", train=rows)), None)[0]["train"][0]["id"] == "t1"
    authors = tmp_path / "authors"
    authors.mkdir()
    for name, key in (("train", "id"), ("dev", "fname"), ("test", "id")):
        write_jsonl_rows(authors / f"dialogsum.{name}.jsonl", [{key: f"{name}_1", "dialogue": name, "summary": "s"}])
    assert [rows[0]["id"] for rows in load_source(str(authors), None)[0].values()] == ["train_1", "dev_1", "test_1"]


def test_a_named_summary_column_is_read_exactly_and_numbered_ones_only_in_the_test_split(tmp_path):
    _hub_dir(
        tmp_path,
        train=[{"id": "t1", "dialogue": "d", "summary (en)": "main", "summary (en)2": "other"}],
        validation=[{"id": "v1", "dialogue": "e", "summary (en)": "main"}],
        test=[{"id": "s1", "dialogue": "f", "summary (en)2": "two", "summary (en)1": "one", "summary (en)x": "x"}],
    )
    columns = Columns(id="id", dialogue="dialogue", summary="summary (en)", topic=None)
    splits = load_source(str(tmp_path), None, None, columns)[0]
    assert splits["train"][0]["summary"] == "main" and splits["test"][0]["references"] == ["one", "two"]
    write_jsonl_rows(
        tmp_path / "test.jsonl", [{"id": "s1", "dialogue": "f", "summary (en)": "a", "summary (en)1": "b"}]
    )
    with pytest.raises(UserError) as error:  # which would be the references? Neither is dropped in silence
        load_source(str(tmp_path), None, None, columns)
    assert all(fact in str(error.value) for fact in ("test.jsonl line 1", "'summary (en)'", "'summary (en)1'"))


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
    assert all(len(row["topics"]) == 3 for row in splits["test"])  # topic1..3, one per annotator


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


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "t1", "dialogue": "d", "summary": 42}', "train.jsonl line 1: summary must be text, got 42"),
        ('{"id": "t1", "dialogue": ["d"], "summary": "s"}', "train.jsonl line 1: dialogue must be text, got ['d']"),
        ('{"id": "t1", "dialogue": null, "summary": "s"}', "train.jsonl line 1: dialogue must be text, got None"),
        ('{"id": 1.5, "dialogue": "d", "summary": "s"}', "train.jsonl line 1: id must be text, got 1.5"),
        ("[1, 2]", "train.jsonl line 1: expected a JSON object, got list"),
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
    assert load_source(str(tmp_path), None)[0]["train"] == [{"id": "7", "dialogue": "d", "summary": "s", "topic": None}]


def test_hub_test_ids_with_reference_suffixes_group_into_one_dialogue(tmp_path):
    test = [
        {"id": f"test_0_{k}", "dialogue": "#Person1#: Yes?", "summary": f"Ref {k}.", "topic": "x"} for k in (1, 2, 3)
    ]
    test.append({"id": "test_1_1", "dialogue": "#Person1#: No.", "summary": "Only one.", "topic": "x"})
    _hub_dir(tmp_path, test=test)
    assert load_source(str(tmp_path), None)[0]["test"] == [
        {
            "id": "test_0",
            "dialogue": "#Person1#: Yes?",
            "references": ["Ref 1.", "Ref 2.", "Ref 3."],
            "topics": ["x", "x", "x"],
        },
        {"id": "test_1_1", "dialogue": "#Person1#: No.", "references": ["Only one."], "topics": ["x"]},
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
    assert (
        f"test.jsonl line 2: the same dialogue as at {tmp_path / 'test.jsonl'} line 1, under another id ('{ids[1]}')"
        in str(error.value)
    )


def test_leakage_is_counted_in_the_statistics():
    splits = load_source(str(SAMPLE_DIR), None)[0]
    stats = split_statistics(splits)
    assert stats["test"]["also_in_train"] == stats["validation"]["also_in_train"] == 0
    splits["train"].append({"id": "leak", "dialogue": splits["test"][0]["dialogue"], "summary": "s"})
    splits["train"] += [
        {"id": f"v{i}", "dialogue": row["dialogue"], "summary": "s"} for i, row in enumerate(splits["validation"][:2])
    ]
    stats = split_statistics(splits)
    assert stats["test"]["also_in_train"] == 1 and stats["validation"]["also_in_train"] == 2


@pytest.mark.parametrize("summary", ["会议推迟了。", "\u200b\u200c\u200d", "... ?!"])
def test_a_summary_rouge_cannot_see_is_refused_not_scored_zero_in_silence(tmp_path, summary):
    # rouge_score keeps only Latin letters and digits: against such a reference every summary scores 0.
    for split in ("train", "test"):
        _hub_dir(
            tmp_path / split, **{split: [{"id": "a", "dialogue": "#Person1#: Hi.", "summary": summary, "topic": "x"}]}
        )
        with pytest.raises(UserError) as error:
            load_source(str(tmp_path / split), None)
        assert f"{split}.jsonl line 1" in str(error.value) and "summary" in str(error.value)
        assert "ROUGE" in str(error.value) and "Latin letters" in str(error.value)
