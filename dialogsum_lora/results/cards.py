"""Model cards (the hub's README.md): `evaluate` writes the adapter's, `dialogsum-export` the merged model's, with
results/run.py's rows and report.md's scores table; the same bytes on every rerun of the same inputs."""

from pathlib import Path

from dialogsum_lora import paths
from dialogsum_lora.evaluation import Metrics, ResultsProvenance
from dialogsum_lora.generation import validation_decoding
from dialogsum_lora.modeling.adapter import AdapterRecord
from dialogsum_lora.provenance import DataSource, directory_hash, read_data_source
from dialogsum_lora.results import run
from dialogsum_lora.results.analysis import Comparison
from dialogsum_lora.results.report import scores
from dialogsum_lora.results.run import Results
from dialogsum_lora.results.text import as_code_block, as_text
from dialogsum_lora.schema import read_checked
from dialogsum_lora.scoring.rouge import ROUGE_TYPES

CARD_FILE = "README.md"
MERGED_DIRECTORY = "merged-model"  # where the README's recipe exports to, as the merged card's snippet says
ADAPTER_NAMES = {"lora": "a LoRA adapter", "ia3": "an IA3 adapter"}  # the methods that train one


def results_of(adapter_dir: Path) -> Results | None:
    """evaluate's complete results in reports/ if they are of the adapter now in `adapter_dir`, else None."""
    if not (paths.provenance_file(paths.FINETUNED_DIR).is_file() and paths.COMPARISON_FILE.is_file()):
        return None
    evaluated = read_checked(ResultsProvenance, paths.provenance_file(paths.FINETUNED_DIR))
    if evaluated.adapter is None or evaluated.adapter.resolved != directory_hash(adapter_dir):
        return None
    return Results(
        read_data_source(paths.DATA_STATS_FILE),
        evaluated.generate.decoding(),
        read_checked(Metrics, paths.scores_file(paths.BASELINE_DIR)).model_dump(exclude_none=True),
        read_checked(Metrics, paths.scores_file(paths.FINETUNED_DIR)).model_dump(exclude_none=True),
        read_checked(Comparison, paths.COMPARISON_FILE).model_dump(),
        read_checked(ResultsProvenance, paths.provenance_file(paths.BASELINE_DIR)).shots,
    )


def render_card(record: AdapterRecord, *, merged: bool = False, results: Results | None = None) -> str:
    """The card of the adapter `record` describes, or (`merged`) of the base model with it merged in."""
    data = results.data if results else None
    sections = [
        ("What it is", _what_it_is(record, merged)),
        ("Training", _training(record, results)),
        ("How to use", _usage(record, results, merged)),
        *([("Results", scores(results.baseline, results.finetuned, results.comparison))] if results else []),
        ("Limitations", _limitations(record, data)),
    ]
    lines = ["---", card_metadata(record, results, merged).to_yaml(), "---", ""]
    lines += [f"# {as_text(run.model_name(record, data))}", ""]
    for heading, body in sections:
        lines += [f"## {heading}", "", *body, ""]
    return "\n".join(lines)


def card_metadata(record: AdapterRecord, results: Results | None, merged: bool):
    """Only what is known: a local directory is no hub id; unknown data claims no license."""
    from huggingface_hub import EvalResult, ModelCardData

    data = results.data if results else None
    known = run.KNOWN_DATASETS.get(data.name) if data else None
    adapter = not merged and record.method != "full"  # loaded with peft onto the base model
    method_tag = "full-fine-tuning" if record.method == "full" else record.method
    evaluated = [
        EvalResult(
            task_type="summarization",
            task_name="Summarization",
            dataset_type=data.name,
            dataset_name=(known or {"name": data.name})["name"],
            dataset_split="test",
            dataset_revision=data.resolved,
            metric_type="rouge",
            metric_name=name,
            metric_value=round(results.finetuned[name], 4),
        )
        for name in ROUGE_TYPES
        if results
    ]
    return ModelCardData(
        base_model=None if run.is_local(record.model.resolved) else record.model.name,
        library_name="peft" if adapter else "transformers",
        # transformers' summarization pipeline takes seq2seq models alone: a decoder-only one generates text.
        pipeline_tag="text-generation" if record.decoder_only else "summarization",
        license=known["license"] if known else None,
        datasets=[data.name] if data and not run.is_local(data.resolved) else None,
        language=[known["language"]] if known else None,
        tags=["summarization", "dialogue-summarization", method_tag, *(["peft"] if adapter else []), "dvc"],
        model_name=run.model_name(record, data) if results else None,
        eval_results=evaluated or None,
    )


