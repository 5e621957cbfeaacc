"""`/` in the History pane filters the versions (user:, words, dates, key:); esc clears it."""

from __future__ import annotations

from tui_helpers import SIZE, open_entry, settle

from mydb_tui.screens.timeline_filter import TimelineFilterScreen
from mydb_tui.widgets.timeline import Timeline


def build(engine) -> list[str]:
    engine.init("t")
    engine.put_many("t", "alice", "recs", {f"k{i}": i for i in range(3)})
    for v in range(9):
        engine.put("t", ["alice", "bob", "carol"][v % 3], "recs", f"k{v % 3}", v + 10)
    return engine.history("t", "recs", max_items=None)


async def open_timeline(pilot, app) -> Timeline:
    timeline = await open_entry(pilot, "t", "recs")
    await settle(pilot)
    assert timeline.entry == "recs" and timeline.row_count == 10
    return timeline


async def type_filter(pilot, text: str) -> None:
    await pilot.press("/")
    await settle(pilot)
    assert isinstance(pilot.app.screen, TimelineFilterScreen)
    await pilot.press("ctrl+a", "ctrl+k", *text, "enter")
    await settle(pilot)


async def test_user_filter_shows_in_the_title_and_esc_clears_it(tui_engine, app_factory) -> None:
    digests = build(tui_engine)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_timeline(pilot, app)
        await pilot.press("j", "j")  # digests[2]: alice's
        await settle(pilot)
        assert timeline.selected.user_id == "alice"
        await type_filter(pilot, "user:alice")
        shown = [timeline.version_at(i) for i in range(timeline.row_count)]
        assert [v.user_id for v in shown] == ["alice"] * 4
        assert [v.digest for v in shown] == [d for i, d in enumerate(digests) if i in (2, 5, 8, 9)]
        assert timeline.border_title == "History · filter: user:alice · 4 of 10"
        assert timeline.selected.digest == digests[2]  # the selection stays when it matches
        assert timeline.filter_seconds is not None
        await pilot.press("j")
        await settle(pilot)
        assert app.viewer.digest == digests[5]
        await pilot.press("escape")
        await settle(pilot)
        assert timeline.filter is None and timeline.row_count == 10
        assert timeline.border_title == "History"
        assert timeline.selected.digest == digests[5]  # at its place in the whole history


async def test_key_filter_combines_with_a_word_and_a_bad_term_is_said(tui_engine, app_factory) -> None:
    digests = build(tui_engine)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        timeline = await open_timeline(pilot, app)
        await type_filter(pilot, "key:k1")
        touching = [d for d, _ in tui_engine.versions_touching("t", "recs", key="k1")]
        assert len(touching) == 4  # the put_many and three puts
        assert [timeline.version_at(i).digest for i in range(timeline.row_count)] == touching
        await type_filter(pilot, "key:k1 bob")
        assert [timeline.version_at(i).user_id for i in range(timeline.row_count)] == ["bob"] * 3
        assert "4 of" not in timeline.border_title and "3 of 10" in timeline.border_title
        await pilot.press("/")
        await settle(pilot)
        await pilot.press("ctrl+a", "ctrl+k", *">=someday", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TimelineFilterScreen) and "ISO 8601" in (screen.error or "")
        await pilot.press("escape")
        await settle(pilot)
        assert timeline.row_count == 3  # the filter before stays
        await type_filter(pilot, "user:nobody")
        assert timeline.row_count == 0 and "0 of 10" in timeline.border_title
        assert digests  # (history read)
