"""One kind of error for a user's mistake, and the entry point that reports it."""

import argparse
import errno
import os
import re
import sys
from collections.abc import Callable, Container

# A full disk, a quota, a file size limit, a read-only place, a failing disk: faults of the
# machine, which libraries that write (safetensors, torch, sqlite) report in their own types.
_WRITE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
_WRITE_FAULT_TEXT = re.compile(
    r"No space left on device|Disk quota exceeded|File too large|Read-only file system|disk I/O error|"
    r"\(os error (5|27|28|30|122)\)|file write failed"
)


class UserError(Exception):
    """A problem the user can fix (bad params, data, paths, no network).

    The message says what is wrong, where, and how to fix it; it is printed
    without a traceback.
    """


def run_main(main: Callable[[], None]) -> None:
    """Run a command's `main`: a UserError or a fault of the machine (a full disk, a file
    that cannot be read) is one `error:` line and exit code 2; Ctrl-C is one line and 130."""
    try:
        main()
    except UserError as error:
        _fail(str(error), 2)
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        _fail(f"{where}{error.strerror or error}", 2)
    except KeyboardInterrupt:
        _fail("interrupted (Ctrl-C): nothing was written that looks complete", 130)
    except Exception as error:
        if not _is_write_fault(error):
            raise
        _fail(f"a write failed, the disk may be full or read-only: {str(error).splitlines()[0][:300]}", 2)


def _is_write_fault(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is the machine failing to write."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in _WRITE_FAULTS or _WRITE_FAULT_TEXT.search(str(error)):
            return True
        error = error.__cause__ or error.__context__
    return False


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, reporting a bad command line as a UserError (one `error:` line)."""

    def error(self, message: str):
        raise UserError(f"{message} (see {self.prog} --help)")


def bounded_int(within: Container[int]) -> Callable[[str], int]:
    """An argparse `type`: a whole number `within` a range (a params field's Interval), or a
    one-line usage error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value not in within:
            raise argparse.ArgumentTypeError(f"{value} is not in {within}")
        return value

    return parse


def _fail(message: str, code: int) -> None:
    # Under several processes every rank meets the same mistake: rank 0 alone reports it.
    if os.environ.get("RANK", "0") == "0":
        _close_progress_bars()
        print("error: " + " ".join(message.split()), file=sys.stderr)  # one line, whatever a library said
    sys.exit(code)


def _close_progress_bars() -> None:
    """Close the bars still open (an interrupted loop's), so that none redraws after the error."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", [])):
        bar.close()
