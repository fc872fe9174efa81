"""Reruns are bit-identical and minimal, results carry their provenance, and
adapters travel through a DVC remote: all on the tiny offline run."""

import hashlib
import json
import subprocess

import pytest
import yaml

from stages.offline import TINY_MODEL_DIR, git, set_params
from stages.provenance import directory_hash

from conftest import dvc, stages_run

pytestmark = pytest.mark.slow

ARTIFACT = "dialogsum-lora"


def _digests(directory, *paths):
    return {
        str(file.relative_to(directory)): hashlib.sha256(file.read_bytes()).hexdigest()
        for path in paths
        for file in sorted((directory / path).rglob("*") if (directory / path).is_dir() else [directory / path])
        if file.is_file()
    }


OUTPUTS = ("data/prepared", "models/adapter", "reports/baseline", "reports/finetuned", "reports/train", "reports/plots")


def test_forced_rerun_leaves_dvc_lock_and_outputs_byte_identical(reproduced, workspace):
    lock = (workspace / "dvc.lock").read_bytes()
    outputs = _digests(workspace, *OUTPUTS)
    assert stages_run(dvc(workspace, "repro", "-f")) == {"prepare", "baseline", "finetune", "evaluate"}
    assert (workspace / "dvc.lock").read_bytes() == lock
    assert _digests(workspace, *OUTPUTS) == outputs


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"generate.max_new_tokens": 40}, {"baseline", "evaluate"}),
        ({"lora.r": 8}, {"finetune", "evaluate"}),
        ({"train.learning_rate": 0.02}, {"finetune", "evaluate"}),
        ({"prompt.template": "Dialogue:\n{dialogue}\nWhat happened?"}, {"baseline", "finetune", "evaluate"}),
        ({}, set()),
    ],
)
def test_a_param_change_reruns_only_the_stages_that_read_it(workspace, change, expected):
    if change:
        set_params(workspace / "params.yaml", change)
    assert stages_run(dvc(workspace, "repro")) == expected


def test_compiled_training_learns_as_eager_training_does(workspace):
    eager = json.loads((workspace / "reports/train/metrics.json").read_text())
    eval_curve = (workspace / "reports/train/plots/metrics/eval/loss.tsv").read_text().splitlines()
    first_eval_loss = float(eval_curve[1].split("\t")[1])
    set_params(workspace / "params.yaml", {"train.compile": True})
    assert stages_run(dvc(workspace, "repro")) == {"finetune", "evaluate"}
    compiled = json.loads((workspace / "reports/train/metrics.json").read_text())
    assert compiled["step"] == eager["step"]
    # Compiled kernels round differently and draw other dropout masks: close, not equal.
    assert compiled["eval"]["loss"] == pytest.approx(eager["eval"]["loss"], rel=0.02)
    assert compiled["eval"]["loss"] < first_eval_loss - 0.2
    timing = json.loads((workspace / "reports/timing/finetune.json").read_text())
    assert timing["steps"] == eager["step"] and timing["steady_samples_per_second"] > 0


def test_comments_and_unread_files_rerun_nothing(workspace):
    params = workspace / "params.yaml"
    params.write_text("# a new comment\n" + params.read_text())
    (workspace / "README.md").write_text("edited\n")
    assert stages_run(dvc(workspace, "repro")) == set()


def test_provenance_is_recorded_but_not_compared(reproduced):
    directory, _ = reproduced
    tiny_hash = directory_hash(directory / TINY_MODEL_DIR)
    adapter = json.loads((directory / "models/adapter/provenance.json").read_text())
    baseline = json.loads((directory / "reports/baseline/provenance.json").read_text())
    finetuned = json.loads((directory / "reports/finetuned/provenance.json").read_text())
    stats = json.loads((directory / "reports/data_stats.json").read_text())
    for record in (adapter, baseline, finetuned):
        assert record["model"]["resolved"] == tiny_hash
        assert {"python", "torch", "transformers", "peft", "datasets", "dvc"} <= set(record["environment"])
        assert record["environment"]["dtype"] == "float32"
    assert finetuned["adapter"]["resolved"] == directory_hash(directory / "models/adapter")
    assert stats["source"]["resolved"] == directory_hash(directory / "data/sample")
    timing = json.loads((directory / "reports/timing/finetune.json").read_text())
    assert timing["samples_per_second"] > 0 and timing["steps"] == 60
    # Wall times change every run: outside DVC, so dvc.lock stays identical.
    assert "timing" not in (directory / "dvc.lock").read_text()
    shown = json.loads(dvc(directory, "metrics", "show", "--json"))
    assert "rouge1" in json.dumps(shown) and "wall_seconds" not in json.dumps(shown)
    assert "environment" not in json.dumps(shown)


