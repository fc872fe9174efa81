"""Write a tiny random T5 with flan-t5's architecture, for offline runs and tests.

DIR must be new or empty. The same files come out on every run, in a few seconds (modeling/tiny.py).
"""

from pathlib import Path

from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import run_main
from dialogsum_lora.files import check_new_directory


def tiny_model(arguments: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="dialogsum-tiny-model", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where to write the model (a new or empty directory)")
    directory = parser.parse_args(arguments).directory
    check_new_directory(directory)
    from dialogsum_lora.modeling.tiny import write_tiny_model

    write_tiny_model(directory)
    print(f"wrote a tiny T5 to {directory}")


def main() -> None:
    run_main(tiny_model)


if __name__ == "__main__":
    main()
