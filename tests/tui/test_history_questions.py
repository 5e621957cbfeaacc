"""Issue 14 in the TUI: record/path history (h), search (ctrl+f), go to date (@) and the
blame gutter (b), driven with Pilot on the small real database (tui_helpers.build_small_db)."""

from __future__ import annotations

from tui_helpers import screen_text, settle

from mydb_tui.screens.compare import ChangeList, CompareScreen
from mydb_tui.screens.key_history import ChangeRows, KeyHistoryScreen
from mydb_tui.widgets.json_tree import JsonTree
from mydb_tui.widgets.record_table import RecordTable
from mydb_tui.widgets.timeline import Timeline


async def _open_users(pilot) -> RecordTable:
    await settle(pilot)
    pilot.app.goto_entry("acme", "users")
    await settle(pilot)
    table = pilot.app.query_one(RecordTable)
    table.focus()
    return table


async def test_h_on_a_record_lists_the_versions_that_changed_it(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        table = await _open_users(pilot)
        await pilot.press("j", "j", "j")  # u03: added by alice, changed by carol
        await settle(pilot)
        assert table.selected_key == "u03"
        await pilot.press("h")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, KeyHistoryScreen)
        rows = screen.query_one(ChangeRows)
        assert [(r.user, r.kind) for r in rows.rows] == [("carol", "changed"), ("alice", "added")]
        text = screen_text(app)
        assert "History of u03 in acme / users" in text
        assert '"name": "user 3"' in text and '"name": "changed"' in text
        # the changed words are marked, the same ones unmarked
        old_marked = "".join(s.text for s in rows.rows[0].old if s.marked)
        new_marked = "".join(s.text for s in rows.rows[0].new if s.marked)
        assert "user" in old_marked and "changed" in new_marked and "name" not in old_marked + new_marked
        await pilot.press("enter")  # the compare of carol's version with its parent
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.new_digest == small_db.get_digest("acme", "users")
        changes = app.screen.query_one(ChangeList)
        assert changes.changes[changes.cursor].record_key == "u03"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, KeyHistoryScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, KeyHistoryScreen)


async def test_h_on_a_tree_node_lists_the_versions_that_changed_that_path(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        app.goto_entry("acme", "config")
        await settle(pilot)
        tree = app.query_one("#data-tree", JsonTree)
        assert tree.select_pointer("/servers/0/port")
        await settle(pilot)
        tree.focus()
        assert tree.cursor_pointer == "/servers/0/port"
        await pilot.press("h")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, KeyHistoryScreen)
        rows = screen.query_one(ChangeRows).rows
        assert [(r.user, r.kind, "".join(s.text for s in r.old), "".join(s.text for s in r.new)) for r in rows] == [
            ("bob", "changed", "80", "8080"), ("alice", "added", "∅", "80")]
        assert "History of /servers/0/port in acme / config" in screen_text(app)


async def test_restoring_one_record_asks_and_writes_or_says_what_is_missing(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        table = await _open_users(pilot)
        await pilot.press("j", "j", "j", "h")
        await settle(pilot)
        assert isinstance(app.screen, KeyHistoryScreen)
        await pilot.press("j", "R")  # alice's version: the record as it was added
        await settle(pilot)
        import inspect

        if "key" not in inspect.signature(small_db.restore).parameters:
            assert isinstance(app.screen, KeyHistoryScreen)  # refused with a message, nothing written
            assert any("needs engine support" in n.message for n in app._notifications)
            return
        assert "restored:" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert small_db.get("acme", "users", "u03") == {"name": "user 3", "age": 23}
        del table
