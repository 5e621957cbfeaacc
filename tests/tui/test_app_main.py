"""The main screen: tree, timeline, viewer, their keys, literal text, copying, help."""

from __future__ import annotations

import re

from tui_helpers import SIZE, USER, screen_text, settle

from mydb_tui.screens.help import HelpScreen
from mydb_tui.widgets.entry_tree import EntryTree
from mydb_tui.widgets.json_tree import JsonTree
from mydb_tui.widgets.record_table import RecordTable
from mydb_tui.widgets.timeline import Timeline
from mydb_tui.widgets.viewer import Viewer


async def goto(pilot, tenant: str, entry: str) -> None:
    pilot.app.goto_entry(tenant, entry)
    await settle(pilot)


async def test_main_screen_shows_tree_timeline_and_viewer(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "acme" in text and "globex" in text
        assert "config  snapshot · 3 versions" in text
        assert "users  records · 2 versions" in text
        assert f"user {USER}" in text  # the header
        head = small_db.get_digest("acme", "config")
        # the first entry opens by itself: its timeline, newest first, HEAD marked
        assert app.timeline.entry == "config"
        lines = [line for line in text.splitlines() if head[:7] in line]
        assert any("HEAD" in line and "alice" in line and "+1 ~1 -1" in line for line in lines)
        assert "2026-11-26 14:05" in text  # local time (TZ=UTC in tests)
        # the viewer: metadata strip (full digest) and the data tree
        assert head in text
        assert "servers" in text and "⟨tuple · 2 items⟩" in text


async def test_timeline_vim_keys_and_viewer_follow(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.query_one(Timeline)
        timeline.focus()
        digests = [v.digest for v in small_db.log("acme", "config")]
        await pilot.press("j")
        await settle(pilot)
        assert timeline.cursor == 1
        assert app.query_one(Viewer).digest == digests[1]
        assert "[bold red]not markup[/]" in screen_text(app)  # markup in data is shown literally
        await pilot.press("G")
        assert timeline.cursor == 2
        await pilot.press("k")
        assert timeline.cursor == 1
        await pilot.press("g")
        await settle(pilot)
        assert timeline.cursor == 0
        assert app.query_one(Viewer).digest == digests[0]


async def test_space_marks_and_c_copies_digest(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one(Timeline).focus()
        await pilot.press("j", "space")
        marked = small_db.log("acme", "config")[1].digest
        assert app.query_one(Timeline).marked == marked
        assert f"● {marked[:7]}" in screen_text(app)
        await pilot.press("space")
        assert app.query_one(Timeline).marked is None
        await pilot.press("c")
        assert app.clipboard == marked


async def test_record_entry_shows_a_table_and_the_selected_record(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "acme", "users")
        table = app.query_one(RecordTable)
        assert table.keys[:3] == ["u00", "u01", "u02"] and len(table.keys) == 30
        text = screen_text(app)
        assert "key" in text and "name" in text and "age" in text
        assert "changed" in text  # u03 after carol's change
        table.focus()
        await pilot.press("j", "j", "j")
        await settle(pilot)
        assert app.query_one(Viewer).selected_record == "u03"
        detail = app.query_one("#record-tree", JsonTree)
        assert str(detail.root.label).startswith("u03")
        await pilot.press("c")
        assert app.clipboard == "u03"
        await pilot.press("G")
        assert table.selected_key == "u29"


async def test_t_toggles_tree_and_pretty_json(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one("#data-tree").focus()
        await pilot.press("t")
        await settle(pilot)
        viewer = app.query_one(Viewer)
        assert viewer.mode == "text"
        assert app.query_one("#viewer-content").current == "data-text"
        assert '"port": 8080' in app.query_one("#data-text").text
        assert '"port": 8080' in screen_text(app)
        await pilot.press("t")
        assert app.query_one("#viewer-content").current == "data-tree"


async def test_tab_moves_between_panes(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, EntryTree)
        await pilot.press("tab")
        assert isinstance(app.focused, Timeline)
        await pilot.press("tab")
        assert isinstance(app.focused, JsonTree)
        await pilot.press("shift+tab")
        assert isinstance(app.focused, Timeline)


async def test_footer_shows_the_focused_panes_keys(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "Filter" in footer and "Help" in footer and "Quit" in footer
        app.query_one(Timeline).focus()
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        for label in ("Mark", "Compare", "vs HEAD", "Restore", "Edit", "Copy digest"):
            assert label in footer


async def test_help_lists_every_key(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for _ in range(4):  # the help is longer than one screen: read it all
            await pilot.press("pagedown")
            await pilot.pause()
            text += screen_text(app)
        for needle in ("Compare", "Restore", "Add record", "Delete record", "Mark", "Filter",
                       "Tree/JSON", "Decode value", "Copy", "Go to entry", "^p", "tab", "Next change", "Save"):
            assert needle in text, needle
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")


async def test_filter_entries_by_name(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"lag")
        await pilot.pause(0.3)
        await settle(pilot)
        tree = app.query_one(EntryTree)
        shown = [(t, [c.data.entry for c in n.children]) for t, n in tree.tenant_nodes().items()]
        assert shown == [("globex", ["flags"])]
        assert tree.selected_entry == ("globex", "flags")  # the first match is selected
        assert app.timeline.entry == "flags"
        await pilot.press("enter")
        await pilot.press("escape")
        await settle(pilot)
        assert set(tree.tenant_nodes()) == {"acme", "globex"}
        assert tree.selected_entry == ("globex", "flags")  # kept when the filter is cleared


async def test_the_hidden_filter_input_never_takes_the_focus(small_db, app_factory) -> None:
    """Only `/` makes it focusable: a key pressed at start never becomes a filter."""
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one("#entry-filter")
        assert not box.focusable
        await settle(pilot)
        assert isinstance(app.focused, EntryTree) and not box.focusable
        await pilot.press("slash")
        assert box.focusable and app.focused is box
        await pilot.press("escape")
        assert not box.focusable and isinstance(app.focused, EntryTree)


async def test_goto_entry_from_the_palette(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to entry")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.press(*"glxflags")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert app.query_one(EntryTree).selected_entry == ("globex", "flags")
        assert app.timeline.entry == "flags"
        assert "restored from" in screen_text(app)


async def test_strings_from_the_database_are_literal(tui_engine, app_factory) -> None:
    evil = "[bold red]boom[/] \x1b[31m[link=http://x]y[/link]"
    tui_engine.init("t")
    tui_engine.save("t", "[red]mallory\x1b[2J", evil, {evil: evil})
    app = app_factory(user="[b]me[/b]")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "[bold red]boom[/] \\x1b[31m[link=http://x]y[/link]" in text  # tree, viewer
        assert "[red]mallory\\x1b[2J" in text  # the version's user, escaped
        assert "user [b]me[/b]" in text  # header
        assert "\x1b" not in text


def _long_names_db(engine) -> None:
    engine.init("acme-corporation")
    for i in range(12):
        engine.save("acme-corporation", "alice", "quarterly-report-archive", {"n": i})
    engine.save("acme-corporation", "bob", "app-config", {"debug": False})


def _line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


async def test_tree_pane_fits_pattern_and_count_at_160_columns(tui_engine, app_factory) -> None:
    _long_names_db(tui_engine)
    app = app_factory()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        line = _line_with(text, "quarterly-report-archive")
        # the whole label shows inside the pane's border (nothing cut)
        assert re.search(r"quarterly-report-archive  snapshot · 12 versions +│", line), line
        assert "app-config  snapshot · 1 version " in text
        assert app.query_one("#entry-pane").size.width <= int(160 * 0.38)


async def test_tree_pane_goes_compact_rather_than_cutting_at_100_columns(tui_engine, app_factory) -> None:
    _long_names_db(tui_engine)
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        line = _line_with(text, "quarterly-rep")
        # "versions" is dropped; a label still too long loses its details, never its name
        assert re.search(r"quarterly-report-archive *│", line), line
        assert re.search(r"app-config  snapshot · 1 *│", text)
        assert "pattern · versions" in text  # the pane's subtitle says what the columns are
        assert app.query_one("#entry-pane").size.width <= 38
        # the timeline and viewer keep most of the screen
        assert app.timeline.size.width >= 55


async def test_dates_are_local_with_offset_in_timeline_metadata_and_compare(
        small_db, app_factory, monkeypatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        head = small_db.log("acme", "config")[0]
        minute = head.date.astimezone().strftime("%Y-%m-%d %H:%M")
        assert minute.endswith("15:05")  # 14:05 UTC in Paris in November
        assert f"{minute} +0100" in _line_with(text, head.digest[:7])  # the timeline row
        assert f"date {minute}:07 +0100" in text  # the metadata strip, same time and offset
        assert "20261126" not in text  # never the stored form
        app.query_one(Timeline).focus()
        await pilot.press("d")
        await settle(pilot)
        assert f"{minute}:07 +0100" in screen_text(app)  # the compare screen's NEWER side


async def test_metadata_strip_wraps_between_items_on_a_narrow_screen(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        head = small_db.log("acme", "config")[0]
        parent = head.parents[0]
        assert f"digest {head.digest[:30]}" in text
        assert f"parent {parent[:12]}" in text and "user alice" in text
        assert "date 2026-11-26 14:05:07 +0000" in text  # whole, on its own line if need be


async def test_timeline_subtitle_shows_position_and_tree_title_the_filter(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "1 / 3" in screen_text(app)
        app.query_one(Timeline).focus()
        await pilot.press("G")
        await settle(pilot)
        assert "3 / 3" in screen_text(app)
        app.query_one(EntryTree).focus()
        await pilot.press("slash", *"lag", "enter")
        await pilot.pause(0.3)
        await settle(pilot)
        assert "Entries · filter 'lag'" in screen_text(app)


async def test_record_cursor_stays_visible_above_a_horizontal_scrollbar(tui_engine, app_factory) -> None:
    tui_engine.init("t")
    wide = {f"r{i:02d}": {f"field{c}": "v" * 20 for c in range(8)} for i in range(40)}
    tui_engine.put_many("t", "alice", "wide", wide)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.query_one(RecordTable)
        table.focus()
        await pilot.pause()
        assert table.show_horizontal_scrollbar
        await pilot.press("G")
        await settle(pilot)
        assert table.selected_key == "r39"
        # the last row is drawn above the scrollbar, not hidden behind it
        table_rows = [line for line in screen_text(app).splitlines() if "│r3" in line or "│ r3" in line]
        assert any("r39" in line for line in table_rows), table_rows
        for _ in range(3):
            await pilot.press("pagedown")
        await pilot.press("pageup")
        await settle(pilot)
        shown = [line for line in screen_text(app).splitlines() if table.selected_key in line]
        assert shown, table.selected_key
