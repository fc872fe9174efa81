"""Model cards: real Hugging Face cards (metadata that parses, no template placeholder), honest
about local models and data, with the results when evaluate has them, the same bytes on rerun."""

import re

import pytest
import yaml

from dialogsum_lora.modeling.adapter import AdapterRecord
from dialogsum_lora.provenance import DataSource
from dialogsum_lora.results.cards import render_card
from dialogsum_lora.results.run import Results

ROUGE = ("rouge1", "rouge2", "rougeL", "rougeLsum")
# What finetune records with the adapter of the real experiment (models/adapter/provenance.json).
RECORD = {
    "model": {"name": "google/flan-t5-base", "revision": None, "resolved": "7bcac572ce56db69c1ea7c8af255c5d7c9672fc2"},
    "environment": {
        "python": "3.11.7",
        "torch": "2.13.0",
        "transformers": "5.24.0",
        "peft": "0.21.2",
        "datasets": "5.2.0",
        "dvc": "3.67.1",
        "rouge_score": "0.1.2",
        "device": "NVIDIA H200",
        "dtype": "bfloat16",
    },
    "training": {
        "steps": 1558,
        "epochs": 1.0,
        "dialogues": 12460,
        "split_dialogues": 12460,
        "truncated_prompts": 3,
        "truncated_summaries": 0,
        "kept": {"step": 1500, "rule": "best_rouge1", "value": 0.4123},
        "data": {"data/prepared/train.jsonl": "sha256:1", "data/prepared/validation.jsonl": "sha256:2"},
    },
    "seed": 42,
    "processes": 1,
    "method": "lora",
    "prompt": {
        "template": "Summarize the following conversation.\n\n{dialogue}\n\nSummary: ",
        "max_source_tokens": 512,
        "max_target_tokens": 128,
    },
    "lora": {"r": 32, "alpha": 32.0, "dropout": 0.05, "target_modules": ["q", "v"]},
    "train": {
        "optim": "adamw_torch_fused",
        "learning_rate": 0.001,
        "num_train_epochs": 1,
        "max_steps": -1,
        "logging_steps": 50,
        "save_steps": 200,
        "torch_compile": False,
        "dialogues": None,
        "batch_size": 8,
        "pad_to_multiple_of": None,
        "frozen_dtype": "float32",
        "validation_rouge_dialogues": 200,
        "validation_batch_size": 64,
        "validation_steps": 250,
        "keep": "best_rouge1",
    },
    "trainer": {
        "optim": "adamw_torch_fused",
        "learning_rate": 0.001,
        "lr_scheduler_type": "linear",
        "warmup_steps": 0,
        "weight_decay": 0.0,
    },
    "parameters": {"trainable": 3538944, "total": 251116800},
}
SOURCE = DataSource(name="knkarthick/dialogsum", revision=None, resolved="d2b0ad2ac3c9c7d6e0bd8a1b7e5c2f2ab0d1e7a3")
GENERATE = {"max_new_tokens": 128, "num_beams": 4, "length_penalty": 0.8, "no_repeat_ngram_size": 3}  # decoding()


def record(**changes) -> AdapterRecord:
    return AdapterRecord.model_validate({**RECORD, **changes})


COMPARISON = {
    name: {"difference": 0.175, "low": 0.16, "high": 0.19, "p_value": 0.004, "wins": 300, "ties": 20, "losses": 180}
    for name in ROUGE
} | {"resamples": 1000, "num_dialogues": 500}


def results(baseline: dict, finetuned: dict, comparison: dict = COMPARISON) -> Results:
    return Results(SOURCE, GENERATE, baseline, finetuned, comparison)


def metrics(value: float) -> dict:
    return {name: value for name in ROUGE} | {
        "num_dialogues": 500,
        "num_references": 1500,
        "best_reference": {name: value + 0.1 for name in ROUGE},
        "ci95": {name: {"low": value - 0.01, "high": value + 0.01} for name in ROUGE},
    }


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def python_block(card: str) -> str:
    """The card's python code block, however long its fence."""
    (block,) = re.findall(r"^(`{3,})python\n(.*?)\n\1$", card, flags=re.MULTILINE | re.DOTALL)
    return block[1]


