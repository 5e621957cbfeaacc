"""The columns of a whole history index (users, dates, summaries, digests), read without
building a Version per line: what a filter by user or date needs over 100,000 versions."""

from __future__ import annotations

import datetime as _dt
import gc
import operator
import zlib
from dataclasses import dataclass, field
from itertools import chain, repeat

from .index_format import (
    _CRC_RE,
    _CRC_TAIL,
    _FIELDS,
    _TAIL_FIELDS,
    NO_PARENT,
    _dates,
    _decoded,
    _summary_of_text,
    _user_of,
    encode_lines,
    versions_from_fields,
)
from .versions import ChangeSummary, Version

_HEX = b"0123456789abcdef"


@dataclass
class IndexColumns:
    """The user, date and summary columns of a whole history index, oldest first (item i is
    chain position i), read without building a Version per line: what a filter by user or
    date needs over 100,000 versions. `digests` holds every digest (64 ASCII hex each, joined);
    versions() builds the Versions of chosen positions from the fields kept meanwhile. The
    engine may hand the same object to later callers: treat it as read-only."""

    count: int
    digests: str
    users: list[str]
    date_texts: list[str]
    summary_texts: list[str]
    _fields: list[str] = field(repr=False)  # every line's ten fields, flattened

    def digest(self, i: int) -> str:
        """The digest of the version at chain position i."""
        return self.digests[64 * i : 64 * i + 64]

    def dates(self) -> list[_dt.datetime | None]:
        """The date column parsed (None where a line holds no valid date)."""
        return _dates(self.date_texts)

    def position(self, digest: str) -> int | None:
        """The chain position of `digest` (None: not in these columns)."""
        at = self.digests.find(digest)
        while at >= 0 and at % 64:
            at = self.digests.find(digest, at + 1)
        return at // 64 if at >= 0 else None

    def summaries(self) -> list[ChangeSummary | None]:
        """The change counts column (None: unknown); ValueError if one is malformed."""
        return _decoded(self.summary_texts, _summary_of_text)

    def versions(self, positions: list[int]) -> list[Version]:
        """The Versions at `positions` (any order), built in one go from their lines
        (ValueError if a line is malformed, e.g. names the wrong chain position)."""
        if not positions:
            return []
        fields = self._fields
        starts = list(map(_FIELDS.__mul__, positions))
        digests = list(map(fields.__getitem__, starts))
        parents = list(map(fields.__getitem__, map(operator.add, starts, repeat(1))))
        if NO_PARENT in parents:  # the first version's line (the chain was checked: only it)
            parents[parents.index(NO_PARENT)] = None
        lines = map(fields.__getitem__, map(slice, map(operator.add, starts, repeat(2)),
                                            map(operator.add, starts, repeat(_FIELDS))))
        tails = list(chain.from_iterable(lines))
        if tails[5::_TAIL_FIELDS] != list(map(str, positions)):
            raise ValueError("an index line names the wrong position in the chain")
        return versions_from_fields(digests, parents, tails)

    def upto(self, count: int) -> IndexColumns:
        """The first `count` positions only (a history read up to an older head)."""
        if count == self.count:
            return self
        return IndexColumns(count, self.digests[: 64 * count], self.users[:count], self.date_texts[:count],
                            self.summary_texts[:count], self._fields[: 10 * count])


def parse_columns(data: bytes) -> IndexColumns | None:
    """The columns of a whole index file of format 0.5, checked as a whole read checks it
    (the running CRC-32, lines that chain from a first version, hex digests; the position
    fields are checked where versions() builds a line, as build_versions checks them);
    None when the file is not that (damage, lines of format 0.4, a torn last line): the
    caller then reads it the usual way, which repairs what needs it."""
    end = data.rfind(b"\n") + 1
    stored = data[end - 9 : end - 1]
    if not end or data[end - _CRC_TAIL : end - 9] != b"\t" or not _CRC_RE.fullmatch(stored) \
            or zlib.crc32(memoryview(data)[: end - _CRC_TAIL]) != int(stored, 16):
        return None
    paused = gc.isenabled()
    gc.disable()  # a million small strings: collection passes only cost time
    try:
        text = data[:end].decode("ascii")
        fields = text.replace("\n", "\t").split("\t")  # ten per line (the CRC is the tenth)
        fields.pop()
        count, extra = divmod(len(fields), _FIELDS)
        if extra or not count:
            return None
        digests = "".join(fields[0::_FIELDS])
        parents = "".join(fields[1::_FIELDS])
        if len(digests) != 64 * count or len(parents) != 64 * count or parents[:64] != NO_PARENT \
                or digests[:-64] != parents[64:] or digests.encode("ascii").translate(None, _HEX):
            return None
        users = _decoded(fields[5::_FIELDS], _user_of)
        return IndexColumns(count, digests, users, fields[4::_FIELDS], fields[3::_FIELDS], fields)
    except (ValueError, TypeError):
        return None
    finally:
        if paused:
            gc.enable()


def columns_of_versions(versions: list[Version]) -> IndexColumns:
    """IndexColumns of Versions already built (oldest first, from the first version): their
    index lines, as a repair would write them, read back."""
    columns = parse_columns(encode_lines(versions, 0, 0)[0]) if versions else None
    if columns is None:
        raise ValueError("versions that do not chain from a first version")
    return columns