def _what_it_is(record: AdapterRecord, merged: bool) -> list[str]:
    adapter = ADAPTER_NAMES.get(record.method)
    if record.method == "full" or merged:
        how = "every weight fine-tuned" if record.method == "full" else f"{adapter} merged into its weights"
        what = f"A standard transformers model, loaded without peft: the base model with {how}."
    else:
        what = (
            f"{adapter[0].upper()}{adapter[1:]} ([PEFT](https://github.com/huggingface/peft)) for the base model, "
            "loaded onto it: the base model's own weights stay as they are."
        )
    return [
        f"{what} It summarises a dialogue, each turn marked with its speaker as in its training data, in a sentence "
        "or a few, as that data's reference summaries do."
    ]


def _training(record: AdapterRecord, results: Results | None) -> list[str]:
    return [
        "Trained by this repository's DVC pipeline (`dvc repro`: prepare, finetune; evaluate for the results), with:",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in run.describe_run(record, results)),
        "",
        "The prompt, the dialogue in place of `{dialogue}`:",
        "",
        *as_code_block(record.prompt.template),
    ]


def card_decoding(record: AdapterRecord, results: Results | None) -> tuple[dict, str]:
    """The decoding a card's snippet (and a merged model's generation_config.json) uses, and what it is."""
    if results:
        return results.generate, "the decoding evaluate used"
    return validation_decoding(record.prompt), "greedy decoding up to the summary length it was trained for"


def _usage(record: AdapterRecord, results: Results | None, merged: bool) -> list[str]:
    decoding, said = card_decoding(record, results)
    arguments = ", ".join(f"{key}={value!r}" for key, value in decoding.items())
    auto = "AutoModelForCausalLM" if record.decoder_only else "AutoModelForSeq2SeqLM"
    imports = f"from transformers import {auto}, AutoTokenizer, GenerationConfig\n"
    if merged or record.method == "full":
        load = f"""{imports}
model_dir = "{MERGED_DIRECTORY if merged else "models/adapter"}"  # this directory, or the hub id it was published under
model = {auto}.from_pretrained(model_dir)
tokenizer = AutoTokenizer.from_pretrained(model_dir)"""
    else:
        load = f"""from peft import PeftModel
{imports}
adapter_dir = "models/adapter"  # this directory, or the hub id it was published under
base = {auto}.from_pretrained({record.model.name!r})
model = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()  # merged: faster
tokenizer = AutoTokenizer.from_pretrained(adapter_dir)"""
    new_tokens = ', inputs["input_ids"].shape[1] :' if record.decoder_only else ""  # it continues the prompt
    code = f"""{load}

dialogue = "#Person1#: Are you coming tonight?\\n#Person2#: Yes, at eight."
prompt = {record.prompt.template!r}.format(dialogue=dialogue)
inputs = tokenizer(prompt, return_tensors="pt", truncation=True, max_length={record.prompt.max_source_tokens})
output = model.generate(**inputs, generation_config=GenerationConfig({arguments}, do_sample=False))
print(tokenizer.decode(output[0{new_tokens}], skip_special_tokens=True))"""
    export = "" if record.method == "full" else "; `dialogsum-export` writes the merged model"
    command = f"""
In a checkout of this repository, the same with the settings of its params.yaml (one dialogue from an \
argument, a file or stdin; or a JSON Lines or CSV file of them){export}:

```bash
dialogsum-summarise "#Person1#: Are you coming tonight? #Person2#: Yes, at eight."
dialogsum-summarise --file dialogues.jsonl --output summaries.jsonl
```"""
    return [
        f"Summarise a dialogue with the prompt it was trained with and {said}:",
        "",
        *as_code_block(code, "python"),
        *([] if merged else [command]),
    ]


def _limitations(record: AdapterRecord, data: DataSource | None) -> list[str]:
    known = run.KNOWN_DATASETS.get(data.name) if data else None
    if known:
        license_line = (
            f"{known['name']} is licensed {known['license_name']} (non-commercial, share-alike): the weights "
            "trained on it are shared on the same terms"
        )
    else:
        license_line = (
            f"this card cannot tell the license of the training data ({run.data_text(data)}): whoever shares "
            "the weights must check it"
        )
    if model_license := run.KNOWN_MODEL_LICENSES.get(record.model.name):
        license_line += f", and the base model's license ({model_license}) applies as well"
    return [
        "- It has seen only the dialogues of its training data: other kinds of text (meetings, chats, other "
        "languages, transcripts with errors) are summarised less reliably.",
        "- A summary may say what the dialogue does not, mix up who said what, or leave out what matters: "
        "check it before relying on it.",
        f"- Prompts longer than {record.prompt.max_source_tokens} tokens are cut: the end of a long dialogue "
        "is not read.",
        "- ROUGE measures word overlap with reference summaries, not whether a summary is true.",
        f"- License: {license_line}.",
    ]
