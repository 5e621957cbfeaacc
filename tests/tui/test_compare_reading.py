"""The compare reads well: the record's key stays on top while its lines scroll, tagged values
show as badges (t: the stored JSON), the header counts records and fields, and the change
list uses the width it has."""

from __future__ import annotations

import pytest
from dbengine.dbengine import DbEngine
from textual.widgets import Static
from tui_helpers import Host, screen_engine

from mydb_tui.screens.compare import CompareScreen
from mydb_tui.widgets.change_list import ChangeList
from mydb_tui.widgets.diff_view import DiffView

TENANT = "acme"


@pytest.fixture
def engine(tmp_path) -> DbEngine:
    return screen_engine(tmp_path, TENANT)


async def open_compare(pilot, app: Host, screen: CompareScreen) -> CompareScreen:
    app.push_screen(screen)
    for _ in range(2):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()
    assert screen.comparison is not None, screen.error
    return screen


def lines(diff: DiffView) -> list[str]:
    return [diff.render_line(y).text for y in range(diff.scrollable_content_region.height)]


def long_records(engine: DbEngine) -> tuple[str, str]:
    """Two records of 60 fields each, changed far down (field50)."""
    records = {key: {f"field{n:02d}": n for n in range(60)} for key in ("alpha", "beta")}
    engine.put_many(TENANT, "alice", "users", records)
    old = engine.get_digest(TENANT, "users")
    engine.put_many(TENANT, "bob", "users", {k: {**v, "field50": -1, "field55": -2} for k, v in records.items()})
    return old, engine.get_digest(TENANT, "users")


async def test_the_records_key_stays_on_top_while_its_lines_scroll(engine) -> None:
    old, new = long_records(engine)
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "users", old, new))
        diff = screen.query_one(DiffView)
        # opening: the first change (alpha's field50) is shown with alpha's key above it
        change = screen.comparison.changes[0]
        assert change.record_key == "alpha" and diff.scroll_offset.y > 0
        top = lines(diff)[0]
        assert top.count("▸ alpha") == 2  # both sides
        assert '"field50": -1' in lines(diff)[change.row - diff.scroll_offset.y]
        for _ in range(3):  # n: alpha's second change, then beta's two
            await pilot.press("n")
            await pilot.pause()
            key = screen.comparison.changes[screen.selected_change].record_key
            assert diff.scroll_offset.y > 0 and f"▸ {key}" in lines(diff)[0]
        assert key == "beta"
        # a plain scroll inside a record keeps its key on top too
        diff.scroll_to(y=diff.record_row_of(screen.comparison.changes[0].row) + 20, animate=False)
        await pilot.pause()
        assert "▸ alpha" in lines(diff)[0] and '"field' in lines(diff)[1]
        # at the very top the key row is itself, not a copy over the first line
        diff.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert "▸ alpha" in lines(diff)[0] and lines(diff)[1].split()[1] == "{"


async def test_clicking_a_change_shows_its_records_key(engine) -> None:
    old, new = long_records(engine)
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "users", old, new))
        changes = screen.query_one(ChangeList)
        await pilot.click(changes, offset=(5, 3))  # the header line, then the third change
        await pilot.pause()
        assert screen.selected_change == 2
        diff = screen.query_one(DiffView)
        assert "▸ beta" in lines(diff)[0]


async def test_tagged_values_show_as_badges_and_t_shows_the_stored_json(engine) -> None:
    old = engine.save(TENANT, "alice", "config", {"when": b"\x00\x01", "tags": {1, 2}, "n": 1})
    new = engine.save(TENANT, "bob", "config", {"when": b"\x00\x01\x02", "tags": {1, 3}, "n": 1})
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", old, new))
        text = "\n".join(lines(screen.query_one(DiffView)))
        assert "⟨bytes · 2 B⟩" in text and "⟨bytes · 3 B⟩" in text and '"tags": ⟨set⟩ [' in text
        assert "__special__" not in text
        paths = [c.path for c in screen.comparison.changes]
        assert paths == ["['when']", "['tags'][1]"]  # a change inside bytes is a change of the bytes
        listed = screen.query_one(ChangeList).render_row(0).plain
        assert "⟨bytes · 2 B⟩ → ⟨bytes · 3 B⟩" in listed
        # the badge is drawn in the badge colour, on the changed line's background
        diff = screen.query_one(DiffView)
        row = screen.comparison.changes[0].row - diff.scroll_offset.y
        styles = {seg.text: seg.style for seg in diff.render_line(row) if "⟨" in seg.text}
        assert styles and all(style.color is not None for style in styles.values())

        assert "Show raw JSON" in [c.title for c in screen.system_commands()]  # in the command palette
        await pilot.press("t")
        for _ in range(2):
            await pilot.pause()
            await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen.badges
        assert "Show badges" in [c.title for c in screen.system_commands()]
        text = "\n".join(lines(screen.query_one(DiffView)))
        assert '"__special__": "py/bytes"' in text and "⟨bytes" not in text
        assert "['when']['base64']" in [c.path for c in screen.comparison.changes]
        assert "raw JSON" in screen.query_one("#compare-title", Static).content.plain
        await pilot.press("t")
        for _ in range(2):
            await pilot.pause()
            await app.workers.wait_for_complete()
        assert screen.badges and "⟨bytes · 3 B⟩" in "\n".join(lines(screen.query_one(DiffView)))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"a": 1, "b": 1}, {"a": 2, "b": 2}, "2 keys changed"),
        ({"a": 1}, {"a": 1, "b": 1}, "1 key added"),
        ({"s": {"x": 1, "y": 1}}, {"s": {"x": 2, "y": 2}}, "1 key changed · 2 field changes"),
    ],
)
async def test_the_header_counts_keys_and_fields(engine, before, after, expected) -> None:
    old = engine.save(TENANT, "alice", "config", before)
    new = engine.save(TENANT, "bob", "config", after)
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", old, new))
        title = screen.query_one("#compare-title", Static).content.plain
        assert title.endswith(expected)


async def test_the_header_counts_records_and_field_changes(engine) -> None:
    engine.put_many(TENANT, "alice", "users", {f"u{i}": {"a": i, "b": i} for i in range(20)})
    old = engine.get_digest(TENANT, "users")
    engine.put_many(TENANT, "bob", "users", {f"u{i}": {"a": -i - 1, "b": -i - 1 if i < 7 else i} for i in range(17)})
    new = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "users", old, new))
        title = screen.query_one("#compare-title", Static).content.plain
        assert title.endswith("17 records changed · 24 field changes")


async def test_change_values_use_the_width(engine) -> None:
    long_old, long_new = "o" * 90, "n" * 90
    old = engine.save(TENANT, "alice", "config", {"text": long_old})
    new = engine.save(TENANT, "bob", "config", {"text": long_new})
    for width, whole in ((220, True), (80, False)):
        app = Host()
        async with app.run_test(size=(width, 30)) as pilot:
            screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", old, new))
            row = screen.query_one(ChangeList).render_row(0).plain
            assert len(row) <= width
            assert (f'"{long_old}"' in row and f'"{long_new}"' in row) is whole
            assert "→" in row and "nnnnnnnnnn" in row  # both values show, even when cut
