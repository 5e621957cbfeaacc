"""Versions and the per-entry history index (an append-only cache of the parent chain).

Each index line is a JSON array describing one version, oldest first:
`[digest, parents, user_id, date, restored_from, summary, crc]` where summary is
`[added, changed, removed]` (keys of a snapshot, or records of a record entry) or null,
and crc the CRC-32 of the line's bytes before its last comma.
The index is trusted only when it forms an unbroken chain that ends at the head;
otherwise the engine repairs it from the objects.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import re
import zlib
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
    body = json.dumps(row, ensure_ascii=True, separators=(",", ":")).encode("ascii")[:-1]
    return body + b",%d]\n" % zlib.crc32(body)


def _checked_row(line: bytes, row: object) -> list:
    """The 6 fields of a parsed index line whose 7th item, the CRC-32 of the line's bytes
    before its last comma, matches: a damaged line never passes for a version."""
    if type(row) is not list or len(row) != 7 or type(row[6]) is not int:
        raise ValueError("index line is not a 7-item array")
    if zlib.crc32(line[: line.rindex(b",")]) != row[6]:
        raise ValueError("index line does not match its checksum")
    return row[:6]


def row_to_version(row: list) -> Version:
    """Turn one parsed index row into a Version (raises ValueError/TypeError if malformed)."""
    digest, parents, user_id, date, restored_from, summary = row
    if type(digest) is not str or type(parents) is not list or type(user_id) is not str:
        raise ValueError("bad index row")
    if restored_from is not None and type(restored_from) is not str:
        raise ValueError("bad index row")
    if summary is not None:
        summary = _summary_of(summary)
    # Thousands of these are built per log(): fill the frozen instance directly.
    instance = object.__new__(Version)
    object.__setattr__(instance, "__dict__", {
        "digest": digest, "parents": parents, "user_id": user_id, "date": fast_parse_date(date),
        "restored_from": restored_from, "summary": summary,
    })
    return instance


_SUMMARIES: dict[tuple, ChangeSummary] = {}


def _summary_of(counts: list) -> ChangeSummary:
    """Shared ChangeSummary instances: histories repeat the same few counts."""
    key = tuple(counts)
    summary = _SUMMARIES.get(key)
    if summary is None:
        added, changed, removed = key
        if not all(type(n) is int for n in key):
            raise ValueError("bad change summary")
        summary = ChangeSummary(added, changed, removed)
        if len(_SUMMARIES) < 4096:
            _SUMMARIES[key] = summary
    return summary


def lines_to_versions(lines: list[bytes]) -> list[Version]:
    """Parse many index lines at once (one JSON parse); ValueError if any is malformed."""
    paused = gc.isenabled()
    gc.disable()  # thousands of small immutable objects: collection passes only cost time
    try:
        rows = json.loads(b"[" + b",".join(lines) + b"]")
        if len(rows) != len(lines):
            raise ValueError("index lines do not hold one array each")
        return [row_to_version(_checked_row(line, row)) for line, row in zip(lines, rows, strict=True)]
    except (TypeError, KeyError, IndexError, RecursionError) as exc:
        raise ValueError(f"bad index line: {exc}") from None
    finally:
        if paused:
            gc.enable()


_LINE_RE = re.compile(r'^\["([0-9a-f]{64})",\[(?:"([0-9a-f]{64})"|null)[,\]]', re.M)


@dataclass
class IndexChunk:
    """Complete index lines parsed just enough for history walks.

    `digests[i]` and `parents[i]` come from a regex scan of line i (fast: no JSON);
    `lines[i]` is parsed into a Version only when one is asked for.
    """

    digests: list[str]
    parents: list[str | None]
    lines: list[bytes]
    consumed: int
    clean: bool


def parse_index(data: bytes) -> IndexChunk:
    """Scan complete index lines; a partial last line is left unconsumed.

    `clean` is False when some line does not have the index line shape (needs repair).
    """
    end = data.rfind(b"\n") + 1
    body = data[:end]
    if not body:
        return IndexChunk([], [], [], 0, True)
    lines = body.split(b"\n")
    lines.pop()
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return IndexChunk([], [], [], end, False)
    matches = _LINE_RE.findall(text)
    clean = len(matches) == len(lines)
    if not clean:
        return IndexChunk([], [], [], end, False)
    digests = [m[0] for m in matches]
    parents = [m[1] or None for m in matches]
    return IndexChunk(digests, parents, lines, end, True)


def line_to_version(line: bytes) -> Version:
    """Parse one index line into a Version (ValueError if it is malformed)."""
    try:
        return row_to_version(_checked_row(line, json.loads(line)))
    except (TypeError, KeyError, IndexError, RecursionError) as exc:
        raise ValueError(f"bad index line: {exc}") from None


def fast_parse_date(text: str) -> _dt.datetime:
    """Parse `YYYYMMDD HH:MM:SS +HHMM` quickly (history indexes hold thousands)."""
    if len(text) == 23 and text[8] == " " and text[17] == " ":
        try:
            return _dt.datetime.fromisoformat(f"{text[:8]}T{text[9:17]}{text[18:]}")
        except ValueError:
            pass
    return parse_date(text)


def chain_breaks(digests: list[str], parents: list[str | None], start: int = 0) -> bool:
    """True when some version from `start` on does not have the one before it as first parent."""
    if not digests:
        return False
    if start == 0:
        return parents[0] is not None or parents[1:] != digests[:-1]
    return parents[start:] != digests[start - 1 : -1]
