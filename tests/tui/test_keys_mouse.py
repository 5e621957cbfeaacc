"""Keys and mouse that do what users expect (issue 13 §2): enter on rows, ←/→ in the tree,
↓ in the filter, clicks on line lists and entries, the mark, the palettes, the theme."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Input
from tui_helpers import SIZE, open_entry, screen_text, settle

from mydb_tui.model.entries import EntryData, TenantData
from mydb_tui.screens.compare import CompareScreen
from mydb_tui.screens.editor import EditorScreen
from mydb_tui.widgets.entry_tree import EntryTree
from mydb_tui.widgets.json_tree import JsonTree
from mydb_tui.widgets.record_table import RecordTable
from mydb_tui.widgets.timeline import Timeline


async def test_enter_on_a_history_row_compares_it_with_its_parent(small_db, app_factory) -> None:
    log = [v.digest for v in small_db.log("acme", "config")]
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("G", "space", "g", "j")  # a mark elsewhere does not count for enter
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert (app.screen.old_digest, app.screen.new_digest) == (log[2], log[1])


async def test_enter_on_a_record_row_opens_the_editor(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "users")
        app.query_one(RecordTable).focus()
        await pilot.press("j", "enter")
        await settle(pilot)
        assert isinstance(app.screen, EditorScreen)
        assert app.screen.key == "u01"


async def test_enter_on_a_record_row_read_only_goes_to_its_detail(small_db, app_factory) -> None:
    app = app_factory(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "users")
        app.query_one(RecordTable).focus()
        await pilot.press("j", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, EditorScreen)
        assert isinstance(app.focused, JsonTree) and app.focused.id == "record-tree"


async def test_left_right_and_h_l_close_and_open_tenants(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.query_one(EntryTree)
        tree.focus()
        await pilot.press("home")
        acme = tree.cursor_node
        assert isinstance(acme.data, TenantData) and acme.is_expanded
        await pilot.press("left")
        assert not acme.is_expanded
        await pilot.press("right")
        await settle(pilot)
        assert acme.is_expanded
        await pilot.press("l")  # on an open tenant: to its first entry
        assert isinstance(tree.cursor_node.data, EntryData)
        await pilot.press("h")  # from an entry: back to its tenant
        assert tree.cursor_node is acme
        await pilot.press("h")
        assert not acme.is_expanded


async def test_down_in_the_filter_moves_through_the_matches(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "s")  # users (acme), flags (globex)
        await pilot.pause(0.3)
        await settle(pilot)
        tree = app.query_one(EntryTree)
        assert tree.selected_entry == ("acme", "users")
        await pilot.press("down")
        await settle(pilot)
        assert tree.selected_entry == ("globex", "flags")  # over the tenant row
        assert isinstance(app.focused, Input)  # typing goes on
        assert app.timeline.entry == "flags"
        await pilot.press("up")
        assert tree.selected_entry == ("acme", "users")


async def test_clicking_a_row_selects_that_row_and_the_header_nothing(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_entry(pilot, "acme", "config")
        # offset from the widget's corner: border (1), header (1), then rows 0, 1, 2
        await pilot.click(Timeline, offset=(4, 3))
        await pilot.pause()
        assert timeline.cursor == 1
        await pilot.click(Timeline, offset=(4, 2))
        await pilot.pause()
        assert timeline.cursor == 0
        await pilot.press("G")
        await pilot.click(Timeline, offset=(4, 1))  # the header line
        await pilot.pause()
        assert timeline.cursor == 2
        await pilot.click(Timeline, offset=(4, 0))  # the border
        await pilot.pause()
        assert timeline.cursor == 2
        # every line list alike: the record table (no border: header at 0, rows from 1)
        await open_entry(pilot, "acme", "users")
        table = app.query_one(RecordTable)
        await pilot.click(RecordTable, offset=(2, 3))
        await pilot.pause()
        assert table.selected_key == "u02"
        await pilot.click(RecordTable, offset=(2, 0))  # the header line
        await pilot.pause()
        assert table.selected_key == "u02"


async def test_clicking_an_entry_keeps_the_focus_in_the_tree(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.query_one(EntryTree)
        users = tree.entry_node("acme", "users")
        await pilot.click(EntryTree, offset=(8, users.line))
        await settle(pilot)
        assert tree.selected_entry == ("acme", "users")
        assert app.timeline.entry == "users"
        assert app.focused is tree
        await pilot.press("enter")  # enter still goes on to the versions
        await pilot.pause()
        assert isinstance(app.focused, Timeline)


async def test_a_mark_shows_in_the_history_title_and_escape_clears_it(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_entry(pilot, "acme", "config")
        await pilot.press("G", "space")
        await pilot.pause()
        assert "1 marked" in str(timeline.border_title)
        assert "1 marked" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert timeline.marked is None and "marked" not in str(timeline.border_title)
        assert "1 marked" not in screen_text(app)


async def test_d_on_a_tenant_row_refuses_with_a_message(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        tree = app.query_one(EntryTree)
        tree.focus()
        await pilot.press("home")  # the tenant row; History still shows acme/config
        assert isinstance(tree.cursor_node.data, TenantData)
        await pilot.press("d")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        assert any("cursor is on a tenant" in str(n.message) for n in app._notifications)


async def test_palettes_list_each_thing_once(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Help" in titles and "Keys" not in titles
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"users")
        await pilot.pause(0.3)
        await settle(pilot)
        text = screen_text(app)
        assert "acme / users" in text
        assert "Go to entry" not in text  # no second line under each hit


async def test_the_theme_is_remembered_between_runs(small_db, app_factory, tmp_path) -> None:
    settings = tmp_path / "config" / "mydb-tui" / "settings.json"
    app = app_factory()
    app.settings_file = settings
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.theme = "textual-light"
        await settle(pilot)
    assert settings.is_file()
    again = app_factory()
    again.settings_file = settings
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert again.theme == "textual-light"
