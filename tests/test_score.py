"""The scoring command: the same metrics as the pipeline, and a user's own file refused in one line."""

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, run_command, write_jsonl_rows

from dialogsum_lora.commands.demo import offline_environment
from dialogsum_lora.commands.score import score, score_file
from dialogsum_lora.errors import UserError


def test_prediction_files_with_missing_extra_or_repeated_ids_are_errors(tmp_path):
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps({"id": i, "dialogue": "d", "references": ["a b"]}) + "\n" for i in ("x", "y")))

    def predictions(*ids):
        path = tmp_path / "predictions.jsonl"
        path.write_text("".join(json.dumps({"id": i, "prediction": "a b"}) + "\n" for i in ids))
        return path

    assert score_file(predictions("y", "x"), test)["rouge1"] == 1.0
    with pytest.raises(UserError, match="no prediction for 1 of the 2 dialogues"):
        score_file(predictions("x"), test)
    with pytest.raises(UserError, match="row 3: id 'z' is not in"):
        score_file(predictions("x", "y", "z"), test)
    with pytest.raises(UserError, match="row 2: id 'x' appears twice"):
        score_file(predictions("x", "x", "y"), test)


def test_score_cli_prints_metrics_and_rejects_bad_rows(tmp_path, capsys):
    # In this process, as its console script runs it (test_commands.py runs it as installed).
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"prediction": "a b", "references": ["a b"]}) + "\n")
    code, out, _ = run_command(score, [str(good)], capsys)
    assert code == 0 and json.loads(out)["rouge1"] == 1.0

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prediction": "a b", "references": "a b"}) + "\n")
    with pytest.raises(UserError) as error:
        score_file(bad)
    assert "row 1" in str(error.value) and "references" in str(error.value) and "valid list" in str(error.value)
    code, _, err = run_command(score, [str(bad)], capsys)
    assert code == 2 and "Traceback" not in err and "row 1" in err


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--resamples", "0", ("--resamples", "0", "greater than or equal to 1")),  # analysis.resamples' bounds
        ("--resamples", "1e3", ("--resamples", "'1e3'", "valid integer")),
        ("--seed", "-1", ("--seed", "-1", "greater than or equal to 0")),  # seed's bounds
        ("--seed", "4294967296", ("--seed", "4294967296", "less than or equal to 4294967295")),
    ],
)
def test_resamples_and_seed_take_the_bounds_of_their_params(tmp_path, option, value, message):
    with pytest.raises(UserError) as refused:
        score([str(tmp_path / "predictions.jsonl"), option, value])
    for fact in (*message, "dialogsum-score --help"):
        assert fact in str(refused.value)


@pytest.mark.parametrize(
    "content, test_split, message",
    [
        (None, False, ("missing.jsonl", "not found")),
        ("directory", False, ("missing.jsonl", "directory")),
        ('{"prediction": 3, "references": ["a"]}', False, ("row 1", "prediction", "3")),
        ('{"prediction": "a", "references": []}', False, ("row 1", "references", "at least 1 item", "[]")),
        ('{"prediction": "a", "references": ["a", ""]}', False, ("row 1", "references[1]", "empty")),
        ('{"prediction": "a", "references": [1]}', False, ("row 1", "references[0]", "1")),
        ('{"prediction": "a"}', False, ("row 1", "missing key references")),
        ('{"id": 7, "prediction": "a"}', True, ("row 1", "id", "7")),
        (
            '{"prediction": "a", "references": ["会议推迟了。"]}',
            False,
            ("row 1", "references[0]", "ROUGE", "Latin letters"),
        ),
    ],
)
def test_score_cli_refuses_a_users_bad_file_in_one_line(tmp_path, capsys, content, test_split, message):
    path = tmp_path / "missing.jsonl"
    if content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_text(content + "\n")
    arguments = [str(path)]
    if test_split:
        (tmp_path / "test.jsonl").write_text('{"id": "x", "dialogue": "d", "references": ["a b"]}\n')
        arguments += ["--test", str(tmp_path / "test.jsonl")]
    code, _, stderr = run_command(score, arguments, capsys)
    assert code == 2 and "Traceback" not in stderr
    assert stderr.count("\n") == 1 and all(fact in stderr for fact in message), stderr
    assert "dvc repro" not in stderr  # the user's own file, not a pipeline output


