"""`mydb`'s commands by name, and the run of one: parse, dispatch, map errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .args import parse
from .commands import diff, history, maint, read, write
from .context import Context
from .errors import guarded

COMMANDS: dict[str, Callable[[Context], int]] = {
    "tenants": read.tenants,
    "entries": read.entries,
    "log": lambda ctx: history.log(ctx) if history.filtered(ctx) else read.log(ctx),
    "blame": history.blame,
    "search": history.search,
    "show": read.show,
    "get": read.get,
    "diff": diff.diff,
    "restore": write.restore,
    "put": write.put,
    "save": write.save,
    "verify": maint.verify,
    "checkpoint": maint.checkpoint,
    "export": maint.export,
    "import": maint.import_,
    "demo": maint.demo,
}


def run(argv: list[str] | None = None) -> int:
    """Run `mydb` with `argv` (default: sys.argv[1:]) and return its exit code."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass

    def command() -> int:
        args = parse(argv)
        return COMMANDS[args.command](Context(args))

    return guarded(command)