@pytest.fixture
def pushed(workspace, tmp_path):
    """The workspace with a local default remote, results committed to git and pushed."""
    remote = tmp_path / "remote"
    dvc(workspace, "remote", "add", "-d", "shared", str(remote))
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "results")
    dvc(workspace, "push")
    return workspace


def test_push_then_pull_restores_adapter_and_reports(pushed):
    expected = _digests(pushed, *OUTPUTS)
    for path in ("models/adapter", "data/prepared/train.jsonl", "reports/baseline/predictions.jsonl"):
        subprocess.run(["rm", "-rf", str(pushed / path)], check=True)
    subprocess.run(["rm", "-rf", str(pushed / ".dvc/cache")], check=True)
    dvc(pushed, "pull")
    assert _digests(pushed, *OUTPUTS) == expected
    assert "Data and pipelines are up to date" in dvc(pushed, "status")


def test_artifact_and_dvc_get_fetch_the_adapter(pushed, tmp_path):
    listed = yaml.safe_load((pushed / "dvc.yaml").read_text())["artifacts"][ARTIFACT]
    assert listed["path"] == "models/adapter" and listed["type"] == "model"
    expected = _digests(pushed, "models/adapter")
    # A version is an annotated git tag in GTO's form, NAME@vSEMVER; without --rev the latest is fetched.
    git(pushed, "tag", "-a", f"{ARTIFACT}@v1.0.0", "-m", "adapter v1.0.0")
    dvc(tmp_path, "artifacts", "get", str(pushed), ARTIFACT, "--rev", "v1.0.0", "-o", str(tmp_path / "artifact"))
    dvc(tmp_path, "get", str(pushed), "models/adapter", "-o", str(tmp_path / "got"))
    for fetched in ("artifact", "got"):
        got = {name.replace(fetched, "models/adapter", 1): digest for name, digest in _digests(tmp_path, fetched).items()}
        assert got == expected


def test_run_cache_restores_finetune_in_a_fresh_clone_without_training(workspace, tmp_path):
    remote = tmp_path / "remote"
    dvc(workspace, "remote", "add", "-d", "shared", str(remote))
    git(workspace, "add", "-A")
    git(workspace, "rm", "-q", "--cached", "dvc.lock")  # nothing but the params say which run
    git(workspace, "commit", "-q", "-m", "params and metrics, no dvc.lock")
    dvc(workspace, "push", "--run-cache")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(workspace), str(clone)], check=True)
    assert not (clone / "dvc.lock").exists() and not (clone / "models/adapter").exists()
    # `--pull` fetches the run records and the outputs they name.
    output = dvc(clone, "repro", "--pull")
    assert "Stage 'finetune' is cached - skipping run, checking out outputs" in output
    assert "Stage 'prepare' is cached - skipping run, checking out outputs" in output
    assert "finetune" not in stages_run(output) and "prepare" not in stages_run(output)
    assert _digests(clone, "models/adapter", "reports/train") == _digests(workspace, "models/adapter", "reports/train")
    assert "Data and pipelines are up to date" in dvc(clone, "status")


def test_branches_and_experiments_compare(workspace):
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "r=16 results")
    git(workspace, "checkout", "-q", "-b", "rank-8")
    set_params(workspace / "params.yaml", {"lora.r": 8})
    assert stages_run(dvc(workspace, "repro")) == {"finetune", "evaluate"}
    git(workspace, "commit", "-q", "-am", "r=8 results")

    metrics = json.loads(dvc(workspace, "metrics", "diff", "main", "--json"))
    assert "rouge1" in metrics["reports/finetuned/metrics.json"]
    assert "reports/baseline/metrics.json" not in metrics  # baseline did not change
    params = json.loads(dvc(workspace, "params", "diff", "main", "--json"))
    assert (params["params.yaml"]["lora.r"]["old"], params["params.yaml"]["lora.r"]["new"]) == (16, 8)
    plots = dvc(workspace, "plots", "diff", "main", "--json")
    assert "main" in plots and "rank-8" in plots or "workspace" in plots

    git(workspace, "checkout", "-q", "main")
    dvc(workspace, "checkout")
    dvc(workspace, "exp", "run", "-S", "lora.r=8", "-n", "rank-8-exp")
    shown = dvc(workspace, "exp", "show", "--json")
    assert "rank-8-exp" in shown and '"r": 16' in shown.replace(" ", "").replace('"r":16', '"r": 16')
