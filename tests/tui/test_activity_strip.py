"""The activity strip above the timeline (versions per day, the selection marked) and SVG
snapshots of the History pane with the strip and a filter, at 160x45 and 80x24."""

from __future__ import annotations

import datetime as dt

import pytest
from dbengine.dbengine import DbEngine
from tui_helpers import SIZE, START, open_entry, settle

from mydb_tui.widgets.activity_strip import ActivityStrip
from mydb_tui.widgets.timeline import Timeline

# versions on days 0 (5 of them), 1 (1), 3 (2), 6 (8) and 9 (1), by three users
DAYS = [0] * 5 + [1] + [3] * 2 + [6] * 8 + [9]


def build(root: str) -> list[str]:
    moments = iter([START + dt.timedelta(days=d, minutes=i) for i, d in enumerate(DAYS)])
    engine = DbEngine(root, clock=lambda: next(moments), durable=False)
    engine.init("t")
    for i, _day in enumerate(DAYS):
        engine.put("t", ["alice", "bob", "carol"][i % 3], "recs", f"k{i % 4}", i)
    return engine.history("t", "recs", max_items=None)


async def open_recs(pilot) -> tuple[Timeline, ActivityStrip]:
    timeline = await open_entry(pilot, "t", "recs")
    await settle(pilot)
    return timeline, pilot.app.query_one(ActivityStrip)


async def test_the_strip_counts_versions_per_day_and_marks_the_selection(tui_root, app_factory) -> None:
    build(tui_root)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline, strip = await open_recs(pilot)
        assert strip.display and strip.activity is not None
        assert strip.activity.unit == "day" and strip.activity.counts == (5, 1, 0, 2, 0, 0, 8, 0, 0, 1)
        wide = strip.cell_width
        assert wide == 4  # a short life is drawn wider
        text = strip.render().plain
        assert strip.marked_cell == 9 and text[9 * wide:10 * wide] == "◆" * wide  # HEAD: day 9
        assert text[:wide] == "█" * wide and text[2 * wide] == "·" and text.endswith("per day")
        await pilot.press("j")  # the newest version of day 6
        await settle(pilot)
        text = strip.render().plain
        assert strip.marked_cell == 6 and text[6 * wide] == "◆" and text[9 * wide] == "█"
        await pilot.press("G")  # the oldest: day 0
        await settle(pilot)
        assert strip.marked_cell == 0 and strip.render().plain[0] == "◆"


async def test_the_strip_hides_in_a_small_pane(tui_root, app_factory) -> None:
    build(tui_root)
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        timeline, strip = await open_recs(pilot)
        assert strip.display  # the History pane has the focus: it takes the room
        app.tree.focus()
        await settle(pilot)
        assert timeline.outer_size.height < 8 and not strip.display


@pytest.fixture
def snap_app(tui_root, app_factory, tmp_path, monkeypatch):
    build(tui_root)
    monkeypatch.chdir(tmp_path)  # the header shows the root: "db", not a temporary path
    return app_factory(root="db", poll_interval=0)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_history_pane_with_strip_and_filter(snap_app, snap_compare, size) -> None:
    async def before(pilot) -> None:
        timeline, _strip = await open_recs(pilot)
        await pilot.press("/")
        await settle(pilot)
        await pilot.press(*"user:bob", "enter")
        await settle(pilot)
        await pilot.press("j")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=size, run_before=before)
