"""`mydb-tui [ROOT]` / `python -m mydb_tui`: open a database in the browser.

`make_app()` is the one factory the console script, the tests and the screenshot
script share, so they all get the same defaults.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import importlib
import os
import sys
from collections.abc import Callable

from dbengine.dbengine import DbEngine
from dbengine.errors import DbEngineError, NotADatabaseError
from dbengine.names import check_user

from .app import MyDbApp
from .model.lean_import import keep_optional_imports


def default_user() -> str:
    """The login name (the user every write is made as, unless --user says otherwise)."""
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER") or "user"


def make_app(
    root: str,
    *,
    user: str | None = None,
    read_only: bool = False,
    trust_pickle: bool = False,
    handlers_module: str | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    poll_interval: float = 1.0,
) -> MyDbApp:
    """Build the app on the database at `root`.

    Raises NotADatabaseError for a missing or non-database root, InvalidNameError for
    a user name the engine would refuse, and ImportError for a bad handlers module.
    """
    if handlers_module:
        importlib.import_module(handlers_module)
    if handlers_module or trust_pickle:
        keep_optional_imports()  # their code may import numpy or pandas while DeepDiff loads
    user = check_user(user or default_user())
    engine = DbEngine(root, clock=clock, trust_pickle=trust_pickle)
    if not engine.is_database():
        raise NotADatabaseError(f"{root!r} is not a MyDbEngine database (no refs/ folder or tenant)")
    return MyDbApp(engine, user=user, read_only=read_only, trust_pickle=trust_pickle,
                   poll_interval=poll_interval)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mydb-tui", description="Browse, compare, restore and edit versions of a MyDbEngine database."
    )
    parser.add_argument("root", nargs="?", default=".mytools_db", metavar="ROOT",
                        help="database folder, or s3://bucket/prefix (default: .mytools_db)")
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
    try:
        return _main(argv)
    except KeyboardInterrupt:  # ctrl+c before the app took the terminal (or after it): no traceback
        return 130


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    root = args.root
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
                       trust_pickle=args.trust_pickle, handlers_module=args.handlers)
    except DbEngineError as error:  # first: a missing boto3 (s3:// root) is also an ImportError
        print(f"mydb-tui: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"mydb-tui: cannot import handlers module {args.handlers!r}: {error}", file=sys.stderr)
        return 2
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
