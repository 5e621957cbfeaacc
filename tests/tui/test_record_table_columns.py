"""The record table: columns grow into free room, the key column stays put while → and ←
scroll the other columns a screen at a time (in the real app on a real engine)."""

from __future__ import annotations

from tui_helpers import open_record_table

from mydb_tui.widgets.record_table import MAX_WIDTH

WIDE = "x" * 45  # wider than MAX_WIDTH


def _records(engine, columns: int) -> None:
    engine.init("shop")
    engine.put_many("shop", "alice", "items", {
        f"item{i:02d}": {f"c{n}": f"{WIDE[:40]}{n}{i:02d}" for n in range(columns)} for i in range(30)
    })


async def test_columns_grow_into_free_room(tui_engine, app_factory) -> None:
    _records(tui_engine, 2)
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(200, 40)) as pilot:
        table = await open_record_table(pilot, "shop", "items")
        assert table.widths[1:] == [43, 43]  # the whole value, not cut at MAX_WIDTH
        assert f"{WIDE[:40]}000" in table.render_row(0).plain
        assert table.max_scroll_x == 0
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(110, 40)) as pilot:  # less room: capped, then what is left shared
        table = await open_record_table(pilot, "shop", "items")
        assert MAX_WIDTH <= table.widths[1] and table.widths[2] <= table.widths[1]
        assert table.row_width() <= table.scrollable_content_region.width


async def test_right_scrolls_a_screen_of_columns_and_the_key_stays(tui_engine, app_factory) -> None:
    _records(tui_engine, 8)
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await open_record_table(pilot, "shop", "items")
        view = table.scrollable_content_region.width
        before = table.render_line(1).text
        assert before.startswith("item00") and "c0" in table.render_line(0).text
        last_shown = max(i for i, c in enumerate(table.columns) if f"c{i}" in table.render_line(0).text)
        await pilot.press("right")
        await pilot.pause()
        x = table.scroll_offset.x
        assert 0 < x <= view  # at most one screen, and more than one cell
        header, row = table.render_line(0).text, table.render_line(1).text
        assert header.startswith("key") and row.startswith("item00")  # the key column stays put
        # the first column now shown is the one that was cut (or next) at the right edge
        assert header[table.fixed_width] != " "  # a column starts right after the key, never a cut tail
        first = header[table.fixed_width:].split()[0]
        assert first in (f"c{last_shown}", f"c{last_shown + 1}")
        await pilot.press("right", "right", "right", "right")
        await pilot.pause()
        assert table.scroll_offset.x == table.max_scroll_x
        assert table.render_line(0).text[table.fixed_width] != " "  # the last screen too
        assert table.render_line(1).text.startswith("item00")
        assert table.render_line(0).text.split()[-1] == "c7"  # the last column in view
        await pilot.press("left", "left", "left", "left", "left")
        await pilot.pause()
        assert table.scroll_offset.x == 0
        assert table.render_line(1).text == before
