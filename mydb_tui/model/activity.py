"""The activity strip above the timeline: versions per day (or per week, or per a few
weeks) over an entry's life, in one line of cells. Textual-free.

`activity(dates, width)` buckets the version dates (local time) into at most `width`
cells: a cell is a day when the life fits, else a week, else as many weeks as it takes.
`shade(count, top)` is the cell's level, 0 (no version) to LEVELS. `read_days(engine, ...)`
reads the dates: every version's from the index's date column (engine.history_columns) up
to FULL_READ versions, else SAMPLE_WINDOWS evenly spread windows of SAMPLE_SIZE versions
(log_window seeks), each date read counting for total / read versions.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

LEVELS = 4
FULL_READ = 200_000
SAMPLE_WINDOWS = 64
SAMPLE_SIZE = 64


@dataclass(frozen=True)
class Activity:
    start: _dt.date  # the first day of the first cell
    days: int  # days per cell (1: a day, 7: a week, 7n: n weeks)
    counts: tuple[int, ...]
    sampled: int = 1  # each date read stands for this many versions (1: every version read)

    @property
    def unit(self) -> str:
        if self.days == 1:
            return "day"
        if self.days == 7:
            return "week"
        return f"{self.days // 7} weeks"

    @property
    def top(self) -> int:
        return max(self.counts, default=0)

    def cell_of(self, when: _dt.datetime | None) -> int | None:
        """The cell of a version's date (None: no date, or outside the strip)."""
        if when is None:
            return None
        cell = (_local_day(when) - self.start).days // self.days
        return cell if 0 <= cell < len(self.counts) else None


def _local_day(when: _dt.datetime) -> _dt.date:
    return when.astimezone().date() if when.tzinfo is not None else when.date()


def day_counts(dates: Iterable[_dt.datetime | None]) -> dict[_dt.date, int]:
    """Versions per local day (None skipped)."""
    per_day: dict[_dt.date, int] = {}
    for when in dates:
        if when is not None:
            day = _local_day(when)
            per_day[day] = per_day.get(day, 0) + 1
    return per_day


def activity(dates: Iterable[_dt.datetime | None], width: int, sampled: int = 1) -> Activity | None:
    """Bucket `dates` (any order; None skipped) into at most `width` cells; None when no date."""
    return activity_of_days(day_counts(dates), width, sampled)


def activity_of_days(per_day: dict[_dt.date, int], width: int, sampled: int = 1) -> Activity | None:
    """As activity(), from day_counts() (kept by the strip, bucketed again on a resize)."""
    if not per_day or width < 1:
        return None
    first, last = min(per_day), max(per_day)
    span = (last - first).days + 1
    if span <= width:
        days, start = 1, first
    else:
        start = first - _dt.timedelta(days=first.weekday())  # weeks start on Monday
        span = (last - start).days + 1
        weeks = -(-span // 7)
        days = 7 * -(-weeks // width)
    cells = -(-((last - start).days + 1) // days)
    counts = [0] * cells
    for day, count in per_day.items():
        counts[(day - start).days // days] += count * sampled
    return Activity(start, days, tuple(counts), sampled)


def shade(count: int, top: int) -> int:
    """0 for no version; else 1..LEVELS, in proportion to the busiest cell."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, min(LEVELS, -(-count * LEVELS // top)))


def read_days(engine, tenant: str, entry: str, total: int,
              cancelled: Callable[[], bool] = lambda: False) -> tuple[dict[_dt.date, int], int] | None:
    """(versions per local day, how many versions each date read stands for) of the entry's
    history of `total` versions; None when `cancelled()` turned true. Engine errors propagate."""
    if total <= FULL_READ:
        return day_counts(engine.history_columns(tenant, entry).dates()), 1
    dates: list[_dt.datetime | None] = []
    step = max(1, (total - SAMPLE_SIZE) // (SAMPLE_WINDOWS - 1))
    for start in range(0, total, step):
        if cancelled():
            return None
        window = engine.log_window(tenant, entry, min(start, total - SAMPLE_SIZE), SAMPLE_SIZE)
        dates += [v.date for v in window.versions]
    return day_counts(dates), max(1, round(total / max(1, len(dates))))
