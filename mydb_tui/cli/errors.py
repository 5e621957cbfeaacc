"""Exit codes and the one place that turns exceptions into a one-line message on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from dbengine.errors import AmbiguousDigestError, DbEngineError

from ..model.interrupt import interrupted
from .safe import safe_text

OK = 0
FOUND = 1  # differences (diff --exit-code) or problems (verify)
ERROR = 2  # usage or data errors
BROKEN_PIPE = 141  # the reader went away (`mydb log ... | head`), as a shell reports SIGPIPE


class CliError(Exception):
    """A usage or data error detected by the CLI itself: printed as one line, exit 2."""


def message_of(exc: BaseException) -> str:
    """The one-line text shown for an error."""
    if isinstance(exc, AmbiguousDigestError):
        return f"{exc} (give more hex digits to choose one)"
    if isinstance(exc, OSError) and not isinstance(exc, DbEngineError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    if isinstance(exc, RecursionError):
        return "value is nested too deeply to render"
    return str(exc) or type(exc).__name__


def fail(text: str) -> int:
    """Print `mydb: error: text` (made safe, one line) on stderr and return the error exit code."""
    line = " ".join(safe_text(text).split("\\n"))
    print(f"mydb: error: {line}", file=sys.stderr)
    return ERROR


def guarded(run: Callable[[], int]) -> int:
    """Run a command; every error becomes a one-line message and an exit code, never a traceback."""
    debug = bool(os.environ.get("MYDB_DEBUG"))
    try:
        return run()
    except KeyboardInterrupt:
        return interrupted("mydb")
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE
    except (CliError, DbEngineError, OSError, RecursionError) as exc:
        if debug:
            raise
        return fail(message_of(exc))
    except Exception as exc:  # a bug: still one line (MYDB_DEBUG=1 shows the traceback)
        if debug:
            raise
        return fail(f"internal error: {type(exc).__name__}: {exc} (set MYDB_DEBUG=1 for a traceback)")


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
