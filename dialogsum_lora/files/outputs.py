"""Write outputs so that a killed, failed or concurrent run leaves nothing that looks complete.

- `atomic_path`: a file or directory is written at a unique temporary name beside its place
  (tempfile's, so it can never be a user's file nor another run's) and moved there whole.
- `stage_outputs`: a stage's outputs as one set. Its writes are moved into place together
  when the stage ends well, and none when it fails, so its outputs are never from two runs;
  and one run of a stage at a time (a second is refused in one line).
- `exclusive`: one writer at a time for a command's output (two `dialogsum-export` to one place).
"""

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from dialogsum_lora.errors import UserError
from dialogsum_lora.paths import TIMING_DIR

TEMPORARY_SUFFIX = ".tmp"
# The moves a stage_outputs block has deferred to its end, (temporary, target); None outside one.
_deferred: list[tuple[Path, Path]] | None = None


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write a file or a directory at; move it into place
    only if the block succeeds (inside stage_outputs: when the whole stage does).

    The temporary lives in a directory of a unique name, `.NAME.XXXXXXXX.tmp`, beside `path`;
    on an error it is removed, and a kill leaves it behind under that dot-name, never at `path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent))
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
    if _deferred is not None:
        _deferred.append((temporary, path))
    else:
        _move_into_place(temporary, path)


def _move_into_place(temporary: Path, path: Path) -> None:
    """Put `temporary` (in its scratch directory) at `path`, replacing what is there, and remove the scratch."""
    scratch = temporary.parent
    try:
        if path.is_dir() and not path.is_symlink():
            # A directory cannot replace a non-empty one in one rename: the old one goes into the scratch first.
            path.rename(scratch / ".replaced")
        os.replace(temporary, path)
    except OSError as error:  # a full disk, a read-only place, a directory in the way
        shutil.rmtree(scratch, ignore_errors=True)
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None
    shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def stage_outputs(stage: str, files: list[Path], directories: tuple[Path, ...] = ()) -> Iterator[None]:
    """Run a stage's work as one set of outputs (`files` and `directories`, as dvc.yaml lists them).

    In the process that starts the stage: refuse outputs that cannot be written (before any work),
    and hold the stage's lock, refusing a second run of it in this directory. In the process that
    writes (rank 0 under several processes): every atomic_path write in the block is moved into
    place when the block ends well, and removed if it fails. Temporaries a killed run of this
    stage left are removed first (the lock says no other run is writing them).
    """
    global _deferred
    from dialogsum_lora import distributed

    worker = distributed.is_worker()
    if not worker:
        check_writable(files, directories)
    with exclusive(TIMING_DIR / stage, f"the {stage} stage") if not worker else nullcontext():
        if not distributed.is_main_process():
            yield
            return
        for path in [*files, *directories]:
            for stale in Path(path).parent.glob(f".{Path(path).name}.*{TEMPORARY_SUFFIX}"):
                shutil.rmtree(stale, ignore_errors=True)
        _deferred = []
        try:
            yield
        except BaseException:
            for temporary, _ in _deferred:
                shutil.rmtree(temporary.parent, ignore_errors=True)
            raise
        else:
            for temporary, path in _deferred:
                _move_into_place(temporary, path)
        finally:
            _deferred = None


@contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    """Hold the lock of `path` (the file `.NAME.lock` beside it) while the block runs: a second
    process asking for it meanwhile is refused in one line, naming `what` holds it."""
    path = Path(path)
    lock = path.parent / f".{path.name}.lock"
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"{path} is being written by another run of {what} ({lock} is locked): wait for it to "
                "end, or work in another directory"
            ) from None
        yield
    finally:
        os.close(handle)


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
