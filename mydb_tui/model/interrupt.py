"""How `mydb` and `mydb-tui` end after ctrl+c: one line on stderr and exit status 130."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Seconds the main thread waits at a time for work running in its worker (see `run_interruptibly`).
WAIT_SLICE = 0.1

#: The exit status after ctrl+c, as a shell reports a process ended by SIGINT (128 + 2).
INTERRUPTED = 130


def interrupted(program: str) -> int:
    """Say `PROGRAM: interrupted` on stderr; the exit status to return (INTERRUPTED)."""
    print(f"{program}: interrupted", file=sys.stderr)
    return INTERRUPTED


def leave_after_interrupt(status: int, *, console: bool) -> int:
    """`status`, unless a console process was interrupted: that one ends here with it.

    CPython (3.11-3.13) flags a KeyboardInterrupt that leaves an exec() or eval() of source
    text as unhandled even when a caller catches it, and then ends the process by SIGINT
    instead of with its status. Imports do that often (dataclasses and namedtuple build
    their methods that way), so a ctrl+c while `mydb` or `mydb-tui` starts ended by signal
    one time in ten. `os._exit` skips that last step; output is flushed first. Only the
    console scripts (`console`: called with no argv, never a test's own process) end so.
    """
    if status != INTERRUPTED or not console:
        return status
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or broken stream: nothing more to say
            pass
    os._exit(status)


def run_interruptibly(work: Callable[[], T]) -> T:
    """`work()`'s result (or its exception), computed in a daemon thread while the main
    thread waits in WAIT_SLICE slices, so that ctrl+c always ends the wait at once.

    A SIGINT that lands just before the main thread enters a blocking system call (a
    socket read from a silent S3 endpoint) is handled only when that call returns, which
    can be the S3 deadline (30 s) later; a wait of one slice is all it can delay here.
    Outside the main thread `work` runs in place. On ctrl+c the worker is left running
    (daemon): the console script ends at once (`leave_after_interrupt`), and engine
    writes are crash-safe.
    """
    if threading.current_thread() is not threading.main_thread():
        return work()
    outcome: list[tuple[bool, object]] = []

    def target() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as error:  # SystemExit (argparse) too: raised again in the main thread
            outcome.append((False, error))

    worker = threading.Thread(target=target, name="mydb-command", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(WAIT_SLICE)
    done, value = outcome[0]
    if done:
        return value  # type: ignore[return-value]
    raise value  # type: ignore[misc]
