"""One kind of error for a user's mistake, and the entry point that reports it."""

import os
import sys
from collections.abc import Callable


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
