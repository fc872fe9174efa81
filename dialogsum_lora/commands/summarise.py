"""Summarise dialogues of one's own with the base model and the adapter, as `evaluate` does.

The prompt and the decoding are params.yaml's (--params), as baseline and evaluate read them, so a test dialogue
gets evaluate's summary (with --base, baseline's); an option per setting overrides one. Each row of a .jsonl, .csv
or .parquet --file goes to --output (JSON Lines) with its summary added as `prediction`.
"""

import argparse
import json
import sys
import typing
from pathlib import Path

from dialogsum_lora.commands.arguments import ArgumentParser, add_adapter_options, parse_adapter_options
from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.files import RECORD_SUFFIXES, Row, check_writable, read_records, read_text
from dialogsum_lora.params import StageParams, load_params, set_key
from dialogsum_lora.params.generate import GenerateParams
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.paths import PARAMS_FILE
from dialogsum_lora.schema import parse

SUMMARY_KEY = "prediction"  # as in the pipeline's predictions files


class Reads(StageParams):  # those baseline and evaluate summarise with
    prompt: PromptParams
    generate: GenerateParams


def yaml_value(text: str):
    """`text` read as DVC reads params.yaml (YAML 1.2: 1e-1 and 012 are numbers, null is None) if it is a scalar."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        value = YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError):
        return text
    return value if value is None or isinstance(value, (bool, int, float)) else text


def parse_arguments(arguments: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog="dialogsum-summarise", description=__doc__.splitlines()[0])
    parser.add_argument("dialogue", nargs="?", help="the dialogue's text, or - to read it from stdin")
    parser.add_argument("--file", type=Path, help="a text file of one dialogue, or a .jsonl, .csv or .parquet of many")
    parser.add_argument("--output", type=Path, help="where to write the rows of a --file of dialogues (.jsonl)")
    parser.add_argument("--column", default="dialogue", help="the dialogue column of a --file (default: dialogue)")
    add_adapter_options(parser)
    parser.add_argument("--base", action="store_true", help="the base model alone, as the baseline stage summarises")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE, help=f"the params file (default: {PARAMS_FILE})")
    # An option --KEY per setting, its help the schema's: text as it is, any other value read as params.yaml is.
    prompt_fields = {key: PromptParams.model_fields[key] for key in ("template", "max_source_tokens")}
    for section, fields in (("prompt", prompt_fields), ("generate", GenerateParams.model_fields)):
        group = parser.add_argument_group(f"{section} settings (default: params.yaml's)")
        for key, field in fields.items():
            text = str in (field.annotation, *typing.get_args(field.annotation))  # str, or str | None
            group.add_argument(
                f"--{key.replace('_', '-')}",
                dest=f"{section}.{key}",
                type=str if text else yaml_value,
                metavar="TEXT" if text else "VALUE",
                default=argparse.SUPPRESS,
                help=field.description,
            )
    args = parse_adapter_options(parser, arguments)
    if (args.dialogue is None) == (args.file is None):
        parser.error("give one dialogue, - to read it from stdin, or --file FILE")
    args.overrides = {dest: value for dest, value in vars(args).items() if "." in dest}  # an empty or null one too
    args.settings_from = f"{args.params}, or the options that override it" if args.overrides else str(args.params)
    return args


def settings(args: argparse.Namespace) -> Reads:
    """params.yaml's prompt and generate sections, with the options given in their place, checked."""
    raw = load_params(Reads, args.params).model_dump()
    for dotted, value in args.overrides.items():
        set_key(raw, dotted, value)
    return parse(Reads, raw, args.settings_from)


