"""`mydb`: the command line of MyDbEngine, for scripts, backups and pipelines (see docs/CLI.md)."""

from __future__ import annotations

from ..model.interrupt import interrupted, leave_after_interrupt, run_interruptibly


def main(argv: list[str] | None = None) -> int:
    """Run `mydb` with `argv` (default: sys.argv[1:]) and return its exit code.

    The commands load here, inside the ctrl+c guard: an interrupt while they import is
    "mydb: interrupted" (status 130) as one while they run, never a traceback. The command
    runs in a worker thread (`run_interruptibly`), so ctrl+c ends a wait on the network at once.
    """
    try:
        from .dispatch import run

        status = run_interruptibly(lambda: run(argv))
    except KeyboardInterrupt:
        status = interrupted("mydb")
    return leave_after_interrupt(status, console=argv is None)


__all__ = ["main"]
