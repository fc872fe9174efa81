"""What a user runs by hand: the console scripts pyproject.toml declares, each also runnable
with `python -m`, and the demo's care not to replace a directory it did not make."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dialogsum_lora.demo import check_replaceable, make_offline_copy
from dialogsum_lora.errors import UserError

from conftest import REPO_ROOT

SCRIPTS = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_command_runs_as_a_console_script_and_with_python_m(name):
    module = SCRIPTS[name].removesuffix(":main")
    installed = Path(sys.executable).parent / name
    assert installed.exists(), f"{name} is not installed in this environment: run `make install`"
    for command in ([str(installed), "--help"], [sys.executable, "-m", module, "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr


def test_the_demo_replaces_only_an_empty_directory_or_an_earlier_demo(tmp_path):
    check_replaceable(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "thesis.tex").write_text("months of work")
    with pytest.raises(UserError, match="is not empty and not an earlier demo"):
        check_replaceable(tmp_path / "work")
    with pytest.raises(UserError, match="holds this checkout"):
        check_replaceable(REPO_ROOT.parent)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        check_replaceable(tmp_path / "file")


@pytest.mark.slow
def test_an_earlier_demo_may_be_replaced(tmp_path):
    make_offline_copy(tmp_path / "demo")
    check_replaceable(tmp_path / "demo")