def test_the_adapter_card_is_a_real_model_card():
    from huggingface_hub import ModelCard

    card = render_card(record(), results=results(metrics(0.233), metrics(0.408)))
    assert card == render_card(record(), results=results(metrics(0.233), metrics(0.408)))  # its inputs alone
    metadata = front_matter(card)
    assert {key: value for key, value in metadata.items() if key != "model-index"} == {
        "base_model": "google/flan-t5-base",
        "library_name": "peft",
        "pipeline_tag": "summarization",
        "license": "cc-by-nc-sa-4.0",
        "datasets": ["knkarthick/dialogsum"],
        "language": ["en"],
        "tags": ["summarization", "dialogue-summarization", "lora", "peft", "dvc"],
    }
    assert ModelCard(card).data.base_model == "google/flan-t5-base"  # huggingface_hub's own parser, offline
    for promise in (
        "3,538,944 trainable parameters, 1.41% of the 251,116,800 in all",
        "commit 7bcac572ce56db69c1ea7c8af255c5d7c9672fc2",
        "rank 32",
        "alpha 32",
        "dropout 0.05",
        "`optim=adamw_torch_fused`, `learning_rate=0.001`, `lr_scheduler_type=linear`, `warmup_steps=0`",
        "1,558 steps",
        "NVIDIA H200, bfloat16",
        "3 training prompts were",
        "PeftModel.from_pretrained",
        "dialogsum-summarise",
        "CC BY-NC-SA 4.0",
        "Apache 2.0",
        "## Limitations",
        "beam search: max_new_tokens 128, num_beams 4, length_penalty 0.8, no_repeat_ngram_size 3",
        "GenerationConfig(max_new_tokens=128, num_beams=4, length_penalty=0.8, no_repeat_ngram_size=3, ",
    ):
        assert promise in card, promise
    assert "More Information Needed" not in card


def test_the_card_and_the_report_describe_the_run_with_the_same_rows(tmp_path):
    from dialogsum_lora.results.report import header
    from dialogsum_lora.results.run import describe_run

    card = render_card(record(), results=results(metrics(0.233), metrics(0.408)))
    rows = describe_run(record(), results(metrics(0.233), metrics(0.408)))
    report = "\n".join(header("LoRA fine-tuning", RECORD["model"]["name"], SOURCE.name, rows))
    assert {"base model", "data", "method", "decoding", "intervals", "device"} <= {what for what, _ in rows}
    for what, value in rows:
        assert f"| {what} | {value} |" in card and f"- **{what}:** {value}" in report, what


def test_the_results_have_intervals_and_the_paired_change_as_report_md_has_them():
    from huggingface_hub import ModelCard

    from dialogsum_lora.results.report import scores

    def row(card: str) -> list[str]:
        line = next(line for line in card.splitlines() if line.startswith("| rouge1 |"))
        return [cell.strip() for cell in line.split("|")[2:7]]

    card = render_card(record(), results=results(metrics(0.233), metrics(0.408)))
    assert row(card) == [
        "0.2330 [0.2230, 0.2430]",
        "0.4080 [0.3980, 0.4180]",
        "+0.1750 [+0.1600, +0.1900]",
        "0.004",
        "300 / 20 / 180",
    ]
    assert "finetuned is better than baseline" in card and SOURCE.resolved in card
    assert "\n".join(scores(metrics(0.233), metrics(0.408), COMPARISON)) in card.split("## Results")[1]
    # A p-value of 0 is below one resample's weight, as in report.md: never "p = 0".
    never_resampled = COMPARISON | {"rouge1": COMPARISON["rouge1"] | {"p_value": 0.0}}
    card = render_card(record(), results=results(metrics(0.233), metrics(0.408), never_resampled))
    assert row(card)[3] == "< 0.001"
    (result,) = front_matter(card)["model-index"][0]["results"]
    assert result["dataset"] == {
        "name": "DialogSum",
        "type": "knkarthick/dialogsum",
        "split": "test",
        "revision": SOURCE.resolved,
    }
    evaluations = ModelCard(card).data.eval_results
    assert [(e.metric_name, e.metric_value) for e in evaluations] == [(name, 0.408) for name in ROUGE]


