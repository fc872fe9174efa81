"""Write outputs so that a killed or failed run leaves nothing that looks complete; read and
write JSON files."""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dialogsum_lora.errors import UserError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    Works for a file or a directory written at the yielded path. On error (or a
    kill) the temporary is left behind under a dot-name, never at `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        _remove(temporary)
        try:
            yield temporary
        except BaseException:
            _remove(temporary)
            raise
        if temporary.is_dir():
            # A directory cannot replace a non-empty one in one rename: move the old aside first.
            old = path.with_name(f".{path.name}.old")
            _remove(old)
            if path.exists():
                path.rename(old)
            temporary.rename(path)
            _remove(old)
        else:
            os.replace(temporary, path)
    except OSError as error:  # a full disk, a read-only place, a directory in the way
        _remove_quietly(temporary)
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def check_writable(files: list[Path], directories: tuple[Path, ...] = ()) -> None:
    """Fail now, not after hours of work, if an output cannot be written where atomic_path
    writes it: create each one's parent and a scratch file there, and refuse a directory
    standing where a file goes."""
    for path in [*files, *directories]:
        if path in files and path.is_dir():
            raise UserError(f"cannot write {path}: a directory is in the way")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".check"):
                pass
        except OSError as error:
            raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def require(path: Path) -> Path:
    """`path`, an output of an earlier stage; a UserError saying how to make it if it is missing."""
    if not path.exists():
        raise UserError(f"{path} not found: run `dvc repro` (an earlier stage writes it)")
    return path


def _remove_quietly(path: Path) -> None:
    try:
        _remove(path)
    except OSError:
        pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_json(path: Path, value) -> None:
    """Write `value` as indented JSON with a final newline, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: Path):
    """Read a JSON file; one that is missing, unreadable or not JSON is a UserError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} not found") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise UserError(f"{path} is not valid JSON ({error})") from None
