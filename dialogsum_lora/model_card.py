"""Model cards: the README.md the Hugging Face hub shows for a model, YAML metadata then markdown.

`finetune` writes the adapter's card beside it (models/adapter/README.md): what it is,
how it was trained, how to use it and its limits, from the record saved with it
(provenance.json) alone. `evaluate` writes the complete card, the same plus the test
results (dialogsum_lora/card_results.py), and `dialogsum-export` the merged model's.
A card is a function of its inputs: no wall times, the same bytes on every rerun.
"""

from pathlib import Path

import yaml

from dialogsum_lora.markdown import as_code_block, as_text

CARD_FILE = "README.md"
# What this card can say of the data and base model the repository is made for. Any other is
# named as it is, with no claim about its license.
KNOWN_DATASETS = {
    "knkarthick/dialogsum": {"name": "DialogSum", "license": "cc-by-nc-sa-4.0", "license_name": "CC BY-NC-SA 4.0",
                             "language": "en"},
}
KNOWN_MODEL_LICENSES = {"google/flan-t5-base": "Apache 2.0"}
REPOSITORY_COMMAND = "dialogsum-summarise"


def adapter_card(record: dict) -> str:
    """The adapter's card, from the record finetune saves with it (adapter.adapter_record and
    the base model, environment, training and parameter counts)."""
    return render_card(record)


def render_card(
    record: dict, *, merged: bool = False, data_revision: str | None = None,
    results: list[str] | None = None, model_index: list | None = None,
) -> str:
    """A card for the adapter described by `record`, or (`merged`) for the base model with it
    merged in; with the data's exact revision, a Results section and model-index metadata
    when they are given."""
    metadata = card_metadata(record, merged)
    if model_index:
        metadata["model-index"] = model_index
    sections = [
        ("What it is", _what_it_is(record, merged)),
        ("Training", _training(record, data_revision)),
        ("How to use", _usage(record, merged)),
        *([("Results", results)] if results else []),
        ("Limitations", _limitations(record)),
    ]
    lines = ["---", yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, width=1000).rstrip("\n"), "---", ""]
    lines += [f"# {as_text(model_name(record))}", ""]
    for heading, body in sections:
        lines += [f"## {heading}", "", *body, ""]
    return "\n".join(lines)


def model_name(record: dict) -> str:
    """A short name for the fine-tuned model: base model, `lora`, data (flan-t5-base-lora-dialogsum)."""
    source = record["data"]["source"]
    data = KNOWN_DATASETS[source]["name"] if source in KNOWN_DATASETS else Path(source).name
    return f"{Path(record['model']['name']).name}-lora-{data}".lower()


def is_hub_model(record: dict) -> bool:
    """Whether the base model came from the hub (a local directory is recorded by content hash)."""
    return not record["model"]["resolved"].startswith("sha256:")


def card_metadata(record: dict, merged: bool) -> dict:
    """The YAML metadata: only what is known (a local model or data directory is no hub id, and
    nothing is claimed about the license of data this module does not know)."""
    source = record["data"]["source"]
    known = KNOWN_DATASETS.get(source)
    metadata = {"base_model": record["model"]["name"]} if is_hub_model(record) else {}
    metadata["library_name"] = "transformers" if merged else "peft"
    metadata["pipeline_tag"] = "summarization"
    if known:
        metadata["license"] = known["license"]
    if not record["data"]["local_directory"]:
        metadata["datasets"] = [source]
    if known:
        metadata["language"] = [known["language"]]
    metadata["tags"] = ["summarization", "dialogue-summarization", "lora", *([] if merged else ["peft"]), "dvc"]
    return metadata


def _base_model(record: dict) -> str:
    name, resolved = record["model"]["name"], record["model"]["resolved"]
    if is_hub_model(record):
        return f"[{name}](https://huggingface.co/{name}) (commit {resolved})"
    return f"the model in the local directory {as_text(name)} (not a hub model; its content: {resolved})"


def _data(record: dict) -> str:
    source = record["data"]["source"]
    if record["data"]["local_directory"]:
        return f"the dialogues in the local directory {as_text(source)} (not a hub dataset)"
    known = KNOWN_DATASETS.get(source, {"name": source})
    return f"{as_text(known['name'])} ([{source}](https://huggingface.co/datasets/{source}))"


def _what_it_is(record: dict, merged: bool) -> list[str]:
    counts = record["parameters"]
    task = (f"It summarises a dialogue, each turn marked with its speaker as in its training data ({_data(record)}), "
            "in a sentence or a few, as that data's reference summaries do.")
    if merged:
        return [f"A standard transformers model, loaded without peft: the base model, {_base_model(record)}, with a "
                f"LoRA adapter merged into its weights ({counts['base']:,} parameters). {task}"]
    share = 100 * counts["adapter"] / counts["base"]
    return [f"A LoRA adapter ([PEFT](https://github.com/huggingface/peft)) for the base model, {_base_model(record)}: "
            f"{counts['adapter']:,} parameters ({share:.2f}% of the base model's {counts['base']:,}), loaded onto the "
            f"base model, whose own weights stay as they are. {task}"]


