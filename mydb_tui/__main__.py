"""`mydb-tui [ROOT]` / `python -m mydb_tui`: open a database in the browser.

`make_app()` is the one factory the console script, the tests and the screenshot
script share, so they all get the same defaults.

The console script never waits on the database before its UI is up: it asks whether the
root holds a database in a background thread, waits CONNECT_WAIT seconds for the answer
(so a wrong path or bucket still ends with a one-line error and no screen), and otherwise
starts the UI, which says "connecting…" until the answer comes (an S3 endpoint that
accepts connections and never answers: `q` and ctrl+c quit at once).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from .model.environment import DEFAULT_ROOT, default_root, default_user
from .model.interrupt import interrupted, leave_after_interrupt
from .model.lean_import import keep_optional_imports

if TYPE_CHECKING:  # imported where used, so ctrl+c while they load is handled by main()
    from dbengine.dbengine import DbEngine

    from .app import MyDbApp

#: Seconds the console script waits for the database's first answer before starting the UI.
CONNECT_WAIT = 0.25
#: Seconds the console script waits, after the app quit, for threads still running (see main()).
LEAVE_GRACE = 0.1
#: What `mydb-tui` needs beyond the engine: the `[tui]` extra (tree-sitter is optional: the
#: editor shows plain text without it).
TUI_MODULES = ("textual", "rich", "deepdiff")
MISSING_EXTRA = "mydb-tui: the terminal browser needs the [tui] extra: pip install 'mydbengine[tui]' (missing: {})"


def missing_tui_modules() -> list[str]:
    """The TUI_MODULES that cannot be imported (an engine-only install: `pip install mydbengine`)."""
    return [name for name in TUI_MODULES if not _importable(name)]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (blocked)
        return False


def make_app(
    root: str,
    *,
    user: str | None = None,
    read_only: bool = False,
    trust_pickle: bool = False,
    handlers_module: str | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    poll_interval: float = 1.0,
    connect_wait: float | None = None,
) -> MyDbApp:
    """Build the app on the database at `root`.

    Raises NotADatabaseError for a missing or non-database root, InvalidNameError for
    a user name the engine would refuse, and ImportError for a bad handlers module.

    With `connect_wait` (seconds), whether `root` holds a database is asked in a daemon
    thread: an answer within `connect_wait` is handled here as without it; a later one is
    awaited by the app, which shows "connecting…" meanwhile (see MyDbApp `connecting`).
    """
    from dbengine.dbengine import DbEngine
    from dbengine.names import check_user

    from .app import MyDbApp, not_a_database

    if handlers_module:
        importlib.import_module(handlers_module)
    if handlers_module or trust_pickle:
        keep_optional_imports()  # their code may import numpy or pandas while DeepDiff loads
    user = check_user(user or default_user())
    engine = DbEngine(root, clock=clock, trust_pickle=trust_pickle)
    connecting = None
    if connect_wait is None:
        if not engine.is_database():
            raise not_a_database(root)
    else:
        connecting = check_in_background(engine)
        try:
            found = connecting.result(timeout=connect_wait)
        except FutureTimeout:
            pass  # still asking: the app waits for it
        else:
            if not found:
                raise not_a_database(root)
            connecting = None
    return MyDbApp(engine, user=user, read_only=read_only, trust_pickle=trust_pickle,
                   poll_interval=poll_interval, connecting=connecting)


def check_in_background(engine: DbEngine) -> Future:
    """`engine.is_database()` run in a daemon thread (never waited for at exit): its future."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(engine.is_database())
        except BaseException as error:  # the future carries any failure to whoever waits
            future.set_exception(error)

    threading.Thread(target=run, name="mydb-connect", daemon=True).start()
    return future


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mydb-tui", description="Browse, compare, restore and edit versions of a MyDbEngine database."
    )
    parser.add_argument("root", nargs="?", default=None, metavar="ROOT",
                        help=f"database folder, or s3://bucket/prefix (default: $MYDB_ROOT, else {DEFAULT_ROOT})")
    parser.add_argument("--user", help="user name for writes (default: your login name)")
    parser.add_argument("--read-only", action="store_true", help="browse only: no write actions")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow decoding pickled values (only for databases you trust)")
    parser.add_argument("--handlers", metavar="MODULE",
                        help="import MODULE first, so its registered handlers can decode custom types")
    parser.add_argument("--demo", metavar="PATH",
                        help="build a demo database at PATH (if it is not there yet) and open it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """The console script (`argv` None: sys.argv). Exit status 0, 2 on an error (one line
    on stderr; also when the [tui] extra is not installed), 130 when interrupted before the UI took the terminal ("mydb-tui:
    interrupted", as the CLI); once it has, ctrl+c quits like `q` (status 0)."""
    missing = missing_tui_modules()
    if missing:
        print(MISSING_EXTRA.format(", ".join(missing)), file=sys.stderr)
        return 2
    ran: list[MyDbApp] = []
    try:
        status = _main(argv, ran)
    except KeyboardInterrupt:  # ctrl+c before the app took the terminal (or after it): as the CLI
        status = interrupted("mydb-tui")
    status = leave_after_interrupt(status, console=argv is None)
    if ran and argv is None:
        _leave_stuck_threads(ran[0], status)
    return status


def _leave_stuck_threads(app: MyDbApp, status: int) -> None:
    """End the process now if threads are still running once the app has quit.

    The app's own workers are daemon threads that exit does not wait for (see
    worker_pool.DaemonThreadPool), and so are the engine's parallel reads (`dbengine.pool`); this is
    the safety net for any other thread (a ThreadPoolExecutor's threads are joined at
    exit: one stuck in a request to a silent S3 endpoint held the process until its
    deadline after `q`). They get LEAVE_GRACE seconds; then, the terminal restored and
    the output flushed, the process ends without them. Only a caller passing no argv
    (the console script, `python -m mydb_tui`: never a test's process) is ended this way.
    """
    deadline = time.monotonic() + LEAVE_GRACE
    for thread in _other_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    if _other_threads():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)


def _other_threads() -> list[threading.Thread]:
    """Threads other than the main one still running."""
    return [thread for thread in threading.enumerate()
            if thread is not threading.main_thread() and thread.is_alive()]


def _main(argv: list[str] | None, ran: list[MyDbApp]) -> int:
    from dbengine.errors import DbEngineError

    args = parse_args(argv)
    root = args.root if args.root is not None else default_root()
    if args.demo:
        from .demo import build_demo

        try:
            build_demo(args.demo)
        except (DbEngineError, OSError) as error:
            print(f"mydb-tui: cannot build the demo database at {args.demo!r}: {error}", file=sys.stderr)
            return 2
        root = args.demo
    if args.handlers:
        try:
            importlib.import_module(args.handlers)
        except Exception as error:  # the user's module: any failure is reported, not raised
            print(f"mydb-tui: cannot import handlers module {args.handlers!r}: {error}", file=sys.stderr)
            return 2
    try:
        app = make_app(root, user=args.user, read_only=args.read_only,
                       trust_pickle=args.trust_pickle, handlers_module=args.handlers,
                       connect_wait=CONNECT_WAIT)
    except DbEngineError as error:  # first: a missing boto3 (s3:// root) is also an ImportError
        print(f"mydb-tui: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"mydb-tui: cannot import handlers module {args.handlers!r}: {error}", file=sys.stderr)
        return 2
    ran.append(app)
    app.run()
    if app.startup_error is not None:  # the database's first answer came after the UI started
        print(f"mydb-tui: {app.startup_error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
