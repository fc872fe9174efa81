"""Write a tiny random T5 with flan-t5's architecture (or, --decoder-only, a tiny Llama), for offline runs and tests.

DIR must be new or empty. The same files come out on every run, in a few seconds (modeling/tiny.py).
"""

from pathlib import Path

from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import run_main
from dialogsum_lora.files import check_new_directory


def tiny_model(arguments: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="dialogsum-tiny-model", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where to write the model (a new or empty directory)")
    parser.add_argument("--decoder-only", action="store_true", help="a decoder-only causal LM (Llama's design)")
    args = parser.parse_args(arguments)
    check_new_directory(args.directory)
    from dialogsum_lora.modeling.tiny import write_tiny_model

    write_tiny_model(args.directory, decoder_only=args.decoder_only)
    print(f"wrote a tiny {'decoder-only Llama' if args.decoder_only else 'T5'} to {args.directory}")


def main() -> None:
    run_main(tiny_model)


if __name__ == "__main__":
    main()
