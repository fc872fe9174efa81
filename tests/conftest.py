"""Shared fixtures and helpers. Every test runs offline: a stray hub call fails at once."""

import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
# `make test` runs two test processes, each starting stages that use every core: torch's idle
# OpenMP threads sleep instead of spinning on the cores the other process works on. How threads
# wait changes no result (the thread count is unchanged); alone, a stage runs slower this way.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from dialogsum_lora import paths  # noqa: E402 (after the offline switches)
from dialogsum_lora.paths import REPO_ROOT  # noqa: E402

SAMPLE_DIR = REPO_ROOT / paths.SAMPLE_DIR
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


# The longest tests (a minute or more on two cores), started first so that under `make test`'s
# two processes the rest run beside them instead of after them.
LONGEST_FIRST = (
    "test_readme.py::test_every_recipe_runs_as_written",
    "test_reproducibility.py::test_compiled_training_learns_as_eager_training_does",
    "test_distributed.py::test_two_process_training_completes_and_rank_zero_writes",
    "test_distributed.py::test_two_process_generation_scores_exactly_like_one",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = f"{item.path.name}::{item.originalname}"
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place


def write_jsonl_rows(path, rows):
    """Write `rows` as JSON Lines, as a user's own file would be (no checks)."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def write_hub_dir(tmp_path, train=None, validation=None, test=None):
    """A data directory in the hub layout: one small split each, or the rows given."""
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
        write_jsonl_rows(tmp_path / f"{split}.jsonl", split_rows)
    return tmp_path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny T5 of dialogsum_lora.tiny_model, written once per test session."""
    from dialogsum_lora.tiny_model import write_tiny_model

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

    from dialogsum_lora.demo import offline_environment

    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=directory, env=offline_environment(), capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, output
    return output


def start_stage(directory: Path, stage: str, environment: dict[str, str] | None = None, **popen):
    """Start one stage's script in `directory` as dvc.yaml's cmd does (`python -m stages.STAGE`),
    offline unless an `environment` is given; return the Popen, its output captured as text."""
    import subprocess
    import sys

    from dialogsum_lora.demo import offline_environment

    return subprocess.Popen(
        [sys.executable, "-m", f"stages.{stage}"], cwd=directory, env=environment or offline_environment(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )


def run_stage(directory: Path, stage: str, environment: dict[str, str] | None = None):
    """Run one stage's script to its end (see start_stage); return the CompletedProcess."""
    import subprocess

    run = start_stage(directory, stage, environment)
    stdout, stderr = run.communicate(timeout=600)
    return subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)


def stages_run(output: str) -> set[str]:
    """The stages a `dvc repro` output says it ran."""
    import re

    return set(re.findall(r"Running stage '(\w+)'", output))


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory):
    """The README's `make demo`, run in a copy of this checkout: the demo directory (an offline
    copy after one `dvc repro`; read-only: use `workspace`) and what `make demo` printed."""
    import subprocess

    from dialogsum_lora.demo import commit_all, copy_checkout, git

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
