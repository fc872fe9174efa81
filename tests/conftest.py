"""Shared fixtures. Every test runs offline: a stray hub call fails at once."""

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny T5 of stages.tiny_model, written once per test session."""
    from stages.tiny_model import write_tiny_model

    directory = tmp_path_factory.mktemp("tiny") / "tiny-t5"
    write_tiny_model(directory)
    return directory


@pytest.fixture(scope="session")
def dialogsum_dir(tmp_path_factory) -> Path:
    """A DialogSum-like dataset in the hub's layout (CSV splits, the test split one row per reference)."""
    from hub_server import write_dialogsum_csvs

    return write_dialogsum_csvs(tmp_path_factory.mktemp("dialogsum"))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run the test inside an empty temporary directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def dvc(directory: Path, *args: str, check: bool = True) -> str:
    """Run dvc offline in `directory`; return stdout and stderr together."""
    import subprocess
    import sys

    from stages.offline import offline_environment

    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=directory, env=offline_environment(), capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, output
    return output


def run_stage(directory: Path, stage: str):
    """Run one stage's script offline in `directory`, as dvc.yaml's cmd does; return the CompletedProcess."""
    import subprocess
    import sys

    from stages.offline import offline_environment

    environment = offline_environment()
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", f"stages.{stage}"], cwd=directory, env=environment, capture_output=True, text=True
    )


def stages_run(output: str) -> set[str]:
    """The stages a `dvc repro` output says it ran."""
    import re

    return set(re.findall(r"Running stage '(\w+)'", output))


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory):
    """The README's `make demo`, run in a copy of this checkout: the demo directory (an offline
    copy after one `dvc repro`; read-only: use `workspace`) and what `make demo` printed."""
    import subprocess

    from stages.offline import commit_all, copy_checkout, git

    checkout = copy_checkout(tmp_path_factory.mktemp("checkout") / "repo")
    commit_all(checkout, "a copy of the checkout under test")
    result = subprocess.run(["make", "demo"], cwd=checkout, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    # `make demo` leaves the checkout's own pipeline files alone.
    assert git(checkout, "status", "--porcelain", "--", "dvc.lock", "params.yaml", "data", "models", "reports") == ""
    return checkout / "demo", output


@pytest.fixture
def workspace(reproduced, tmp_path) -> Path:
    """A private copy of the reproduced repository (git, DVC cache and outputs), to change."""
    import shutil

    directory = tmp_path / "repo"
    shutil.copytree(reproduced[0], directory, symlinks=True)
    return directory
