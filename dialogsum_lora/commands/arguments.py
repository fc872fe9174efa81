"""What the commands' command lines share: a parser whose mistakes are one `error:` line, options
typed and bounded by a params schema, and the adapter options."""

import argparse
import typing
from pathlib import Path
from typing import Annotated

from dialogsum_lora.errors import UserError
from dialogsum_lora.paths import ADAPTER_DIR


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, reporting a bad command line as a UserError (one `error:` line)."""

    def error(self, message: str):
        raise UserError(f"{message} (see {self.prog} --help)")


def within(field) -> callable:
    """An argparse `type`: a whole number the schema `field` accepts, or a usage error in pydantic's words."""
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(Annotated[(int, *field.metadata)])

    def parse(text: str) -> int:
        try:
            return adapter.validate_python(text)
        except ValidationError as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error.errors()[0]['msg']}") from None

    return parse


def yaml_value(text: str):
    """A command-line value read as params.yaml is read (YAML 1.2, as DVC reads it: 1e-1 and 012 are
    numbers, null is None), for a schema to check; text that is no YAML scalar stays text."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        value = YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError):
        return text
    return value if value is None or isinstance(value, (bool, int, float)) else text


def add_setting_options(parser: ArgumentParser, section: str, schema, keys=None) -> None:
    """An option --KEY (its help the schema's) for each key of a params section's schema, or those in `keys`:
    a text key takes its value as it is, any other is read as params.yaml is; the schema checks them."""
    group = parser.add_argument_group(f"{section} settings (default: params.yaml's)")
    for key, field in schema.model_fields.items():
        if keys is None or key in keys:
            text = str in (field.annotation, *typing.get_args(field.annotation))  # str, or str | None
            group.add_argument(
                f"--{key.replace('_', '-')}",
                dest=f"{section}.{key}",
                type=str if text else yaml_value,
                metavar="TEXT" if text else "VALUE",
                default=argparse.SUPPRESS,
                help=field.description,
            )


def setting_overrides(args: argparse.Namespace) -> dict[str, dict]:
    """The setting options given (an empty or null one included), as {section: {key: value}}."""
    overrides: dict[str, dict] = {}
    for dest, value in vars(args).items():
        if "." in dest:
            section, key = dest.split(".", 1)
            overrides.setdefault(section, {})[key] = value
    return overrides


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
