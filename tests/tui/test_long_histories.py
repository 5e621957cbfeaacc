"""Long histories and big tenants in the TUI, on small data with small pages.

The timeline reads its versions a page at a time (Timeline.PAGE) as rows scroll into
view: `G` reads only the oldest page and selects the oldest version, `g` comes back to
the head. A tenant of more entries than LAZY_ENTRIES shows them a page at a time and
reads the details of the rows on screen only; `goto` reaches an entry not shown yet.
"""

from __future__ import annotations

import pytest
from dbengine.index_window import LogView
from tui_helpers import SIZE, settle

from mydb_tui.model import entries as listing
from mydb_tui.model.entries import EntryData, NoteData
from mydb_tui.widgets.timeline import Timeline

COUNT = 150


@pytest.fixture
def long_db(tui_engine, monkeypatch):
    monkeypatch.setattr(Timeline, "PAGE", 16)
    tui_engine.init("t")
    for v in range(COUNT):
        tui_engine.save("t", f"user{v % 3}", "long", {"v": v})
    return tui_engine


async def test_the_timeline_scrolls_to_the_oldest_version_and_back(long_db, app_factory) -> None:
    digests = long_db.history("t", "long", max_items=None)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.query_one(Timeline)
        assert (timeline.entry, timeline.row_count) == ("long", COUNT)
        assert isinstance(timeline.versions, LogView)
        assert timeline.versions.cached(COUNT - 1) is None  # the oldest page is not read yet
        timeline.focus()
        await pilot.press("G")
        await settle(pilot)
        assert timeline.cursor == COUNT - 1
        assert timeline.selected is not None and timeline.selected.digest == digests[-1]
        assert app.viewer.digest == digests[-1]
        pages = len(timeline.versions._pages)
        assert pages <= 1 + -(-SIZE[1] // Timeline.PAGE) * 2, pages  # a few pages, not the history
        await pilot.press("g")
        await settle(pilot)
        assert timeline.cursor == 0 and timeline.selected.digest == digests[0]
        assert app.viewer.digest == digests[0]
        await pilot.press("pagedown", "pagedown")
        await settle(pilot)
        assert timeline.selected.digest == digests[timeline.cursor]


async def test_a_big_tenant_shows_pages_of_entries_with_details_for_the_rows_on_screen(
        tui_engine, app_factory, monkeypatch) -> None:
    monkeypatch.setattr(listing, "LAZY_ENTRIES", 5)
    monkeypatch.setattr(listing, "PAGE", 4)
    tui_engine.init("big")
    names = [f"e{i:02d}" for i in range(11)]
    for name in names:
        tui_engine.save("big", "loader", name, {"name": name})
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.tree
        node = tree.tenant_nodes()["big"]
        node.expand()
        await settle(pilot, rounds=6)
        assert node.data.count == len(names)
        entries = [c for c in node.children if isinstance(c.data, EntryData)]
        # the "… more" row was on screen, so the next pages came: every entry, in order,
        # each with its details (read for the rows on screen)
        assert [c.data.entry for c in entries] == names
        assert not any(isinstance(c.data, NoteData) for c in node.children)
        assert all(c.data.info is not None and c.data.info.versions == 1 for c in entries)


async def test_goto_reaches_an_entry_of_a_big_tenant_not_shown_yet(tui_engine, app_factory, monkeypatch) -> None:
    monkeypatch.setattr(listing, "LAZY_ENTRIES", 5)
    monkeypatch.setattr(listing, "PAGE", 3)
    tui_engine.init("big")
    names = [f"e{i:02d}" for i in range(40)]
    for name in names:
        tui_engine.save("big", "loader", name, {"name": name})
    app = app_factory()
    async with app.run_test(size=(100, 12)) as pilot:  # a short screen: not every page comes by itself
        await settle(pilot)
        tree = app.tree
        tree.goto("big", "e37")
        await settle(pilot, rounds=6)
        assert tree.selected_entry == ("big", "e37")
        assert app.timeline.entry == "e37"
