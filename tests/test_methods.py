"""`method: ia3` and `method: full` through every stage and command, on the tiny model and the
sample data: what each trains and records, the report and cards naming it, summarise and export
using it, and byte-identical reruns. The stages and commands run in this process (the commands
as installed: test_commands.py), except IA3's rerun, which needs a process of its own (another hash
seed). A killed run's resume is test_pipeline.py's (LoRA): the Trainer resumes any method's
checkpoint alike. Two processes against one: test_distributed.py; bad values:
test_stages.py; LoRA itself: test_pipeline.py."""

import json

import pytest
import torch
from conftest import run_stage
from safetensors.torch import load_file
from test_stages import run_main, stage_dir  # noqa: F401 (a fixture)

from dialogsum_lora.commands.export import export
from dialogsum_lora.commands.summarise import summarise
from dialogsum_lora.files import read_jsonl
from dialogsum_lora.params import set_params

pytestmark = pytest.mark.slow

METHODS = ("ia3", "full")
TITLES = {"ia3": "# IA3 fine-tuning of ", "full": "# Full fine-tuning of "}
# A learning rate at which four steps of full fine-tuning move every weight measurably (its
# real default, 1e-5, is for flan-t5-base's 250M weights over 1,558 steps).
FAST_FULL = {"full.learning_rate": 1e-3}


def weights_file(method: str) -> str:
    return "model.safetensors" if method == "full" else "adapter_model.safetensors"


def snapshot(directory) -> dict:
    """Every file a finetune and evaluate write, by path: their bytes."""
    places = ["models/adapter", "reports/train", "reports/finetuned", "reports/plots"]
    files = [path for place in places for path in sorted((directory / place).rglob("*")) if path.is_file()]
    files += [
        path
        for name in ("report.md", "model_card.md", "comparison.json")
        if (path := directory / "reports" / name).is_file()
    ]
    return {str(path.relative_to(directory)): path.read_bytes() for path in files}


@pytest.mark.parametrize("method", METHODS)
def test_each_method_trains_reports_summarises_exports_and_reruns_byte_identical(
    stage_dir, tiny_model_dir, method, capsys
):
    set_params(stage_dir / "params.yaml", {"method": method, "train.max_steps": 4, **FAST_FULL})
    for stage in ("prepare", "baseline", "finetune", "evaluate"):
        run_main(stage)
    adapter = stage_dir / "models/adapter"

    # What trained, and the record of it: its own section, no other method's.
    record = json.loads((adapter / "provenance.json").read_text())
    assert record["method"] == method and method in record and not ({"lora", "ia3", "full"} - {method}) & set(record)
    counts = record["parameters"]
    trained = load_file(adapter / weights_file(method))
    if method == "full":
        assert not (adapter / "adapter_config.json").exists() and counts["trainable"] == counts["total"]
        base = load_file(tiny_model_dir / "model.safetensors")
        moved = [name for name in base if name in trained and not torch.allclose(trained[name], base[name], atol=1e-4)]
        assert len(moved) >= len(base) // 2, moved  # most weight tensors trained, not just a few
    else:
        config = json.loads((adapter / "adapter_config.json").read_text())
        assert config["peft_type"] == "IA3" and config["target_modules"] == sorted(config["target_modules"])
        assert config["feedforward_modules"] == ["wo"] and 0 < counts["trainable"] < counts["total"] / 50
        assert trained and all(not torch.equal(vector, torch.ones_like(vector)) for vector in trained.values())

    # Its cost, in the timing file (not an output: no wall time is in any output).
    timing = json.loads((stage_dir / "reports/timing/finetune.json").read_text())
    assert timing["steps"] == 4 and timing["seconds_per_step"] > 0 and timing["peak_memory_mib"] > 0
    assert timing["peak_memory_of"] == "process resident set"  # on a CPU
    assert "seconds" not in json.dumps(record)

    # What people read names it.
    report = (stage_dir / "reports/report.md").read_text()
    card = (stage_dir / "reports/model_card.md").read_text()
    assert report.startswith(TITLES[method])
    method_row = next(line for line in report.splitlines() if line.startswith("- **method:**"))
    assert ("every weight" in method_row) == (method == "full") and f"{counts['trainable']:,} trainable" in method_row
    assert f"| method | {method_row.removeprefix('- **method:** ')} |" in card
    assert ("library_name: transformers" if method == "full" else "library_name: peft") in card
    assert ("- full-fine-tuning" if method == "full" else "- ia3") in card

    # dialogsum-summarise gives each test dialogue the summary evaluate wrote.
    summarise(["--file", "data/prepared/test.jsonl", "--output", "ours.jsonl"])
    evaluated = read_jsonl(stage_dir / "reports/finetuned/predictions.jsonl")
    assert [row["prediction"] for row in read_jsonl(stage_dir / "ours.jsonl")] == [
        row["prediction"] for row in evaluated
    ]

    # dialogsum-export: one model directory transformers loads alone, with the same weights.
    export(["exported"])
    exported = capsys.readouterr().out
    assert ("fully fine-tuned model in exported" if method == "full" else "merged model in exported") in exported
    from transformers import AutoModelForSeq2SeqLM

    from dialogsum_lora.modeling.adapter import check_adapter, load_merged_model
    from dialogsum_lora.modeling.base import model_directory

    state = AutoModelForSeq2SeqLM.from_pretrained(stage_dir / "exported").state_dict()
    model_dir, resolved = model_directory(str(tiny_model_dir), None)
    loaded = load_merged_model(
        model_dir, adapter, check_adapter(adapter, resolved), torch.float32, torch.device("cpu")
    ).state_dict()  # what evaluate summarised with
    assert state.keys() == loaded.keys() and all(torch.equal(state[name], loaded[name]) for name in loaded)
    if method == "full":  # the weights trained, as they are
        assert set(trained) <= set(state) and all(torch.equal(state[name], weight) for name, weight in trained.items())
    assert "library_name: transformers" in (stage_dir / "exported/README.md").read_text()

    # A rerun writes every output again byte for byte: an adapter's in a process of its own (another hash
    # seed: peft keeps its module lists in sets), a full fine-tune's (no peft) in this one.
    first = snapshot(stage_dir)
    for stage in ("finetune", "evaluate"):
        if method == "full":
            run_main(stage)
        else:
            result = run_stage(stage_dir, stage)
            assert result.returncode == 0, result.stderr[-3000:]
    assert snapshot(stage_dir) == first
