"""`processes: 2` on the CPU (gloo): the stages relaunch under torchrun, train with
DDP, shard generation, and rank 0 alone writes; a user error is reported once."""

import json

import pytest
from conftest import run_stage

from dialogsum_lora.params import set_params

pytestmark = pytest.mark.slow


def test_each_process_generates_every_nth_dialogue_of_the_length_order(monkeypatch):
    from dialogsum_lora import distributed

    shares = {}
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        shares[rank] = distributed.my_share(list("abcdefgh"))
    assert shares == {0: list("aceg"), 1: list("bdfh")}
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.gather_in_order(["x", "y"], [1, 0], 2) == ["y", "x"]  # back in the original order


def test_two_processes_generate_and_train_what_one_process_does(reproduced, workspace, monkeypatch):
    # Generation first, on the demo's own params and adapter (dialogues of many lengths): each process
    # summarises every other dialogue of the length order, rank 0 gathers them back in order, scores
    # and writes: evaluate's predictions and scores are the demo's one-process ones, byte for byte.
    import importlib

    from safetensors.torch import load_file

    set_params(workspace / "params.yaml", {"processes": 2})
    result = run_stage(workspace, "evaluate")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    for written in ("scores.json", "predictions.jsonl"):
        assert (workspace / f"reports/finetuned/{written}").read_bytes() == (
            reproduced[0] / f"reports/finetuned/{written}"
        ).read_bytes()

    # Data parallelism, proven by its result: with dropout off and every example of one length (so
    # that both runs see the same batches in the same order, and a per-process mean loss averages to
    # the global one), two processes' gradients averaged by DDP give one process's weights. LoRA alone:
    # DDP averages the gradients of whatever trains, so another method (test_methods.py) changes only
    # which weights those are; on the decoder-only base (no dropout), as generation above was the T5's.
    # The one-process run is in this process (relaunch_if_needed does nothing for one process); the
    # two-process one as dvc.yaml's command runs it. make demo wrote the tiny decoder-only model.
    set_params(
        workspace / "params.yaml",
        {
            "model.name": "models/tiny-llama",
            "lora.target_modules": None,  # peft's default: q_proj, v_proj
            "lora.dropout": 0.0,
            "prompt.max_source_tokens": 32,
            "prompt.max_target_tokens": 8,
            "train.max_steps": 3,
            "train.logging_steps": 1,
            "train.save_steps": 100,
            "train.validation_rouge_dialogues": 0,
            "train.keep": "lowest_loss",
        },
    )
    monkeypatch.chdir(workspace)
    trained, losses = {}, {}
    for processes in (2, 1):
        set_params(workspace / "params.yaml", {"processes": processes})
        if processes == 2:
            result = run_stage(workspace, "finetune")
            output = result.stdout + result.stderr
            assert result.returncode == 0, output[-3000:]
        else:
            importlib.import_module("stages.finetune").main()
        trained[processes] = load_file(workspace / "models/adapter/adapter_model.safetensors")
        curve = (workspace / "reports/train/plots/metrics/train/loss.tsv").read_text().splitlines()[1:]
        losses[processes] = [float(line.split("\t")[1]) for line in curve]
        record = json.loads((workspace / "models/adapter/provenance.json").read_text())
        assert record["method"] == "lora" and record["decoder_only"]
        assert record["training"]["truncated_prompts"] == record["training"]["truncated_summaries"] == 32  # one length
    assert output.count("trained 3 steps") == 1  # rank 0 alone prints and writes
    assert "parallel_mode != ParallelMode.DISTRIBUTED" not in output
    # Each step's loss is the whole batch's (one process trains on its half alone: another loss) ...
    assert len(losses[1]) == 3 and losses[2] == pytest.approx(losses[1], abs=1e-5)
    # ... and the weights agree up to fp32 rounding (the two sum gradients in another order), each
    # of them trained: LoRA's B away from its zeros.
    assert trained[1].keys() == trained[2].keys()
    for name, weight in trained[1].items():
        if "lora_B" in name:
            assert weight.abs().max() > 0, name
        # Adam divides each gradient by its own running size, so an element whose gradient is at rounding
        # level can move by a part of the learning rate either way: the two agree as tensors, to 1e-3 of
        # how far training moved them (seen: 9e-5 at most, on this machine's fp32 kernels).
        assert (trained[2][name] - weight).norm() <= 1e-3 * weight.norm(), name


FAILING_STAGE = """
import os, signal, sys, time
from dialogsum_lora.errors import UserError, run_main

def main():
    rank = os.environ["RANK"]
    failure = dict(pair.split("=") for pair in os.environ["FAILURES"].split(",")).get(rank, "sleep")
    if failure == "mistake":
        raise UserError(f"a mistake met by process {rank}")
    if failure == "bug":
        raise ZeroDivisionError(f"a bug in process {rank}")
    if failure == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    if failure == "mistake-first":  # then the other process fails of it, as a collective does on gloo
        open(os.environ["FLAG"], "w").close()
        raise UserError(f"a mistake met by process {rank}")
    if failure == "fails-after":
        while not os.path.exists(os.environ["FLAG"]):
            time.sleep(0.001)
        raise RuntimeError(f"process {rank}: connection closed by peer")
    time.sleep(60)  # still at work when another process fails: torchrun stops it

run_main(main)
"""


@pytest.mark.parametrize(
    "failures, message, exit_code",
    [
        # Every process meets it: said once, by whichever failed first (either, on a loaded machine).
        ("0=mistake,1=mistake", ("error: a mistake met by process 0", "error: a mistake met by process 1"), 2),
        ("1=mistake", "error: a mistake met by process 1", 2),  # while process 0, still at work, is stopped
        ("0=mistake", "error: a mistake met by process 0", 2),
        ("1=killed", "error: process 1 of 2 was killed by SIGKILL", 128 + 9),  # by the kernel, out of memory, say
    ],
)
def test_a_failing_process_is_reported_once_in_one_line_with_its_exit_code(tmp_path, failures, message, exit_code):
    result = _launch(tmp_path, failures)
    assert result.returncode == exit_code
    assert result.stderr.strip() in ((message,) if isinstance(message, str) else message), result.stderr
    assert not list((tmp_path / "tmp").iterdir())  # torchrun's log folder went with the run


def test_the_process_that_failed_first_is_reported_not_the_one_that_failed_of_it(tmp_path):
    result = _launch(tmp_path, "0=fails-after,1=mistake-first")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == ["error: a mistake met by process 1"], result.stderr


def test_a_bug_in_a_process_keeps_its_traceback_under_one_line_saying_so(tmp_path):
    result = _launch(tmp_path, "1=bug")
    assert result.returncode == 1
    assert "ZeroDivisionError: a bug in process 1" in result.stderr  # the traceback, printed by the process
    last_lines = result.stderr.strip().splitlines()[-1:]
    assert [line.split(":")[:2] for line in last_lines] == [["error", " a bug, not a mistake of yours"]]
    assert result.stderr.count("error: ") == 1


def _launch(tmp_path, failures):
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    (tmp_path / "failing_stage.py").write_text(FAILING_STAGE)
    (tmp_path / "tmp").mkdir()
    launcher = (
        "from dialogsum_lora.errors import run_main; from dialogsum_lora import distributed; "
        "run_main(lambda: distributed.relaunch_if_needed(2, 'failing_stage'))"
    )
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)]),
        "FAILURES": failures,
        "TMPDIR": str(tmp_path / "tmp"),
        "FLAG": str(tmp_path / "flag"),
    }
    return subprocess.run(
        [sys.executable, "-c", launcher], env=environment, capture_output=True, text=True, timeout=120
    )
