"""A user's mistake against a bug, told apart by run_main, the entry point of every stage and command: a UserError or
a fault of the machine (a full disk, no permission, Ctrl-C, SIGTERM) is one `error:` line, exit code 2 (130 for
Ctrl-C, 143 for SIGTERM); anything else is a bug, here or in a library: its traceback, a line saying so, exit code 1."""

import errno
import json
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable

# Libraries that write (safetensors, torch, sqlite) report these faults of the machine in their own types.
_WRITE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
# Permissions, a name too long, no file handles or memory left. Any other OSError (a file not found that the code
# did not check for) is a bug.
_MACHINE_FAULTS = _WRITE_FAULTS | {
    errno.EACCES,
    errno.EPERM,
    errno.ENAMETOOLONG,
    errno.EMFILE,
    errno.ENFILE,
    errno.ENOMEM,
}
_WRITE_FAULT_TEXT = re.compile(
    r"No space left on device|Disk quota exceeded|File too large|Read-only file system|disk I/O error|"
    r"\(os error (5|27|28|30|122)\)|file write failed"
)


class UserError(Exception):
    """A problem the user can fix; its message (what, where, how to fix it) is printed without a traceback."""


class Terminated(BaseException):
    """SIGTERM (a scheduler or `kill` ending the run), raised where the process is, as Ctrl-C is."""


def _terminate(signum, frame):
    raise Terminated()


def run_main(main: Callable[[], None]) -> None:
    """Run a command's `main`: a user's mistake or a fault of the machine is one `error:` line, a bug its traceback."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        os.getcwd()
    except FileNotFoundError:
        _fail("the working directory no longer exists (deleted or moved): cd to the repository again", 2)
    try:
        main()
    # A signal reaches torchrun's processes from their launcher, which ends the others when one
    # fails, and passes on a Ctrl-C or SIGTERM it gets itself: the launcher alone says so.
    except KeyboardInterrupt:
        _fail("interrupted (Ctrl-C): nothing was written that looks complete", 130, signalled=True)
    except Terminated:
        _fail("terminated (SIGTERM): nothing was written that looks complete", 143, signalled=True)
    except Exception as error:
        # torchrun sends SIGTERM to every other process as soon as one fails: let none cut this report short.
        if _is_torchrun_worker():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_IGN)
        line = _users_line(error)
        if line is not None:
            _fail(line, 2)
        _close_progress_bars()
        traceback.print_exc()
        _fail(
            f"a bug, not a mistake of yours: {type(error).__name__} above, in dialogsum-lora or a library it calls; "
            "please report it with the traceback",
            1,
        )


def _users_line(error: Exception) -> str | None:
    """The line a user's mistake or a fault of the machine is; None for a bug."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, OSError):
        if error.errno not in _MACHINE_FAULTS:
            return None
        advice = ": move the repository to a shorter path" if error.errno == errno.ENAMETOOLONG else ""
        return f"{f'{error.filename}: ' if error.filename else ''}{error.strerror or error}{advice}"
    cause = error
    while cause is not None:  # the error, or one it was raised from
        if isinstance(cause, OSError) and cause.errno in _WRITE_FAULTS or _WRITE_FAULT_TEXT.search(str(cause)):
            return f"a write failed, the disk may be full or read-only: {str(error).splitlines()[0][:300]}"
        cause = cause.__cause__ or cause.__context__
    # MemoryError is the host's; torch's OutOfMemoryError, or another device allocator's text, a device's.
    memory = isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"
    if memory or "out of memory" in str(error).lower()[:200]:
        return "out of memory: lower generate.batch_size or train.batch_size, or use a machine with more memory"
    return None


def _fail(message: str, code: int, *, signalled: bool = False) -> None:
    """Print `message` as one `error:` line (a torchrun worker leaves it to its launcher) and exit with `code`."""
    line = " ".join(message.split())  # one line, whatever a library said
    if not (_is_torchrun_worker() and (signalled or _report_to_launcher(line))):
        _close_progress_bars()
        print("error: " + line, file=sys.stderr)
    sys.exit(code)


def _is_torchrun_worker() -> bool:
    """One of the processes torchrun started (it gives each a reply file; other launchers do not)."""
    return "LOCAL_RANK" in os.environ and "TORCHELASTIC_ERROR_FILE" in os.environ


def _report_to_launcher(line: str) -> bool:
    """Leave `line` in torchrun's reply file, as torch's ProcessFailure reads it: the launcher prints one
    process's line, once (distributed.py). False if it cannot be written."""
    reply_file = os.environ["TORCHELASTIC_ERROR_FILE"]
    # torch reads message and timestamp (seconds); time_ns orders failures within one second.
    report = {"message": line, "timestamp": str(int(time.time())), "time_ns": time.time_ns()}
    try:
        with open(f"{reply_file}.tmp", "w", encoding="utf-8") as reply:
            json.dump(report, reply)
        os.replace(f"{reply_file}.tmp", reply_file)  # whole or not at all: torch's reader fails on half a file
    except OSError:  # a full disk, say: this process prints its line itself
        return False
    return True


def _close_progress_bars() -> None:
    """Close the bars still open (an interrupted loop's), so that none redraws after the error."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", [])):
        bar.close()
