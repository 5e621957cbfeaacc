"""Saving an edit after another writer saved: a dialog offers view / re-apply / cancel, and
nothing is ever written over the other writer's version unasked.

The other writer is a second DbEngine on the same folder (as another process would be).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from dbengine.dbengine import DbEngine
from textual.widgets import Static, TextArea
from tui_helpers import START, Host, StepClock, screen_engine

from mydb_tui.screens.compare import CompareScreen
from mydb_tui.screens.conflict import ConflictScreen
from mydb_tui.screens.editor import EditorScreen

TENANT = "acme"


@pytest.fixture
def engine(tmp_path) -> DbEngine:
    return screen_engine(tmp_path, TENANT)


@pytest.fixture
def other(engine) -> DbEngine:
    """Another writer: a second engine on the same root."""
    return DbEngine(engine.root, clock=StepClock(START + dt.timedelta(days=1)), durable=False)


async def settle(pilot) -> None:
    for _ in range(2):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def edit_and_save(pilot, app: Host, screen: EditorScreen, text: str, other_write) -> TextArea:
    """Open the editor, let the other writer save, then type `text` and press ctrl+s."""
    app.push_screen(screen, app.results.append)
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()  # the editor has read HEAD (in its worker)
    await pilot.pause()
    area = screen.query_one("#editor-text", TextArea)
    other_write()
    area.load_text(text)
    await pilot.press("ctrl+s")
    await settle(pilot)
    return area


def message(app: Host) -> str:
    return app.screen.query_one("#conflict-message", Static).content.plain


async def test_a_conflict_opens_the_dialog_and_writes_nothing(engine, other) -> None:
    engine.save(TENANT, "carol", "config", {"port": 80, "debug": False})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "me")
        theirs = None

        def write() -> None:
            nonlocal theirs
            theirs = other.save(TENANT, "alice", "config", {"port": 80, "debug": True})

        await edit_and_save(pilot, app, screen, '{"port": 8080, "debug": false}', write)
        assert isinstance(app.screen, ConflictScreen)
        text = message(app)
        assert "alice saved config" in text and "Nothing was saved" in text
        assert "They changed: ['debug']" in text
        assert "touches nothing they changed" in text
        assert engine.get_digest(TENANT, "config") == theirs

        await pilot.press("escape")  # cancel: back to the editor, the edit kept
        await settle(pilot)
        assert app.screen is screen and app.results == []
        assert json.loads(screen.query_one("#editor-text", TextArea).text) == {"port": 8080, "debug": False}
        assert "ctrl+s offers the choices again" in (screen.error_text or "")
        assert engine.get_digest(TENANT, "config") == theirs
        await pilot.press("ctrl+s")  # the choices again
        await settle(pilot)
        assert isinstance(app.screen, ConflictScreen)


async def test_reapply_without_overlap_saves_on_top_of_theirs(engine, other) -> None:
    engine.save(TENANT, "carol", "config", {"port": 80, "debug": False, "name": "web"})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "me")
        theirs = []
        await edit_and_save(pilot, app, screen, '{"port": 8080, "debug": false, "name": "web"}',
                            lambda: theirs.append(other.save(TENANT, "alice", "config",
                                                             {"port": 80, "debug": True, "name": "web"})))
        await pilot.press("r")
        await settle(pilot)
    head = engine.get_digest(TENANT, "config")
    assert app.results == [head]
    assert engine.load(TENANT, "config") == {"port": 8080, "debug": True, "name": "web"}  # both edits
    version = engine.version(TENANT, "config", head)
    assert version.parent == theirs[0] and version.user_id == "me"


async def test_reapply_with_overlap_shows_the_merge_before_saving(engine, other) -> None:
    engine.save(TENANT, "carol", "config", {"port": 80, "debug": False})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "me")
        theirs = []
        await edit_and_save(pilot, app, screen, '{"port": 8080, "debug": false}',
                            lambda: theirs.append(other.save(TENANT, "alice", "config", {"port": 9090, "debug": True})))
        assert "You both changed: ['port']" in message(app)
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is screen and app.results == []  # not saved yet: shown first
        area = screen.query_one("#editor-text", TextArea)
        assert json.loads(area.text) == {"port": 8080, "debug": True}  # theirs, with mine where both changed
        notice = screen.query_one("#editor-notice", Static)
        assert notice.display and "['port']" in notice.content.plain and theirs[0][:12] in notice.content.plain
        assert engine.get_digest(TENANT, "config") == theirs[0]
        await pilot.press("ctrl+s")
        await settle(pilot)
    head = engine.get_digest(TENANT, "config")
    assert app.results == [head] and engine.version(TENANT, "config", head).parent == theirs[0]
    assert engine.load(TENANT, "config") == {"port": 8080, "debug": True}


async def test_view_changes_compares_theirs_with_the_edit_and_comes_back(engine, other) -> None:
    engine.save(TENANT, "carol", "config", {"port": 80, "debug": False})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "me")
        await edit_and_save(pilot, app, screen, '{"port": 8080, "debug": false}',
                            lambda: other.save(TENANT, "alice", "config", {"port": 80, "debug": True}))
        await pilot.press("v")
        await settle(pilot)
        compare = app.screen
        assert isinstance(compare, CompareScreen) and compare.comparison is not None
        changes = {(c.path, c.kind, json.dumps(c.old), json.dumps(c.new)) for c in compare.comparison.changes}
        assert changes == {("['port']", "changed", "80", "8080"), ("['debug']", "changed", "true", "false")}
        assert "THEIRS" in compare.query_one("#meta-old", Static).content.plain
        assert "alice" in compare.query_one("#meta-old", Static).content.plain
        assert "YOURS" in compare.query_one("#meta-new", Static).content.plain
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConflictScreen)  # back to the choice


async def test_a_record_edit_is_reapplied_beside_another_records_change(engine, other) -> None:
    engine.put_many(TENANT, "carol", "users", {"u1": {"age": 1}, "u2": {"age": 2}})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "users", "me", key="u2")
        await edit_and_save(pilot, app, screen, '{"age": 20}',
                            lambda: other.put(TENANT, "alice", "users", "u1", {"age": 10}))
        assert "did not change this record" in message(app)
        await pilot.press("r")
        await settle(pilot)
    assert app.results == [engine.get_digest(TENANT, "users")]
    assert engine.get(TENANT, "users", "u1") == {"age": 10} and engine.get(TENANT, "users", "u2") == {"age": 20}


async def test_reapplying_an_unchanged_edit_leaves_their_version_in_the_editor(engine, other) -> None:
    engine.save(TENANT, "carol", "config", {"port": 80})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "me")
        theirs = []
        await edit_and_save(pilot, app, screen, '{"port": 80}',  # nothing edited, saved anyway
                            lambda: theirs.append(other.save(TENANT, "alice", "config", {"port": 9090})))
        await pilot.press("r")
        await settle(pilot)
        assert "Nothing to save" in (screen.error_text or "")
        area = screen.query_one("#editor-text", TextArea)
        assert json.loads(area.text) == {"port": 9090}  # their value, not the stale 80
        assert screen.head == theirs[0] and not screen.dirty
        area.load_text('{"port": 9091}')
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert app.results == [engine.get_digest(TENANT, "config")]
    assert engine.version(TENANT, "config", app.results[0]).parent == theirs[0]


async def test_a_record_they_deleted_is_said_and_added_back_only_on_request(engine, other) -> None:
    engine.put_many(TENANT, "carol", "users", {"u1": {"age": 1}, "u2": {"age": 2}})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "users", "me", key="u2")
        await edit_and_save(pilot, app, screen, '{"age": 20}', lambda: other.delete(TENANT, "alice", "users", "u2"))
        assert "They deleted this record" in message(app)
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is screen and app.results == []  # shown first, not saved
        assert "u2" not in engine.read_records(TENANT, engine.get_digest(TENANT, "users"))
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert engine.get(TENANT, "users", "u2") == {"age": 20}