def read_dialogues(args: argparse.Namespace) -> tuple[list[str], list[Row] | None]:
    """The dialogues to summarise and, for a --file of them, their rows (--output checked writable first)."""
    if args.file is None or args.file.suffix not in RECORD_SUFFIXES:
        if args.output is not None:
            raise UserError(
                f"--output is for a --file of dialogues ({', '.join(RECORD_SUFFIXES)}); one summary is printed"
            )
        if args.file is not None:
            text, where = read_text(args.file), str(args.file)
        elif args.dialogue == "-":
            try:  # UTF-8 whatever the locale says
                text, where = sys.stdin.buffer.read().decode("utf-8-sig"), "stdin"
            except UnicodeDecodeError as error:
                raise UserError(f"stdin is not UTF-8 text (byte {error.start}): pipe in UTF-8") from None
        else:
            text, where = args.dialogue, "the dialogue given"
        _check_dialogue(text, where)
        return [text], None
    if args.output is None:
        raise UserError(f"{args.file} holds a dialogue per row: give --output FILE.jsonl for their summaries")
    if args.output.suffix != ".jsonl":
        raise UserError(f"--output {args.output} must end in .jsonl: the summaries are written as JSON Lines")
    if args.output.is_file():  # a user's file (the input, or summaries of another run): never replaced
        raise UserError(f"--output {args.output} already exists: give a new file, or remove it yourself")
    check_writable([args.output])
    rows = []
    for where, row in read_records(args.file):  # every row checked before any summarising
        if args.column not in row:
            raise UserError(
                f"{where}: no column {args.column!r} (columns: {', '.join(map(str, row))}): "
                "name the dialogue column with --column"
            )
        _check_dialogue(row[args.column], f"{where} ({args.column!r})")
        try:  # the row is written back as JSON: a parquet timestamp cannot be
            json.dumps(row, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise UserError(
                f"{where}: a value cannot be written as JSON ({error}): drop or convert that column first"
            ) from None
        rows.append(row)
    if not rows:
        raise UserError(f"{args.file} holds no dialogues")
    if any(SUMMARY_KEY in row for row in rows):
        raise UserError(f"{args.file} already has a {SUMMARY_KEY!r} column: its summaries would replace it")
    return [row[args.column] for row in rows], rows


def _check_dialogue(dialogue, where: str) -> None:
    if not isinstance(dialogue, str) or not dialogue.strip():
        raise UserError(f"{where}: the dialogue must be non-empty text, got {dialogue!r:.60}")


def summarise(arguments: list[str] | None = None) -> None:
    args = parse_arguments(arguments)
    # Inputs, settings and the output's place first: a mistake is reported before torch and the model load.
    dialogues, rows = read_dialogues(args)
    params = settings(args)
    from dialogsum_lora.files import write_jsonl
    from dialogsum_lora.generation import summarise_dialogues
    from dialogsum_lora.modeling import base
    from dialogsum_lora.modeling.adapter import base_model_directory, check_adapter, load_merged_model, read_record

    params.generate.check(f"{args.settings_from}: generate")
    record = read_record(args.adapter)
    model_dir, resolved = base_model_directory(record, args.model, args.revision)
    if not args.base:
        record = check_adapter(args.adapter, resolved)

    # The model, loaded as evaluate (or, with --base, baseline) loads it.
    base.make_deterministic(record.seed)
    device = base.pick_device()
    dtype = base.pick_dtype(device)
    if args.base:
        model, tokenizer = base.load_base_model(model_dir, dtype, device), base.load_tokenizer(model_dir)
    else:
        model = load_merged_model(model_dir, args.adapter, record, dtype, device)
        tokenizer = base.load_tokenizer(args.adapter)

    decoding, batch_size = params.generate.decoding(), params.generate.batch_size
    summaries, truncated = summarise_dialogues(
        model, tokenizer, dialogues, params.prompt, decoding, batch_size, desc="summarising", progress=rows is not None
    )
    source, new, unfinished = params.prompt.max_source_tokens, params.generate.max_new_tokens, sum(summaries.unfinished)
    for count, what in (
        (truncated, f"prompts are longer than {source} tokens and were cut (--max-source-tokens)"),
        (unfinished, f"summaries stopped at {new} new tokens before the model ended them (--max-new-tokens)"),
    ):
        if count:
            print(f"warning: {count} of {len(dialogues)} {what}", file=sys.stderr)
    if rows is None:
        print(summaries.texts[0])
        return
    write_jsonl(args.output, [{**row, SUMMARY_KEY: summary} for row, summary in zip(rows, summaries.texts)], new=True)
    print(f"{len(rows)} summaries in {args.output}")


def main() -> None:
    run_main(summarise)


if __name__ == "__main__":
    main()
