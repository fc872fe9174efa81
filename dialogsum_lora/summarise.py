"""Summarise dialogues of one's own with the base model and the adapter, as `evaluate` does.

    dialogsum-summarise "#Person1#: Hi! ... #Person2#: ..."   # prints the summary
    dialogsum-summarise --file dialogue.txt                    # one dialogue, from a text file
    dialogsum-summarise - < dialogue.txt                       # or from stdin
    dialogsum-summarise --file dialogues.jsonl --output summaries.jsonl [--column dialogue]
    dialogsum-summarise --base "..."                           # the base model alone, as `baseline` does

(or python -m dialogsum_lora.summarise). The adapter (--adapter, default
models/adapter; any adapter directory, e.g. one from `dvc artifacts get`) records
the base model it was trained on and the prompt, token limits and generation
settings `evaluate` used with it; the options below override them. A .jsonl, .csv
or .parquet --file holds one dialogue per row: each row is written to --output
(JSON Lines) with its summary added as `prediction`, so `dialogsum-score` can
score it. On a GPU when there is one.
"""

import argparse
import sys
from pathlib import Path

from dialogsum_lora.errors import ArgumentParser, UserError, run_main
from dialogsum_lora.outputs import check_writable
from dialogsum_lora.paths import ADAPTER_DIR
from dialogsum_lora.records import RECORD_SUFFIXES, Row, read_records, read_text

SUMMARY_KEY = "prediction"  # as in the pipeline's predictions files
# Options that override a recorded setting: option name -> (params section, key).
SETTING_OPTIONS = {
    "template": ("prompt", "template"),
    "max_source_tokens": ("prompt", "max_source_tokens"),
    "max_new_tokens": ("generate", "max_new_tokens"),
    "num_beams": ("generate", "num_beams"),
    "batch_size": ("generate", "batch_size"),
}


def parse_arguments(arguments: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="dialogsum-summarise", description="Summarise dialogues with the base model and the LoRA adapter.",
    )
    parser.add_argument("dialogue", nargs="?", help="the dialogue's text, or - to read it from stdin")
    parser.add_argument("--file", type=Path, help=f"a text file holding one dialogue, or a {', '.join(RECORD_SUFFIXES)} "
                                                  "file of them (one a row)")
    parser.add_argument("--output", type=Path, help="where to write the rows of a --file of dialogues (.jsonl)")
    parser.add_argument("--column", default="dialogue", help="the dialogue column of a --file of dialogues (default: dialogue)")
    add_adapter_options(parser)
    parser.add_argument("--base", action="store_true", help="the adapter's base model alone, without the adapter "
                                                            "(what the baseline stage does), with the same settings")
    overrides = parser.add_argument_group("settings (default: those the adapter records, which evaluate used)")
    overrides.add_argument("--template", help="the prompt; {dialogue} stands for the dialogue")
    for option in ("max_source_tokens", "max_new_tokens", "num_beams", "batch_size"):
        overrides.add_argument(f"--{option.replace('_', '-')}", type=int, metavar="N")
    args = parser.parse_args(arguments)
    check_adapter_options(parser, args)
    if (args.dialogue is None) == (args.file is None):
        parser.error("give one dialogue, - to read it from stdin, or --file FILE")
    return args


def add_adapter_options(parser: ArgumentParser) -> None:
    """--adapter, and --model and --revision for a base model other than the one it records."""
    parser.add_argument("--adapter", type=Path, default=ADAPTER_DIR, help=f"the adapter directory (default: {ADAPTER_DIR})")
    parser.add_argument("--model", help="the base model (hub id or directory) instead of the one the adapter records")
    parser.add_argument("--revision", help="with --model: its hub commit, branch or tag")


def check_adapter_options(parser: ArgumentParser, args: argparse.Namespace) -> None:
    if args.revision is not None and args.model is None:
        parser.error("--revision goes with --model")


