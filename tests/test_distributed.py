"""`processes: 2` on the CPU (gloo): the stages relaunch under torchrun, train with
DDP, shard generation, and rank 0 alone writes."""

import json

import pytest

from stages.offline import set_params

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
        assert "4/4 [" in output and "8/8 [" not in output  # rank 0 generated half of the 8 dialogues
    for name, expected in one_process.items():
        assert (workspace / f"reports/{name}/metrics.json").read_text() == expected
    predictions = (workspace / "reports/finetuned/predictions.jsonl").read_text().splitlines()
    assert [json.loads(row)["id"] for row in predictions] == [f"test_{i}" for i in range(1, 9)]


def test_two_process_training_completes_and_rank_zero_writes(workspace):
    set_params(workspace / "params.yaml", {"processes": 2})
    output = dvc(workspace, "repro", "finetune")
    assert output.count("trained 60 steps") == 1  # printed by rank 0 only
    adapter = workspace / "models/adapter"
    assert (adapter / "adapter_model.safetensors").exists() and (adapter / "provenance.json").exists()
    curve = (workspace / "reports/train/plots/metrics/eval/loss.tsv").read_text().splitlines()[1:]
    losses = [float(line.split("\t")[1]) for line in curve]
    assert len(losses) == 15 and losses[-1] < losses[0] < 6  # learning, not diverging
    assert "Data and pipelines are up to date" in dvc(workspace, "status", "finetune")


def test_batch_must_split_evenly_across_processes(tmp_path):
    import yaml

    from stages.errors import UserError
    from stages.params import parse_params

    from conftest import REPO_ROOT

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["processes"] = 3
    with pytest.raises(UserError, match=r"train.batch_size \(8\) must be a multiple of processes \(3\)"):
        parse_params(raw)


FAILING_STAGE = """
import os
from stages.errors import UserError, run_main

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
    launcher = "from stages.errors import run_main; from stages import distributed; run_main(lambda: distributed.relaunch_if_needed(2, 'failing_stage'))"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)]), "FAILING_RANKS": failing_ranks}
    result = subprocess.run([sys.executable, "-c", launcher], env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == message, result.stderr
