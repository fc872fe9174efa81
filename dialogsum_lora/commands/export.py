"""Write the base model with the adapter merged into its weights: one standard model directory
for people without peft. A fully fine-tuned model (`method: full`) is one already: it is written
the same way (float32, its card written for it), and needs no base model.

    dialogsum-export DIR [--adapter models/adapter] [--model NAME [--revision REV]]

(or python -m dialogsum_lora.commands.export). DIR, which must be new or empty, gets the
merged weights (safetensors, float32), config, tokenizer and a model card
(README.md): `AutoModelForSeq2SeqLM.from_pretrained(DIR)` loads it alone. The
card holds the test results when reports/ holds evaluate's results for this
very adapter (reports/finetuned/provenance.json names it by content), and is
written for the merged model (library transformers, loaded without peft).
"""

from pathlib import Path

from dialogsum_lora.commands.arguments import ArgumentParser, add_adapter_options, check_adapter_options
from dialogsum_lora.errors import run_main
from dialogsum_lora.files.outputs import atomic_path, check_new_directory


def parse_arguments(arguments: list[str] | None = None):
    parser = ArgumentParser(
        prog="dialogsum-export",
        description="Save the trained model as one transformers model: the base model with the "
        "adapter merged into its weights, or a fully fine-tuned model as it is.",
    )
    parser.add_argument("directory", type=Path, help="where to write the merged model (new or empty)")
    add_adapter_options(parser)
    args = parser.parse_args(arguments)
    check_adapter_options(parser, args)
    return args


def merged_card(adapter_dir: Path, record) -> tuple[str, dict, str]:
    """The merged model's card, the decoding its snippet uses, and which card it is (with the test
    results, or without)."""
    from dialogsum_lora.results.cards import card_decoding, render_card, results_of

    results = results_of(adapter_dir)
    which = (
        "with the test results in reports/"
        if results
        else "without test results (reports/ holds none for this adapter)"
    )
    return render_card(record, merged=True, results=results), card_decoding(record, results)[0], which


def export(arguments: list[str] | None = None) -> None:
    """The command: `arguments` as on its command line (default: sys.argv)."""
    args = parse_arguments(arguments)
    directory = args.directory
    check_new_directory(directory)
    import torch

    from dialogsum_lora.generation import decoding_config
    from dialogsum_lora.modeling.adapter import base_model_directory, check_adapter, load_merged_model, read_record
    from dialogsum_lora.modeling.base import load_tokenizer, no_progress_bars, save_tokenizer
    from dialogsum_lora.results.cards import CARD_FILE

    record = read_record(args.adapter)
    model_dir, resolved = base_model_directory(record, args.model, args.revision)
    record = check_adapter(args.adapter, resolved)
    card, decoding, which = merged_card(args.adapter, record)

    # Merged in float32 on the CPU: the weights as trained, whatever machine reads them next.
    model = load_merged_model(model_dir, args.adapter, record, torch.float32, torch.device("cpu"))
    tokenizer = load_tokenizer(args.adapter)
    # What plain `generate` needs (the start, end and padding tokens) with the card's decoding, and whether
    # lm_head is its own weight, as it is: transformers alone then loads and generates as evaluate did.
    model.generation_config = decoding_config(model, decoding)
    model.config.tie_word_embeddings = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    with atomic_path(directory, new=True) as temporary, no_progress_bars():
        model.save_pretrained(temporary, safe_serialization=True)
        save_tokenizer(tokenizer, temporary)
        (temporary / CARD_FILE).write_text(card, encoding="utf-8")
    what = "fully fine-tuned model" if record.method == "full" else "merged model"
    print(f"{what} in {directory}; its model card ({CARD_FILE}) is the {what}'s, {which}")


def main() -> None:
    run_main(export)


if __name__ == "__main__":
    main()
