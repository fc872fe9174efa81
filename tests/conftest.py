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
    """An offline copy of the repository after one `dvc repro` (read-only: use `workspace`)."""
    from stages.offline import REPO_ROOT, git, make_offline_copy

    # What a pipeline run would touch here; the offline run must leave it alone.
    pipeline_files = ("status", "--porcelain", "--ignored", "--", "dvc.lock", "params.yaml", "data", "models", "reports")
    before = git(REPO_ROOT, *pipeline_files)
    directory = make_offline_copy(tmp_path_factory.mktemp("reproduced") / "repo")
    output = dvc(directory, "repro")
    assert git(REPO_ROOT, *pipeline_files) == before, "the offline run changed this checkout"
    return directory, output


@pytest.fixture
def workspace(reproduced, tmp_path) -> Path:
    """A private copy of the reproduced repository (git, DVC cache and outputs), to change."""
    import shutil

    directory = tmp_path / "repo"
    shutil.copytree(reproduced[0], directory, symlinks=True)
    return directory
