"""Write files so that a killed or failed write leaves nothing that looks complete.

A stage's outputs as a set are DVC's (`dvc repro` removes them first, holds the lock, caches the last good ones);
here one file or directory at a time is written whole.
"""

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dialogsum_lora.errors import UserError


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
