"""Reruns are minimal, compiled training learns as eager training does, and results carry
their provenance: all on the tiny offline run. (Byte-identical reruns from a plain shell,
the run cache, sharing and comparing: test_readme.py, through the README's own recipes.)"""

import json

import pytest

from dialogsum_lora.demo import TINY_MODEL_DIR
from dialogsum_lora.params import set_params
from dialogsum_lora.provenance import directory_hash

from conftest import dvc, stages_run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "change, expected",
    [
        # finetune records the generation settings with the adapter, for evaluate and dialogsum-summarise.
        ({"generate.max_new_tokens": 40}, {"baseline", "finetune", "evaluate"}),
        ({"lora.r": 8}, {"finetune"}),
        ({"train.learning_rate": 0.02}, {"finetune"}),
        ({"prompt.template": "Dialogue:\n{dialogue}\nWhat happened?"}, {"baseline", "finetune", "evaluate"}),
        ({"prompt.max_target_tokens": 64}, {"finetune"}),
        ({"data.source": "data/sample/."}, {"prepare", "finetune"}),  # the adapter's card names the data
        ({}, set()),
    ],
)
def test_a_param_change_touches_only_the_stages_that_read_it(workspace, change, expected):
    # What `dvc repro` reruns first; a stage downstream of one that reran runs too (README test).
    if change:
        set_params(workspace / "params.yaml", change)
    status = json.loads(dvc(workspace, "status", "--json"))
    changed = {stage for stage, changes in status.items() if any("changed deps" in c for c in changes if isinstance(c, dict))}
    assert changed == expected


def test_compiled_training_learns_as_eager_training_does(workspace):
    # Every prompt and summary cut to one length, so that every batch has the same shape and
    # torch.compile compiles one training graph and one validation graph, instead of compiling
    # again as shapes change: less than half the time on a machine whose kernel cache is empty
    # (BENCHMARKS.md: the test suite). Five epochs (20 steps), trained eagerly, then compiled.
    set_params(workspace / "params.yaml", {"prompt.max_source_tokens": 64, "prompt.max_target_tokens": 16,
                                          "train.epochs": 5})
    assert stages_run(dvc(workspace, "repro", "finetune")) == {"finetune"}
    training = json.loads((workspace / "models/adapter/provenance.json").read_text())["training"]
    assert training["truncated_prompts"] == training["truncated_summaries"] == 32  # all cut: one shape
    eager = json.loads((workspace / "reports/train/metrics.json").read_text())
    eval_curve = (workspace / "reports/train/plots/metrics/eval/loss.tsv").read_text().splitlines()
    first_eval_loss = float(eval_curve[1].split("\t")[1])
    set_params(workspace / "params.yaml", {"train.compile": True})
    assert stages_run(dvc(workspace, "repro", "finetune")) == {"finetune"}
    compiled = json.loads((workspace / "reports/train/metrics.json").read_text())
    assert compiled["step"] == eager["step"] == 20
    # Compiled kernels round differently and draw other dropout masks: close, not equal.
    assert compiled["eval"]["loss"] == pytest.approx(eager["eval"]["loss"], rel=0.05)
    assert compiled["eval"]["loss"] < first_eval_loss - 0.2
    timing = json.loads((workspace / "reports/timing/finetune.json").read_text())
    assert timing["steps"] == eager["step"] and timing["steady_samples_per_second"] > 0


def test_comments_and_unread_files_rerun_nothing(workspace):
    params = workspace / "params.yaml"
    params.write_text("# a new comment\n" + params.read_text())
    (workspace / "README.md").write_text("edited\n")
    assert stages_run(dvc(workspace, "repro")) == set()


def test_provenance_is_recorded_but_not_compared(workspace):
    directory = workspace  # a copy: dvc runs there
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
