"""Bad input and faults: one clear error, a non-zero exit, nothing half-written,
and a killed training run that resumes where it stopped."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
import yaml

from stages.data import load_source, split_statistics
from stages.errors import UserError
from stages.modeling import check_adapter, load_adapter, load_base_model, model_directory
from stages.provenance import directory_hash
from stages.offline import offline_environment, set_params
from stages.outputs import atomic_path
from stages.score import score_file

from conftest import REPO_ROOT, SAMPLE_DIR, dvc, run_stage

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
        ("finetune", {"lora.r": 0}, "params.yaml: lora.r must be in [1, 1024], got 0"),
        ("finetune", {"lora.dropout": 1.5}, "params.yaml: lora.dropout must be in [0, 1), got 1.5"),
        ("finetune", {"train.learning_rate": float("nan")}, "params.yaml: train.learning_rate must be in (0, 1], got nan"),
        ("finetune", {"lora.target_modules": ["q", "query"]}, "lora.target_modules names 'query', which model"),
        ("baseline", {"generate.max_new_tokens": 0}, "params.yaml: generate.max_new_tokens must be in [1, 2048], got 0"),
        ("baseline", {"prompt.template": "Summarise this."}, "params.yaml: prompt.template must contain {dialogue}"),
        ("baseline", {"model.name": "./models/missing"}, "model.name './models/missing' is neither a directory nor a hub id"),
        # owner/name could be a hub id too: the message covers both readings.
        ("baseline", {"model.name": "models/missing"}, "'models/missing' (revision None; no local directory of that name"),
        ("evaluate", {}, "no LoRA adapter in models/adapter: run `dvc repro finetune`"),
        ("prepare", {"data.source": "data/x/missing"}, "data.source 'data/x/missing' is neither a directory nor a hub id"),
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
        metrics = {name: 0.1 for name in ("rouge1", "rouge2", "rougeL", "rougeLsum")} | {"num_dialogues": 1}
        (stage_dir / "reports/baseline/metrics.json").write_text(json.dumps(metrics))
        (stage_dir / "reports/baseline/predictions.jsonl").write_text('{"id": "t", "prediction": "Hi."}\n')
    start = time.monotonic()
    result = run_stage(stage_dir, stage)
    seconds = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert seconds < 30
    assert not (stage_dir / "models/adapter").exists() and not (stage_dir / "reports/finetuned").exists()


def _save_adapter(model, tokenizer_dir, directory, trained_on):
    from peft import LoraConfig, get_peft_model

    get_peft_model(model, LoraConfig(r=2, target_modules=["q", "v"])).save_pretrained(directory)
    shutil.copy(tokenizer_dir / "tokenizer.json", directory)
    (directory / "provenance.json").write_text(json.dumps({"model": {"name": "m", "resolved": trained_on}}))


def test_adapter_for_another_base_model_is_refused_even_when_the_shapes_match(tmp_path, tiny_model_dir):
    from transformers import T5Config, T5ForConditionalGeneration

    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    base = load_base_model(model_dir, torch.float32, CPU)
    # The same architecture with other weights: every shape matches, so only the record can tell.
    retrained = tmp_path / "retrained"
    shutil.copytree(tiny_model_dir, retrained)
    (retrained / "generation_config.json").write_text((retrained / "generation_config.json").read_text() + "\n")
    _save_adapter(load_base_model(retrained, torch.float32, CPU), tiny_model_dir, tmp_path / "same-shape", directory_hash(retrained))
    with pytest.raises(UserError, match="was trained on another base model"):
        check_adapter(tmp_path / "same-shape", resolved)
    # Recorded as trained on this base, but with other shapes: refused by PEFT's load.
    other = T5ForConditionalGeneration(T5Config(vocab_size=50, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2))
    _save_adapter(other, tiny_model_dir, tmp_path / "other-shape", resolved)
    check_adapter(tmp_path / "other-shape", resolved)
    with pytest.raises(UserError, match="does not fit model"):
        load_adapter(base, tmp_path / "other-shape")


def test_adapters_load_from_safetensors_only_and_corrupt_files_are_named(tmp_path, tiny_model_dir):
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    adapter = tmp_path / "adapter"
    _save_adapter(load_base_model(model_dir, torch.float32, CPU), tiny_model_dir, adapter, resolved)
    check_adapter(adapter, resolved)
    (adapter / "adapter_model.safetensors").rename(adapter / "adapter_model.bin")
    with pytest.raises(UserError, match=r"has no adapter_model.safetensors \(weights found: adapter_model.bin\)"):
        check_adapter(adapter, resolved)
    (adapter / "adapter_model.safetensors").write_bytes((adapter / "adapter_model.bin").read_bytes()[:-10])
    with pytest.raises(UserError, match="adapter_model.safetensors is not a complete safetensors file"):
        check_adapter(adapter, resolved)
    (adapter / "adapter_config.json").write_text("{")
    with pytest.raises(UserError, match="adapter_config.json is not valid JSON"):
        check_adapter(adapter, resolved)


def test_leakage_is_counted_in_the_statistics():
    splits = load_source(str(SAMPLE_DIR), None)[0]
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
    while not list(workspace.glob(".trainer/*/checkpoint-40/checkpoint_complete")):
        assert time.monotonic() < deadline and run.poll() is None, "training ended before its second checkpoint"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # as a preempted machine would
    run.wait()

    # Nothing half-written that looks complete: no adapter and no loss curves (DVC removed the
    # old ones before the run), only the curves being written, beside reports/train.
    assert not (workspace / "models/adapter").exists()
    assert not (workspace / "reports/train/metrics.json").exists() and not (workspace / "reports/train/plots").exists()
    assert (workspace / "reports/.train.tmp/plots").is_dir()
    assert "models/adapter" in dvc(workspace, "status")

    # The DVC cache holds the finished run's adapter, which `dvc repro` would check out instead
    # of training: forcing the stage makes it train, as after a real preemption. The same params
    # resume, ending exactly where an uninterrupted run ends.
    output = dvc(workspace, "repro", "-f", "-s", "finetune")
    assert "resuming from .trainer/" in output and "checkpoint-40" in output
    assert (workspace / "dvc.lock").read_text() == finished_lock
    assert "Data and pipelines are up to date" in dvc(workspace, "status")
    assert not (workspace / ".trainer").exists()  # checkpoints are removed once the adapter is saved
    assert not (workspace / "reports/.train.tmp").exists()  # the killed run's curves, replaced by the resumed run's


def test_checkpoints_are_kept_per_params_and_data_finetune_reads(tmp_path, monkeypatch):
    from dataclasses import replace

    from stages.finetune import DATA_FILES, run_directory
    from stages.params import load_params

    monkeypatch.chdir(tmp_path)
    for file in DATA_FILES:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text('{"id": "a", "dialogue": "d", "summary": "s"}\n')
    params = load_params(REPO_ROOT / "params.yaml")
    first = run_directory(params)
    assert run_directory(params) == first
    assert run_directory(replace(params, generate=replace(params.generate, max_new_tokens=9))) == first  # not read
    assert run_directory(replace(params, train=replace(params.train, learning_rate=0.5))) != first
    DATA_FILES[0].write_text('{"id": "b", "dialogue": "d", "summary": "s"}\n')
    assert run_directory(params) != first


@pytest.fixture
def training_dir(stage_dir):
    """stage_dir with the sample data prepared, as `prepare` leaves it."""
    from stages.data import write_jsonl

    splits, _ = load_source(str(SAMPLE_DIR), None)
    for split, rows in splits.items():
        write_jsonl(stage_dir / f"data/prepared/{split}.jsonl", rows)
    return stage_dir


def _start_stage(directory, stage, **popen):
    from stages.offline import offline_environment

    environment = offline_environment()
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", f"stages.{stage}"], cwd=directory, env=environment, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
    )


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


@pytest.mark.slow
def test_ctrl_c_ends_training_with_one_line_and_nothing_written(training_dir):
    set_params(training_dir / "params.yaml", {"train.epochs": 1000, "train.checkpoint_steps": 5})
    run = _start_stage(training_dir, "finetune")
    deadline = time.monotonic() + 120
    while not list(training_dir.glob(".trainer/*/checkpoint-5/checkpoint_complete")):
        assert time.monotonic() < deadline and run.poll() is None, run.communicate()[1][-3000:]
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)  # what Ctrl-C at a terminal sends
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "Traceback" not in stderr
    assert _last_line(stderr).startswith("error: interrupted (Ctrl-C)")
    assert not (training_dir / "models/adapter").exists()
    assert not (training_dir / "reports/train").exists() and not (training_dir / "reports/.train.tmp").exists()


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_partial_output(stage_dir):
    import resource

    rows = [{"id": f"t{i}", "dialogue": "#Person1#: Hello there, how are you?", "references": ["A greeting."] * 3} for i in range(40)]
    (stage_dir / "data/prepared/test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    def small_disk():  # a file may not grow past 2 KiB: writing more fails as on a full disk (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    run = _start_stage(stage_dir, "baseline", preexec_fn=small_disk)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 2 and "Traceback" not in stderr
    assert _last_line(stderr) == "error: cannot write reports/baseline/predictions.jsonl: File too large"
    assert not (stage_dir / "reports/baseline").exists() or not any((stage_dir / "reports/baseline").iterdir())


def test_an_output_location_that_cannot_be_written_is_refused_before_any_work(stage_dir):
    (stage_dir / "reports").write_text("a file where the reports directory should be")
    start = time.monotonic()
    result = run_stage(stage_dir, "baseline")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert _last_line(result.stderr) == "error: cannot write reports/baseline/predictions.jsonl: Not a directory"
    assert time.monotonic() - start < 30


def test_write_errors_name_the_output(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    from stages.outputs import check_writable, write_json

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", no_space)
    with pytest.raises(UserError, match=f"cannot write {tmp_path / 'm.json'}: No space left on device"):
        write_json(tmp_path / "m.json", {})
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("tempfile.NamedTemporaryFile", read_only)
    with pytest.raises(UserError, match=f"cannot write {tmp_path / 'out/m.json'}: Read-only file system"):
        check_writable([tmp_path / "out/m.json"])


def test_a_checkpoint_killed_while_being_written_is_never_resumed(tmp_path):
    from stages.finetune import CHECKPOINT_COMPLETE, last_complete_checkpoint

    for step, complete in ((20, True), (40, True), (60, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}/trainer_state.json").write_text("{}")
        if complete:
            (tmp_path / f"checkpoint-{step}" / CHECKPOINT_COMPLETE).touch()
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-40"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-20", "checkpoint-40"]
    assert last_complete_checkpoint(tmp_path / "none") is None


def test_a_diverging_run_stops_with_a_clear_error_and_saves_no_adapter(tmp_path, tiny_model_dir):
    from stages.finetune import StopOnDivergence, save_adapter

    with pytest.raises(UserError, match="training diverged: the training loss is nan at step 7; lower train.learning_rate"):
        StopOnDivergence(0.5).on_log(None, SimpleNamespace(global_step=7), None, logs={"loss": float("nan")})
    StopOnDivergence(0.5).on_log(None, SimpleNamespace(global_step=8), None, logs={"loss": 1.5})

    from peft import LoraConfig, get_peft_model

    model = get_peft_model(load_base_model(tiny_model_dir, torch.float32, CPU), LoraConfig(r=2, target_modules=["q"]))
    next(p for p in model.parameters() if p.requires_grad).data.fill_(float("inf"))
    with pytest.raises(UserError, match="the adapter's weights are not all finite"):
        save_adapter(model, None, {}, tmp_path / "adapter")
    assert not (tmp_path / "adapter").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "damaged, content, message",
    [
        ("reports/baseline/predictions.jsonl", None, "reports/baseline/predictions.jsonl does not hold the test dialogues in order"),
        ("reports/baseline/metrics.json", '{"rouge1": "high"}', "reports/baseline/metrics.json has no number 'rouge1'"),
        ("reports/train/plots/metrics/eval/loss.tsv", "step\tloss\n4\tlow\n", "eval/loss.tsv is not a dvclive metric file"),
        ("models/adapter/provenance.json", '{"model": {"resolved": "sha256:another"}}', "was trained on another base model"),
    ],
)
def test_evaluate_checks_every_input_before_writing_anything(workspace, monkeypatch, damaged, content, message):
    from stages import evaluate

    path = workspace / damaged
    if content is None:  # the predictions of a different order of dialogues
        path.write_text("".join(reversed(path.read_text().splitlines(keepends=True))))
    else:
        path.write_text(content)
    outputs = {p: p.read_bytes() for p in (workspace / "reports").rglob("*") if p.is_file() and p != path}
    monkeypatch.chdir(workspace)
    with pytest.raises(UserError, match=message):
        evaluate.main()
    assert {p: p.read_bytes() for p in (workspace / "reports").rglob("*") if p.is_file() and p != path} == outputs
