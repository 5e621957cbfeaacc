"""Versions and the per-entry history index (an append-only cache of the parent chain).

Each index line is a JSON array describing one version, oldest first:
`[digest, parents, user_id, date, restored_from, summary]` where summary is
`[added, changed, removed]` (keys of a snapshot, or records of a record entry) or null.
The index is trusted only when it forms an unbroken chain that ends at the head;
otherwise the engine repairs it from the objects.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field

from .utils import parse_date


@dataclass(frozen=True)
class ChangeSummary:
    """How a version differs from its parent: counts of keys (or records)."""

    added: int = 0
    changed: int = 0
    removed: int = 0

    def __str__(self) -> str:
        return f"+{self.added} ~{self.changed} -{self.removed}"

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


@dataclass(frozen=True)
class Version:
    """One version of an entry, as the history shows it."""

    digest: str
    parents: list = field(hash=False)
    user_id: str
    date: _dt.datetime
    restored_from: str | None = None
    summary: ChangeSummary | None = None

    @property
    def parent(self) -> str | None:
        return self.parents[0] if self.parents else None

    @property
    def date_text(self) -> str:
        return self.date.strftime("%Y%m%d %H:%M:%S %z")


def version_from_document(digest: str, document: dict, summary: ChangeSummary | None) -> Version:
    """Build a Version from a stored snapshot document's metadata."""
    return Version(
        digest=digest,
        parents=list(document["__parent__"]),
        user_id=document["__user_id__"],
        date=parse_date(document["__date__"]),
        restored_from=document.get("__restored_from__"),
        summary=summary,
    )


def encode_line(version: Version) -> bytes:
    summary = None
    if version.summary is not None:
        summary = [version.summary.added, version.summary.changed, version.summary.removed]
    row = [version.digest, version.parents, version.user_id, version.date_text,
           version.restored_from, summary]
    return json.dumps(row, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def row_to_version(row: list) -> Version:
    """Turn one parsed index row into a Version (raises ValueError/TypeError if malformed)."""
    digest, parents, user_id, date, restored_from, summary = row
    if not isinstance(digest, str) or not isinstance(parents, list) or not isinstance(user_id, str):
        raise ValueError("bad index row")
    return Version(
        digest=digest,
        parents=parents,
        user_id=user_id,
        date=fast_parse_date(date),
        restored_from=restored_from,
        summary=ChangeSummary(*summary) if summary is not None else None,
    )


def _row_ok(row: object) -> bool:
    return (
        type(row) is list and len(row) == 6 and type(row[0]) is str and type(row[1]) is list
        and type(row[2]) is str and type(row[3]) is str
    )


def parse_lines(data: bytes) -> tuple[list[list], int, bool]:
    """Parse complete index lines into raw rows.

    Returns (rows, bytes consumed, clean): a partial last line is left unconsumed;
    `clean` is False when some line could not be parsed (the index needs repair).
    """
    end = data.rfind(b"\n") + 1
    body = data[:end]
    if not body:
        return [], 0, True
    try:
        rows = json.loads(b"[" + body.rstrip(b"\n").replace(b"\n", b",") + b"]")
        if all(_row_ok(row) for row in rows):
            return rows, end, True
    except (ValueError, TypeError, RecursionError):
        pass
    rows = []
    for line in body.split(b"\n"):
        if not line:
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            return rows, end, False
        if not _row_ok(row):
            return rows, end, False
        rows.append(row)
    return rows, end, True


_TZ_CACHE: dict[str, _dt.timezone] = {}


def fast_parse_date(text: str) -> _dt.datetime:
    """Parse `YYYYMMDD HH:MM:SS +HHMM` quickly (history indexes hold thousands)."""
    try:
        tz = _TZ_CACHE.get(text[18:])
        if tz is None:
            offset = text[18:]
            sign = -1 if offset[0] == "-" else 1
            minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:5]))
            if len(offset) != 5 or offset[0] not in "+-":
                raise ValueError(offset)
            tz = _TZ_CACHE[offset] = _dt.timezone(_dt.timedelta(minutes=minutes))
        if len(text) != 23 or text[8] != " " or text[17] != " ":
            raise ValueError(text)
        return _dt.datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]),
                            int(text[12:14]), int(text[15:17]), tzinfo=tz)
    except (ValueError, IndexError):
        return parse_date(text)


def chain_breaks(rows: list[list], start: int = 0) -> bool:
    """True when some row from `start` on does not have the row before it as first parent."""
    for i in range(max(start, 0), len(rows)):
        parents = rows[i][1]
        expected = rows[i - 1][0] if i else None
        if not parents or parents[0] != expected:
            return True
    return False
