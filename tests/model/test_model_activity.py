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


def test_read_days_reads_every_date_or_samples(tmp_path, monkeypatch) -> None:
    """Every version's date from the index's date column up to FULL_READ versions; beyond it,
    evenly spread windows whose dates each stand for total / read versions."""
    from dbengine.dbengine import DbEngine

    from mydb_tui.model import activity as model

    moments = iter([at(i // 10, i % 10) for i in range(300)])  # 10 versions a day for 30 days
    engine = DbEngine(str(tmp_path), durable=False, clock=lambda: next(moments))
    engine.init("t")
    for i in range(300):
        engine.save("t", "u", "e", {"i": i})
    per_day, sampled = model.read_days(engine, "t", "e", 300)
    assert sampled == 1 and per_day == model.day_counts(v.date for v in engine.log("t", "e", max_items=None))
    assert set(per_day.values()) == {10} and len(per_day) == 30
    monkeypatch.setattr(model, "FULL_READ", 100)
    monkeypatch.setattr(model, "SAMPLE_WINDOWS", 4)
    monkeypatch.setattr(model, "SAMPLE_SIZE", 10)
    per_day, sampled = model.read_days(engine, "t", "e", 300)
    assert sampled == round(300 / sum(per_day.values())) and 30 <= sum(per_day.values()) <= 50
    assert min(per_day) == at(0).date() and max(per_day) == at(29).date()  # both ends are read
    assert model.read_days(engine, "t", "e", 300, cancelled=lambda: True) is None