def test_a_bad_command_line_is_one_error_line(capsys):
    for arguments in ([], ["x.jsonl", "--bogus"]):
        code, _, stderr = run_command(score, arguments, capsys)
        assert code == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1 and "--help" in stderr


def test_a_test_split_that_names_a_dialogue_twice_is_refused(tmp_path):
    test = tmp_path / "test.jsonl"
    test.write_text('{"id": "a", "references": ["x"]}\n{"id": "a", "references": ["y"]}\n')
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text('{"id": "a", "prediction": "x"}\n')
    with pytest.raises(UserError, match="row 2: id 'a' appears twice"):
        score_file(predictions, test)


@pytest.mark.slow
def test_the_score_command_compares_two_files_as_evaluate_does(reproduced):
    directory, _ = reproduced
    result = subprocess.run(
        [
            "dialogsum-score",
            "reports/finetuned/predictions.jsonl",
            "--test",
            "data/prepared/test.jsonl",
            "--against",
            "reports/baseline/predictions.jsonl",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        env=offline_environment(),
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    metrics = json.loads((directory / "reports/finetuned/scores.json").read_text())
    comparison = json.loads((directory / "reports/comparison.json").read_text())
    assert printed.pop("comparison") == {"against": "reports/baseline/predictions.jsonl", **comparison}
    assert printed == {
        key: value for key, value in metrics.items() if key not in ("truncated_prompts", "unfinished_summaries")
    }


def test_only_predictions_of_the_same_dialogues_are_compared(tmp_path):
    def predictions(name, rows):
        path = tmp_path / name
        write_jsonl_rows(path, rows)
        return path

    mine = predictions(
        "mine.jsonl",
        [
            {"id": "a", "prediction": "x y", "references": ["x y"]},
            {"id": "b", "prediction": "z", "references": ["z w"]},
        ],
    )
    reordered = predictions(
        "theirs.jsonl",
        [
            {"id": "b", "prediction": "z w", "references": ["z w"]},
            {"id": "a", "prediction": "q", "references": ["x y"]},
        ],
    )
    comparison = score_file(mine, against=reordered, resamples=50)["comparison"]
    # matched by id: a wins (1 against 0), b loses
    assert (comparison["rouge1"]["wins"], comparison["rouge1"]["ties"], comparison["rouge1"]["losses"]) == (1, 0, 1)
    other = predictions(
        "other.jsonl",
        [{"id": "a", "prediction": "x", "references": ["x y"]}, {"id": "c", "prediction": "z", "references": ["z w"]}],
    )
    with pytest.raises(UserError, match="row 2: id 'b' is not in"):
        score_file(mine, against=other)
    no_ids = predictions(
        "no-ids.jsonl", [{"prediction": "x", "references": ["x y"]}, {"prediction": "z", "references": ["z"]}]
    )
    with pytest.raises(UserError, match="their references differ row by row"):
        score_file(mine, against=no_ids)


def test_predictions_rouge_cannot_see_are_flagged_beside_the_scores(tmp_path):
    path = tmp_path / "predictions.jsonl"
    write_jsonl_rows(
        path, [{"prediction": "a b", "references": ["a b"]}, {"prediction": "\u200b", "references": ["a b"]}]
    )
    result = subprocess.run(
        [sys.executable, "-m", "dialogsum_lora.commands.score", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and json.loads(result.stdout)["blank_predictions"] == 1
    assert result.stderr.startswith("warning: 1 of 2 predictions") and "ROUGE" in result.stderr
