"""The argument parser: global options (accepted before or after the command) and subcommands."""

from __future__ import annotations

import argparse
import sys

from mydb_tui.model.environment import DEFAULT_ROOT, default_root, default_user

EPILOG = """\
Start with:  mydb demo .demo_db  then  mydb --root .demo_db tenants
`mydb COMMAND --help` describes a command's arguments, with examples.
A REV is a full digest, a unique prefix of 4+ hex digits, HEAD, or HEAD~N.
Dates are in local time (--utc: in UTC): `2026-06-25 04:08 +0000` on a terminal,
ISO 8601 with the offset (`2026-06-25T04:08:00+00:00`) when piped and in --json.
Exit codes: 0 ok, 1 differences (diff --exit-code) or problems (verify), 2 usage or data error
(`mydb` alone prints this help and exits 2).
Output is a rich table / highlighted JSON on a terminal, plain text when piped; --json gives
a stable JSON shape (see docs/CLI.md)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit 2), like every other error."""

    def error(self, message: str):  # type: ignore[override]
        from .errors import ERROR, fail

        fail(f"{message} (see '{self.prog} --help')")
        raise SystemExit(ERROR)


class _VersionAction(argparse.Action):
    """`--version`: the installed version, looked up only when asked (importlib.metadata
    costs ~40 ms of every command's start otherwise)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show program's version number and exit", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        sys.stdout.write(f"{parser.prog} {_version()}\n")
        parser.exit()


def _add_globals(parser: argparse.ArgumentParser, suppress: bool) -> None:
    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--root", metavar="PATH", default=default(None),
                        help=f"database folder (default: $MYDB_ROOT, else {DEFAULT_ROOT})")
    parser.add_argument("--user", metavar="NAME", default=default(None),
                        help="user recorded on new versions (default: your login name)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print the result as JSON (stable shapes, see docs/CLI.md)")
    parser.add_argument("--utc", action="store_true", default=default(False),
                        help="show dates in UTC (default: local time, as the TUI)")
    parser.add_argument("--trust-pickle", action="store_true", default=default(False),
                        help="unpickle use_refs fields when showing values (only for databases you trust)")


#: Per command: (one-line help, examples shown at the end of its --help).
EXAMPLES = {
    "tenants": "mydb --root .demo_db tenants\n"
               "  mydb tenants --json",
    "entries": "mydb entries acme-corp   # one tenant's entries\n"
               "  mydb entries             # every tenant's entries",
    "log": "mydb log acme-corp users\n"
           "  mydb log acme-corp users -n 5 --json\n"
           "  mydb log acme-corp users --key user-0001        # where one record changed\n"
           "  mydb log acme-corp app-config --path /db/port   # where one value changed\n"
           "  mydb log acme-corp users -S Lyon                # where 'Lyon' came or went\n"
           "  mydb log acme-corp users --user alice --since 2026-03-01",
    "blame": "mydb blame acme-corp users                 # every record's last change\n"
             "  mydb blame acme-corp users user-0001 user-0002 --json\n"
             "  mydb blame acme-corp app-config            # every value of a snapshot",
    "search": "mydb search acme-corp Lyon                # every entry of the tenant\n"
              "  mydb search acme-corp users Lyon -S       # where the count of 'Lyon' changed\n"
              "  mydb search acme-corp users Lyon --json | head",
    "show": "mydb show acme-corp app-config                # HEAD's value\n"
            "  mydb show acme-corp app-config HEAD~2         # two versions before HEAD\n"
            "  mydb show acme-corp users --key user-0001     # one record (as `mydb get`)\n"
            "  mydb show acme-corp app-config a12c --raw     # the stored document",
    "get": "mydb get acme-corp users user-0001\n"
           "  mydb get acme-corp users user-0001 HEAD~1 --json",
    "diff": "mydb diff acme-corp users                     # HEAD vs its parent\n"
            "  mydb diff acme-corp users HEAD~3              # HEAD~3 vs HEAD\n"
            "  mydb diff acme-corp users a12c 9f3e --exit-code",
    "restore": "mydb restore acme-corp app-config HEAD~1\n"
               "  mydb restore acme-corp app-config a12c70f --user alice\n"
               "  mydb restore acme-corp users HEAD~3 --key user-0001      # one record\n"
               "  mydb restore acme-corp app-config @{2026-03-01} --path /db/port",
    "put": "mydb put acme-corp users user-0100 '{\"name\": \"Ada\", \"city\": \"Lyon\"}'",
    "save": "mydb save acme-corp app-config settings.json\n"
            "  echo '{\"debug\": true}' | mydb save acme-corp app-config -",
    "verify": "mydb verify\n"
              "  mydb verify acme-corp --json",
    "checkpoint": "mydb checkpoint && aws s3 sync .mytools_db s3://bucket/prefix\n"
                  "  mydb checkpoint acme-corp --json",
    "export": "mydb export acme-corp > acme.jsonl\n"
              "  mydb export acme-corp users > users.jsonl",
    "import": "mydb --root copy_db import acme.jsonl\n"
              "  mydb import acme.jsonl --tenant acme-test",
    "demo": "mydb demo .demo_db && mydb --root .demo_db tenants",
}

TENANT = "tenant name (`mydb tenants` lists them)"
ENTRY = "entry name (`mydb entries TENANT` lists them)"
REV = "a version: full digest, unique prefix of 4+ hex digits, HEAD, HEAD~N or @{DATE} (the HEAD at that date)"


def build_parser() -> argparse.ArgumentParser:
    """The `mydb` parser; `args.command` names the subcommand (None when none was given)."""
    parser = Parser(
        prog="mydb", description="Browse, compare, back up and edit a MyDbEngine database.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_globals(parser, suppress=False)
    parser.add_argument("--version", action=_VersionAction)
    common = Parser(add_help=False)
    _add_globals(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        examples = EXAMPLES[name]
        epilog = ("examples:" if "\n" in examples else "example:") + "\n  " + examples
        return sub.add_parser(name, help=text, description=text, parents=[common], epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    command("tenants", "list the tenants and their number of entries")
    p = command("entries", "list a tenant's entries (every tenant's without TENANT): kind, versions, head")
    p.add_argument("tenant", metavar="TENANT", nargs="?", help=TENANT + "; omitted: every tenant")
    p = command("log", "versions of an entry, newest first")
    p.add_argument("tenant", metavar="TENANT", help=TENANT)
    p.add_argument("entry", metavar="ENTRY", help=ENTRY)
    p.add_argument("-n", "--max-count", type=_positive, metavar="N", help="show at most N versions")
    p.add_argument("--key", metavar="KEY", help="only the versions where record KEY was added, changed or removed")
    p.add_argument("--path", metavar="POINTER",
                   help="only the versions where the value at POINTER (JSON Pointer, e.g. /db/port) changed; "
                        "with --key, inside that record")
    p.add_argument("-S", dest="pickaxe", metavar="TEXT",
                   help="only the versions where the number of occurrences of TEXT in a record or value changed")
    _add_filters(p, "versions")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when no version is shown")
    p = command("blame", "each record (or each value of a snapshot) and the version that last changed it")
    p.add_argument("tenant", metavar="TENANT", help=TENANT)
    p.add_argument("entry", metavar="ENTRY", help=ENTRY)
    p.add_argument("keys", nargs="*", metavar="KEY",
                   help="only these records (or JSON Pointers in a snapshot); default: all")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when nothing is listed")
    p = command("search", "search the history for TEXT; hits are printed as they are found")
    p.add_argument("tenant", metavar="TENANT", help=TENANT)
    p.add_argument("words", nargs="+", metavar="[ENTRY] TEXT",
                   help="an entry (default: every entry of the tenant) and the text to look for")
    p.add_argument("-S", dest="pickaxe", action="store_true",
                   help="pickaxe: only where the number of occurrences of TEXT changed (git log -S)")
    _add_filters(p, "hits")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when nothing is found")
    p = command("show", "the value of a version (default HEAD) as JSON; --key: one record; "
                        "--raw: the stored form")
    p.add_argument("tenant", metavar="TENANT", help=TENANT)
    p.add_argument("entry", metavar="ENTRY", help=ENTRY)
    p.add_argument("rev", nargs="?", default="HEAD", metavar="REV", help=REV + " (default HEAD)")
    p.add_argument("--key", metavar="KEY", help="only this record of a record entry (as `mydb get`)")
    p.add_argument("--raw", action="store_true", help="the stored document with its metadata, nothing decoded")
    p = command("get", "one record of a record entry as JSON, at HEAD or at REV")
    p.add_argument("tenant", metavar="TENANT", help=TENANT)
    p.add_argument("entry", metavar="ENTRY", help=ENTRY + "; a record entry")
    p.add_argument("key", metavar="KEY", help="the record's key (`mydb show TENANT ENTRY` shows them all)")
    p.add_argument("rev", nargs="?", default="HEAD", metavar="REV", help=REV + " (default HEAD)")
    p.add_argument("--raw", action="store_true", help="the record as stored, nothing decoded")
    p = command("diff", "key-level changes: HEAD vs its parent, REV vs HEAD, or A vs B")
    p.add_argument("tenant", metavar="TENANT", help=TENANT)
    p.add_argument("entry", metavar="ENTRY", help=ENTRY)
    p.add_argument("revs", nargs="*", metavar="REV", help="none, one (compared with HEAD) or two; " + REV)
    p.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes")
    p = command("restore", "make an old version's content the new HEAD (history is kept)")
    p.add_argument("tenant", metavar="TENANT", help=TENANT)
    p.add_argument("entry", metavar="ENTRY", help=ENTRY)
    p.add_argument("rev", metavar="REV", help="the version to bring back: " + REV)
    p.add_argument("--key", metavar="KEY", help="bring back only record KEY (removed if REV did not have it)")
    p.add_argument("--path", metavar="POINTER",
                   help="bring back only the value at POINTER (JSON Pointer; with --key, inside that record)")
    p = command("put", "add or update one record of a record entry (JSON value)")
    p.add_argument("tenant", metavar="TENANT", help="tenant name (created if it does not exist)")
    p.add_argument("entry", metavar="ENTRY", help="record entry name (created if it does not exist)")
    p.add_argument("key", metavar="KEY", help="the record's key")
    p.add_argument("value", metavar="JSON", help="the record's value as JSON (quote it for the shell)")
    p = command("save", "save a JSON document (FILE, or - for stdin) as a snapshot entry's new version")
    p.add_argument("tenant", metavar="TENANT", help="tenant name (created if it does not exist)")
    p.add_argument("entry", metavar="ENTRY", help="snapshot entry name (created if it does not exist)")
    p.add_argument("file", metavar="FILE", help="a JSON file, or - for standard input")
    p = command("verify", "check every object, ref, head and index; exit 1 when damaged")
    p.add_argument("tenant", metavar="TENANT", nargs="?", help=TENANT + "; omitted: the whole database")
    p = command("checkpoint", "give durable commits' objects their files (before copying the folder)")
    p.add_argument("tenant", metavar="TENANT", nargs="?", help=TENANT + "; omitted: every tenant")
    p = command("export", "write a tenant (or one entry) as JSON Lines to stdout")
    p.add_argument("tenant", metavar="TENANT", help=TENANT)
    p.add_argument("entry", metavar="ENTRY", nargs="?", help=ENTRY + "; omitted: every entry of the tenant")
    p = command("import", "import a JSON Lines export (FILE, or - for stdin); digests are kept")
    p.add_argument("file", metavar="FILE", help="a file written by `mydb export`, or - for standard input")
    p.add_argument("--tenant", dest="into", metavar="NAME", help="import into this tenant (default: the exported one)")
    p = command("demo", "build the demo database at PATH (if it does not exist yet)")
    p.add_argument("path", metavar="PATH", help="a folder that does not exist yet (or is empty)")
    return parser


def _add_filters(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--since", metavar="DATE", help=f"only {what} dated at or after DATE (ISO 8601; local time)")
    p.add_argument("--until", metavar="DATE", help=f"only {what} dated at or before DATE (ISO 8601; local time)")
    p.epilog = (p.epilog or "") + f"\n\n--user USER here keeps only the {what} written by USER."


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line and fill the environment-dependent defaults; with no command,
    the help goes to stdout and the exit code is 2 (a usage error, as argparse's)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        raise SystemExit(2)
    if args.root is None:
        args.root = default_root()
    if args.command in ("log", "search"):  # read-only: --user filters by author
        args.who = args.user
    if args.command == "search":
        if len(args.words) > 2:
            parser.error("search takes [ENTRY] TEXT: quote a TEXT with spaces")
        args.entry, args.text = (None, *args.words) if len(args.words) == 1 else args.words
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
