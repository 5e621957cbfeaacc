"""Rows of the history timeline: what one line of the timeline pane shows."""

from __future__ import annotations

from dataclasses import dataclass

from dbengine.history import Version


@dataclass(frozen=True)
class TimelineRow:
    """One version as the timeline shows it (dates in local time)."""

    digest: str
    short: str
    date: str
    user: str
    summary: str
    is_head: bool
    restored_from: str | None


def row_for(version: Version, head: str) -> TimelineRow:
    """The timeline row of one version; `head` is the entry's head digest."""
    restored = version.restored_from
    return TimelineRow(
        digest=version.digest,
        short=version.digest[:7],
        date=version.date.astimezone().strftime("%Y-%m-%d %H:%M"),
        user=version.user_id,
        summary=str(version.summary) if version.summary is not None else "",
        is_head=version.digest == head,
        restored_from=restored[:7] if restored else None,
    )


def timeline_rows(versions: list[Version], head: str) -> list[TimelineRow]:
    """Timeline rows for `versions` (as engine.log returns them, newest first)."""
    return [row_for(version, head) for version in versions]
