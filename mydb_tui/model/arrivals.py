"""Arrivals: the versions other writers saved, as the app announces them (no Textual here).

The watcher reloads the shown entry's history when the database changes; its new versions
that this app did not write are "arrivals". The newest one is where H goes until the user
has been there, and a busy writer gets one toast per TOAST_GAP seconds that counts every
version since the last one ("bob saved config 12 times, last 1 s ago").
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

#: Seconds between two "alice saved config" toasts: a busy writer's versions are counted in one.
TOAST_GAP = 5.0


class Arrivals:
    """Own writes (not announced), the newest other writer's version, and those not yet in a toast."""

    def __init__(self) -> None:
        #: Versions this app wrote (the watcher does not announce them as another writer's).
        self.own: set[str] = set()
        #: (tenant, entry, digest) of the newest version another writer saved, until the user goes there.
        self.newest: tuple[str, str, str] | None = None
        self.pending: list = []  # their versions not yet in a toast, newest first
        self.last_toast = -TOAST_GAP  # monotonic time of the last such toast

    def note_own(self, digest: str | None) -> None:
        """A version this app wrote (from any thread): not announced as another writer's."""
        if digest:
            self.own.add(digest)

    def theirs(self, versions: Iterable[Any]) -> list:
        """Of the new `versions` (newest first), those this app did not write."""
        return [v for v in versions if v.digest not in self.own]

    def add(self, tenant: str, entry: str, theirs: list, newest: str) -> bool:
        """Their versions arrived in the entry, `newest` its new HEAD; True when one was already
        waiting (else H comes into the footer). Those of another entry no longer count."""
        if self.newest is None or self.newest[:2] != (tenant, entry):
            self.pending = []
        self.pending = theirs + self.pending
        had = self.newest is not None
        self.newest = (tenant, entry, newest)
        return had

    def toast_wait(self) -> float:
        """Seconds until the next toast may show (<= 0: now)."""
        return TOAST_GAP - (time.monotonic() - self.last_toast)

    def take(self) -> list:
        """The versions for a toast now (newest first); none are pending after it."""
        pending, self.pending = self.pending, []
        return pending

    def toasted(self) -> None:
        """A toast showed now: the next waits TOAST_GAP seconds."""
        self.last_toast = time.monotonic()

    def seen(self) -> None:
        """The user went to the newest version (or wrote on top of it): nothing waits now."""
        self.newest = None
        self.pending = []
