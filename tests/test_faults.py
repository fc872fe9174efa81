"""Bad input and faults: one clear error, a non-zero exit, nothing half-written,
and a killed training run that resumes where it stopped."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from stages.data import load_source, split_statistics
from stages.errors import UserError
from stages.modeling import load_adapter, load_base_model
from stages.offline import offline_environment, set_params
from stages.outputs import atomic_path
from stages.score import score_file

from conftest import REPO_ROOT, SAMPLE_DIR, dvc, run_stage, stages_run

CPU = torch.device("cpu")


@pytest.fixture
def stage_dir(tmp_path, tiny_model_dir):
    """A directory with the repository's params.yaml pointed at the tiny model, and a prepared test split."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["model"]["name"] = str(tiny_model_dir)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "data/prepared").mkdir(parents=True)
    row = {"id": "t", "dialogue": "#Person1#: Hi.", "references": ["A greeting."]}
    (tmp_path / "data/prepared/test.jsonl").write_text(json.dumps(row) + "\n")
    return tmp_path


@pytest.mark.parametrize(
    "stage, change, message",
    [
        ("finetune", {"lora.rank": 8}, "params.yaml: unknown key lora.rank (allowed in lora: r, alpha, dropout, target_modules)"),
        ("finetune", {"lora.r": 0}, "params.yaml: lora.r must be >= 1, got 0"),
        ("finetune", {"lora.dropout": 1.5}, "params.yaml: lora.dropout must be in [0, 1), got 1.5"),
        ("finetune", {"train.learning_rate": -1}, "params.yaml: train.learning_rate must be > 0, got -1"),
        ("finetune", {"lora.target_modules": ["q", "query"]}, "lora.target_modules names 'query', which model"),
        ("baseline", {"generate.max_new_tokens": 0}, "params.yaml: generate.max_new_tokens must be >= 1, got 0"),
        ("baseline", {"prompt.template": "Summarise this."}, "params.yaml: prompt.template must contain {dialogue}"),
        ("baseline", {"model.name": "./models/missing"}, "model.name './models/missing' is not a directory"),
        # owner/name could be a hub id too: the message covers both readings.
        ("baseline", {"model.name": "models/missing"}, "'models/missing' (revision None; no local directory of that name"),
        ("evaluate", {}, "no LoRA adapter in models/adapter: run `dvc repro finetune`"),
        ("prepare", {"data.source": "data/x/missing"}, "data.source 'data/x/missing' is neither a directory nor a hub"),
        ("prepare", {"data.source": "data/missing"}, "and there is no local directory of that name"),
    ],
)
def test_bad_params_and_paths_fail_fast_with_one_clear_line(stage_dir, stage, change, message):
    params = yaml.safe_load((stage_dir / "params.yaml").read_text())
    for dotted, value in change.items():
        section, key = dotted.split(".")
        params[section][key] = value
    (stage_dir / "params.yaml").write_text(yaml.safe_dump(params))
    if stage == "evaluate":
        (stage_dir / "reports/baseline").mkdir(parents=True)
        (stage_dir / "reports/baseline/metrics.json").write_text("{}")
        (stage_dir / "reports/baseline/predictions.jsonl").write_text("{}\n")
    start = time.monotonic()
    result = run_stage(stage_dir, stage)
    seconds = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert seconds < 30
    assert not (stage_dir / "models/adapter").exists() and not (stage_dir / "reports/finetuned").exists()


def test_adapter_for_another_base_model_is_a_clear_error(tmp_path, tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import T5Config, T5ForConditionalGeneration

    other = T5ForConditionalGeneration(T5Config(vocab_size=50, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2))
    get_peft_model(other, LoraConfig(r=2, target_modules=["q", "v"])).save_pretrained(tmp_path / "adapter")
    with pytest.raises(UserError, match="does not fit model"):
        load_adapter(load_base_model(str(tiny_model_dir), None, torch.float32, CPU), tmp_path / "adapter")


def test_leakage_is_counted_in_the_statistics():
    splits = load_source(str(SAMPLE_DIR), None)
    assert split_statistics(splits)["test"]["also_in_train"] == 0
    splits["train"].append({"id": "leak", "dialogue": splits["test"][0]["dialogue"], "summary": "s"})
    assert split_statistics(splits)["test"]["also_in_train"] == 1


def test_prediction_files_with_missing_extra_or_repeated_ids_are_errors(tmp_path):
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps({"id": i, "dialogue": "d", "references": ["a b"]}) + "\n" for i in ("x", "y")))

    def predictions(*ids):
        path = tmp_path / "predictions.jsonl"
        path.write_text("".join(json.dumps({"id": i, "prediction": "a b"}) + "\n" for i in ids))
        return path

    assert score_file(predictions("y", "x"), test)["rouge1"] == 1.0
    with pytest.raises(UserError, match="no prediction for 1 of the 2 test dialogues"):
        score_file(predictions("x"), test)
    with pytest.raises(UserError, match="row 3: id 'z' is not in"):
        score_file(predictions("x", "y", "z"), test)
    with pytest.raises(UserError, match="row 2: id 'x' is predicted twice"):
        score_file(predictions("x", "x", "y"), test)


def test_a_failed_write_leaves_the_old_output_and_no_partial_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]

    directory = tmp_path / "adapter"
    with atomic_path(directory) as temporary:
        temporary.mkdir()
        (temporary / "weights").write_text("new")
    assert (directory / "weights").read_text() == "new"


@pytest.mark.slow
def test_killed_training_resumes_from_its_checkpoint_and_ends_identical(reproduced, workspace):
    finished_lock = (reproduced[0] / "dvc.lock").read_text()
    run = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "-f", "-s", "finetune"],
        cwd=workspace,
        env=offline_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not list(workspace.glob(".trainer/*/checkpoint-40/trainer_state.json")):
        assert time.monotonic() < deadline and run.poll() is None, "training ended before its second checkpoint"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # as a preempted machine would
    run.wait()

    # Nothing half-written that looks complete: no adapter and no loss curves at all.
    assert not (workspace / "models/adapter").exists()
    assert not (workspace / "reports/train").exists() and (workspace / "reports/.train.tmp/plots").is_dir()
    assert "models/adapter" in dvc(workspace, "status")

    # This copy's run cache remembers the finished run, which DVC would restore
    # instead of training: --no-run-cache makes these reruns train, as after a
    # real preemption. Other params start afresh ...
    set_params(workspace / "params.yaml", {"train.learning_rate": 0.02})
    output = dvc(workspace, "repro", "--no-run-cache")
    assert "resuming from" not in output and stages_run(output) == {"finetune", "evaluate"}
    # ... and the same params resume, ending exactly where an uninterrupted run ends.
    set_params(workspace / "params.yaml", {"train.learning_rate": 0.01})
    output = dvc(workspace, "repro", "--no-run-cache")
    assert "resuming from .trainer/" in output and "checkpoint-40" in output
    assert (workspace / "dvc.lock").read_text() == finished_lock
    assert "Data and pipelines are up to date" in dvc(workspace, "status")
    assert not any((workspace / ".trainer").iterdir())  # checkpoints are removed once the adapter is saved
    assert not (workspace / "reports/.train.tmp").exists()  # the killed run's curves, replaced by the resumed run's
