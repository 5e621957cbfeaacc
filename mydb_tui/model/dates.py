"""Dates as the CLI and the TUI show them: local time, the year always four digits.

A version's date is None when its stored `__date__` is damaged (the engine sets
`Version.damage`); that shows as "invalid date", never as an error. `strftime("%Y")` is
not used: it does not pad years below 1000 on Linux.
"""

from __future__ import annotations

import datetime as dt

INVALID_DATE = "invalid date"


def local_time(moment: dt.datetime | None, seconds: bool = True, offset: bool = True) -> str:
    """`2026-04-26 18:59:00 +0100`: an aware date in local time (without seconds and/or offset
    on request); "invalid date" for None or a date local time cannot show."""
    if moment is None:
        return INVALID_DATE
    try:
        local = moment.astimezone()
    except (OverflowError, ValueError, OSError):
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
