"""A loading indicator that appears only when loading takes a noticeable time.

Mounting Textual's LoadingIndicator re-lays out the screen; for the many loads that
finish in a few milliseconds (moving the cursor through versions) that would cost
more than the load itself, so the indicator waits `LOADING_DELAY` first.
"""

from __future__ import annotations

from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import LoadingIndicator


class CalmLoadingIndicator(LoadingIndicator):
    """Textual's loading indicator, redrawn 4 times a second instead of 16.

    Each redraw takes the GIL from the worker doing the load: at 16 frames a second,
    loading a 100,000-record table took 0.5 s instead of 0.3 s.
    """

    FRAME_SECONDS = 0.25

    @property
    def auto_refresh(self) -> float | None:
        return Widget.auto_refresh.fget(self)

    @auto_refresh.setter
    def auto_refresh(self, interval: float | None) -> None:
        Widget.auto_refresh.fset(self, None if interval is None else max(interval, self.FRAME_SECONDS))


class DelayedLoading:
    """Mixin for widgets: show_loading() / hide_loading() around a worker's load."""

    LOADING_DELAY = 0.15
    _loading_timer: Timer | None = None
    _loading_token: object | None = None

    def get_loading_widget(self) -> Widget:
        return CalmLoadingIndicator()

    def show_loading(self) -> None:
        if self._loading_timer is None and not self.loading:
            token = self._loading_token = object()
            self._loading_timer = self.set_timer(self.LOADING_DELAY, lambda: self._loading_on(token))

    def _loading_on(self, token: object) -> None:
        # A timer that fired while the UI thread was busy may run after hide_loading()
        # stopped it: only the load still pending may turn the indicator on.
        if token is not self._loading_token:
            return
        self._loading_timer = None
        self.loading = True

    def hide_loading(self) -> None:
        self._loading_token = None
        if self._loading_timer is not None:
            self._loading_timer.stop()
            self._loading_timer = None
        if self.loading:
            self.loading = False
