"""Dates as the CLI and the TUI show them: local time, the year always four digits.

A version's date is None when its stored `__date__` is damaged (the engine sets
`Version.damage`); that shows as "invalid date", never as an error. `strftime("%Y")` is
not used: it does not pad years below 1000 on Linux.
"""

from __future__ import annotations

import datetime as dt
import operator
import time
from itertools import repeat

INVALID_DATE = "invalid date"


def in_zone(moment: dt.datetime, utc: bool = False) -> dt.datetime | None:
    """The same moment in local time (or in UTC); None when it cannot be shown there (a
    year-1 date west of Greenwich, a platform that cannot convert)."""
    try:
        return moment.astimezone(dt.UTC if utc else None)
    except (OverflowError, ValueError, OSError):
        return None


def local_time(moment: dt.datetime | None, seconds: bool = True, offset: bool = True,
               utc: bool = False) -> str:
    """`2026-04-26 18:59:00 +0100`: an aware date in local time (in UTC with `utc`; without
    seconds and/or offset on request); "invalid date" for None or a date local time cannot show."""
    if moment is None:
        return INVALID_DATE
    local = in_zone(moment, utc)
    if local is None:
        return INVALID_DATE
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    if seconds:
        text += f":{local.second:02d}"
    if offset:
        text += " " + local.strftime("%z")
    return text


def iso_date(moment: dt.datetime | None) -> str | None:
    """ISO 8601 with the offset the date was written with (`0999-06-01T00:00:00+00:00`), None for None."""
    return None if moment is None else moment.isoformat()


def zoned_iso(moment: dt.datetime | None, utc: bool = False) -> str | None:
    """ISO 8601 of the moment in local time (in UTC with `utc`), with its offset:
    `2026-06-25T04:08:00+00:00`; the offset it was written with when local time cannot show
    it (see in_zone); None for None. The same moment as `local_time` shows, to the second."""
    if moment is None:
        return None
    shown = in_zone(moment, utc) or moment
    return shown.isoformat()


#: Where isoformat() puts its separators in a date without a fraction of a second.
_MARKS = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (22, ":"))
_HOUR = 3600
_STEADY_HOURS = 3 * 366 * 24


def zoned_iso_texts(moments: dict[str, dt.datetime | None], utc: bool = False) -> dict[str, str | None]:
    """`zoned_iso` of many dates at once, keyed by the ISO text each was parsed from (100,000
    dates in tens of ms instead of ~0.3 s). Local offsets are read once per hour of the
    dates (for dates of one offset, once per hour of their span), and trusted for an hour
    only when its start and end agree; then a text already in `isoformat()`'s shape and
    that offset is its own answer, and the others are converted to that fixed offset at C
    speed. Dates of other hours go through zoned_iso one by one."""
    texts = list(moments) if None not in moments.values() else [t for t, m in moments.items() if m is not None]
    shown: dict[str, str | None] = dict.fromkeys(moments)
    if not texts:
        return shown
    items = list(map(moments.__getitem__, texts))
    offsets = set(map(dt.datetime.utcoffset, items))
    if len(offsets) == 1 and _all_plain(texts):  # one offset, one shape: text order is time order
        steady = _steady_offset(moments[min(texts)], moments[max(texts)], utc)
        if steady is not None and steady in offsets:  # the common case: nothing to convert
            shown.update(zip(texts, texts, strict=True))
            return shown
    try:
        hours = list(map(operator.floordiv, map(dt.datetime.timestamp, items), repeat(_HOUR)))
    except (OverflowError, ValueError, OSError):
        hours = [None] * len(texts)
    local = {hour: None if hour is None else _hour_offset(hour, utc) for hour in set(hours)}
    if None not in local.values():
        same = list(map(operator.eq, map(dt.datetime.utcoffset, items), map(local.__getitem__, hours)))
        if all(same) and _all_plain(texts):  # the common case: nothing to convert
            shown.update(zip(texts, texts, strict=True))
            return shown
        zones = {hour: dt.timezone(offset) for hour, offset in local.items()}
        try:
            shown.update(zip(texts, map(dt.datetime.isoformat, map(
                dt.datetime.astimezone, items, map(zones.__getitem__, hours))), strict=True))
            return shown
        except (OverflowError, ValueError, OSError):  # a date local time cannot show: one by one
            pass
    zones = {hour: None if offset is None else dt.timezone(offset) for hour, offset in local.items()}
    for text, moment, hour in zip(texts, items, hours, strict=True):
        zone = zones[hour]
        try:
            shown[text] = zoned_iso(moment, utc) if zone is None else moment.astimezone(zone).isoformat()
        except (OverflowError, ValueError, OSError):
            shown[text] = zoned_iso(moment, utc)
    return shown


def _all_plain(texts: list[str]) -> bool:
    """Every text (each one parsed by `fromisoformat`, so its fields are digits) is in
    isoformat()'s shape with no fraction of a second: 25 characters, separators in place."""
    if set(map(len, texts)) != {25}:
        return False
    joined, count = "".join(texts), len(texts)
    return all(joined[at::25] == mark * count for at, mark in _MARKS) and not joined[19::25].strip("+-")


def _steady_offset(first: dt.datetime, last: dt.datetime, utc: bool) -> dt.timedelta | None:
    """The local UTC offset when it is the same at both ends of every hour from `first` to
    `last` (up to three years of hours are read), else None."""
    if utc:
        return dt.timedelta(0)
    try:
        start, end = int(first.timestamp() // _HOUR), int(last.timestamp() // _HOUR)
        if end - start > _STEADY_HOURS:
            return None
        seen = {time.localtime(hour * _HOUR + edge).tm_gmtoff for hour in range(start, end + 1) for edge in (0, _HOUR - 1)}
    except (OverflowError, ValueError, OSError):
        return None
    return dt.timedelta(seconds=seen.pop()) if len(seen) == 1 and None not in seen else None


def _hour_offset(hour: float, utc: bool) -> dt.timedelta | None:
    """The local UTC offset through the hour starting at `hour * 3600` (POSIX seconds);
    None when it changes within that hour or cannot be read."""
    if utc:
        return dt.timedelta(0)
    try:
        start = time.localtime(hour * _HOUR).tm_gmtoff
        end = time.localtime(hour * _HOUR + _HOUR - 1).tm_gmtoff
    except (OverflowError, ValueError, OSError):
        return None
    return dt.timedelta(seconds=start) if start == end and start is not None else None