def test_a_local_model_and_local_data_are_never_claimed_to_be_hub_ones():
    local = record(model={"name": "models/tiny-t5", "revision": None, "resolved": "sha256:abc"})
    data = DataSource(name="data/sample", revision=None, resolved="sha256:def")
    card = render_card(local, results=Results(data, GENERATE, metrics(0.1), metrics(0.2), COMPARISON))
    metadata = front_matter(card)
    assert "base_model" not in metadata and "datasets" not in metadata and "license" not in metadata
    assert "not a hub model" in card and "not a hub dataset" in card and "cannot tell the license" in card
    assert "huggingface.co" not in card.replace("https://github.com/huggingface/peft", "")


def test_text_from_params_is_written_as_text_and_the_snippet_stays_python():
    template = "```\n# {dialogue} | \"quoted\" 'single' **bold** $x$\n```"
    hostile = record(
        prompt={**RECORD["prompt"], "template": template}, lora={**RECORD["lora"], "target_modules": ["q|v", "<b>"]}
    )
    card = render_card(hostile)
    assert "q\\|v" in card and "\\<b\\>" in card
    assert "````\n" + template + "\n````" in card  # a fence that the template's own cannot close
    snippet = python_block(card)
    compile(snippet, "card", "exec")
    assert f"prompt = {template!r}.format(dialogue=dialogue)" in snippet


def test_the_merged_card_loads_without_peft():
    card = render_card(record(), merged=True)
    assert (
        front_matter(card)["library_name"] == "transformers"
        and "PeftModel" not in card
        and "peft" not in card.split("## How")[1]
    )


@pytest.mark.slow
def test_the_reproduced_cards_are_complete_and_their_snippet_runs(reproduced, monkeypatch, capsys):
    demo = reproduced[0]
    assert not (demo / "models/adapter/README.md").exists()  # not PEFT's template: the card is evaluate's
    complete = (demo / "reports/model_card.md").read_text()
    assert "More Information Needed" not in complete and str(demo) not in complete
    assert "## Results" in complete and front_matter(complete)["model-index"][0]["name"] == "tiny-t5-lora-sample"
    # The card's own snippet, run in the demo, prints what dialogsum-summarise prints.
    from dialogsum_lora.commands.summarise import summarise

    snippet = python_block(complete)
    monkeypatch.chdir(demo)
    namespace = {}
    exec(compile(snippet, "model card", "exec"), namespace)
    printed = capsys.readouterr().out
    summarise([namespace["dialogue"]])
    assert printed.strip() and printed == capsys.readouterr().out


def test_the_card_names_the_baseline_it_compares_against():
    from dataclasses import replace

    from dialogsum_lora.evaluation import Shots

    zero_shot = results(metrics(0.1), metrics(0.2))
    card = render_card(record(), results=replace(zero_shot, shots=Shots(ids=["train_6", "train_27"], seed=42)))
    training = card.split("## Training")[1].split("## How")[0]
    assert "| baseline | the base model alone, 2-shot: before each prompt, the training dialogues train\\_6" in training
    assert "train\\_27" in training and "zero-shot" not in card
    assert "| baseline | the base model alone, zero-shot;" in render_card(record(), results=zero_shot)


def test_the_trainers_arguments_and_bf16_frozen_weights_are_said():
    from dialogsum_lora.results.run import describe_run

    # The learning rate of the method that trained (full's for full), as the Trainer used it.
    full = record(
        method="full",
        lora=None,
        full={"learning_rate": 1e-5},
        trainer={**RECORD["trainer"], "learning_rate": 1e-5},
        parameters={"trainable": 9, "total": 9},
    )
    assert "`learning_rate=1e-05`" in dict(describe_run(full))["optimisation"]
    device = dict(describe_run(record(), results(metrics(0.1), metrics(0.2))))["device"]
    assert device == "NVIDIA H200, bfloat16"
    frozen = record(
        environment={**RECORD["environment"], "frozen_dtype": "bfloat16"},
        train={**RECORD["train"], "frozen_dtype": "bfloat16"},
    )
    assert (
        dict(describe_run(frozen, results(metrics(0.1), metrics(0.2))))["device"]
        == "NVIDIA H200, bfloat16 (the frozen weights in bfloat16)"
    )
