"""Buckets and shades of the activity strip (mydb_tui.model.activity)."""

from __future__ import annotations

import datetime as dt

import pytest

from mydb_tui.model.activity import LEVELS, activity, shade


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time
    time.tzset()


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, 1, hour, tzinfo=dt.UTC) + dt.timedelta(days=day)


def test_a_short_life_is_counted_per_day() -> None:
    strip = activity([at(0), at(0, 13), at(2), None], width=40)
    assert (strip.unit, strip.counts, strip.start) == ("day", (2, 0, 1), dt.date(2026, 3, 1))
    assert strip.cell_of(at(2)) == 2 and strip.cell_of(None) is None and strip.cell_of(at(9)) is None


def test_a_long_life_is_counted_per_week_or_more() -> None:
    strip = activity([at(0), at(100)], width=40)  # 101 days: 15 weeks
    assert strip.unit == "week" and sum(strip.counts) == 2 and len(strip.counts) <= 40
    assert strip.start.weekday() == 0
    wide = activity([at(0), at(1000)], width=40)
    assert wide.days % 7 == 0 and wide.days > 7 and len(wide.counts) <= 40
    assert wide.cell_of(at(1000)) == len(wide.counts) - 1 and wide.cell_of(at(0)) == 0


def test_sampled_dates_count_for_more_and_nothing_gives_none() -> None:
    assert activity([at(0)], 10, sampled=5).counts == (5,)
    assert activity([None], 10) is None and activity([], 10) is None


def test_shades() -> None:
    assert shade(0, 10) == 0 and shade(1, 10) == 1 and shade(10, 10) == LEVELS and shade(5, 10) == 2
