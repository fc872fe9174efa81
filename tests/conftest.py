"""Shared fixtures and helpers. Every test runs offline: a stray hub call fails at once."""

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

# The tests own their environment: nothing of the caller's shell that changes how the libraries
# reach the hub or where they keep files (HF_* offline switches or endpoints, TRANSFORMERS_OFFLINE,
# a proxy, another HF_HOME) reaches them. Every stray hub call fails at once, and the libraries'
# caches are this run's own.
for _key in list(os.environ):
    if _key.startswith(("HF_", "HUGGING_FACE_")) or _key == "TRANSFORMERS_OFFLINE" or "proxy" in _key.lower():
        del os.environ[_key]
HF_HOME = tempfile.mkdtemp(prefix="dialogsum-tests-hf-home-")
os.environ.update(HF_HOME=HF_HOME, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
# `make test` runs two test processes, each starting stages that use every core: torch's idle
# OpenMP threads sleep instead of spinning on the cores the other process works on. How threads
# wait changes no result (the thread count is unchanged); alone, a stage runs slower this way.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from dialogsum_lora import paths  # noqa: E402 (after the offline switches)
from dialogsum_lora.paths import REPO_ROOT  # noqa: E402

SAMPLE_DIR = REPO_ROOT / paths.SAMPLE_DIR
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


# The longest tests (BENCHMARKS.md: the test suite) start first, so that the rest fill in beside
# them: `make test` hands its two processes one test at a time (`--maxschedchunk 1`), each process
# taking the next one as it is free, except at the start, when pytest-xdist hands each process two:
# the first process the first two here, the second the next two. The tests that need `make demo`
# (the `reproduced` fixture) wait for the first process to run it; the second process starts with
# tests that need no demo, longer together than `make demo`.
LONGEST_FIRST = (
    "test_readme.py::test_comparing_and_a_sweep_at_a_glance",  # the first process: `make demo`, then these two
    "test_readme.py::test_rerunning_from_a_plain_shell_elsewhere_is_byte_identical",
    "test_benchmarks.py::test_speed_runs_profile_the_stage_compare_losses_step_by_step_and_sum_up_in_one_results_file",
    "test_hub.py::test_stages_load_hub_ids_at_a_pinned_revision_and_record_the_commit",
    "test_readme.py::test_a_sweep_over_seeds_is_grouped_with_its_spread_interval_and_comparison",
    "test_reproducibility.py::test_compiled_training_learns_as_eager_training_does",
    "test_pipeline.py::test_killed_training_resumes_from_its_checkpoint_and_ends_identical",
    "test_methods.py::test_each_method_trains_reports_summarises_exports_and_reruns_byte_identical",
    "test_distributed.py::test_two_processes_generate_and_train_what_one_process_does",
    "test_benchmarks.py::test_tiny_benchmark_reports_both_settings",
)


def pytest_sessionfinish(session):
    shutil.rmtree(HF_HOME, ignore_errors=True)


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
        "validation": validation
        or [{"id": "v1", "dialogue": "#Person1#: Bye.", "summary": "A goodbye.", "topic": "x"}],
        "test": test
        or [
            {"id": "s1", "dialogue": "#Person1#: Yes?", "summary": "First.", "topic": "x"},
            {"id": "s1", "dialogue": "#Person1#: Yes?", "summary": "Second.", "topic": "x"},
        ],
    }
    for split, split_rows in rows.items():
        write_jsonl_rows(tmp_path / f"{split}.jsonl", split_rows)
    return tmp_path


def write_samsum_shaped(directory: Path) -> Path:
    """The sample's dialogues in SAMSum's shape: train/validation/test.jsonl of id, dialogue and summary (a test
    dialogue's first reference alone), no topic."""
    from dialogsum_lora.data import load_source

    directory.mkdir(parents=True)
    for split, rows in load_source(str(SAMPLE_DIR), None)[0].items():
        shaped = [
            {"id": r["id"], "dialogue": r["dialogue"], "summary": r.get("summary") or r["references"][0]} for r in rows
        ]
        write_jsonl_rows(directory / f"{split}.jsonl", shaped)
    return directory


# docs/pipeline.md's own data (the ```yaml block): the sample's dialogues under other names (write_renamed_csvs).
RENAMED = yaml.safe_load(
    re.search(r"^  ```yaml\n(.*?)^  ```$", (REPO_ROOT / "docs/pipeline.md").read_text(), re.MULTILINE | re.DOTALL)[1]
)["data"]


