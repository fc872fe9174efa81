"""Record files (JSON Lines, CSV, parquet): anything unreadable is one UserError naming the file and line.

Not `datasets`' loaders: they type a column by its content (ids that look like numbers become int64) and keep
an Arrow copy of every file a user hands in under HF_HOME.
"""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from dialogsum_lora.errors import UserError
from dialogsum_lora.files.outputs import atomic_path

Row = dict[str, object]
RECORD_SUFFIXES = (".jsonl", ".csv", ".parquet")


def read_records(file: Path) -> Iterator[tuple[str, Row]]:
    """(where, record) for each record of a .jsonl, .csv or .parquet file, `where` naming the file and line."""
    if file.suffix != ".parquet":
        text = read_text(file)
        yield from _csv_records(file, text) if file.suffix == ".csv" else _json_lines(file, text)
        return
    import pyarrow
    import pyarrow.parquet

    _check_readable(file)
    try:
        rows = pyarrow.parquet.read_table(file).to_pylist()
    except (pyarrow.ArrowException, OSError) as error:
        raise UserError(f"{file} is not a readable parquet file: {error}") from None
    for number, row in enumerate(rows, start=1):
        yield f"{file} row {number}", row


def read_text(file: Path) -> str:
    """A UTF-8 file's text, a byte-order mark dropped (a spreadsheet's is not text)."""
    _check_readable(file)
    try:
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{file} is not UTF-8 text (byte {error.start}): save it as UTF-8") from None


def _check_readable(file: Path) -> None:
    if not file.exists():
        raise UserError(f"{file} not found")
    if file.is_dir():
        raise UserError(f"{file} is a directory, not a file")


def _csv_records(file: Path, text: str) -> Iterator[tuple[str, Row]]:
    """A quoted field may hold newlines, so a record can span lines: name it by number and lines."""
    csv.field_size_limit(2**31 - 1)  # dialogues are long; the default refuses fields over 128 KiB
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise UserError(f"{file} has no header line (id, dialogue, summary, ...)")
        if len(set(header)) != len(header):
            raise UserError(f"{file} line 1: the header repeats a column: {', '.join(header)}")
        first_line = reader.line_num + 1
        for number, fields in enumerate(reader, start=1):
            lines = f"lines {first_line}-{reader.line_num}" if reader.line_num > first_line else f"line {first_line}"
            where = f"{file} record {number} ({lines})"
            first_line = reader.line_num + 1
            if fields and len(fields) != len(header):
                raise UserError(
                    f"{where}: {len(fields)} fields, but the header has {len(header)} ({', '.join(header)})"
                )
            if fields:  # not a blank line
                yield where, dict(zip(header, fields))
    except csv.Error as error:
        raise UserError(f"{file} line {reader.line_num}: not valid CSV ({error})") from None


def _json_lines(file: Path, text: str) -> Iterator[tuple[str, Row]]:
    # Records end at "\n" only: a dialogue may hold U+2028 and others that str.splitlines() splits at.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{file} line {number}: not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(row, dict):
            raise UserError(f"{file} line {number}: expected a JSON object, got {type(row).__name__}")
        yield f"{file} line {number}", row


def write_jsonl(path: Path, rows: list[Row], new: bool = False) -> None:
    """Write rows as JSON Lines, atomically; what does not read back as `rows` is never put in place."""
    with atomic_path(path, new) as temporary:
        temporary.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        if read_jsonl(temporary) != rows:
            raise RuntimeError(f"{path} does not read back as written")


def read_jsonl(path: Path) -> list[Row]:
    return [row for _, row in read_records(path)]
