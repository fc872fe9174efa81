"""One kind of error for a user's mistake, and the entry point that reports it."""

import sys
from collections.abc import Callable


class UserError(Exception):
    """A problem the user can fix (bad params, data, paths, no network).

    The message says what is wrong, where, and how to fix it; it is printed
    without a traceback.
    """


def run_main(main: Callable[[], None]) -> None:
    """Run a stage's `main`, turning a UserError into one line and exit code 2."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
