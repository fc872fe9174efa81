"""dialogsum-summarise: a user's own dialogues summarised exactly as `evaluate` (and, with --base,
`baseline`) summarised the test dialogues, and a user's mistake refused in one line."""

import csv
import io
import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, run_command

from dialogsum_lora.commands.summarise import summarise
from dialogsum_lora.errors import UserError
from dialogsum_lora.files import read_jsonl


@pytest.fixture
def in_demo(reproduced, monkeypatch):
    """The reproduced demo as the current directory (summarise reads it, writes nothing there)."""
    monkeypatch.chdir(reproduced[0])
    return reproduced[0]


@pytest.mark.slow
def test_a_test_dialogue_is_summarised_exactly_as_evaluate_and_baseline_did(in_demo, tmp_path, capsys, monkeypatch):
    test_rows = read_jsonl(in_demo / "data/prepared/test.jsonl")
    finetuned = [row["prediction"] for row in read_jsonl(in_demo / "reports/finetuned/predictions.jsonl")]
    zero_shot = [row["prediction"] for row in read_jsonl(in_demo / "reports/baseline/predictions.jsonl")]
    assert finetuned != zero_shot

    # One dialogue: from an argument, a text file and stdin; printed alone on stdout.
    (tmp_path / "dialogue.txt").write_text(test_rows[1]["dialogue"])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(test_rows[2]["dialogue"].encode())))
    for arguments, expected in (
        ([test_rows[0]["dialogue"]], finetuned[0]),
        (["--file", str(tmp_path / "dialogue.txt")], finetuned[1]),
        (["-"], finetuned[2]),
        (["--base", test_rows[0]["dialogue"]], zero_shot[0]),
    ):
        summarise(arguments)
        assert capsys.readouterr().out == expected + "\n", arguments

    # A file of dialogues, in length-sorted batches: every row kept, its summary added, the
    # same as evaluate's, so dialogsum-score gives evaluate's metrics.
    summarise(["--file", "data/prepared/test.jsonl", "--output", str(tmp_path / "summaries.jsonl")])
    assert capsys.readouterr().out == f"8 summaries in {tmp_path / 'summaries.jsonl'}\n"
    written = read_jsonl(tmp_path / "summaries.jsonl")
    assert [{key: value for key, value in row.items() if key != "prediction"} for row in written] == test_rows
    assert [row["prediction"] for row in written] == finetuned
    # A CSV with the dialogues under another column name, and the base model alone.
    with (tmp_path / "dialogues.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("name", "text"), *((row["id"], row["dialogue"]) for row in test_rows)])
    summarise(
        [
            "--base",
            "--file",
            str(tmp_path / "dialogues.csv"),
            "--column",
            "text",
            "--output",
            str(tmp_path / "base.jsonl"),
        ]
    )
    assert [row["prediction"] for row in read_jsonl(tmp_path / "base.jsonl")] == zero_shot


@pytest.mark.slow
def test_options_override_the_settings_of_params_yaml(in_demo, capsys):
    dialogue = read_jsonl(in_demo / "data/prepared/test.jsonl")[0]["dialogue"]
    summarise(["--max-new-tokens", "3", dialogue])
    short = capsys.readouterr().out.split()
    summarise([dialogue])
    full = capsys.readouterr().out.split()
    assert 1 <= len(short) < len(full) and full[: len(short) - 1] == short[:-1]
    summarise(["--max-source-tokens", "8", dialogue])
    assert "warning: 1 of 1 prompts are longer than 8 tokens and were cut" in capsys.readouterr().err
    # A decoding setting the schema has is an option, checked as params.yaml's is.
    summarise(["--num-beams", "2", "--max-new-tokens", "3", dialogue])
    assert 1 <= len(capsys.readouterr().out.split()) <= 3
    with pytest.raises(UserError) as error:
        summarise(["--num-beams", "0", dialogue])
    assert "generate.num_beams" in str(error.value) and "0" in str(error.value) and "options" in str(error.value)


@pytest.mark.parametrize(
    "arguments, stdin, message",
    [
        ([], "", "give one dialogue, - to read it from stdin, or --file FILE"),
        (
            ["#Person1#: Hi.", "--file", "dialogue.txt"],
            "",
            "give one dialogue, - to read it from stdin, or --file FILE",
        ),
        ([""], "", "the dialogue given: the dialogue must be non-empty text"),
        (["-"], "  \n\t\n", "stdin: the dialogue must be non-empty text"),
        (["--file", "blank.txt"], "", "blank.txt: the dialogue must be non-empty text"),
        (["--file", "folder"], "", "folder is a directory, not a file"),
        (["--file", "missing.txt"], "", "missing.txt not found"),
        (["--file", "latin1.txt"], "", "latin1.txt is not UTF-8 text"),
        (
            ["--file", "no-column.csv", "--output", "out.jsonl"],
            "",
            "no-column.csv record 1 (line 2): no column 'dialogue' "
            "(columns: id, text): name the dialogue column with --column",
        ),
        (
            ["--file", "empty-row.jsonl", "--output", "out.jsonl"],
            "",
            "empty-row.jsonl line 2 ('dialogue'): the dialogue must be non-empty text",
        ),
        (["--file", "predicted.jsonl", "--output", "out.jsonl"], "", "already has a 'prediction' column"),
        (["--file", "dialogues.jsonl"], "", "holds a dialogue per row: give --output FILE.jsonl"),
        (
            ["--file", "dialogues.jsonl", "--output", "folder.jsonl"],
            "",
            "cannot write folder.jsonl: a directory is in the way",
        ),
        (["--file", "dialogues.jsonl", "--output", "dialogues.csv"], "", "must end in .jsonl"),
        (["--file", "dialogues.jsonl", "--output", "dialogues.jsonl"], "", "dialogues.jsonl already exists"),
        (["#Person1#: Hi.", "--output", "out.jsonl"], "", "--output is for a --file of dialogues"),
        (["#Person1#: Hi.", "--num-beams", "x"], "", "generate.num_beams: Input should be a valid integer, got 'x'"),
        (["#Person1#: Hi.", "--revision", "main"], "", "--revision goes with --model"),
        (
            ["#Person1#: Hi.", "--adapter", "folder"],
            "",
            "no trained adapter or model in folder: run `dvc repro finetune`",
        ),
    ],
)
def test_a_users_mistake_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, arguments, stdin, message):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.jsonl").mkdir()
    (tmp_path / "blank.txt").write_text(" \n \n")
    (tmp_path / "latin1.txt").write_bytes("#Person1#: Café?".encode("latin-1"))
    (tmp_path / "no-column.csv").write_text("id,text\n1,#Person1#: Hi.\n")
    (tmp_path / "empty-row.jsonl").write_text('{"dialogue": "#Person1#: Hi."}\n{"dialogue": "  "}\n')
    (tmp_path / "predicted.jsonl").write_text('{"dialogue": "#Person1#: Hi.", "prediction": "mine"}\n')
    (tmp_path / "dialogues.jsonl").write_text('{"dialogue": "#Person1#: Hi."}\n')
    shutil.copy(REPO_ROOT / "params.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run_command(summarise, arguments, capsys, stdin)
    assert code == 2 and "Traceback" not in stderr and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("error: ") and message in stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.slow
def test_an_adapter_without_its_settings_or_for_another_model_is_refused(in_demo, tmp_path):
    adapter = tmp_path / "adapter"
    shutil.copytree(in_demo / "models/adapter", adapter)
    record = json.loads((adapter / "provenance.json").read_text())
    (adapter / "provenance.json").write_text(json.dumps({key: value for key, value in record.items() if key != "lora"}))
    with pytest.raises(UserError) as error:
        summarise(["--adapter", str(adapter), "#Person1#: Hi."])
    assert (
        "provenance.json" in str(error.value)
        and "holds no lora section" in str(error.value)
        and "retrain" in str(error.value)
    )
    (adapter / "provenance.json").write_text(json.dumps({**record, "lora": {**record["lora"], "alpha": -1}}))
    with pytest.raises(UserError) as error:
        summarise(["--adapter", str(adapter), "#Person1#: Hi."])
    assert "provenance.json" in str(error.value) and "lora.alpha" in str(error.value) and "-1" in str(error.value)
    (adapter / "provenance.json").write_text(
        json.dumps({**record, "model": {**record["model"], "name": "models/missing"}})
    )
    with pytest.raises(UserError, match="the base model: give it with --model"):
        summarise(["--adapter", str(adapter), "#Person1#: Hi."])
    other = tmp_path / "other-model"
    shutil.copytree(in_demo / "models/tiny-t5", other)
    (other / "generation_config.json").write_text((other / "generation_config.json").read_text() + "\n")
    with pytest.raises(UserError, match="were trained from another base model"):
        summarise(["--model", str(other), "#Person1#: Hi."])


def test_every_decoding_setting_is_an_option_checked_as_params_yaml_is(tmp_path):
    from dialogsum_lora.commands.summarise import parse_arguments, settings

    shutil.copy(REPO_ROOT / "params.yaml", tmp_path)
    args = parse_arguments(
        [
            "#Person1#: Hi.",
            "--params",
            str(tmp_path / "params.yaml"),
            "--num-beams",
            "4",
            "--length-penalty",
            "0.5",
            "--no-repeat-ngram-size",
            "3",
        ]
    )
    generate = settings(args).generate
    assert (generate.num_beams, generate.length_penalty, generate.no_repeat_ngram_size) == (4, 0.5, 3)
    with pytest.raises(UserError) as error:
        settings(
            parse_arguments(["#Person1#: Hi.", "--params", str(tmp_path / "params.yaml"), "--length-penalty", "nan"])
        )
    assert "generate.length_penalty" in str(error.value) and "nan" in str(error.value)

    def read(*options: str):
        return settings(parse_arguments(["#Person1#: Hi.", "--params", str(tmp_path / "params.yaml"), *options]))

    # Read as params.yaml is (YAML 1.2, as DVC reads it), and text as it is, never cut or reshaped.
    assert (
        read("--num-beams", "012").generate.num_beams == 12
        and read("--length-penalty", "1e-1").generate.length_penalty == 0.1
    )
    for template in ("Summarise {dialogue} #end", "Summary: {dialogue}", "- {dialogue}", "{dialogue} null"):
        assert read("--template", template).prompt.template == template
    for option, value in (("--template", ""), ("--max-new-tokens", "null")):  # given, so checked: never skipped
        with pytest.raises(UserError) as error:
            read(option, value)
        assert option.removeprefix("--").replace("-", "_") in str(error.value) and "options" in str(error.value)


@pytest.mark.parametrize(
    "arguments, stdin, facts",
    [
        (["-"], b"#Person1#: Caf\xe9?", ("stdin", "UTF-8")),  # Latin-1 piped in
        (["--file", "stamped.parquet", "--output", "out.jsonl"], b"", ("stamped.parquet row 1", "JSON")),
        (["--file", "dialogues.jsonl", "--output", "taken.jsonl"], b"", ("taken.jsonl", "already exists")),
    ],
)
def test_text_and_files_from_outside_are_checked_before_the_model_loads(tmp_path, arguments, stdin, facts):
    import datetime

    import pyarrow
    import pyarrow.parquet

    pyarrow.parquet.write_table(
        pyarrow.table({"dialogue": ["#Person1#: Hi."], "when": [datetime.datetime(2026, 1, 2)]}),
        tmp_path / "stamped.parquet",
    )
    (tmp_path / "dialogues.jsonl").write_text('{"dialogue": "#Person1#: Hi."}\n')
    (tmp_path / "taken.jsonl").write_text("a user's own summaries\n")
    shutil.copy(REPO_ROOT / "params.yaml", tmp_path)
    # No adapter here: each mistake must be found before the adapter and the model are looked for.
    command = [sys.executable, "-m", "dialogsum_lora.commands.summarise", *arguments]
    result = subprocess.run(command, cwd=tmp_path, input=stdin, capture_output=True, timeout=120)
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    assert all(fact in stderr for fact in facts), stderr
    assert (tmp_path / "taken.jsonl").read_text() == "a user's own summaries\n" and not (
        tmp_path / "out.jsonl"
    ).exists()


@pytest.mark.slow
def test_a_local_adapter_and_model_never_make_a_request_online_offline_switches_or_not(in_demo, tmp_path):
    import os

    from hub_server import HubServer

    from dialogsum_lora.commands.demo import offline_environment

    environment = {key: value for key, value in offline_environment().items() if not key.startswith("HF_")}
    with HubServer() as server:  # the endpoint the libraries would ask, were anything looked up online
        environment.update(HF_ENDPOINT=server.url, HF_HOME=str(tmp_path / "hf-home"))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "dialogsum_lora.commands.summarise",
                "--model",
                "models/tiny-t5",
                "#Person1#: Are you free tonight? #Person2#: Yes.",
            ],
            cwd=in_demo,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert server.requests == [] and server.proxied_requests == 0
    assert "Unable to fetch" not in result.stderr and os.environ.get("HF_HUB_OFFLINE") == "1"
