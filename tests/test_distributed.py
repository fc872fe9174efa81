"""`processes: 2` on the CPU (gloo): the stages relaunch under torchrun, train with
DDP, shard generation, and rank 0 alone writes; a user error is reported once."""

import json
import math

import pytest

from dialogsum_lora.params import set_params

from conftest import dvc, run_stage

pytestmark = pytest.mark.slow


def test_two_process_generation_scores_exactly_like_one(reproduced, workspace):
    one_process = {
        name: (reproduced[0] / f"reports/{name}/metrics.json").read_text() for name in ("baseline", "finetuned")
    }
    set_params(workspace / "params.yaml", {"processes": 2})
    for stage in ("baseline", "evaluate"):
        result = run_stage(workspace, stage)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
    for name, expected in one_process.items():
        assert (workspace / f"reports/{name}/metrics.json").read_text() == expected
    predictions = (workspace / "reports/finetuned/predictions.jsonl").read_text().splitlines()
    assert [json.loads(row)["id"] for row in predictions] == [f"test_{i}" for i in range(1, 9)]


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


def test_two_process_training_completes_and_rank_zero_writes(workspace):
    set_params(workspace / "params.yaml", {"processes": 2})
    output = dvc(workspace, "repro", "finetune")
    assert output.count("trained 60 steps") == 1  # printed by rank 0 only
    adapter = workspace / "models/adapter"
    assert (adapter / "adapter_model.safetensors").exists() and (adapter / "provenance.json").exists()
    curve = (workspace / "reports/train/plots/metrics/eval/loss.tsv").read_text().splitlines()[1:]
    losses = [float(line.split("\t")[1]) for line in curve]
    assert len(losses) == 15 and all(math.isfinite(loss) for loss in losses)  # not diverging ...
    assert losses[-1] < losses[0]  # ... and learning
    assert "Data and pipelines are up to date" in dvc(workspace, "status", "finetune")


FAILING_STAGE = """
import os
from dialogsum_lora.errors import UserError, run_main

def main():
    if os.environ["RANK"] in os.environ["FAILING_RANKS"].split(","):
        raise UserError("the same mistake, met by every process")

run_main(main)
"""


@pytest.mark.parametrize(
    "failing_ranks, message",
    [("0,1", "error: the same mistake, met by every process"), ("1", "error: process 1 of 2 failed (exit code 2)")],
)
def test_a_user_error_under_several_processes_prints_once_and_exits_2(tmp_path, failing_ranks, message):
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    (tmp_path / "failing_stage.py").write_text(FAILING_STAGE)
    launcher = "from dialogsum_lora.errors import run_main; from dialogsum_lora import distributed; run_main(lambda: distributed.relaunch_if_needed(2, 'failing_stage'))"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)]), "FAILING_RANKS": failing_ranks}
    result = subprocess.run([sys.executable, "-c", launcher], env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == message, result.stderr
