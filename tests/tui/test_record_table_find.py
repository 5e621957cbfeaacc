"""Find in one version (issue 14): the record table's blame column (`b`), sorting (`s`,
`S`, a header click) and copying a value (`y`) or key (`Y`), in the real app on a real engine."""

from __future__ import annotations

from tui_helpers import open_record_table, settle

from mydb_tui.widgets.json_tree import JsonTree
from mydb_tui.widgets.record_table import RecordTable


def _row(table: RecordTable, key: str) -> str:
    return table.render_row(table.keys.index(key)).plain


async def test_b_shows_who_last_changed_each_visible_record(small_db, app_factory) -> None:
    log = small_db.log("acme", "users")  # newest first: carol's put of u03, then alice's put_many
    carol, alice = log[0].digest, log[1].digest
    asked: list[list[str]] = []
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(140, 20)) as pilot:
        table = await open_record_table(pilot, "acme", "users")
        blame = app.engine.blame

        def spy(tenant, entry, digest=None, keys=None):
            asked.append(list(keys))
            return blame(tenant, entry, digest, keys=keys)

        app.engine.blame = spy
        assert "last changed" not in table.render_header().plain
        await pilot.press("b")
        await pilot.pause(0.1)
        await settle(pilot)
        assert table.blame_on and "last changed" in table.render_header().plain
        assert f"{alice[:7]} alice" in _row(table, "u00")
        # only the rows on screen were asked for, not the 30 records
        assert asked and all(len(keys) <= table.visible_rows for keys in asked)
        assert "u29" not in {k for keys in asked for k in keys}
        assert "…" in _row(table, "u03")  # not on screen yet: not asked
        await pilot.press(*["down"] * 3)  # scrolling brings u03 into view: its blame comes
        await pilot.pause(0.1)
        await settle(pilot)
        assert f"{carol[:7]} carol" in _row(table, "u03")
        await pilot.press("end")
        await pilot.pause(0.1)
        await settle(pilot)
        assert f"{alice[:7]} alice" in _row(table, "u29")
        await pilot.press("b")
        await settle(pilot)
        assert not table.blame_on and carol[:7] not in _row(table, "u03")


async def test_b_in_the_record_detail_toggles_the_table_column(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(140, 30)) as pilot:
        table = await open_record_table(pilot, "acme", "users")
        detail = app.query_one("#record-tree", JsonTree)
        detail.focus()
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause(0.1)
        await settle(pilot)
        assert table.blame_on and not detail.blame_on
        assert "carol" in _row(table, "u03")


async def test_s_sorts_by_the_column_then_reverses_then_insertion_order(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(140, 40)) as pilot:
        table = await open_record_table(pilot, "acme", "users")
        insertion = list(table.keys)
        assert table.columns == ["name", "age"]
        await pilot.press("S", "S")  # key -> name -> age
        assert table.sort_column_index == 2
        await pilot.press("s")
        await settle(pilot)
        assert table.keys[0] == "u03"  # age 1, carol's change
        assert table.keys[1:] == insertion[:3] + insertion[4:]  # 20, 21, 22, 24, ...
        assert "a ▲" in table.render_header().plain
        await pilot.press("s")
        await settle(pilot)
        assert table.keys[0] == "u29" and table.keys[-1] == "u03"
        assert "a ▼" in table.render_header().plain
        await pilot.press("s")
        await settle(pilot)
        assert list(table.keys) == insertion and "▲" not in table.render_header().plain
        # enter and h still act on the record under the cursor after a sort
        await pilot.press("s", "end")
        await settle(pilot)
        assert table.selected_key == "u29"


async def test_clicking_a_header_sorts_by_that_column(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(140, 40)) as pilot:
        table = await open_record_table(pilot, "acme", "users")
        name_x = table._starts()[1] + 1
        await pilot.click(RecordTable, offset=(name_x, 0))
        await settle(pilot)
        assert table.sort == (1, False)
        assert table.keys[0] == "u03"  # "changed" sorts before "user 0"
        assert table.keys[1:4] == ["u00", "u01", "u10"]  # text order
        await pilot.click(RecordTable, offset=(1, 0))  # the key column
        await settle(pilot)
        assert table.sort == (0, False) and list(table.keys[:3]) == ["u00", "u01", "u02"]


async def test_y_copies_the_value_as_json_and_Y_the_key(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    copied: list[str] = []
    async with app.run_test(size=(140, 40)) as pilot:
        table = await open_record_table(pilot, "acme", "users")
        app.copy_to_clipboard = copied.append
        await pilot.press("down", "down", "down", "y")
        await pilot.pause()
        assert table.selected_key == "u03"
        import json

        assert json.loads(copied[-1]) == {"name": "changed", "age": 1}
        await pilot.press("Y")
        await pilot.pause()
        assert copied[-1] == "u03"


async def test_slash_filters_rows_by_key_or_value_and_esc_clears(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(140, 40)) as pilot:
        table = await open_record_table(pilot, "acme", "users")
        viewer = app.viewer
        await pilot.press("slash")
        await pilot.pause()
        box = app.query_one("#record-filter")
        assert box.display and app.focused is box
        await pilot.press(*"CHANGED")  # a value's text, any case
        await settle(pilot)
        assert list(table.keys) == ["u03"]
        assert "/CHANGED · 1 match" in str(viewer.border_title)
        await pilot.press(*["backspace"] * 7, "u", "1")  # a key's text ("user 1" does not hold it)
        await settle(pilot)
        assert list(table.keys) == [f"u{i}" for i in range(10, 20)]
        assert "10 matches" in str(viewer.border_title)
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is table and table.selected_key == "u10"
        await pilot.press("down")  # the detail follows the filtered row under the cursor
        await settle(pilot)
        assert table.selected_key == "u11" and app.viewer.selected_record == "u11"
        assert "user 11" in str(app.query_one("#record-tree").root.children[0].label)
        await pilot.press("escape")
        await settle(pilot)
        assert len(table.keys) == 30 and not box.display and viewer.border_title == "Version"


async def test_find_runs_over_a_big_entry_in_a_worker(tui_engine, app_factory) -> None:
    tui_engine.init("acme")
    tui_engine.put_many("acme", "alice", "users", {f"k{i:05d}": {"n": i} for i in range(30000)})
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(140, 40)) as pilot:
        table = await open_record_table(pilot, "acme", "users")
        table.set_filter("k2999")
        assert table.keys == [] and not table.filter_done  # the worker reads the records
        await settle(pilot)
        assert table.filter_done and list(table.keys) == [f"k2999{i}" for i in range(10)]
        table.set_filter("zzz")
        table.set_filter("k00001")  # new input cancels the search before
        await settle(pilot)
        assert list(table.keys) == ["k00001"]


async def test_h_after_a_sort_and_the_palette_lists_the_find_actions(small_db, app_factory) -> None:
    from mydb_tui.screens.key_history import ChangeRows, KeyHistoryScreen

    app = app_factory(poll_interval=0)
    async with app.run_test(size=(140, 40)) as pilot:
        table = await open_record_table(pilot, "acme", "users")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Blame column", "Find in this version", "Sort records", "Copy value as JSON"} <= titles
        await pilot.press("S", "S", "s")  # by age: carol's u03 (age 1) comes first
        await settle(pilot)
        assert table.selected_key == "u00"
        await pilot.press("home", "h")
        await settle(pilot)
        assert isinstance(app.screen, KeyHistoryScreen)
        assert [(r.user, r.kind) for r in app.screen.query_one(ChangeRows).rows] == [
            ("carol", "changed"), ("alice", "added")]
