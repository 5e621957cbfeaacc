"""Issue 15 §2: the screens' one load helper runs the work off the UI thread, then shows
the result or the error on it, the loading indicator hidden either way."""

from __future__ import annotations

import threading

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static
from tui_helpers import Host, settle

from mydb_tui.screens.loading import load_in_worker
from mydb_tui.widgets.loading import CalmLoadingIndicator


class _Loading(Screen[None]):
    def __init__(self, compute) -> None:
        super().__init__()
        self.compute = compute
        self.events: list[tuple[str, object, bool]] = []  # (what, value, on the UI thread?)

    def compose(self) -> ComposeResult:
        yield CalmLoadingIndicator(id="spin")
        yield Static("body")

    def on_mount(self) -> None:
        load_in_worker(self, self.compute, self._show, self._failed, group="test", indicator="#spin")

    def _show(self, value: object) -> None:
        self.events.append(("show", value, threading.current_thread() is threading.main_thread()))

    def _failed(self, error: Exception) -> None:
        self.events.append(("failed", error, threading.current_thread() is threading.main_thread()))


async def test_the_work_runs_in_a_thread_while_the_ui_keeps_answering() -> None:
    release = threading.Event()
    ran_in: list[bool] = []

    def slow() -> int:
        ran_in.append(threading.current_thread() is threading.main_thread())
        assert release.wait(10)  # blocks until the UI thread, still free, lets it go
        return 42

    app = Host()
    async with app.run_test() as pilot:
        screen = _Loading(slow)
        app.push_screen(screen)
        await pilot.pause(0.1)
        assert screen.query_one("#spin").display and screen.events == []
        await pilot.press("x")  # the UI answers while the work waits
        release.set()
        await settle(pilot)
        assert ran_in == [False]
        assert screen.events == [("show", 42, True)]
        assert not screen.query_one("#spin").display


async def test_a_failure_is_shown_on_the_ui_thread_and_hides_the_indicator() -> None:
    def broken() -> int:
        raise OSError("disk gone")

    app = Host()
    async with app.run_test() as pilot:
        screen = _Loading(broken)
        app.push_screen(screen)
        await settle(pilot)
        ((what, error, on_ui),) = screen.events
        assert (what, str(error), on_ui) == ("failed", "disk gone", True)
        assert not screen.query_one("#spin").display


async def test_nothing_arrives_once_the_screen_is_closed() -> None:
    release = threading.Event()
    app = Host()
    async with app.run_test() as pilot:
        screen = _Loading(lambda: release.wait(10))
        app.push_screen(screen)
        await pilot.pause(0.1)
        app.pop_screen()
        await pilot.pause()
        release.set()
        await settle(pilot)
        assert screen.events == []
