"""The throughput benchmark runs end to end on the tiny model and reports consistent figures."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_tiny_benchmark_reports_both_settings(tmp_path):
    report = tmp_path / "throughput.json"
    command = [sys.executable, "-m", "benchmarks.throughput", "--model", "tiny", "--device", "cpu",
               "--steps", "3", "--warmup-steps", "1", "--dialogues", "8", "--max-new-tokens", "16",
               "--json", str(report)]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    run = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]

    figures = json.loads(report.read_text())
    tutorial = figures["training"]["tutorial"]
    (project,) = figures["training"]["project"]
    assert tutorial["samples_per_s"] > 0 and project["samples_per_s"] > 0
    assert tutorial["batch_size"] == project["batch_size"] == 8
    assert not tutorial["length_grouped"] and project["length_grouped"]
    for key in ("samples_per_s", "tokens_per_s"):
        assert project["vs_tutorial"][key] == pytest.approx(project[key] / tutorial[key])

    single, batched = figures["generation"]["one_at_a_time"], figures["generation"]["batched"]
    assert single["dialogues_per_s"] > 0 and batched["dialogues_per_s"] > 0
    assert single["batch_size"] == 1 and batched["dialogues"] == 8
    assert batched["vs_one_at_a_time"]["dialogues_per_s"] == pytest.approx(
        batched["dialogues_per_s"] / single["dialogues_per_s"]
    )
    assert 1 <= batched["mean_new_tokens"] <= 16
    assert figures["machine"]["torch"] and figures["machine"]["cpu_count"] >= 1
