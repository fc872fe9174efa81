"""Save the trained model as one transformers model: the base model with the adapter merged in.

DIR (new or empty) gets float32 safetensors, config, tokenizer and a model card (with the test results when reports/
holds evaluate's for this adapter); a fully fine-tuned model is written the same way."""

from pathlib import Path

from dialogsum_lora.commands.arguments import ArgumentParser, add_adapter_options, parse_adapter_options
from dialogsum_lora.errors import run_main
from dialogsum_lora.files import atomic_path, check_new_directory


def export(arguments: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="dialogsum-export", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where to write the merged model (new or empty)")
    add_adapter_options(parser)
    args = parse_adapter_options(parser, arguments)
    check_new_directory(args.directory)
    import torch

    from dialogsum_lora.generation import decoding_config
    from dialogsum_lora.modeling.adapter import base_model_directory, check_adapter, load_merged_model, read_record
    from dialogsum_lora.modeling.base import load_tokenizer, save_tokenizer
    from dialogsum_lora.results.cards import CARD_FILE, card_decoding, render_card, results_of

    record = read_record(args.adapter)
    model_dir, resolved = base_model_directory(record, args.model, args.revision)
    record = check_adapter(args.adapter, resolved)
    results = results_of(args.adapter)
    card = render_card(record, merged=True, results=results)

    # Merged in float32 on the CPU: the weights as trained, whatever machine reads them next.
    model = load_merged_model(model_dir, args.adapter, record, torch.float32, torch.device("cpu"))
    tokenizer = load_tokenizer(args.adapter)
    # What plain `generate` needs (the start, end and padding tokens) with the card's decoding, and whether
    # lm_head is its own weight, as it is: transformers alone then loads and generates as evaluate did.
    model.generation_config = decoding_config(model, card_decoding(record, results)[0])
    model.config.tie_word_embeddings = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    with atomic_path(args.directory, new=True) as temporary:
        model.save_pretrained(temporary, safe_serialization=True)
        save_tokenizer(tokenizer, temporary)
        (temporary / CARD_FILE).write_text(card, encoding="utf-8")
    what = "fully fine-tuned model" if record.method == "full" else "merged model"
    which = (
        "with the test results in reports/"
        if results
        else "without test results (reports/ holds none for this adapter)"
    )
    print(f"{what} in {args.directory}; its model card ({CARD_FILE}) is the {what}'s, {which}")


def main() -> None:
    run_main(export)


if __name__ == "__main__":
    main()
