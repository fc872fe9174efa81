"""dialogsum-export: base model + adapter merged into one standard model directory that
transformers loads alone and that summarises exactly as base + adapter do."""

import json
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import run_command

from dialogsum_lora.commands.export import export
from dialogsum_lora.files import read_jsonl


@pytest.mark.slow
def test_the_merged_model_loads_without_peft_and_summarises_as_base_and_adapter_do(
    reproduced, tmp_path, monkeypatch, capsys
):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from dialogsum_lora.commands.summarise import Reads
    from dialogsum_lora.generation import summarise_dialogues
    from dialogsum_lora.params import load_params

    demo = reproduced[0]
    monkeypatch.chdir(demo)
    merged = tmp_path / "merged-model"  # as the README's recipe and the card's snippet name it
    export([str(merged)])
    printed = capsys.readouterr().out
    assert "README.md" in printed and "with the test results" in printed and str(merged) in printed
    names = sorted(p.name for p in merged.iterdir())
    assert "model.safetensors" in names and "tokenizer.json" in names and "README.md" in names
    assert not [name for name in names if name.endswith((".bin", ".pt", ".pth")) or name.startswith("adapter_")]

    # transformers alone, as a user without peft or this repository would load it.
    model = AutoModelForSeq2SeqLM.from_pretrained(merged, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(merged)
    params = load_params(Reads, demo / "params.yaml")  # the settings evaluate read
    dialogues = [row["dialogue"] for row in read_jsonl(demo / "data/prepared/test.jsonl")]
    summaries, _ = summarise_dialogues(
        model,
        tokenizer,
        dialogues,
        params.prompt,
        params.generate.decoding(),
        params.generate.batch_size,
        desc="merged",
        progress=False,
    )
    assert summaries.texts == [row["prediction"] for row in read_jsonl(demo / "reports/finetuned/predictions.jsonl")]

    # Its card is the complete one, written for a model loaded without peft.
    card = (merged / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---\n")[1])
    assert metadata["library_name"] == "transformers" and "peft" not in metadata["tags"]
    assert metadata["model-index"][0]["results"][0]["metrics"][0]["name"] == "rouge1"
    assert (
        "## Results" in card and "PeftModel" not in card and "AutoModelForSeq2SeqLM.from_pretrained(model_dir)" in card
    )

    # The card's own snippet, as written, with transformers alone (none of this project's code, another
    # directory), for the first test dialogue: the summary evaluate wrote.
    snippet = card.split("```python\n")[1].split("```")[0]
    (first,) = read_jsonl(demo / "data/prepared/test.jsonl")[:1]
    (line,) = [line for line in snippet.splitlines() if line.startswith("dialogue = ")]
    run = subprocess.run(
        [sys.executable, "-c", snippet.replace(line, f"dialogue = {first['dialogue']!r}")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr
    expected = read_jsonl(demo / "reports/finetuned/predictions.jsonl")[0]
    assert (expected["id"], run.stdout) == (first["id"], expected["prediction"] + "\n")
    # lm_head is its own weight, and the config says so (transformers 5's T5Config still logs that it would
    # tie them, for flan-t5 itself too: transformers#42815 forces tie_word_embeddings to true for T5).
    assert json.loads((merged / "config.json").read_text())["tie_word_embeddings"] is False

    # The same bytes when exported again.
    export([str(tmp_path / "again")])
    assert {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()} == {
        p.name: p.read_bytes() for p in merged.iterdir()
    }


@pytest.mark.slow
def test_an_adapter_without_results_here_gets_its_own_card(reproduced, tmp_path, monkeypatch):
    demo = reproduced[0]
    adapter = shutil.copytree(demo / "models/adapter", tmp_path / "fetched-adapter")  # e.g. from `dvc artifacts get`
    monkeypatch.chdir(tmp_path)  # no reports/ here
    export([str(tmp_path / "merged"), "--adapter", str(adapter), "--model", str(demo / "models/tiny-t5")])
    card = (tmp_path / "merged/README.md").read_text()
    assert "## Results" not in card and "model-index" not in card
    assert yaml.safe_load(card.split("---\n")[1])["library_name"] == "transformers"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["taken"], "taken already exists and is not an empty directory: give a new one"),
        (["a-file"], "a-file already exists and is not an empty directory"),
        (["new", "--adapter", "empty"], "no trained adapter or model in empty: run `dvc repro finetune`"),
        (["new", "--revision", "main"], "--revision goes with --model"),
        ([], "the following arguments are required: directory"),
    ],
)
def test_a_bad_export_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, arguments, message):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.tex").write_text("months of work")
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_command(export, arguments, capsys)
    assert code == 2 and "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.startswith("error: ") and message in stderr
    assert not (tmp_path / "new").exists() and (tmp_path / "taken" / "thesis.tex").read_text() == "months of work"
