"""Files: outputs written whole or not at all; record files (JSON Lines, CSV, parquet) read and written.

A stage's outputs as a set are DVC's (`dvc repro` removes them first, holds the lock, caches the last good ones).
Records are not read with `datasets`' loaders: they type a column by its content (ids that look like numbers
become int64) and keep an Arrow copy of every file a user hands in under HF_HOME.
"""

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dialogsum_lora.errors import UserError

Row = dict[str, object]
RECORD_SUFFIXES = (".jsonl", ".csv", ".parquet")


@contextmanager
def atomic_path(path: Path, new: bool = False) -> Iterator[Path]:
    """A temporary path beside `path`, moved into place only if the block succeeds; an OSError is a UserError
    naming `path`. With `new` (a command's output), never in place of a file or a non-empty directory."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A unique dot-name beside `path`: never a user's file nor another run's; a kill leaves it, not `path`.
        with tempfile.TemporaryDirectory(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent, ignore_cleanup_errors=True
        ) as scratch:
            temporary = Path(scratch) / path.name
            yield temporary
            if new and temporary.is_file():  # creating the place fails if a file appeared there meanwhile
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            elif not new and path.is_dir() and not path.is_symlink():
                # A directory cannot replace a non-empty one in one rename: the old one goes into the scratch.
                path.rename(Path(scratch) / ".replaced")
            os.replace(temporary, path)  # with `new`, fails if a non-empty directory appeared there meanwhile
    except OSError as error:  # a full disk, a file size limit, a read-only place, something in the way
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def check_writable(files: list[Path], directories: tuple[Path, ...] = ()) -> None:
    """Fail now, not after hours of work, if an output cannot be written where atomic_path writes it."""
    for path in map(Path, [*files, *directories]):
        if path in files and path.is_dir():
            raise UserError(f"cannot write {path}: a directory is in the way")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".check"):
                pass
        except OSError as error:
            raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def check_new_directory(directory: Path) -> None:
    """Refuse a command's output directory that is a file, is not empty, or cannot be written."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UserError(f"{directory} already exists and is not an empty directory: give a new one")
    check_writable([], directories=(directory,))


def require(path: Path) -> Path:
    """`path`, an earlier stage's output; a UserError saying how to make it if it is missing."""
    if not path.exists():
        raise UserError(f"{path} not found: run `dvc repro` (an earlier stage writes it)")
    return path


def write_json(path: Path, value) -> None:
    """`value` as indented JSON with a final newline, atomically."""
    write_text(path, json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def read_json(path: Path):
    """A JSON file; one that is missing or not JSON is a UserError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} not found") from None
    except ValueError as error:  # not UTF-8 too
        raise UserError(f"{path} is not valid JSON ({error})") from None


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
    """Write rows as JSON Lines, atomically."""
    with atomic_path(path, new) as temporary:
        temporary.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def read_jsonl(path: Path) -> list[Row]:
    return [row for _, row in read_records(path)]
