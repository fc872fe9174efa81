"""A decoder-only base (the tiny Llama) through the pipeline as the tiny T5 goes: every stage, a killed run resumed
to the same bytes in a process of its own (another hash seed), dialogsum-summarise, dialogsum-export with its card's
snippet, and each method, in this process otherwise. The same stages under DVC run in test_readme.py (the published
rows' recipe) and two processes in test_distributed.py (its training half is this model's); a real kill under DVC is
the T5's (test_pipeline.py): the Trainer resumes either kind of model alike."""

import json

import pytest
import torch
from conftest import run_command, run_stage
from safetensors.torch import load_file
from test_methods import snapshot
from test_stages import run_main, stage_dir  # noqa: F401 (a fixture)

from dialogsum_lora.commands.export import export
from dialogsum_lora.commands.summarise import summarise
from dialogsum_lora.files import read_jsonl
from dialogsum_lora.params import set_params

pytestmark = pytest.mark.slow

STAGES = ("prepare", "baseline", "finetune", "evaluate")
# peft's default layers for a Llama, where params.yaml's are T5's: null.
PEFT_DEFAULTS = {"lora.target_modules": None, "ia3.target_modules": None, "ia3.feedforward_modules": None}


def test_every_stage_a_resumed_kill_summarise_and_export(stage_dir, tiny_decoder_dir, monkeypatch, capsys):
    set_params(stage_dir / "params.yaml", {"model.name": str(tiny_decoder_dir), **PEFT_DEFAULTS})
    for stage in STAGES:
        run_main(stage)
    first = snapshot(stage_dir)
    adapter = stage_dir / "models/adapter"
    record = json.loads((adapter / "provenance.json").read_text())
    assert record["decoder_only"] is True and record["lora"]["target_modules"] == ["q_proj", "v_proj"]
    assert json.loads((adapter / "adapter_config.json").read_text())["task_type"] == "CAUSAL_LM"
    assert "on the q\\_proj, v\\_proj linear layers" in (stage_dir / "reports/report.md").read_text()
    evaluated = read_jsonl(stage_dir / "reports/finetuned/predictions.jsonl")
    assert len(evaluated) == 8 and any(row["prediction"] for row in evaluated)

    # Killed after its checkpoint at step 4 (of 8), then rerun: it resumes, and every output is the same bytes.
    from dialogsum_lora.training import trainer

    def killed(self, args, state, control, **kwargs):
        if state.global_step == 6:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(trainer.StepClock, "on_step_end", killed)
        with pytest.raises(KeyboardInterrupt):
            run_main("finetune")
    assert [path.name for path in stage_dir.glob(".trainer/*/checkpoint-*")] == ["checkpoint-4"]
    resumed = run_stage(stage_dir, "finetune")  # a process of its own: another hash seed (peft's module sets)
    assert resumed.returncode == 0 and "resuming from .trainer/" in resumed.stdout, resumed.stderr[-3000:]
    run_main("evaluate")
    assert snapshot(stage_dir) == first

    # dialogsum-summarise gives each test dialogue the summary evaluate wrote.
    code, _, errors = run_command(summarise, ["--file", "data/prepared/test.jsonl", "--output", "ours.jsonl"], capsys)
    assert code == 0, errors
    assert [row["prediction"] for row in read_jsonl(stage_dir / "ours.jsonl")] == [r["prediction"] for r in evaluated]

    # dialogsum-export: the merged model, and its card's snippet, as written, summarises as evaluate did.
    code, _, errors = run_command(export, ["merged-model"], capsys)
    assert code == 0, errors
    card = (stage_dir / "merged-model/README.md").read_text()
    snippet = card.split("```python\n")[1].split("```")[0]
    assert "AutoModelForCausalLM" in snippet and "dialogsum_lora" not in snippet
    assert "pipeline_tag: text-generation" in card
    (line,) = [line for line in snippet.splitlines() if line.startswith("dialogue = ")]
    test_rows = read_jsonl(stage_dir / "data/prepared/test.jsonl")
    monkeypatch.chdir(stage_dir)
    exec(compile(snippet.replace(line, f"dialogue = {test_rows[0]['dialogue']!r}"), "model card", "exec"), {})
    assert capsys.readouterr().out.strip() == evaluated[0]["prediction"]


@pytest.mark.parametrize("method", ["ia3", "full"])
def test_ia3_and_full_fine_tuning_train_a_decoder_only_base(stage_dir, tiny_decoder_dir, method):
    set_params(
        stage_dir / "params.yaml",
        {"model.name": str(tiny_decoder_dir), "method": method, "train.max_steps": 2, **PEFT_DEFAULTS},
    )
    for stage in STAGES:
        run_main(stage)
    adapter = stage_dir / "models/adapter"
    record = json.loads((adapter / "provenance.json").read_text())
    assert record["method"] == method and record["decoder_only"] is True
    if method == "ia3":  # peft's defaults for a Llama, recorded as the layers it chose
        assert (record["ia3"]["target_modules"], record["ia3"]["feedforward_modules"]) == (
            ["down_proj", "k_proj", "v_proj"],
            ["down_proj"],
        )
        vectors = load_file(adapter / "adapter_model.safetensors")
        assert vectors and all(not torch.equal(vector, torch.ones_like(vector)) for vector in vectors.values())
    else:
        trained, base = load_file(adapter / "model.safetensors"), load_file(tiny_decoder_dir / "model.safetensors")
        assert sum(not torch.equal(trained[name], base[name]) for name in base) >= len(base) // 2
    scores = json.loads((stage_dir / "reports/finetuned/scores.json").read_text())
    assert scores["num_dialogues"] == 8
