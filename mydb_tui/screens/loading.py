"""The one way the dialogs and screens load: the work in a thread, its result on the UI thread.

Compare, restore, verify, the editor and the add-record dialog each read or write the
database, which may take seconds (a large comparison, a slow disk, S3). `load_in_worker`
runs that work in a thread worker, then calls `show(result)` or `failed(error)` on the UI
thread and hides the loading indicator either way; nothing arrives once the worker was
cancelled or the screen was closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.dom import DOMNode
from textual.worker import Worker, get_current_worker

T = TypeVar("T")


def load_in_worker(
    node: DOMNode,
    compute: Callable[[], T],
    show: Callable[[T], Any],
    failed: Callable[[Exception], Any],
    *,
    group: str,
    indicator: str | None = None,
) -> Worker[None]:
    """Run `compute()` in a thread worker of `node` (one at a time per `group`: a new one
    cancels the last), then `show` its result or `failed` its exception on the UI thread,
    with the widget matching `indicator` (a selector in `node`) hidden first."""

    def finish(callback: Callable[[Any], Any], value: Any) -> None:
        if not node.is_attached:
            return
        if indicator is not None:
            node.query_one(indicator).display = False
        callback(value)

    def run() -> None:
        worker = get_current_worker()
        try:
            result = compute()
        except Exception as error:  # any failure is shown where the work was asked; the app goes on
            if not worker.is_cancelled:
                node.app.call_from_thread(finish, failed, error)
            return
        if not worker.is_cancelled:
            node.app.call_from_thread(finish, show, result)

    return node.run_worker(run, thread=True, exclusive=True, group=group)
