"""Helpers shared by the TUI tests (import as `from tui_helpers import ...`)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from dbengine.dbengine import DbEngine
from textual.app import App, ComposeResult
from textual.widgets import Static

USER = "tester"
START = dt.datetime(2026, 11, 26, 14, 3, 7, tzinfo=dt.UTC)
SIZE = (160, 45)


class StepClock:
    """Starts at `start` and advances `step` per call (a new version per minute by default)."""

    def __init__(self, start: dt.datetime = START, step: dt.timedelta = dt.timedelta(minutes=1)):
        self.now = start
        self.step = step

    def __call__(self) -> dt.datetime:
        moment = self.now
        self.now += self.step
        return moment


def build_small_db(engine: DbEngine) -> None:
    """Tenants `acme` and `globex`: snapshot entry `config` (3 versions), record entry
    `users` (30 records, 2 versions), `flags` with a restored version, a tuple value and
    a string that looks like markup."""
    engine.init("acme")
    engine.init("globex")
    engine.save("acme", "alice", "config", {"servers": [{"host": "a", "port": 80}], "debug": False})
    engine.save("acme", "bob", "config", {"servers": [{"host": "a", "port": 8080}], "debug": True,
                                          "title": "[bold red]not markup[/]"})
    engine.save("acme", "alice", "config", {"servers": [{"host": "b", "port": 8080}], "debug": True,
                                            "pair": (1, 2)})
    engine.put_many("acme", "alice", "users",
                    {f"u{i:02d}": {"name": f"user {i}", "age": 20 + i} for i in range(30)})
    engine.put("acme", "carol", "users", "u03", {"name": "changed", "age": 1})
    engine.save("globex", "dave", "flags", {"beta": True, "dark_mode": False})
    first = engine.log("globex", "flags")[-1].digest
    engine.save("globex", "dave", "flags", {"beta": False})
    engine.restore("globex", "erin", "flags", first)


async def open_entry(pilot, tenant: str, entry: str):
    """Go to an entry in the running app and focus its History (the Timeline, returned)."""
    from mydb_tui.widgets.timeline import Timeline

    await settle(pilot)
    pilot.app.goto_entry(tenant, entry)
    await settle(pilot)
    timeline = pilot.app.query_one(Timeline)
    timeline.focus()
    await pilot.pause()
    return timeline


async def open_record_table(pilot, tenant: str, entry: str):
    """Go to a record entry in the running app and focus its record table (pane 3); the table."""
    from mydb_tui.widgets.record_table import RecordTable

    app = pilot.app
    await settle(pilot)
    app.goto_entry(tenant, entry)
    await settle(pilot)
    await pilot.press("3")
    await settle(pilot)
    table = app.query_one(RecordTable)
    assert app.focused is table
    return table


async def settle(pilot, rounds: int = 3) -> None:
    """Let workers finish and their results reach the screen."""
    from textual.worker import WorkerCancelled

    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:  # replaced meanwhile by a newer one of its group (exclusive): the next round waits
            await pilot.pause()
    await pilot.pause()


async def wait_for_text(pilot, text: str, timeout: float = 10.0) -> str:
    """Let the app run until its screen shows `text` (or `timeout` seconds pass); the screen's
    text with every run of whitespace as one space, so a message wrapped across lines
    (a long tmp path moves the wrap) still reads as one.

    For results that arrive from a worker thread: a busy machine delays them, the test should not fail for that.
    """
    import time

    deadline = time.monotonic() + timeout
    shown = " ".join(screen_text(pilot.app).split())
    while text not in shown and time.monotonic() < deadline:
        await pilot.pause(0.05)
        shown = " ".join(screen_text(pilot.app).split())
    return shown


def screen_text(app) -> str:
    """Everything the current screen shows, as plain text lines (for assertions)."""
    update = app.screen._compositor.render_full_update(simplify=True)
    return "\n".join("".join(segment.text for strip in line for segment in strip) for line in update.strips)


class Host(App):
    """A bare app for screen tests: it opens one screen and records what it dismisses with."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list = []

    def compose(self) -> ComposeResult:
        yield Static("host")


def screen_engine(tmp_path, tenant: str) -> DbEngine:
    """An engine for screen tests: fresh root, one minute per version, `tenant` initialized."""
    engine = DbEngine(str(tmp_path / "db"), clock=StepClock(START + dt.timedelta(minutes=1)), durable=False)
    engine.init(tenant)
    return engine


@pytest.fixture(autouse=True)
def _utc_and_no_blink(monkeypatch) -> Iterator[None]:
    """Local time = UTC (dates on screen are stable); no cursor blink in TextArea/Input."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    from textual.widgets import Input, TextArea

    monkeypatch.setattr(TextArea, "cursor_blink", False, raising=False)
    monkeypatch.setattr(Input, "cursor_blink", False, raising=False)
    yield
    monkeypatch.undo()
    time.tzset()
