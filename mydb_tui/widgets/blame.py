"""Who last changed the values on screen: asked of the engine off the UI thread.

The value tree's gutter and the record table's "last changed" column both show it. They
say which keys are on screen (`blame_keys`) and what they show (`blame_source`); this
mixin asks `engine.blame` for the keys not asked yet, 50 ms after scrolling or loading
settles, in a worker, and keeps the answers in `blame`.
"""

from __future__ import annotations

from typing import Any

from ..model.escape import display_safe


class BlameAsking:
    """Mixin for a Widget with an `engine`: `blame` maps a key (a JSON Pointer, a record key)
    to the Version that last changed it (None: not found) in `blame_source()`."""

    engine: Any

    def init_blame(self) -> None:
        """Start with blame off and nothing asked (call from `__init__`)."""
        self.blame_on = False
        self.blame: dict[str, Any] = {}
        self._blame_of: tuple | None = None  # (tenant, entry, digest) `blame` is about
        self._blame_asked: set[str] = set()
        self._blame_timer: Any = None

    def blame_source(self) -> tuple[str, str, str] | None:
        """(tenant, entry, digest) the widget shows, or None when it shows no version."""
        raise NotImplementedError

    def blame_keys(self) -> list[str]:
        """The keys on screen."""
        raise NotImplementedError

    def blame_arrived(self) -> None:
        """Answers came for the keys on screen: draw them."""
        raise NotImplementedError

    def blame_stopped(self) -> None:
        """Blame failed and was turned off: draw the widget without it."""
        raise NotImplementedError

    def forget_blame(self, source: tuple | None) -> None:
        """Drop the answers unless they are about `source` (a new version is shown)."""
        if source != self._blame_of:
            self._blame_of, self.blame, self._blame_asked = source, {}, set()

    def schedule_blame(self) -> None:
        """Ask for the blame of the keys on screen once scrolling or loading settles (50 ms)."""
        if self._blame_timer is not None:
            self._blame_timer.stop()
        self._blame_timer = self.set_timer(0.05, self._request_blame)  # type: ignore[attr-defined]

    def _request_blame(self) -> None:
        self._blame_timer = None
        source = self.blame_source()
        if not self.blame_on or source is None:
            return
        self.forget_blame(source)
        wanted = [key for key in self.blame_keys() if key not in self._blame_asked]
        if not wanted:
            return
        self._blame_asked.update(wanted)
        engine, app = self.engine, self.app  # type: ignore[attr-defined]

        def blame() -> None:
            try:
                found: dict[str, Any] = engine.blame(source[0], source[1], source[2], keys=wanted)
            except Exception as error:  # an engine error: said once, the keys show no answer
                app.call_from_thread(self._blame_failed, source, wanted, error)
                return
            app.call_from_thread(self._blamed, source, {key: found.get(key) for key in wanted})

        self.run_worker(blame, thread=True, group="blame")  # type: ignore[attr-defined]

    def _blamed(self, source: tuple, found: dict[str, Any]) -> None:
        if source == self._blame_of:
            self.blame.update(found)
            self.blame_arrived()

    def _blame_failed(self, source: tuple, wanted: list[str], error: Exception) -> None:
        if source == self._blame_of:
            self._blame_asked.difference_update(wanted)
            self.blame_on = False
            self.blame_stopped()
            self.notify(display_safe(f"Blame failed: {error}"), severity="error", markup=False)  # type: ignore[attr-defined]