def _training(record: dict, data_revision: str | None) -> list[str]:
    lora, train, prompt, generate = record["lora"], record["train"], record["prompt"], record["generate"]
    training, environment = record["training"], record["environment"]
    revision = f"at revision {data_revision}" if data_revision else "its exact revision is in the complete card"
    decoding = "greedy" if generate["num_beams"] == 1 else f"beam search with {generate['num_beams']} beams"
    rows = [
        ("base model", _base_model(record)),
        ("data", f"the train split of {_data(record)}, {revision}; the validation split gives a validation loss per epoch"),
        ("LoRA", f"rank {lora['r']}, alpha {lora['alpha']:g}, dropout {lora['dropout']:g}, on the "
                 f"{', '.join(as_text(module) for module in lora['target_modules'])} linear layers"),
        ("optimisation", f"AdamW, learning rate {train['learning_rate']:g} decaying linearly to 0, "
                         f"batch {train['batch_size']}, seed {record['seed']}"),
        ("length", f"{training['steps']:,} steps ({training['epochs']:g} epochs)"),
        ("prompt", f"below; cut to {prompt['max_source_tokens']} tokens ({training['truncated_prompts']} training "
                   f"prompts were), summaries to {prompt['max_target_tokens']} ({training['truncated_summaries']} were)"),
        ("generation", f"{decoding}, at most {generate['max_new_tokens']} new tokens"),
        ("device", f"{as_text(environment['device'])}, {environment['dtype']}"),
        ("libraries", ", ".join(f"{name} {environment[name]}" for name in ("python", "torch", "transformers", "peft"))),
    ]
    return [
        "Trained by this repository's DVC pipeline (`dvc repro`: prepare, finetune), with:", "",
        "| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows), "",
        "The prompt, the dialogue in place of `{dialogue}`:", "", *as_code_block(prompt["template"]),
    ]


def _usage(record: dict, merged: bool) -> list[str]:
    prompt, generate = record["prompt"], record["generate"]
    if merged:
        load = ["from transformers import AutoModelForSeq2SeqLM, AutoTokenizer", "",
                'model_dir = "merged"  # this directory, or the hub id it was published under',
                "model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)",
                "tokenizer = AutoTokenizer.from_pretrained(model_dir)"]
        command = []
    else:
        load = ["from peft import PeftModel", "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer", "",
                'adapter_dir = "models/adapter"  # this directory, or the hub id it was published under',
                f"base = AutoModelForSeq2SeqLM.from_pretrained({record['model']['name']!r})",
                "model = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()  # merged: faster",
                "tokenizer = AutoTokenizer.from_pretrained(adapter_dir)"]
        command = [
            "", "In a checkout of this repository, the same with the same settings (one dialogue from an argument, "
            "a file or stdin; or a JSON Lines or CSV file of them); `dialogsum-export` writes the merged model:", "",
            "```bash", f'{REPOSITORY_COMMAND} "#Person1#: Are you coming tonight? #Person2#: Yes, at eight."',
            f"{REPOSITORY_COMMAND} --file dialogues.jsonl --output summaries.jsonl", "```",
        ]
    code = [
        *load,
        "",
        'dialogue = "#Person1#: Are you coming tonight?\\n#Person2#: Yes, at eight."',
        f"prompt = {prompt['template']!r}.format(dialogue=dialogue)",
        f"inputs = tokenizer(prompt, return_tensors=\"pt\", truncation=True, max_length={prompt['max_source_tokens']})",
        f"output = model.generate(**inputs, max_new_tokens={generate['max_new_tokens']}, "
        f"num_beams={generate['num_beams']}, do_sample=False)",
        "print(tokenizer.decode(output[0], skip_special_tokens=True))",
    ]
    return ["Summarise a dialogue with the prompt and settings it was trained and evaluated with:", "",
            *as_code_block("\n".join(code), "python"), *command]


def _limitations(record: dict) -> list[str]:
    source, base = record["data"]["source"], record["model"]["name"]
    known = KNOWN_DATASETS.get(source)
    if known:
        license_line = (f"{known['name']} is licensed {known['license_name']} (non-commercial, share-alike): the "
                        "weights trained on it are shared on the same terms")
    else:
        license_line = (f"this card cannot tell the license of the training data ({as_text(source)}): whoever shares "
                        "the weights must check it")
    if base in KNOWN_MODEL_LICENSES:
        license_line += f", and the base model's license ({KNOWN_MODEL_LICENSES[base]}) applies as well"
    return [
        "- It has seen only the dialogues of its training data: other kinds of text (meetings, chats, other "
        "languages, transcripts with errors) are summarised less reliably.",
        "- A summary may say what the dialogue does not, mix up who said what, or leave out what matters: "
        "check it before relying on it.",
        f"- Prompts longer than {record['prompt']['max_source_tokens']} tokens are cut: the end of a long dialogue "
        "is not read.",
        "- ROUGE measures word overlap with reference summaries, not whether a summary is true.",
        f"- License: {license_line}.",
    ]
