"""Write the base model with the adapter merged into its weights: one standard model directory
for people without peft.

    dialogsum-export DIR [--adapter models/adapter] [--model NAME [--revision REV]]

(or python -m dialogsum_lora.export). DIR, which must be new or empty, gets the
merged weights (safetensors, float32), config, tokenizer and a model card
(README.md): `AutoModelForSeq2SeqLM.from_pretrained(DIR)` loads it alone. The
card is the complete one, with the test results, when reports/ holds evaluate's
results for this very adapter (reports/finetuned/provenance.json names it by
content); otherwise the adapter's own card. Either way it is written for the
merged model (library transformers, loaded without peft).
"""

from pathlib import Path

from dialogsum_lora.errors import ArgumentParser, UserError, run_main
from dialogsum_lora.model_card import CARD_FILE, render_card
from dialogsum_lora.outputs import atomic_path, check_writable
from dialogsum_lora.summarise import add_adapter_options, check_adapter_options


def parse_arguments(arguments: list[str] | None = None):
    parser = ArgumentParser(prog="dialogsum-export", description="Merge the LoRA adapter into the base model and save it.")
    parser.add_argument("directory", type=Path, help="where to write the merged model (new or empty)")
    add_adapter_options(parser)
    args = parser.parse_args(arguments)
    check_adapter_options(parser, args)
    return args


def merged_card(adapter_dir: Path, record: dict) -> tuple[str, str]:
    """The merged model's card, and which one it is (with the test results, or without)."""
    from dialogsum_lora.card_results import complete_card, results_of

    results = results_of(adapter_dir)
    if results is None:
        return render_card(record, merged=True), "the adapter's, without test results (reports/ holds none for it)"
    return complete_card(record, *results, merged=True), "the complete one, with the test results in reports/"


def export(arguments: list[str] | None = None) -> None:
    """The command: `arguments` as on its command line (default: sys.argv)."""
    args = parse_arguments(arguments)
    directory = args.directory
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UserError(f"{directory} already exists and is not an empty directory: give a new one")
    check_writable([], directories=(directory,))
    import torch
    from transformers.utils import logging as transformers_logging

    from dialogsum_lora.adapter import base_model_directory, check_adapter, load_merged_model, read_record
    from dialogsum_lora.modeling import load_tokenizer, save_tokenizer

    record = read_record(args.adapter)
    model_dir, resolved = base_model_directory(record, args.model, args.revision)
    check_adapter(args.adapter, resolved)
    card, which = merged_card(args.adapter, record)

    # Merged in float32 on the CPU: the weights as trained, whatever machine reads them next.
    model = load_merged_model(model_dir, args.adapter, torch.float32, torch.device("cpu"))
    tokenizer = load_tokenizer(args.adapter)
    transformers_logging.disable_progress_bar()  # one shard of a few MB: no bar
    with atomic_path(directory) as temporary:
        model.save_pretrained(temporary, safe_serialization=True)
        save_tokenizer(tokenizer, temporary)
        (temporary / CARD_FILE).write_text(card, encoding="utf-8")
    print(f"merged model in {directory}; its model card ({CARD_FILE}) is {which}")


def main() -> None:
    run_main(export)


if __name__ == "__main__":
    main()
