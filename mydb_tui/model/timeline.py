"""Rows of the history timeline: what one line of the timeline pane shows."""

from __future__ import annotations

from dataclasses import dataclass

from dbengine import Version

from .dates import local_time


@dataclass(frozen=True)
class TimelineRow:
    """One version as the timeline shows it (dates in local time, "invalid date" when damaged)."""

    digest: str
    short: str
    date: str
    user: str
    summary: str
    is_head: bool
    restored_from: str | None
    damage: str | None = None  # what is wrong with the version's metadata (Version.damage)


def row_for(version: Version, head: str) -> TimelineRow:
    """The timeline row of one version; `head` is the entry's head digest."""
    restored = version.restored_from
    return TimelineRow(
        digest=version.digest,
        short=version.digest[:7],
        date=local_time(version.date, seconds=False, offset=False),
        user=version.user_id,
        summary=str(version.summary) if version.summary is not None else "",
        is_head=version.digest == head,
        restored_from=restored[:7] if restored else None,
        damage=getattr(version, "damage", None),
    )


def timeline_rows(versions: list[Version], head: str) -> list[TimelineRow]:
    """Timeline rows for `versions` (as engine.log returns them, newest first)."""
    return [row_for(version, head) for version in versions]
