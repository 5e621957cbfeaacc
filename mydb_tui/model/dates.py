"""Dates as the CLI and the TUI show them: local time, the year always four digits.

A version's date is None when its stored `__date__` is damaged (the engine sets
`Version.damage`); that shows as "invalid date", never as an error. `strftime("%Y")` is
not used: it does not pad years below 1000 on Linux.
"""

from __future__ import annotations

import datetime as dt

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
