"""ChangeWatcher: the state of the app's polls of the database's change token (no Textual here).

The app polls `engine.change_token()` in a worker, one poll at a time; this class says
whether a poll may start, whether the one in flight stalls (SLOW_POLL), whether an answer
is a change made by another process, and since when the database has not answered, so
that the app only moves the results onto the screen.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from .errors import error_text

#: Seconds a poll of the change token may go unanswered before the status line says so
#: (a poll normally takes milliseconds; a silent S3 endpoint holds it up to its deadline).
SLOW_POLL = 3.0

_NOT_READ = object()  # the change token before the watcher's first answer


class ChangeWatcher:
    """One database's polls: the last token read, the poll in flight, and the trouble since when."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.token: Any = _NOT_READ
        self.started: float | None = None  # monotonic start of the poll in flight
        self.started_at: dt.datetime | None = None  # the same, local wall clock
        self.trouble_since: dt.datetime | None = None  # start of the first poll that failed or stalled

    def begin(self) -> bool:
        """Start a poll now, unless one is in flight (a stuck poll is not piled on)."""
        if self.started is not None:
            return False
        self.started = time.monotonic()
        self.started_at = dt.datetime.now().astimezone()
        return True

    def stalled(self) -> bool:
        """Whether the poll in flight has gone unanswered SLOW_POLL seconds, not yet reported."""
        return self.started is not None and self.trouble_since is None \
            and time.monotonic() - self.started >= SLOW_POLL

    def finish(self) -> dt.datetime | None:
        """The poll in flight answered (or failed): no poll in flight now; returns when it started."""
        started_at = self.started_at
        self.started = self.started_at = None
        return started_at

    def answered(self, token: Any) -> tuple[bool, bool]:
        """A poll's `token`: (recovered, changed). `recovered`: the polls had failed or stalled;
        `changed`: the token differs from the one read before (the first answer is no change)."""
        recovered = self.trouble_since is not None
        self.trouble_since = None
        first = self.token is _NOT_READ
        changed = token != self.token
        self.token = token
        return recovered, changed and not first

    def forget(self) -> None:
        """The next answer counts as a change (a reload asked by the user)."""
        self.token = None

    def trouble(self, since: dt.datetime | None, error: Exception | None) -> tuple[str, str]:
        """The database has not answered since `since` (now if None): the status line's text and reason."""
        self.trouble_since = since = since or dt.datetime.now().astimezone()
        where = "S3" if str(self.root).lower().startswith("s3://") else "database"
        state = "unreachable" if where == "S3" else "unreadable"
        reason = error_text(error) if error is not None else "no answer yet"
        return f"{where} {state} since {since:%H:%M}, retrying", reason
