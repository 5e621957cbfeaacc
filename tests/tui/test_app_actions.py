"""App actions: compare, restore, edit, add and delete records, read-only mode, palette."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.widgets import Input, TextArea
from tui_helpers import SIZE, USER, open_entry, screen_text, settle

from mydb_tui.screens.add_record import AddRecordScreen
from mydb_tui.screens.compare import CompareScreen
from mydb_tui.screens.confirm import ConfirmScreen
from mydb_tui.screens.editor import EditorScreen
from mydb_tui.screens.restore import RestoreScreen
from mydb_tui.widgets.record_table import RecordTable


async def test_d_compares_selected_with_parent_and_marked(small_db, app_factory) -> None:
    log = [v.digest for v in small_db.log("acme", "config")]
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert (screen.old_digest, screen.new_digest) == (log[1], log[0])
        await pilot.press("escape")
        await settle(pilot)
        # mark the oldest, select HEAD: older on the left whatever the order of marking
        await pilot.press("G", "space", "g", "d")
        await pilot.pause()
        assert (app.screen.old_digest, app.screen.new_digest) == (log[2], log[0])
        await pilot.press("escape")
        # unmark: the first version compares with an empty left side
        await pilot.press("G", "space", "d")
        await pilot.pause()
        assert (app.screen.old_digest, app.screen.new_digest) == (None, log[2])


async def test_shift_d_compares_with_head_and_refuses_head_itself(small_db, app_factory) -> None:
    log = [v.digest for v in small_db.log("acme", "config")]
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("D")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        assert any("HEAD is selected" in str(n.message) for n in app._notifications)
        await pilot.press("j", "j", "D")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert (app.screen.old_digest, app.screen.new_digest) == (log[2], log[0])


async def test_restore_writes_a_new_head_as_the_user(small_db, app_factory) -> None:
    old = small_db.log("acme", "config")[2].digest
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_entry(pilot, "acme", "config")
        await pilot.press("G", "r")
        await settle(pilot)
        assert isinstance(app.screen, RestoreScreen)
        await pilot.press("y")
        await settle(pilot)
        head = small_db.log("acme", "config")[0]
        assert head.restored_from == old and head.user_id == USER
        assert small_db.load("acme", "config") == small_db.load("acme", "config", old)
        # the timeline shows (and selects) the new head with its marker; a toast gives its digest
        assert timeline.selected.digest == head.digest
        assert f"restored from {old[:7]}" in screen_text(app)
        assert any(head.digest[:7] in str(n.message) for n in app._notifications)


async def test_restoring_head_is_refused(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, RestoreScreen)
        assert any("already HEAD" in str(n.message) for n in app._notifications)
        assert len(small_db.log("acme", "config")) == 3


async def test_restore_cancelled_writes_nothing(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("j", "r")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert len(small_db.log("acme", "config")) == 3


async def test_edit_snapshot_saves_a_version(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_entry(pilot, "acme", "config")
        await pilot.press("e")
        await settle(pilot)
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        assert (editor.key, editor.base_digest, editor.user) == (None, None, USER)
        area = editor.query_one("#editor-text", TextArea)
        area.text = area.text.replace('"debug": true', '"debug": false')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert small_db.load("acme", "config")["debug"] is False
        head = small_db.log("acme", "config")[0]
        assert head.user_id == USER
        assert timeline.selected.digest == head.digest and timeline.row_count == 4


async def test_edit_older_version_starts_from_it(small_db, app_factory) -> None:
    old = small_db.log("acme", "config")[1].digest
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("j", "e")
        await settle(pilot)
        assert isinstance(app.screen, EditorScreen) and app.screen.base_digest == old


async def test_edit_record_add_record_and_delete_record(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "users")
        table = app.query_one(RecordTable)
        table.focus()
        await pilot.press("j", "e")
        await settle(pilot)
        assert isinstance(app.screen, EditorScreen) and app.screen.key == "u01"
        await pilot.press("escape")
        await settle(pilot)
        # add
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AddRecordScreen)
        app.screen.query_one("#add-key", Input).value = "zed"
        app.screen.query_one("#add-value", TextArea).text = '{"name": "Zed", "age": 99}'
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert small_db.get("acme", "users", "zed") == {"name": "Zed", "age": 99}
        assert small_db.log("acme", "users")[0].user_id == USER
        assert "zed" in table.keys and table.selected_key == "zed"
        # delete the selected record after a confirmation
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "zed" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert "zed" not in small_db.read_records("acme", small_db.get_digest("acme", "users"))
        assert "zed" not in table.keys
        # cancelling deletes nothing
        count = len(small_db.log("acme", "users"))
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot)
        assert len(small_db.log("acme", "users")) == count


async def test_read_only_hides_and_refuses_writes(small_db, app_factory) -> None:
    app = app_factory(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        footer = screen_text(app).splitlines()[-1]
        assert "Compare" in footer and "Restore" not in footer and "Edit" not in footer
        assert "read-only" in screen_text(app).splitlines()[0]
        await pilot.press("j", "r", "e")
        await settle(pilot)
        assert app.screen is app.screen_stack[0]
        assert len(small_db.log("acme", "config")) == 3
        await open_entry(pilot, "acme", "users")
        app.query_one(RecordTable).focus()
        await pilot.press("a", "x")
        await settle(pilot)
        assert app.screen is app.screen_stack[0]
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Compare versions" in titles and "Go to entry…" in titles
        assert not {"Restore version", "Edit snapshot", "Edit record", "Add record", "Delete record"} & set(titles)


async def palette_titles(pilot) -> set[str]:
    """Open the command palette (ctrl+p) and read the commands it lists; close it again."""
    await pilot.press("ctrl+p")
    await pilot.pause(0.3)
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    commands = palette.query_one(CommandList)
    titles = {str(commands.get_option_at_index(i).prompt).split("\n")[0] for i in range(commands.option_count)}
    await pilot.press("escape")
    await pilot.pause()
    return titles


RECORD_ONLY = {"Add record", "Delete record", "Edit record"}


async def test_palette_lists_only_what_applies_to_the_selection(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_entry(pilot, "acme", "config")  # a snapshot entry, HEAD selected
        listed = await palette_titles(pilot)
        assert {"Compare versions", "Mark version", "Edit snapshot", "Copy", "Toggle tree / JSON",
                "Go to entry…", "Help"} <= listed
        assert not RECORD_ONLY & listed, listed
        assert not {"Restore version", "Compare with HEAD"} & listed  # HEAD itself is selected
        timeline.focus()
        await pilot.press("j")
        await settle(pilot)
        assert {"Restore version", "Compare with HEAD"} <= await palette_titles(pilot)
        await open_entry(pilot, "acme", "users")  # a record entry, first record selected
        listed = await palette_titles(pilot)
        assert RECORD_ONLY <= listed and "Edit snapshot" not in listed, listed
        # over another screen the main screen's actions are not offered
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        listed = await palette_titles(pilot)
        assert "Help" in listed and not {"Compare versions", "Edit record", "Add record"} & listed, listed


async def test_palette_hides_write_actions_when_read_only(small_db, app_factory) -> None:
    app = app_factory(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_entry(pilot, "acme", "users")
        timeline.focus()
        await pilot.press("j")
        await settle(pilot)
        listed = await palette_titles(pilot)
        assert {"Compare versions", "Compare with HEAD", "Verify database"} <= listed
        assert not {"Restore version", "Edit record", "Add record", "Delete record"} & listed, listed


async def test_palette_lists_every_action(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_entry(pilot, "acme", "users")
        await pilot.press("j")  # an older version: restore and compare with HEAD apply
        await settle(pilot)
        assert timeline.cursor == 1
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Go to entry…", "Filter entries", "Compare versions", "Compare with HEAD", "Mark version",
                "Restore version", "Edit record", "Add record", "Delete record", "Copy", "Toggle tree / JSON",
                "Help"} <= titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Compare with HEAD")
        await pilot.pause(0.5)
        assert "Compare with HEAD" in screen_text(app)


async def test_delete_confirmation_reads_well_and_the_cursor_goes_to_the_next_record(
        small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "users")
        table = app.query_one(RecordTable)
        table.focus()
        await pilot.press("j", "j", "j", "j", "j")  # u05
        await settle(pilot)
        assert table.selected_key == "u05"
        await pilot.press("x")
        await pilot.pause()
        text = screen_text(app)
        assert "Delete record 'u05' from acme/users?" in text
        assert "\\n" not in text and "\\x0a" not in text  # a line break, not an escape
        assert f"This writes a new version of HEAD as user '{USER}'." in text
        await pilot.press("y")
        await settle(pilot)
        assert "u05" not in table.keys
        assert table.selected_key == "u06"  # where the deleted record was
        assert any("Deleted record u05" in str(n.message) for n in app._notifications)


async def test_after_a_restore_the_toast_says_restored(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("G", "r")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert any(n.title == "Restored" for n in app._notifications)
