"""Write files so that a killed or failed write leaves nothing that looks complete.

A stage's outputs as a set are DVC's: `dvc repro` removes them before the stage runs, holds the
repository's lock while it does (a second `dvc repro` is refused), and records them in dvc.lock only
when the stage ends well, the last good ones kept in its cache (`dvc checkout` restores them). What
is left here is one file or directory at a time: `atomic_path` writes it at a unique temporary name
beside its place (tempfile's, so never a user's file nor another run's) and moves it there whole.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dialogsum_lora.errors import UserError


@contextmanager
def atomic_path(path: Path, new: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write a file or a directory at; move it into place
    only if the block succeeds. With `new` (a command's output at a user's path), never in place of
    a file or a non-empty directory, even one that appeared while the block ran.

    The temporary lives in a directory of a unique name, `.NAME.XXXXXXXX.tmp`, beside `path`;
    on an error it is removed, and a kill leaves it behind under that dot-name, never at `path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None
    temporary = scratch / path.name
    try:
        yield temporary
    except OSError as error:  # a full disk, a file size limit, a read-only place
        shutil.rmtree(scratch, ignore_errors=True)
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if not temporary.exists():
        shutil.rmtree(scratch, ignore_errors=True)
        raise RuntimeError(f"nothing was written for {path}")
    try:
        if new and temporary.is_file():  # the place taken first: creating it fails if a file is there
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            os.replace(temporary, path)
        elif new:  # a rename fails if a non-empty directory is there
            os.rename(temporary, path)
        else:
            if path.is_dir() and not path.is_symlink():
                # A directory cannot replace a non-empty one in one rename: the old one goes into the scratch first.
                path.rename(scratch / ".replaced")
            os.replace(temporary, path)
    except OSError as error:  # a full disk, a read-only place, a directory in the way
        shutil.rmtree(scratch, ignore_errors=True)
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None
    shutil.rmtree(scratch, ignore_errors=True)


def check_writable(files: list[Path], directories: tuple[Path, ...] = ()) -> None:
    """Fail now, not after hours of work, if an output cannot be written where atomic_path
    writes it: create each one's parent and a scratch file there, and refuse a directory
    standing where a file goes, or a file where a directory goes."""
    for path in [*files, *directories]:
        path = Path(path)
        if path in files and path.is_dir():
            raise UserError(f"cannot write {path}: a directory is in the way")
        if path in directories and path.exists() and not path.is_dir():
            raise UserError(f"cannot write {path}: a file is in the way")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".check"):
                pass
        except OSError as error:
            raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def check_new_directory(directory: Path) -> None:
    """Refuse a command's output directory that is a file or holds anything (never a user's to replace),
    or that cannot be written."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UserError(f"{directory} already exists and is not an empty directory: give a new one")
    check_writable([], directories=(directory,))


def require(path: Path) -> Path:
    """`path`, an output of an earlier stage; a UserError saying how to make it if it is missing."""
    if not path.exists():
        raise UserError(f"{path} not found: run `dvc repro` (an earlier stage writes it)")
    return path


def write_json(path: Path, value) -> None:
    """Write `value` as indented JSON with a final newline, atomically."""
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    """Write text (a report, a model card) as UTF-8, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def read_json(path: Path):
    """Read a JSON file; one that is missing, unreadable, not a regular file or not JSON is a
    UserError naming it."""
    try:
        if path.exists() and not path.is_file():
            raise UserError(f"{path} is not a regular file")
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} not found") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path} is not UTF-8 text (byte {error.start})") from None
    except (OSError, ValueError, RecursionError) as error:
        raise UserError(f"{path} is not valid JSON ({error})") from None
