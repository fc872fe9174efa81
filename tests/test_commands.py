"""What a user runs by hand: each console script pyproject.toml declares does its job as installed
and runs with `python -m`; and the demo never replaces a directory, an earlier demo included."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from dialogsum_lora.commands.demo import demo, make_offline_copy
from dialogsum_lora.errors import UserError

SCRIPTS = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def write_inputs(directory: Path) -> None:
    (directory / "params.yaml").write_text((REPO_ROOT / "params.yaml").read_text())
    (directory / "predictions.jsonl").write_text(json.dumps({"prediction": "a b c", "references": ["a b d"]}) + "\n")
    (directory / "taken").mkdir()
    (directory / "taken" / "thesis.tex").write_text("months of work")


# Each command, on a small input: what it must print (stdout) or refuse (one stderr line), and exit code.
CASES = {
    "dialogsum-score": (["predictions.jsonl"], 0, '"rouge1": 0.666667'),
    "dialogsum-tiny-model": (["new-model"], 0, "wrote a tiny T5 to new-model"),
    "dialogsum-summarise": (["#Person1#: Hi.", "--adapter", "taken"], 2, "no trained adapter or model in taken"),
    "dialogsum-export": (["taken"], 2, "taken already exists and is not an empty directory"),
    "dialogsum-experiments": ([], 2, "`dvc exp show` failed"),
    "dialogsum-demo": (["taken"], 2, "is not an empty directory"),
}


def test_every_console_script_is_covered():
    assert set(CASES) == set(SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_command_does_its_job_as_installed_and_runs_with_python_m(name, tmp_path):
    installed = Path(sys.executable).parent / name
    assert installed.exists(), f"{name} is not installed in this environment: run `make install`"
    arguments, code, expected = CASES[name]
    write_inputs(tmp_path)
    result = subprocess.run([str(installed), *arguments], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == code, result.stderr[-2000:]
    if code:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and expected in result.stderr
        assert (tmp_path / "taken" / "thesis.tex").read_text() == "months of work"
    else:
        assert expected in result.stdout
    # `python -m` runs the same command (its parser, named as installed): its help, which does no work.
    module = SCRIPTS[name].removesuffix(":main")
    helped = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=300)
    assert helped.returncode == 0 and helped.stdout.startswith(f"usage: {name} "), helped.stderr[-2000:]


def test_the_demo_wants_a_new_or_empty_directory_of_its_own(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "thesis.tex").write_text("months of work")
    (tmp_path / "file").write_text("x")
    for taken in (tmp_path / "work", REPO_ROOT, REPO_ROOT.parent, tmp_path / "file"):
        with pytest.raises(UserError, match="is not an empty directory"):
            demo([str(taken)])
    assert (tmp_path / "work" / "thesis.tex").read_text() == "months of work"


@pytest.mark.slow
def test_an_earlier_demo_is_left_as_it_is_with_word_of_how_to_rerun_it(tmp_path, capsys):
    earlier = make_offline_copy(tmp_path / "demo")
    (earlier / "my-notes.md").write_text("my own work")
    before = {p: p.read_bytes() for p in earlier.rglob("*") if p.is_file()}
    demo([str(earlier)])  # as a second `make demo` runs it
    printed = capsys.readouterr().out
    assert "left as it is" in printed and "dvc repro" in printed and "rm -rf" in printed
    assert {p: p.read_bytes() for p in earlier.rglob("*") if p.is_file()} == before