def read_dialogues(args: argparse.Namespace) -> tuple[list[str], list[Row] | None]:
    """The dialogues to summarise and, for a --file of them, their rows; anything unusable
    (an empty dialogue, no dialogue column, no --output for many) is a UserError."""
    if args.file is not None and args.file.suffix in RECORD_SUFFIXES:
        if args.output is None:
            raise UserError(f"{args.file} holds a dialogue per row: give --output FILE.jsonl for their summaries")
        rows = []
        for where, row in read_records(args.file):
            if args.column not in row:
                raise UserError(f"{where}: no column {args.column!r} (columns: {', '.join(map(str, row))}): "
                                "name the dialogue column with --column")
            if not isinstance(row[args.column], str) or not row[args.column].strip():
                raise UserError(f"{where}: the dialogue ({args.column!r}) must be non-empty text, got {row[args.column]!r:.60}")
            rows.append(row)
        if not rows:
            raise UserError(f"{args.file} holds no dialogues")
        if any(SUMMARY_KEY in row for row in rows):
            raise UserError(f"{args.file} already has a {SUMMARY_KEY!r} column: its summaries would replace it")
        return [row[args.column] for row in rows], rows
    if args.file is not None:
        text, where = read_text(args.file), str(args.file)
    elif args.dialogue == "-":
        text, where = sys.stdin.read(), "stdin"
    else:
        text, where = args.dialogue, "the dialogue given"
    if not text.strip():
        raise UserError(f"the dialogue is empty ({where}): give the text of a dialogue")
    if args.output is not None:
        raise UserError(f"--output is for a --file of dialogues ({', '.join(RECORD_SUFFIXES)}); one summary is printed")
    return [text], None


def check_output(args: argparse.Namespace) -> None:
    """Fail before the model loads if --output cannot be written, or would replace the input."""
    if args.output is None:
        return
    if args.output.suffix != ".jsonl":
        raise UserError(f"--output {args.output} must end in .jsonl: the summaries are written as JSON Lines")
    if args.output.resolve() == args.file.resolve():
        raise UserError(f"--output {args.output} is the input file: choose another")
    check_writable([args.output])


def summarise(arguments: list[str] | None = None) -> None:
    """The command: `arguments` as on its command line (default: sys.argv)."""
    args = parse_arguments(arguments)
    # Inputs and the output's place first: a mistake is reported before torch and the model load.
    dialogues, rows = read_dialogues(args)
    check_output(args)
    from dialogsum_lora.adapter import (
        base_model_directory, check_adapter, load_merged_model, read_record, recorded_settings,
    )
    from dialogsum_lora.generation import summarise_dialogues
    from dialogsum_lora.modeling import (
        load_base_model, load_tokenizer, make_deterministic, pick_device, pick_dtype,
    )
    from dialogsum_lora.records import write_jsonl

    record = read_record(args.adapter)
    overrides: dict[str, dict] = {}
    for option, (section, key) in SETTING_OPTIONS.items():
        if getattr(args, option) is not None:
            overrides.setdefault(section, {})[key] = getattr(args, option)
    prompt, generate = recorded_settings(record, args.adapter, overrides)
    model_dir, resolved = base_model_directory(record, args.model, args.revision)
    if not args.base:
        check_adapter(args.adapter, resolved)

    # The model, loaded as evaluate (or, with --base, baseline) loads it.
    make_deterministic(record["seed"])
    device = pick_device()
    dtype = pick_dtype(device)
    if args.base:
        model, tokenizer = load_base_model(model_dir, dtype, device), load_tokenizer(model_dir)
    else:
        model, tokenizer = load_merged_model(model_dir, args.adapter, dtype, device), load_tokenizer(args.adapter)

    summaries, truncated = summarise_dialogues(
        model, tokenizer, dialogues, prompt, generate, desc="summarising", progress=rows is not None,
    )
    if truncated:
        print(f"warning: {truncated} of {len(dialogues)} prompts are longer than {prompt.max_source_tokens} tokens "
              "and were cut (--max-source-tokens)", file=sys.stderr)
    if rows is None:
        print(summaries[0])
        return
    write_jsonl(args.output, [{**row, SUMMARY_KEY: summary} for row, summary in zip(rows, summaries)])
    print(f"{len(rows)} summaries in {args.output}")


def main() -> None:
    run_main(summarise)


if __name__ == "__main__":
    main()
