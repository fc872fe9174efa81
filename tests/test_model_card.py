"""Model cards: real Hugging Face cards (metadata that parses, no template placeholder), honest
about local models and data, with the results when evaluate has them, the same bytes on rerun."""

import copy
import json
import re

import pytest
import yaml

from dialogsum_lora.card_results import complete_card
from dialogsum_lora.model_card import adapter_card, render_card

ROUGE = ("rouge1", "rouge2", "rougeL", "rougeLsum")
# What finetune records with the adapter of the real experiment (adapter.adapter_record and the rest).
RECORD = {
    "model": {"name": "google/flan-t5-base", "revision": None, "resolved": "7bcac572ce56db69c1ea7c8af255c5d7c9672fc2"},
    "environment": {"python": "3.11.7", "torch": "2.13.0", "transformers": "5.24.0", "peft": "0.21.2", "datasets": "5.2.0",
                    "dvc": "3.67.1", "rouge_score": "0.1.2", "device": "NVIDIA H200", "dtype": "bfloat16"},
    "training": {"steps": 1558, "epochs": 1.0, "truncated_prompts": 3, "truncated_summaries": 0},
    "seed": 42,
    "data": {"source": "knkarthick/dialogsum", "local_directory": False},
    "prompt": {"template": "Summarize the following conversation.\n\n{dialogue}\n\nSummary: ", "max_source_tokens": 512,
               "max_target_tokens": 128},
    "generate": {"max_new_tokens": 128, "num_beams": 1, "batch_size": 64},
    "lora": {"r": 32, "alpha": 32.0, "dropout": 0.05, "target_modules": ["q", "v"]},
    "train": {"learning_rate": 0.001, "epochs": 1.0, "batch_size": 8, "max_steps": None, "logging_steps": 50,
              "checkpoint_steps": 200, "compile": False},
    "parameters": {"adapter": 3538944, "base": 247577856},
}
SOURCE = {"name": "knkarthick/dialogsum", "revision": None, "resolved": "d2b0ad2ac3c9c7d6e0bd8a1b7e5c2f2ab0d1e7a3"}


def metrics(value: float, intervals: bool) -> dict:
    scores = {name: value for name in ROUGE} | {"num_dialogues": 500, "num_references": 1500}
    if intervals:
        scores["ci95"] = {name: {"low": value - 0.01, "high": value + 0.01} for name in ROUGE}
    return scores


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def python_block(card: str) -> str:
    """The card's python code block, however long its fence."""
    (block,) = re.findall(r"^(`{3,})python\n(.*?)\n\1$", card, flags=re.MULTILINE | re.DOTALL)
    return block[1]


def test_the_adapter_card_is_a_real_model_card():
    from huggingface_hub import ModelCard

    card = adapter_card(RECORD)
    assert card == adapter_card(copy.deepcopy(RECORD))  # a function of the record alone
    metadata = front_matter(card)
    assert metadata == {
        "base_model": "google/flan-t5-base", "library_name": "peft", "pipeline_tag": "summarization",
        "license": "cc-by-nc-sa-4.0", "datasets": ["knkarthick/dialogsum"], "language": ["en"],
        "tags": ["summarization", "dialogue-summarization", "lora", "peft", "dvc"],
    }
    assert ModelCard(card).data.base_model == "google/flan-t5-base"  # huggingface_hub's own parser, offline
    for promise in ("3,538,944 parameters (1.43% of the base model's 247,577,856)", "commit 7bcac572ce56db69c1ea7c8af255c5d7c9672fc2",
                    "rank 32, alpha 32, dropout 0.05", "learning rate 0.001", "1,558 steps (1 epochs)", "NVIDIA H200, bfloat16",
                    "3 training prompts were", "PeftModel.from_pretrained", "dialogsum-summarise", "CC BY-NC-SA 4.0",
                    "Apache 2.0", "## Limitations"):
        assert promise in card, promise
    assert "More Information Needed" not in card and "## Results" not in card


