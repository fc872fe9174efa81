"""End to end: the real dvc.yaml, run by `dvc repro` in a copy of the repository, on the tiny
model and the sample data (the `reproduced` fixture, conftest.py), and a training run killed
and resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import dvc, stages_run

from dialogsum_lora.commands.demo import offline_environment

pytestmark = pytest.mark.slow


def test_repro_runs_every_stage_and_writes_metrics(reproduced):
    directory, output = reproduced
    assert stages_run(output) == {"prepare", "baseline", "finetune", "evaluate"}
    for name in ("baseline", "finetuned"):
        metrics = json.loads((directory / f"reports/{name}/scores.json").read_text())
        assert metrics["num_dialogues"] == 8 and metrics["num_references"] == 24
        assert metrics["truncated_prompts"] == 0
        for rouge in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
            assert 0 <= metrics[rouge] <= 1
            assert metrics[rouge] <= metrics["best_reference"][rouge]
        predictions = (directory / f"reports/{name}/predictions.jsonl").read_text().splitlines()
        assert len(predictions) == 8  # one per dialogue, not one per reference
        assert all(len(json.loads(row)["references"]) == 3 for row in predictions)


def test_fine_tuning_beats_the_random_zero_shot_model(reproduced):
    directory, _ = reproduced
    baseline = json.loads((directory / "reports/baseline/scores.json").read_text())
    finetuned = json.loads((directory / "reports/finetuned/metrics.json").read_text())
    assert finetuned["rouge1"] > baseline["rouge1"] + 0.05


def test_adapter_curves_plots_and_report(workspace):
    directory = workspace  # a copy: dvc runs there
    adapter = directory / "models/adapter"
    assert (adapter / "adapter_model.safetensors").exists() and not list(adapter.glob("*.bin"))
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["target_modules"] == sorted(config["target_modules"]) and config["r"] == 16
    train_curve = (directory / "reports/train/plots/metrics/train/loss.tsv").read_text().splitlines()
    eval_curve = (directory / "reports/train/plots/metrics/eval/loss.tsv").read_text().splitlines()
    assert [int(line.split("\t")[0]) for line in eval_curve[1:]] == list(
        range(6, 61, 6)
    )  # every train.validation_steps
    assert "the adapter is step " in (directory / "reports/report.md").read_text()  # the one kept, named
    assert float(train_curve[-1].split("\t")[1]) < float(train_curve[1].split("\t")[1])
    for plot in ("rouge.png", "topics.png", "lengths.png", "loss.png", "validation_rouge.png"):
        assert (directory / "reports/plots" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (directory / "reports/report.md").read_text()
    assert "| rouge1 |" in report and "reference 3" in report
    assert report.startswith("# LoRA fine-tuning of models/tiny\\-t5 on data/sample: results")  # what it came from
    assert "**Significance:**" in report and "## By topic" in report and "## Largest losses (ROUGE-1)" in report
    shown = json.loads(dvc(directory, "plots", "show", "--json"))
    for plot in ("loss.tsv", "rouge1.tsv", "rouge.png", "topics.png", "lengths.png", "validation_rouge.png"):
        assert plot in json.dumps(shown), plot


def test_every_score_has_an_interval_and_fine_tuning_is_compared_dialogue_by_dialogue(workspace):
    directory = workspace  # a copy: dvc runs there
    for name in ("baseline", "finetuned"):
        metrics = json.loads((directory / f"reports/{name}/scores.json").read_text())
        for rouge in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
            assert metrics["ci95"][rouge]["low"] <= metrics[rouge] <= metrics["ci95"][rouge]["high"]
        assert set(metrics["length"]) == {
            "prediction_words",
            "reference_words",
            "over_twice_reference",
            "under_half_reference",
        }
    comparison = json.loads((directory / "reports/comparison.json").read_text())
    baseline = json.loads((directory / "reports/baseline/scores.json").read_text())
    finetuned = json.loads((directory / "reports/finetuned/metrics.json").read_text())
    for rouge in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        result = comparison[rouge]
        assert result["difference"] == pytest.approx(finetuned[rouge] - baseline[rouge], abs=2e-6)
        assert result["low"] <= result["difference"] <= result["high"] and 0 <= result["p_value"] <= 1
        assert result["wins"] + result["ties"] + result["losses"] == 8
    topics = json.loads((directory / "reports/topics.json").read_text())
    assert topics["min_dialogues"] == 1 and {"restaurant", "job interview"} <= {t["topic"] for t in topics["topics"]}
    # `dvc metrics show` lists the headline alone: both systems' ROUGE and the last losses (10 numbers).
    shown = json.loads(dvc(directory, "metrics", "show", "--json"))[""]["data"]
    assert sorted(shown) == [
        "reports/baseline/metrics.json",
        "reports/finetuned/metrics.json",
        "reports/train/metrics.json",
    ]
    assert (
        shown["reports/baseline/metrics.json"]["data"]["baseline"].keys()
        == shown["reports/finetuned/metrics.json"]["data"].keys()
        == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    )
    assert shown["reports/train/metrics.json"]["data"].keys() == {"step", "train", "eval"}


def test_validation_rouge_is_logged_at_every_validation_and_the_adapter_kept_is_the_best_ones(reproduced):
    import torch
    from peft import PeftModel

    from dialogsum_lora.files import read_jsonl
    from dialogsum_lora.generation import generate_summaries
    from dialogsum_lora.modeling.adapter import check_adapter
    from dialogsum_lora.modeling.base import load_base_model, load_tokenizer, model_directory
    from dialogsum_lora.prompt import build_prompt, encode
    from dialogsum_lora.scoring.rouge import ROUGE_TYPES, score_corpus

    directory, output = reproduced
    curves = {}
    for name in ROUGE_TYPES:
        lines = (directory / f"reports/train/plots/metrics/eval/{name}.tsv").read_text().splitlines()[1:]
        curves[name] = {int(line.split("\t")[0]): float(line.split("\t")[1]) for line in lines}
    assert list(curves["rouge1"]) == list(range(6, 61, 6))  # every train.validation_steps (6), the last one at 60
    assert all(0 <= value <= 1 for value in curves["rouge1"].values())
    # The demo keeps the best validation ROUGE-1's adapter (train.keep: best_rouge1), the first on a tie.
    record = json.loads((directory / "models/adapter/provenance.json").read_text())
    kept = record["training"]["kept"]
    best = max(curves["rouge1"].values())
    assert kept["rule"] == "best_rouge1" and round(kept["value"], 6) == best
    assert kept["step"] == min(step for step, value in curves["rouge1"].items() if value == best)
    assert (
        f"step {kept['step']}'s weights kept (train.keep: best_rouge1, validation rouge1 {kept['value']:.4f})" in output
    )

    # The saved adapter is that step's: summarising the validation dialogues again (greedy, at most
    # prompt.max_target_tokens new tokens, whatever `generate` says) gives the scores logged at it.
    model_dir, resolved = model_directory(str(directory / record["model"]["name"]), None)
    checked = check_adapter(directory / "models/adapter", resolved)
    prompt = checked.prompt
    rows = read_jsonl(directory / "data/prepared/validation.jsonl")
    tokenizer = load_tokenizer(directory / "models/adapter")
    model = PeftModel.from_pretrained(
        load_base_model(model_dir, torch.float32, torch.device("cpu")), directory / "models/adapter"
    )
    encoded, _ = encode(
        tokenizer, [build_prompt(prompt.template, r["dialogue"]) for r in rows], prompt.max_source_tokens
    )
    summaries = generate_summaries(
        model,
        tokenizer,
        encoded,
        {"max_new_tokens": prompt.max_target_tokens, "num_beams": 1},
        batch_size=3,
        progress=False,
    ).texts
    metrics, _ = score_corpus(summaries, [[r["summary"]] for r in rows])
    assert metrics["rouge1"] == kept["value"]
    assert {name: round(metrics[name], 6) for name in ROUGE_TYPES} == {
        name: curves[name][kept["step"]] for name in ROUGE_TYPES
    }


def test_second_repro_runs_nothing(workspace):
    directory = workspace  # a copy: dvc runs there
    assert stages_run(dvc(directory, "repro")) == set()
    assert "Data and pipelines are up to date" in dvc(directory, "status")
    metrics = dvc(directory, "metrics", "show", "--json")
    assert "reports/finetuned/metrics.json" in metrics


def test_stage_output_is_quiet(reproduced):
    _, output = reproduced
    # What a user can do nothing about is not shown: library warnings, the Trainer's log dicts.
    for noise in ("Warning", "warnings.warn", "tie_word_embeddings", "pin_memory", "{'loss'", "{'eval_loss'"):
        assert noise not in output, noise
    assert "trained 60 steps" in output and "finetuned on 8 test dialogues" in output
    # One number per name: the console's training loss is the one reports/train/metrics.json holds.
    logged = json.loads((reproduced[0] / "reports/train/metrics.json").read_text())["train"]["loss"]
    assert f"training loss {logged:.4f} at step 60" in output
    # peft's own count of trainable parameters, as the record and the card give it.
    counts = json.loads((reproduced[0] / "models/adapter/provenance.json").read_text())["parameters"]
    assert f"{counts['trainable']:,}" in output and f"{counts['total']:,}" in output


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
    while not list(workspace.glob(".trainer/*/checkpoint-40/checkpoint_complete")):
        assert run.poll() is None, "training ended before its second checkpoint"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # as a preempted machine would
    run.wait()

    # Nothing half-written that looks complete: no adapter and no loss curves (DVC removed the
    # old ones before the run), only the curves being written, beside reports/train.
    assert not (workspace / "models/adapter").exists()
    assert not (workspace / "reports/train/metrics.json").exists() and not (workspace / "reports/train/plots").exists()
    assert [path.name for path in workspace.glob("reports/.train.*.tmp/train/plots")] == ["plots"]
    assert "models/adapter" in dvc(workspace, "status")

    # The DVC cache holds the finished run's adapter, which `dvc repro` would check out instead
    # of training: forcing the stage makes it train, as after a real preemption. The same params
    # resume, ending exactly where an uninterrupted run ends.
    output = dvc(workspace, "repro", "-f", "-s", "finetune")
    assert "resuming from .trainer/" in output and "checkpoint-40" in output
    assert (workspace / "dvc.lock").read_text() == finished_lock
    assert "Data and pipelines are up to date" in dvc(workspace, "status")
    assert not (workspace / ".trainer").exists()  # checkpoints are removed once the adapter is saved
    assert not list(workspace.glob("reports/.train.*.tmp"))  # the killed run's curves, replaced by the resumed run's
