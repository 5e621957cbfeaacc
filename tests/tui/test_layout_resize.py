"""Layout that follows the terminal (issue 13 §1): refit on every resize, stacked panes below
100 columns, what stays at 80x24, the help scrolls, zoom and the number keys."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Input
from tui_helpers import SIZE, screen_text, settle

from mydb_tui.screens.help import HelpScreen
from mydb_tui.widgets.entry_tree import EntryPane, EntryTree
from mydb_tui.widgets.record_table import RecordTable
from mydb_tui.widgets.timeline import Timeline
from mydb_tui.widgets.viewer import Viewer

SMALL = (80, 24)
LONG = "quarterly-report-archive"


def long_names_db(engine) -> None:
    engine.init("acme-corporation")
    for i in range(3):
        engine.save("acme-corporation", "alice", LONG, {"n": i})
    engine.save("acme-corporation", "bob", "app-config", {"debug": False})
    engine.save("acme-corporation", "bob", "apps", {"debug": True})


def region_lines(app, widget) -> list[str]:
    """The lines `widget` shows (inside its border)."""
    region = widget.content_region
    lines = screen_text(app).splitlines()[region.y:region.bottom]
    return [line[region.x:region.right] for line in lines]


async def test_panes_refit_on_every_resize_160_80_160(tui_engine, app_factory) -> None:
    long_names_db(tui_engine)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(EntryPane)
        wide = pane.size.width
        assert f"{LONG}  snapshot · 3 versions" in screen_text(app)
        await pilot.resize_terminal(*SMALL)
        await settle(pilot)
        # stacked: Entries and History each have the whole width
        assert pane.outer_size.width == 80 and app.query_one(Timeline).outer_size.width == 80
        assert app.query_one(Timeline).region.y > pane.region.y
        assert LONG in screen_text(app)
        await pilot.resize_terminal(*SIZE)
        await settle(pilot)
        assert pane.size.width == wide  # back as it was, names whole beside no empty space
        assert f"{LONG}  snapshot · 3 versions" in screen_text(app)
        assert not app.query_one(EntryTree).compact


async def test_80x24_keeps_user_changes_and_restored_marker_in_history(small_db, app_factory) -> None:
    log = small_db.log("globex", "flags")
    app = app_factory()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.goto_entry("globex", "flags")
        await settle(pilot)
        lines = region_lines(app, app.query_one(Timeline))
        assert "user" in lines[0] and "changes" in lines[0] and "date" in lines[0], lines[0]
        head = next(line for line in lines if log[0].digest[:7] in line)
        assert "erin" in head and " HEAD " in head and f"↺ from {log[-1].digest[:7]}" in head, head


async def test_80x24_entry_names_stay_whole(tui_engine, app_factory) -> None:
    long_names_db(tui_engine)
    app = app_factory()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert LONG in screen_text(app)
        assert "quarterly-rep…" not in screen_text(app)


async def test_80x24_record_table_shows_more_than_3_rows_and_footer_keeps_help(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.goto_entry("acme", "users")
        await settle(pilot)
        await pilot.press("3")  # to the version pane: it takes the room
        await settle(pilot)
        assert isinstance(app.focused, RecordTable)
        rows = [line for line in region_lines(app, app.focused) if line.strip().startswith("u")]
        assert len(rows) > 3, rows
        assert "? Help" in screen_text(app).splitlines()[-1]
        await pilot.press("2")  # History: the most keys of all in the footer
        await settle(pilot)
        assert isinstance(app.focused, Timeline)
        assert "? Help" in screen_text(app).splitlines()[-1]


async def test_help_scrolls_at_80x24_to_its_last_section(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        scroll = app.screen.query_one("#help-scroll", VerticalScroll)
        assert scroll.max_scroll_y > 0
        assert "Save" not in screen_text(app)
        seen = screen_text(app)
        while scroll.scroll_y < scroll.max_scroll_y:
            before = scroll.scroll_y
            await pilot.press("pagedown")
            await pilot.pause()
            assert scroll.scroll_y > before
            seen += screen_text(app)
            assert "escape closes" in screen_text(app)  # the closing line stays on screen
        for section in ("Everywhere", "Entries", "Compare screen", "Editor", "Save", "History", "Version"):
            assert section in seen, section
        await pilot.press("home")
        await pilot.pause()
        assert scroll.scroll_y == 0


async def test_entry_pane_width_is_steady_while_typing_a_filter(tui_engine, app_factory) -> None:
    long_names_db(tui_engine)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(EntryPane)
        width = pane.size.width
        await pilot.press("slash")
        for key in "app":
            await pilot.press(key)
            await pilot.pause(0.2)
            await settle(pilot)
            assert pane.size.width == width, key
        assert "app-config" in screen_text(app) and LONG not in screen_text(app)


async def test_plus_zooms_the_focused_pane_and_number_keys_jump_to_panes(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        assert isinstance(app.focused, Timeline)
        await pilot.press("plus")
        await pilot.pause()
        assert app.screen.maximized is app.query_one(Timeline)
        await pilot.press("plus")
        await pilot.pause()
        assert app.screen.maximized is None
        await pilot.press("3")
        assert app.query_one(Viewer) in app.focused.ancestors
        await pilot.press("plus")  # the whole version pane, not the tree that has the focus
        await pilot.pause()
        assert app.screen.maximized is app.query_one(Viewer)
        await pilot.press("1")  # a number key leaves the zoom
        await pilot.pause()
        assert app.screen.maximized is None and isinstance(app.focused, EntryTree)
        await pilot.press("tab")  # tab still cycles
        assert not isinstance(app.focused, EntryTree)
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Zoom pane" in commands and "Maximize" not in commands
        await pilot.press("1", "slash")
        assert isinstance(app.focused, Input)
        await pilot.press("2")  # typed into the filter, not a pane jump
        assert app.focused.value == "2"
