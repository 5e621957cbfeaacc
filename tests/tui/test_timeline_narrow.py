"""The timeline on narrow terminals: columns shrink or drop, the HEAD and restored markers stay."""

from __future__ import annotations

import pytest
from tui_helpers import screen_text, settle

from mydb_tui.widgets.timeline import Timeline, fit_columns

NARROW = [(100, 30), (80, 24)]


def timeline_lines(app) -> list[str]:
    """The timeline pane's rows as shown (inside its border)."""
    timeline = app.query_one(Timeline)
    region = timeline.content_region
    lines = screen_text(app).splitlines()[region.y:region.bottom]
    return [line[region.x:region.right] for line in lines]


def row_of(app, digest: str) -> str:
    return next(line for line in timeline_lines(app) if digest[:7] in line)


@pytest.mark.parametrize("size", NARROW)
async def test_head_and_restored_markers_show_on_the_head_row(small_db, app_factory, size) -> None:
    log = small_db.log("globex", "flags")
    head, first = log[0], log[-1]
    assert head.restored_from == first.digest
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        app.goto_entry("globex", "flags")
        await settle(pilot)
        row = row_of(app, head.digest)
        assert " HEAD " in row and "↺" in row and first.digest[:7] in row.split("↺")[1], row
        timeline = app.query_one(Timeline)
        assert timeline.virtual_size.width <= timeline.scrollable_content_region.width  # nothing hidden right


@pytest.mark.parametrize("size", NARROW)
async def test_an_older_restored_row_keeps_its_marker_with_long_user_names(tui_engine, app_factory, size) -> None:
    tui_engine.init("t")
    first = tui_engine.save("t", "a-rather-long-user-name", "cfg", {"v": 1})
    tui_engine.save("t", "another-long-username", "cfg", {"v": 2})
    restored = tui_engine.restore("t", "a-rather-long-user-name", "cfg", first)
    head = tui_engine.save("t", "someone", "cfg", {"v": 3})
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        app.goto_entry("t", "cfg")
        await settle(pilot)
        assert " HEAD " in row_of(app, head)
        row = row_of(app, restored)
        assert "↺" in row and first[:7] in row.split("↺")[1], row
        header = timeline_lines(app)[0]
        assert "digest" in header and "date" in header  # the date stays, shortened if need be


def test_fit_columns_drops_in_order_and_always_keeps_the_markers() -> None:
    wide = fit_columns(200, 14, True)
    assert (wide.date, wide.user, wide.summary, wide.restored) == (22, 14, 12, len("↺ restored from 1234567"))
    previous = wide.width
    for width in range(previous, 20, -1):
        columns = fit_columns(width, 14, True)
        assert columns.width <= previous  # never wider as the pane narrows
        assert columns.restored > 0  # the marker is never dropped
        previous = columns.width
        if width >= 30:
            assert columns.width <= width
    assert fit_columns(60, 6, False).restored == 0  # nothing reserved without a restored version
