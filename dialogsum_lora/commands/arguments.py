"""What the commands' command lines share: a parser whose mistakes are one `error:` line; the adapter options."""

import argparse
from pathlib import Path

from dialogsum_lora.errors import UserError
from dialogsum_lora.paths import ADAPTER_DIR


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, reporting a bad command line as a UserError (one `error:` line)."""

    def error(self, message: str):
        raise UserError(f"{message} (see {self.prog} --help)")


def add_adapter_options(parser: ArgumentParser) -> None:
    """--adapter, and --model and --revision for a base model other than the one it records."""
    parser.add_argument(
        "--adapter", type=Path, default=ADAPTER_DIR, help=f"the adapter directory (default: {ADAPTER_DIR})"
    )
    parser.add_argument("--model", help="the base model (hub id or directory) instead of the one the adapter records")
    parser.add_argument("--revision", help="with --model: its hub commit, branch or tag")


def parse_adapter_options(parser: ArgumentParser, arguments: list[str] | None) -> argparse.Namespace:
    """parser.parse_args(arguments), refusing --revision without --model."""
    args = parser.parse_args(arguments)
    if args.revision is not None and args.model is None:
        parser.error("--revision goes with --model")
    return args