def write_renamed_csvs(directory: Path) -> Path:
    """The sample's dialogues as RENAMED's directory: train.csv, dev.csv and test.csv with columns
    conversation, text, ref_a, ref_b (the test split's first two references; elsewhere the summary, then
    another), category."""
    import csv

    from dialogsum_lora.data import load_source

    splits = load_source(str(SAMPLE_DIR), None)[0]
    directory.mkdir(parents=True, exist_ok=True)
    for split, name in RENAMED["splits"].items():
        with open(directory / f"{name}.csv", "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["conversation", "text", "ref_a", "ref_b", "category"])
            for row in splits[split]:
                references = row.get("references") or [row["summary"], f"Not this one: {row['summary']}"]
                topic = (row.get("topics") or [row.get("topic")])[0]
                writer.writerow([row["id"], row["dialogue"], *references[:2], topic])
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny T5 of dialogsum_lora.modeling.tiny, written once per test session."""
    from dialogsum_lora.modeling.tiny import write_tiny_model

    directory = tmp_path_factory.mktemp("tiny") / "tiny-t5"
    write_tiny_model(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_decoder_dir(tmp_path_factory) -> Path:
    """The tiny decoder-only Llama of dialogsum_lora.modeling.tiny, written once per test session."""
    from dialogsum_lora.modeling.tiny import write_tiny_model

    directory = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    write_tiny_model(directory, decoder_only=True)
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

    from dialogsum_lora.commands.demo import offline_environment

    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=directory, env=offline_environment(), capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, output
    return output


def run_command(command, arguments: list[str], capsys, stdin: str = "") -> tuple[int, str, str]:
    """`command(arguments)` run in this process as its console script runs it (errors.run_main: a
    user's mistake is one `error:` line and exit code 2), `stdin` its input: the exit code, stdout and
    stderr. Where a process of its own proves nothing more (test_commands.py runs each as installed)."""
    import io
    import signal
    import sys

    from dialogsum_lora.errors import run_main

    handler, own_stdin = signal.getsignal(signal.SIGTERM), sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    try:
        run_main(lambda: command(arguments))
        code = 0
    except SystemExit as exit:
        code = exit.code
    finally:
        signal.signal(signal.SIGTERM, handler)
        sys.stdin = own_stdin
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def start_stage(directory: Path, stage: str, environment: dict[str, str] | None = None, **popen):
    """Start one stage's script in `directory` as dvc.yaml's cmd does (`python -m stages.STAGE`),
    offline unless an `environment` is given; return the Popen, its output captured as text."""
    import subprocess
    import sys

    from dialogsum_lora.commands.demo import offline_environment

    return subprocess.Popen(
        [sys.executable, "-m", f"stages.{stage}"],
        cwd=directory,
        env=environment or offline_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
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
    """The README's `make demo`, run once per `pytest` run in a copy of this checkout: the demo
    directory (an offline copy after one `dvc repro`; read-only, shared by the test processes:
    run nothing there that writes, dvc included, and use `workspace` to change anything) and
    what `make demo` printed. The first test process to need it runs it; another waits for it."""
    from filelock import FileLock

    # pytest-xdist's test processes of one run share the parent of their own temporary directories.
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if "PYTEST_XDIST_WORKER" in os.environ else shared
    checkout, result = shared / "reproduced" / "repo", shared / "make-demo.json"
    with FileLock(shared / "reproduced.lock"):
        if not result.exists():
            result.write_text(json.dumps(_make_demo(checkout)))
    made = json.loads(result.read_text())
    assert made["returncode"] == 0, made["output"][-5000:]
    assert made["changed"] == "", made["changed"]  # `make demo` leaves the checkout's own pipeline files alone
    return checkout / "demo", made["output"]


def _make_demo(checkout: Path) -> dict:
    """`make demo` in a fresh copy of this checkout: its exit code, what it printed, and what it
    changed among the checkout's own pipeline files (`git status`)."""
    import subprocess

    from dialogsum_lora.commands.demo import commit_all, copy_checkout, git

    copy_checkout(checkout)
    commit_all(checkout, "a copy of the checkout under test")
    run = subprocess.run(["make", "demo"], cwd=checkout, capture_output=True, text=True)
    changed = git(checkout, "status", "--porcelain", "--", "dvc.lock", "params.yaml", "data", "models", "reports")
    return {"returncode": run.returncode, "output": run.stdout + run.stderr, "changed": changed}


@pytest.fixture
def workspace(reproduced, tmp_path) -> Path:
    """A private copy of the reproduced repository (git, DVC cache and outputs), to change."""
    import shutil

    directory = tmp_path / "repo"
    shutil.copytree(reproduced[0], directory, symlinks=True)
    return directory
