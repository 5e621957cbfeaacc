"""AddRecordScreen: key + JSON value, validation in place, overwrite warning, stored as the user."""

from __future__ import annotations

import datetime as dt

import pytest
from dbengine.dbengine import DbEngine
from textual.widgets import Input, Static, TextArea
from tui_helpers import START, Host, StepClock, settle

from mydb_tui.screens.add_record import AddRecordScreen

TENANT = "acme"


@pytest.fixture
def engine(tmp_path) -> DbEngine:
    eng = DbEngine(str(tmp_path / "db"), clock=StepClock(START + dt.timedelta(minutes=1)), durable=False)
    eng.init(TENANT)
    eng.put_many(TENANT, "alice", "users", {"u1": {"age": 1}, "u2": {"age": 2}})
    return eng


async def open_add(pilot, app: Host, engine: DbEngine) -> AddRecordScreen:
    screen = AddRecordScreen(engine, TENANT, "users", "carol")
    app.push_screen(screen, app.results.append)
    await pilot.pause()
    return screen


def visible_text(screen: AddRecordScreen, selector: str) -> str | None:
    widget = screen.query_one(selector, Static)
    return None if widget.has_class("hidden") else widget.content.plain


async def test_add_a_record_with_the_keyboard(engine: DbEngine) -> None:
    head = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_add(pilot, app, engine)
        assert screen.focused is screen.query_one("#add-key", Input)
        await pilot.press(*"zoe", "enter")  # enter moves to the value
        area = screen.query_one("#add-value", TextArea)
        assert screen.focused is area
        area.load_text("")
        await pilot.press(*'{"age": 7}')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.results == ["zoe"]
    assert engine.get(TENANT, "users", "zoe") == {"age": 7}
    new_head = engine.get_digest(TENANT, "users")
    version = engine.version(TENANT, "users", new_head)
    assert version.user_id == "carol" and version.parent == head


async def test_existing_key_warns_it_will_be_overwritten(engine: DbEngine) -> None:
    app = Host()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_add(pilot, app, engine)
        await pilot.press("u", "2")
        await settle(pilot)
        assert "overwrites" in (visible_text(screen, "#add-warning") or "")
        await pilot.press("2")  # "u22" is new: the warning goes away
        await settle(pilot)
        assert visible_text(screen, "#add-warning") is None
        await pilot.press("backspace")
        screen.query_one("#add-value", TextArea).load_text('"replaced"')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.results == ["u2"]
    assert engine.get(TENANT, "users", "u2") == "replaced"


async def test_invalid_json_is_shown_and_nothing_written(engine: DbEngine) -> None:
    head = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_add(pilot, app, engine)
        await pilot.press(*"bad")
        screen.query_one("#add-value", TextArea).load_text('{"age": }')
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = visible_text(screen, "#add-error")
        assert error and "invalid JSON" in error
        assert app.screen is screen and app.results == []
    assert engine.get_digest(TENANT, "users") == head


async def test_empty_key_is_refused(engine: DbEngine) -> None:
    head = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_add(pilot, app, engine)
        screen.query_one("#add-value", TextArea).load_text("1")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Enter a record key" in (visible_text(screen, "#add-error") or "")
    assert engine.get_digest(TENANT, "users") == head


async def test_engine_refusal_is_shown(engine: DbEngine) -> None:
    head = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_add(pilot, app, engine)
        await pilot.press(*"k1")
        screen.query_one("#add-value", TextArea).load_text('{"__special__": "py/bytes"}')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Not added" in (visible_text(screen, "#add-error") or "")
    assert engine.get_digest(TENANT, "users") == head


async def test_escape_cancels(engine: DbEngine) -> None:
    head = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_add(pilot, app, engine)
        await pilot.press(*"x", "escape")
        await settle(pilot)
        assert app.results == [None] and app.screen is not screen
    assert engine.get_digest(TENANT, "users") == head
