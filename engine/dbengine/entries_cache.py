"""The tenant's entries cache: each entry's kind, number of versions and head version.

Listing a tenant of 100,000 entries would otherwise read 100,000 head objects and
indexes. A row holds what never changes for a given head digest (a version's history
is immutable), so a row is valid exactly while its digest is still the entry's head;
the file is a cache, like the history index: checked by a CRC, rebuilt when missing,
damaged or stale, never the source of truth. Column-wise, so that a listing splits a
handful of lines at C speed and builds no object per entry (ASCII):

    mydb-entries 3\\n
    <the entry names, in name order, as one JSON array>\\n
    <kinds> \\n <numbers of versions> \\n <head digests> \\n <their first parents> \\n
    <restored_from> \\n <summaries> \\n <dates> \\n <user ids> \\n <parents>\\n
    #crc \\t <crc32 of everything above, 8 hex>\\n

Every line after the names holds one field per entry, tab-separated; the head's fields
are those of its history-index line (format 0.5, docs/FORMAT.md section 10).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat

from .index_format import (
    NO_PARENT,
    NONE_FIELD,
    _dates,
    _decoded,
    _parents_of,
    _restored_of,
    _summary_of_text,
    _user_of,
    encode_lines,
    versions_from_fields,
)
from .utils import gc_paused
from .versions import Version

CACHE_NAME = "entries"
_HEADER = b"mydb-entries 3\n"  # 3: column-wise (a cache of format 1 or 2 is rebuilt)
_KINDS = frozenset(("snapshot", "records"))
_HEX = b"0123456789abcdef"
_NOT_DIGIT = str.maketrans("", "", "0123456789\t")  # what is left of a column of decimals: nothing
_COLUMNS = 10  # the names, then kind, versions, digest, parent, restored, summary, date, user, parents
_TAIL = 8  # fields of an index line after its digest and first parent (versions_from_fields' shape)


@dataclass
class EntryColumns:
    """The rows of an intact entries cache, one list per field, in name order (row i is
    entry names[i]); every field has been checked. Versions are built only when asked for."""

    names: list[str]
    kinds: list[str]
    counts: list[int]
    count_texts: list[str]
    digests: list[str]
    date_texts: list[str]  # ISO 8601 with offset; "-" for an invalid stored date
    users: list[str]  # decoded
    #: Each row's metadata damage (None: none), or None when no row has any.
    damage: list[str | None] | None
    #: Each distinct date text parsed (None: an invalid stored date).
    moments: dict
    #: The raw lines of the fields only a Version needs: first parents, restored_from,
    #: summaries, user ids (JSON), parents (all checked).
    rest: tuple[str, str, str, str, str] = field(repr=False)

    def versions(self, rows: list[int] | None = None) -> list[Version]:
        """The head Versions of `rows` (default: every row), built in one go."""
        count = len(self.names)
        if not count or rows == []:
            return []
        parents, restored, summaries, users, extra = (_split(line, count) for line in self.rest)
        columns = [restored, summaries, self.date_texts, users, extra, parents, self.digests]
        if rows is not None:
            columns = [list(map(column.__getitem__, rows)) for column in columns]
        restored, summaries, dates, users, extra, parents, digests = columns
        flat = [NONE_FIELD] * (_TAIL * len(digests))
        for j, column in enumerate((restored, summaries, dates, users, extra)):
            flat[j::_TAIL] = column
        firsts = [None if p == NO_PARENT else p for p in parents]
        return versions_from_fields(digests, firsts, flat)


def _split(line: str, count: int) -> list[str]:
    return line.split("\t") if count else []


def _uniform(line: str, count: int) -> bool:
    """The line holds `-` for every row (the common case of several columns)."""
    return len(line) == 2 * count - 1 and line == "\t".join(repeat(NONE_FIELD, count))


def _fixed_hex(line: str, count: int, none_too: bool = False) -> bool:
    """The line holds count fields of 64 lowercase hex digits (or NO_PARENT when
    `none_too`), checked without splitting it."""
    if len(line) != max(65 * count - 1, 0) or line.count("\t") != max(count - 1, 0) \
            or line[64::65] != "\t" * max(count - 1, 0):
        return False
    if none_too and "-" in line and line.count("-") != 64 * line.count(NO_PARENT):
        return False  # a dash outside a whole NO_PARENT field
    return not line.encode("ascii").translate(None, _HEX + b"\t-" if none_too else _HEX + b"\t")


def encode_cache(rows: list[tuple[str, str, int, Version]]) -> bytes:
    """The cache file for (name, kind, versions, head version) rows, in name order."""
    rows = sorted(rows, key=lambda row: row[0])
    fields: list[list[str]] = [[] for _ in range(7)]  # digest, parent, restored, summary, date, user, parents
    if rows:
        lines = encode_lines([row[3] for row in rows], 0)[0].decode("ascii").split("\n")[:-1]
        for line in lines:
            for column, value in zip(fields, line.split("\t")[:7], strict=True):
                column.append(value)
    body = b"".join([
        _HEADER,
        json.dumps([row[0] for row in rows]).encode("ascii"), b"\n",
        "\t".join(row[1] for row in rows).encode("ascii"), b"\n",
        "\t".join(str(row[2]) for row in rows).encode("ascii"), b"\n",
        *(b"%s\n" % "\t".join(column).encode("ascii") for column in fields),
    ])
    return body + b"#crc\t%08x\n" % zlib.crc32(body)


def parse_columns(data: bytes | None) -> EntryColumns | None:
    """The columns of an intact cache file; None when it is missing, damaged, forged into
    a malformed shape or of another format (then it is rebuilt)."""
    if not data or not data.startswith(_HEADER):
        return None
    cut = data.rfind(b"#crc\t")
    if cut < 0 or data[cut:] != b"#crc\t%08x\n" % zlib.crc32(memoryview(data)[:cut]):
        return None
    with gc_paused():  # 100,000 rows of small strings: collection passes only cost time
        try:
            return _parse(memoryview(data)[len(_HEADER):cut])
        except (ValueError, TypeError, KeyError, IndexError, RecursionError):
            return None


def _parse(body: memoryview) -> EntryColumns | None:
    lines = str(body, "ascii").split("\n")
    if len(lines) != _COLUMNS + 1 or lines[-1] != "":
        return None
    names = json.loads(lines[0])
    if type(names) is not list or not set(map(type, names)) <= {str}:
        return None
    count = len(names)
    if not count:  # an empty tenant: every column empty
        return EntryColumns([], [], [], [], [], [], [], None, {}, ("",) * 5) if not any(lines[1:]) else None
    kinds_line, counts_line, digests_line, parents_line, restored_line, summaries_line, dates_line, users_line, \
        extra_line = lines[1:_COLUMNS]
    if not _fixed_hex(digests_line, count) or not _fixed_hex(parents_line, count, none_too=True):
        return None
    kinds, count_texts, digests, summaries, dates, users = (
        _split(line, count) for line in (kinds_line, counts_line, digests_line, summaries_line, dates_line, users_line))
    if any(len(column) != count for column in (kinds, count_texts, summaries, dates, users)) \
            or not set(kinds) <= _KINDS:
        return None
    if count and not (counts_line.isascii() and counts_line.translate(_NOT_DIGIT) == "") \
            or ("\t" + counts_line).find("\t0") >= 0 or "\t\t" in counts_line:
        return None  # decimal, no sign, no leading zero, so at least 1
    counts = list(map(int, count_texts))
    # every other field checked once per distinct value (as versions_from_fields checks them)
    user_values = _decoded(users, _user_of)
    _decoded(summaries, _summary_of_text)
    damage = None
    if not _uniform(restored_line, count):
        pairs = _decoded(_split(restored_line, count), _restored_of)
        if len(pairs) != count:
            return None
        if any(p[1] is not None for p in set(pairs)):
            damage = [p[1] for p in pairs]
    moments = _moments(list(set(dates)))
    if None in moments.values() and any(moments[d] is None and (damage is None or damage[i] is None)
                                        for i, d in enumerate(dates)):
        return None  # an index line without a date names its damage
    if not _uniform(extra_line, count):
        extra = _split(extra_line, count)
        if len(extra) != count:
            return None
        for more, first in set(zip(extra, _split(parents_line, count), strict=True)):
            if more != NONE_FIELD:
                listed = _parents_of(more)
                if (listed[0] if listed else None) != (None if first == NO_PARENT else first):
                    return None
    return EntryColumns(names, kinds, counts, count_texts, digests, dates, user_values, damage, moments,
                        (parents_line, restored_line, summaries_line, users_line, extra_line))


def _moments(texts: list[str]) -> dict:
    """Each distinct date text parsed (None for `-`), checked as the index's dates are
    (aware, within MIN_DATE..MAX_DATE; ValueError if not), without comparing 100,000
    aware dates: only texts of the years 1 and 9999 can be out of range."""
    try:
        parsed = list(map(datetime.fromisoformat, texts))
        if None not in set(map(datetime.utcoffset, parsed)) and "0001" < min(texts)[:4] and max(texts)[:4] < "9999":
            return dict(zip(texts, parsed, strict=True))
    except (ValueError, TypeError):
        pass
    return dict(zip(texts, _dates(texts), strict=True))  # `-`, edge years or damage: one by one


def parse_cache(data: bytes | None) -> dict[str, tuple[str, int, Version]]:
    """name -> (kind, versions, head version) of an intact cache file; {} when it is
    missing, damaged or of another format (then it is rebuilt)."""
    columns = parse_columns(data)
    if columns is None:
        return {}
    try:
        versions = columns.versions()
    except ValueError:
        return {}
    return dict(zip(columns.names, zip(columns.kinds, columns.counts, versions, strict=True), strict=True))


