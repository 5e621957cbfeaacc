"""The argument parser: global options (accepted before or after the command) and subcommands."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

DEFAULT_ROOT = ".mytools_db"

EPILOG = """\
A REV is a full digest, a unique prefix of 4+ hex digits, HEAD, or HEAD~N.
Exit codes: 0 ok, 1 differences (diff --exit-code) or problems (verify), 2 usage or data error.
Output is a rich table / highlighted JSON on a terminal, plain text when piped; --json gives
a stable JSON shape (see docs/CLI.md)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit 2), like every other error."""

    def error(self, message: str):  # type: ignore[override]
        from .errors import ERROR, fail

        fail(f"{message} (see '{self.prog} --help')")
        raise SystemExit(ERROR)


def default_user() -> str:
    """The login name, or "unknown" when the system cannot tell."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no $USER and no passwd entry (containers)
        return "unknown"


def _add_globals(parser: argparse.ArgumentParser, suppress: bool) -> None:
    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--root", metavar="PATH", default=default(None),
                        help=f"database folder (default: $MYDB_ROOT, else {DEFAULT_ROOT})")
    parser.add_argument("--user", metavar="NAME", default=default(None),
                        help="user recorded on new versions (default: your login name)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print the result as JSON (stable shapes, see docs/CLI.md)")
    parser.add_argument("--trust-pickle", action="store_true", default=default(False),
                        help="unpickle use_refs fields when showing values (only for databases you trust)")


def build_parser() -> argparse.ArgumentParser:
    """The `mydb` parser; `args.command` names the subcommand."""
    parser = Parser(
        prog="mydb", description="Browse, compare, back up and edit a MyDbEngine database.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_globals(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    common = Parser(add_help=False)
    _add_globals(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, parents=[common])

    command("tenants", "list the tenants and their number of entries")
    p = command("entries", "list a tenant's entries: kind, versions, head")
    p.add_argument("tenant")
    p = command("log", "versions of an entry, newest first")
    p.add_argument("tenant")
    p.add_argument("entry")
    p.add_argument("-n", "--max-count", type=_positive, metavar="N", help="show at most N versions")
    p = command("show", "the value of a version (default HEAD) as JSON; --raw: the stored document")
    p.add_argument("tenant")
    p.add_argument("entry")
    p.add_argument("rev", nargs="?", default="HEAD")
    p.add_argument("--raw", action="store_true", help="the stored document with its metadata, nothing decoded")
    p = command("diff", "key-level changes: HEAD vs its parent, REV vs HEAD, or A vs B")
    p.add_argument("tenant")
    p.add_argument("entry")
    p.add_argument("revs", nargs="*", metavar="REV", help="none, one (compared with HEAD) or two")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes")
    p = command("restore", "make an old version's content the new HEAD (history is kept)")
    p.add_argument("tenant")
    p.add_argument("entry")
    p.add_argument("rev")
    p = command("put", "add or update one record of a record entry (JSON value)")
    p.add_argument("tenant")
    p.add_argument("entry")
    p.add_argument("key")
    p.add_argument("value", metavar="JSON")
    p = command("save", "save a JSON document (FILE, or - for stdin) as a snapshot entry's new version")
    p.add_argument("tenant")
    p.add_argument("entry")
    p.add_argument("file", metavar="FILE")
    p = command("verify", "check every object, ref, head and index; exit 1 when damaged")
    p.add_argument("tenant", nargs="?")
    p = command("export", "write a tenant (or one entry) as JSON Lines to stdout")
    p.add_argument("tenant")
    p.add_argument("entry", nargs="?")
    p = command("import", "import a JSON Lines export (FILE, or - for stdin); digests are kept")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--tenant", dest="into", metavar="NAME", help="import into this tenant (default: the exported one)")
    p = command("demo", "build the demo database at PATH (if it does not exist yet)")
    p.add_argument("path")
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line and fill the environment-dependent defaults."""
    args = build_parser().parse_args(argv)
    if args.root is None:
        args.root = os.environ.get("MYDB_ROOT") or DEFAULT_ROOT
    if args.user is None:
        args.user = default_user()
    return args


def _positive(text: str) -> int:
    digits = text.strip().lstrip("+").lstrip("0") or "0"
    if digits.isdecimal() and digits.isascii() and len(digits) > 18:
        return sys.maxsize  # more than any entry holds: all of them
    try:
        value = int(text)
    except ValueError:
        shown = text if len(text) <= 40 else text[:20] + "…"
        raise argparse.ArgumentTypeError(f"not a number: {shown!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mydbengine")
    except Exception:
        return "unknown"