def test_the_complete_card_adds_the_results_with_intervals_when_there_are_some():
    from huggingface_hub import ModelCard

    plain = complete_card(RECORD, SOURCE, metrics(0.233, False), metrics(0.408, False))
    assert "| ROUGE-1 | 0.2330 | 0.4080 | +0.1750 |" in plain and "95%" not in plain
    assert f"revision {SOURCE['resolved']}" in plain and plain.startswith(adapter_card(RECORD).split("model-index")[0][:200])
    comparison = {name: {"difference": 0.175, "low": 0.16, "high": 0.19, "p_value": 0.004, "wins": 300, "ties": 20,
                         "losses": 180} for name in ROUGE} | {"resamples": 1000}
    card = complete_card(RECORD, SOURCE, metrics(0.233, True), metrics(0.408, True), comparison)
    assert "| ROUGE-1 | 0.2330 [0.2230, 0.2430] | 0.4080 [0.3980, 0.4180] | +0.1750 [+0.1600, +0.1900], p 0.004 |" in card
    # A p-value of 0 is below one resample's weight, as in report.md: never "p = 0".
    never_resampled = comparison | {"rouge1": comparison["rouge1"] | {"p_value": 0.0}}
    card = complete_card(RECORD, SOURCE, metrics(0.233, True), metrics(0.408, True), never_resampled)
    assert "| ROUGE-1 | 0.2330 [0.2230, 0.2430] | 0.4080 [0.3980, 0.4180] | +0.1750 [+0.1600, +0.1900], p < 0.001 |" in card
    (result,) = front_matter(card)["model-index"][0]["results"]
    assert result["dataset"] == {"name": "DialogSum", "type": "knkarthick/dialogsum", "split": "test", "revision": SOURCE["resolved"]}
    evaluations = ModelCard(card).data.eval_results
    assert [(e.metric_name, e.metric_value) for e in evaluations] == [
        ("ROUGE-1", 0.408), ("ROUGE-2", 0.408), ("ROUGE-L", 0.408), ("ROUGE-Lsum", 0.408)
    ]


def test_a_local_model_and_local_data_are_never_claimed_to_be_hub_ones():
    record = {**RECORD, "model": {"name": "models/tiny-t5", "revision": None, "resolved": "sha256:abc"},
              "data": {"source": "data/sample", "local_directory": True}}
    card = adapter_card(record)
    metadata = front_matter(card)
    assert "base_model" not in metadata and "datasets" not in metadata and "license" not in metadata
    assert "not a hub model" in card and "not a hub dataset" in card and "cannot tell the license" in card
    assert "huggingface.co" not in card.replace("https://github.com/huggingface/peft", "")


def test_text_from_params_is_written_as_text_and_the_snippet_stays_python():
    template = '```\n# {dialogue} | "quoted" \'single\' **bold**\n```'
    record = {**RECORD, "prompt": {**RECORD["prompt"], "template": template},
              "lora": {**RECORD["lora"], "target_modules": ["q|v", "<b>"]}}
    card = adapter_card(record)
    assert "q\\|v" in card and "\\<b\\>" in card
    assert "````\n" + template + "\n````" in card  # a fence that the template's own cannot close
    snippet = python_block(card)
    compile(snippet, "card", "exec")
    assert f"prompt = {template!r}.format(dialogue=dialogue)" in snippet


def test_the_merged_card_loads_without_peft():
    card = render_card(RECORD, merged=True)
    assert front_matter(card)["library_name"] == "transformers" and "PeftModel" not in card and "peft" not in card.split("## How")[1]


@pytest.mark.slow
def test_the_reproduced_cards_are_complete_and_their_snippet_runs(reproduced, monkeypatch, capsys):
    demo = reproduced[0]
    adapter_readme = (demo / "models/adapter/README.md").read_text()
    complete = (demo / "reports/model_card.md").read_text()
    record = json.loads((demo / "models/adapter/provenance.json").read_text())
    assert adapter_readme == adapter_card(record)  # not PEFT's template
    assert "More Information Needed" not in adapter_readme + complete and str(demo) not in adapter_readme + complete
    assert "## Results" in complete and front_matter(complete)["model-index"][0]["name"] == "tiny-t5-lora-sample"
    # The card's own snippet, run in the demo, prints what dialogsum-summarise prints.
    from dialogsum_lora.summarise import summarise

    snippet = python_block(complete)
    monkeypatch.chdir(demo)
    namespace = {}
    exec(compile(snippet, "model card", "exec"), namespace)
    printed = capsys.readouterr().out
    summarise([namespace["dialogue"]])
    assert printed.strip() and printed == capsys.readouterr().out
