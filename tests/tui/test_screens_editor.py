"""EditorScreen: ctrl+s saves a new version by the user; bad JSON or refusals write nothing."""

from __future__ import annotations

import json

import pytest
from dbengine.dbengine import DbEngine
from textual.widgets import Static, TextArea
from tui_helpers import Host, screen_engine

from mydb_tui.screens.confirm import ConfirmScreen
from mydb_tui.screens.editor import EditorScreen

TENANT = "acme"


async def open_editor(pilot, app: Host, screen: EditorScreen) -> TextArea:
    """Open the editor and let it read the value (in its worker)."""
    app.push_screen(screen, app.results.append)
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert screen.loaded
    return screen.query_one("#editor-text", TextArea)


async def save_done(pilot) -> None:
    """Let the save worker finish and its result reach the screen."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def shown_error(screen: EditorScreen) -> str | None:
    error = screen.query_one("#editor-error", Static)
    return None if not error.display or error.has_class("hidden") else error.content.plain


async def test_typing_and_ctrl_s_saves_a_new_version_by_the_user(engine: DbEngine) -> None:
    head = engine.save(TENANT, "alice", "config", {"port": 80})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "carol")
        area = await open_editor(pilot, app, screen)
        assert json.loads(area.text) == {"port": 80}
        assert screen.focused is area
        row = area.text.splitlines().index('  "port": 80')
        area.move_cursor((row, len('  "port": 80')))
        await pilot.press("8", "0")  # typed keys reach the editor: 80 -> 8080
        assert json.loads(area.text) == {"port": 8080}
        await pilot.press("ctrl+s")
        await save_done(pilot)
    new_head = engine.get_digest(TENANT, "config")
    assert new_head != head and app.results == [new_head]
    assert engine.load(TENANT, "config") == {"port": 8080}
    version = engine.version(TENANT, "config", new_head)
    assert version.user_id == "carol" and version.parent == head


async def test_invalid_json_writes_nothing_and_shows_the_error(engine: DbEngine) -> None:
    head = engine.save(TENANT, "alice", "config", {"port": 80})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "carol")
        area = await open_editor(pilot, app, screen)
        area.move_cursor(area.document.end)
        await pilot.press("x")
        await pilot.press("ctrl+s")
        await save_done(pilot)
        assert app.screen is screen and app.results == []
        error = shown_error(screen)
        assert error and "invalid JSON at line 3" in error
        assert area.cursor_location[0] == 2  # the cursor is put on the error
        await pilot.press("backspace")  # editing clears the error
        assert shown_error(screen) is None
    assert engine.get_digest(TENANT, "config") == head
    assert len(engine.log(TENANT, "config")) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": NaN}', "NaN is not JSON"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ("   ", "empty document"),
        ('{"__special__": "py/pickle", "__digest__": "' + "0" * 64 + '"}', "InvalidDocumentError"),
    ],
)
async def test_refused_documents_write_nothing(engine: DbEngine, text: str, expected: str) -> None:
    head = engine.save(TENANT, "alice", "config", {"a": 1})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "carol")
        area = await open_editor(pilot, app, screen)
        area.load_text(text)
        await pilot.press("ctrl+s")
        await save_done(pilot)
        assert expected in (shown_error(screen) or "")
        assert app.screen is screen
    assert engine.get_digest(TENANT, "config") == head


async def test_unchanged_save_says_so(engine: DbEngine) -> None:
    head = engine.save(TENANT, "alice", "config", {"a": 1})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "carol")
        await open_editor(pilot, app, screen)
        await pilot.press("ctrl+s")
        await save_done(pilot)
        assert "Nothing to save" in (shown_error(screen) or "")
    assert engine.log(TENANT, "config")[0].digest == head


async def test_escape_with_changes_asks_first(engine: DbEngine) -> None:
    head = engine.save(TENANT, "alice", "config", {"a": 1})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "carol")
        area = await open_editor(pilot, app, screen)
        area.move_cursor((0, 1))
        await pilot.press("space")
        assert screen.dirty
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep editing
        await pilot.pause()
        assert app.screen is screen and app.results == []
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # discard
        await pilot.pause()
        assert app.results == [None]
        assert app.screen is not screen
    assert engine.get_digest(TENANT, "config") == head


async def test_escape_without_changes_closes_at_once(engine: DbEngine) -> None:
    engine.save(TENANT, "alice", "config", {"a": 1})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "carol")
        await open_editor(pilot, app, screen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None] and app.screen is not screen


async def test_record_edit_uses_put_stored(engine: DbEngine) -> None:
    engine.put_many(TENANT, "alice", "users", {"u1": {"age": 1}, "u2": {"age": 2}})
    head = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "users", "carol", key="u2")
        area = await open_editor(pilot, app, screen)
        assert json.loads(area.text) == {"age": 2}
        assert "record u2" in screen.query_one("#editor-title", Static).content.plain
        area.load_text('{"age": 20, "tags": ["x"]}')
        await pilot.press("ctrl+s")
        await save_done(pilot)
    new_head = engine.get_digest(TENANT, "users")
    assert app.results == [new_head] and new_head != head
    assert engine.get(TENANT, "users", "u2") == {"age": 20, "tags": ["x"]}
    assert engine.get(TENANT, "users", "u1") == {"age": 1}
    assert engine.version(TENANT, "users", new_head).user_id == "carol"


async def test_older_base_version_shows_a_notice_and_saves_as_new_head(engine: DbEngine) -> None:
    v1 = engine.save(TENANT, "alice", "config", {"a": 1})
    head = engine.save(TENANT, "alice", "config", {"a": 2})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "carol", base_digest=v1)
        area = await open_editor(pilot, app, screen)
        assert json.loads(area.text) == {"a": 1}
        notice = screen.query_one("#editor-notice", Static)
        assert notice.display and "saving makes it" in notice.content.plain and v1[:12] in notice.content.plain
        area.load_text('{"a": 1, "b": true}')
        await pilot.press("ctrl+s")
        await save_done(pilot)
    new_head = engine.get_digest(TENANT, "config")
    assert engine.version(TENANT, "config", new_head).parent == head
    assert engine.load(TENANT, "config") == {"a": 1, "b": True}


async def test_invisible_characters_are_escaped_and_round_trip(engine: DbEngine) -> None:
    value = {"s": "a\x7fb\u202ec[bold]d[/]"}
    engine.save(TENANT, "alice", "config", value)
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "config", "carol")
        area = await open_editor(pilot, app, screen)
        assert "\\u007f" in area.text and "\\u202e" in area.text and "\x7f" not in area.text
        await pilot.press("ctrl+s")
        await save_done(pilot)
        assert "Nothing to save" in (shown_error(screen) or "")  # same value after the escapes


async def test_missing_record_is_shown_and_cannot_be_saved(engine: DbEngine) -> None:
    engine.put(TENANT, "alice", "users", "u1", {"age": 1})
    head = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "users", "carol", key="nobody")
        area = await open_editor(pilot, app, screen)
        assert area.read_only
        assert "RecordNotFoundError" in (shown_error(screen) or "")
        await pilot.press("ctrl+s")
        await save_done(pilot)
        assert app.screen is screen
    assert engine.get_digest(TENANT, "users") == head


@pytest.fixture
def engine(tmp_path) -> DbEngine:
    return screen_engine(tmp_path, TENANT)


async def test_a_value_too_large_for_the_editor_is_refused_with_a_message(engine: DbEngine) -> None:
    from mydb_tui.screens.editor import MAX_EDIT_CHARS

    head = engine.save(TENANT, "alice", "big", {"blob": "x" * MAX_EDIT_CHARS, "n": 1})
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = EditorScreen(engine, TENANT, "big", "carol")
        area = await open_editor(pilot, app, screen)
        assert screen.too_large
        assert area.text == "" and area.read_only  # the huge text is never put in the TextArea
        message = shown_error(screen)
        assert message and "Cannot edit" in message and f"at most {MAX_EDIT_CHARS:,}" in message
        assert "mydb save" in message
        await pilot.press("ctrl+s")
        await save_done(pilot)
    assert engine.get_digest(TENANT, "big") == head and len(engine.log(TENANT, "big")) == 1


def test_large_documents_are_edited_without_highlighting() -> None:
    from mydb_tui.screens.editor import HIGHLIGHT_LIMIT, json_language, json_text_area

    assert json_text_area("x" * (HIGHLIGHT_LIMIT + 1), id="big").language is None
    assert json_text_area('{"a": 1}', id="small").language == json_language()
