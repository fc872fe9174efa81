"""A user's mistake against a bug, and the entry point of every stage and command that tells them apart.

A UserError (bad params, data, paths, no network) or a fault of the machine (a full disk, a
file that cannot be read, Ctrl-C, SIGTERM) is one `error:` line saying what to change, exit
code 2 (130 for Ctrl-C, 143 for SIGTERM). Anything else is a bug, in this project or a
library: its traceback is printed, under it one line saying so, and the exit code is 1.
"""

import errno
import json
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable

# A full disk, a quota, a file size limit, a read-only place, a failing disk: faults of the
# machine, which libraries that write (safetensors, torch, sqlite) report in their own types.
_WRITE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
# Other faults of the machine or its settings: permissions, a name too long, no file handles or
# memory left. Any other OSError (a file not found that the code did not check for) is a bug.
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
    """A problem the user can fix (bad params, data, paths, no network).

    The message says what is wrong, where, and how to fix it; it is printed
    without a traceback.
    """


class Terminated(BaseException):
    """SIGTERM (a scheduler or `kill` ending the run), raised where the process is, as Ctrl-C is."""


def _terminate(signum, frame):
    raise Terminated()


def run_main(main: Callable[[], None]) -> None:
    """Run a command's `main`, telling a user's mistake or a fault of the machine (one `error:`
    line) from a bug (its traceback, and one line saying it is a bug)."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        os.getcwd()
    except FileNotFoundError:
        _fail("the working directory no longer exists (deleted or moved): cd to the repository again", 2)
    try:
        main()
    except UserError as error:
        _hold_signals()
        _fail(str(error), 2)
    # A signal reaches torchrun's processes from their launcher, which ends the others when one
    # fails, and passes on a Ctrl-C or SIGTERM it gets itself: the launcher alone says so.
    except KeyboardInterrupt:
        _fail("interrupted (Ctrl-C): nothing was written that looks complete", 130, signalled=True)
    except Terminated:
        _fail("terminated (SIGTERM): nothing was written that looks complete", 143, signalled=True)
    except MemoryError:
        _hold_signals()
        _fail("out of memory: lower generate.batch_size or train.batch_size, or use a machine with more memory", 2)
    except OSError as error:
        _hold_signals()
        if error.errno not in _MACHINE_FAULTS:
            _report_bug(error)
        where = f"{error.filename}: " if error.filename else ""
        advice = ": move the repository to a shorter path" if error.errno == errno.ENAMETOOLONG else ""
        _fail(f"{where}{error.strerror or error}{advice}", 2)
    except Exception as error:
        _hold_signals()
        if _is_write_fault(error):
            _fail(f"a write failed, the disk may be full or read-only: {str(error).splitlines()[0][:300]}", 2)
        if _is_out_of_memory(error):
            _fail(
                f"out of memory on the device: lower generate.batch_size or train.batch_size ({type(error).__name__})",
                2,
            )
        _report_bug(error)


def _report_bug(error: BaseException) -> None:
    """The traceback of an exception the code did not foresee, then one line saying it is a bug; exit code 1."""
    _close_progress_bars()
    traceback.print_exc()
    line = (
        f"a bug, not a mistake of yours: {type(error).__name__} above, in dialogsum-lora or a library "
        "it calls; please report it with the traceback"
    )
    if not (_is_torchrun_worker() and _report_to_launcher(line)):
        print("error: " + line, file=sys.stderr)
    sys.exit(1)


def _is_out_of_memory(error: BaseException) -> bool:
    """torch's out-of-memory errors (CUDA's, and the allocator's on other devices)."""
    return type(error).__name__ == "OutOfMemoryError" or "out of memory" in str(error).lower()[:200]


def _is_write_fault(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is the machine failing to write."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in _WRITE_FAULTS or _WRITE_FAULT_TEXT.search(str(error)):
            return True
        error = error.__cause__ or error.__context__
    return False


def _fail(message: str, code: int, *, signalled: bool = False) -> None:
    line = " ".join(message.split())  # one line, whatever a library said
    if not _is_torchrun_worker():
        _print_error(line)
    elif not signalled and not _report_to_launcher(line):
        _print_error(line)
    sys.exit(code)


def _hold_signals() -> None:
    """In one of torchrun's processes, let no SIGTERM or SIGINT cut its report short: the launcher
    sends SIGTERM to every other process as soon as one fails, maybe while this one reports."""
    if _is_torchrun_worker():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)


def _print_error(line: str) -> None:
    _close_progress_bars()
    print("error: " + line, file=sys.stderr)


def _is_torchrun_worker() -> bool:
    """One of the processes torchrun started (it gives each a reply file; other launchers do not)."""
    return "LOCAL_RANK" in os.environ and "TORCHELASTIC_ERROR_FILE" in os.environ


def _report_to_launcher(line: str) -> bool:
    """In a process torchrun started, leave `line` in the reply file torchrun gives it, in the
    format torch's ProcessFailure reads, instead of printing it: every process may meet the
    mistake, and the launcher prints one process's line, once (distributed.py)."""
    reply_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not reply_file:
        return False
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
