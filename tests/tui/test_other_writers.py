"""Another process writes while the app shows the entry: a toast says who and when, the view
stays where the user is, H goes to the new version; the app's own writes are not announced.

The other writer is a second DbEngine on the same folder (as another process would be);
the watcher is polled by hand (poll_interval=0) so each test sees exactly one change.
"""

from __future__ import annotations

import datetime as dt

import pytest
from dbengine.dbengine import DbEngine
from tui_helpers import SIZE, START, StepClock, open_entry, settle

from mydb_tui.widgets.record_table import RecordTable
from mydb_tui.widgets.timeline import Timeline
from mydb_tui.widgets.viewer import Viewer


@pytest.fixture
def other(small_db, tui_root) -> DbEngine:
    """A second engine on the same root: another writer."""
    return DbEngine(tui_root, clock=StepClock(START + dt.timedelta(days=1)), durable=False)


async def poll(pilot) -> None:
    """One poll of the change token, as the watcher's timer does, and its reloads."""
    pilot.app._poll_now()
    await settle(pilot)


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_new_version_is_announced_and_the_view_stays(small_db, other, app_factory) -> None:
    for i in range(40):  # enough versions to scroll
        small_db.save("acme", "bob", "busy", {"n": i})
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_entry(pilot, "acme", "busy")
        await pilot.press(*["j"] * 25)
        await settle(pilot)
        selected = timeline.selected.digest
        on_screen = timeline.cursor - timeline.scroll_offset.y
        assert app.query_one(Viewer).digest == selected

        new = other.save("acme", "alice", "busy", {"n": 99})
        await poll(pilot)

        assert timeline.selected.digest == selected  # the same version, on the same line
        assert timeline.cursor - timeline.scroll_offset.y == on_screen
        assert timeline.head == new
        assert app.query_one(Viewer).digest == selected
        message = next(m for m in toasts(app) if "alice saved busy" in m)
        assert "H goes there" in message
        assert app.new_version == ("acme", "busy", new)
        assert "Go to the new version" in [c.title for c in app.get_system_commands(app.screen)]

        await pilot.press("H")
        await settle(pilot)
        assert timeline.cursor == 0 and timeline.selected.digest == new
        assert app.query_one(Viewer).digest == new
        assert app.new_version is None
        assert "Go to the new version" not in [c.title for c in app.get_system_commands(app.screen)]


async def test_several_versions_by_several_writers_make_one_toast(small_db, other, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # acme/config is shown
        other.save("acme", "alice", "config", {"a": 1})
        other.save("acme", "bob", "config", {"a": 2})
        await poll(pilot)
        shown = [m for m in toasts(app) if "saved config" in m]
        assert len(shown) == 1 and shown[0].startswith("bob and alice saved config 2 times")


async def test_a_write_to_another_entry_is_not_announced(small_db, other, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # acme/config is shown
        other.save("globex", "alice", "flags", {"beta": True})
        await poll(pilot)
        assert not any("saved" in m for m in toasts(app))
        assert app.new_version is None


async def test_the_record_table_keeps_its_cursor(small_db, other, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.goto_entry("acme", "users")
        await settle(pilot)
        table = app.query_one(RecordTable)
        table.focus()
        await pilot.press(*["j"] * 12)
        await settle(pilot)
        key, digest = table.selected_key, app.query_one(Viewer).digest

        other.put("acme", "dave", "users", "u29", {"name": "late", "age": 0})
        await poll(pilot)

        assert table.selected_key == key and table.cursor == 12
        assert app.query_one(Viewer).digest == digest  # still the version the user looks at
        assert any("dave saved users" in m for m in toasts(app))
        assert app.focused is table


async def test_the_apps_own_write_is_not_announced(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.query_one(Timeline)
        timeline.focus()
        await pilot.press("G", "r")
        await settle(pilot)
        await pilot.press("y")  # restore the oldest version: a write by this app
        await settle(pilot)
        await poll(pilot)
        assert any(n.title == "Restored" for n in app._notifications)
        assert not any("saved config" in m for m in toasts(app))
        assert app.new_version is None


async def test_a_busy_writer_gets_one_toast_per_gap_counting_every_version(small_db, other, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # acme/config is shown
        other.save("acme", "bob", "config", {"a": 0})
        await poll(pilot)
        for i in range(1, 4):  # three more polls, each with a new version, within the gap
            other.save("acme", "bob", "config", {"a": i})
            await poll(pilot)
        shown = [m for m in toasts(app) if "saved config" in m]
        assert shown == [shown[0]] and shown[0].startswith("bob saved config")  # one so far
        assert app._toast_timer is not None
        app._toast_arrivals()  # the gap is over: one toast for the three that came meanwhile
        await pilot.pause()
        shown = [m for m in toasts(app) if "saved config" in m]
        assert len(shown) == 2 and shown[1].startswith("bob saved config 3 times")


async def test_a_write_of_the_app_on_top_of_theirs_clears_the_notice(small_db, other, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # acme/config is shown
        other.save("acme", "alice", "config", {"a": 1})
        await poll(pilot)
        assert app.new_version is not None
        app.query_one(Timeline).focus()
        await pilot.press("G", "r")
        await settle(pilot)
        await pilot.press("y")  # restore the oldest version on top of alice's
        await settle(pilot)
        assert any(n.title == "Restored" for n in app._notifications)
        assert app.new_version is None and not app.check_action("goto_new", ())
