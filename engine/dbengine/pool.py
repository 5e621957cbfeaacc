"""A small map over daemon threads, for network reads the engine runs side by side.

`concurrent.futures.ThreadPoolExecutor` joins its threads when the interpreter exits, so
one request stuck on a silent endpoint holds up the exit of every tool that made it.
These threads are daemons nobody waits for, and the first error stops the items not
started yet instead of letting each run into its own timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def daemon_map(function: Callable[[Any], Any], items: Sequence[Any], workers: int, name: str = "mydb-read") -> list:
    """`[function(item) for item in items]`, run on up to `workers` daemon threads, in order.

    The first exception (in item order among those that ran) is raised once every started
    item has finished; items not started yet by then are skipped.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    results: list = [None] * len(items)
    errors: dict[int, BaseException] = {}
    lock = threading.Lock()
    cursor = iter(range(len(items)))
    done = threading.Event()
    running = [min(workers, len(items))]

    def work() -> None:
        try:
            while True:
                with lock:
                    if errors:
                        return
                    index = next(cursor, None)
                if index is None:
                    return
                try:
                    results[index] = function(items[index])
                except BaseException as exc:  # handed to the caller below
                    with lock:
                        errors[index] = exc
        finally:
            with lock:
                running[0] -= 1
                if running[0] == 0:
                    done.set()

    for number in range(running[0]):
        threading.Thread(target=work, name=f"{name}-{number}", daemon=True).start()
    done.wait()
    if errors:
        raise errors[min(errors)]
    return results
