"""The tenant's entries cache: each entry's kind, number of versions and head version.

Listing a tenant of 100,000 entries would otherwise read 100,000 head objects and
indexes. A line holds what never changes for a given head digest (a version's history
is immutable), so a line is valid exactly while its digest is still the entry's head;
the file is a cache, like the history index: checked by a CRC, rebuilt when missing,
damaged or stale, never the source of truth. Format (ASCII):

    mydb-entries 2\\n
    <entry name as a JSON string> \\t <kind> \\t <versions> \\t <the head's index line>\\n ...
    #crc \\t <crc32 of everything above, 8 hex>\\n
"""

from __future__ import annotations

import gc
import json
import zlib

from .history import Version, encode_lines, versions_from_fields

CACHE_NAME = "entries"
_HEADER = b"mydb-entries 2\n"  # 2: index lines of format 0.5 (a cache of format 1 is rebuilt)
_TAIL = 8  # fields of an index line after its digest and first parent
_ROW_FIELDS = 3 + 2 + _TAIL  # name, kind, versions, then the head's index line
_KINDS = ("snapshot", "records")


def encode_cache(rows: list[tuple[str, str, int, Version]]) -> bytes:
    """The cache file for (name, kind, versions, head version) rows."""
    lines = [_HEADER]
    for name, kind, versions, head in rows:
        line = encode_lines([head], 0, versions - 1)[0]
        lines.append(b"%s\t%s\t%d\t%s" % (json.dumps(name).encode("ascii"), kind.encode("ascii"), versions, line))
    body = b"".join(lines)
    return body + b"#crc\t%08x\n" % zlib.crc32(body)


def parse_cache(data: bytes | None) -> dict[str, tuple[str, int, Version]]:
    """name -> (kind, versions, head version) of an intact cache file; {} when it is
    missing, damaged or of another format (then it is rebuilt)."""
    paused = gc.isenabled()
    gc.disable()  # 100,000 rows of small objects: collection passes only cost time
    try:
        return _parse(data)
    finally:
        if paused:
            gc.enable()


def _parse(data: bytes | None) -> dict[str, tuple[str, int, Version]]:
    if not data or not data.startswith(_HEADER):
        return {}
    cut = data.rfind(b"#crc\t")
    if cut < 0 or data[cut:] != b"#crc\t%08x\n" % zlib.crc32(data[:cut]):
        return {}
    try:
        text = data[len(_HEADER):cut].decode("ascii")
        count = text.count("\n")
        # JSON names hold no raw tab or newline: every field is cut at once
        flat = text[:-1].replace("\n", "\t").split("\t") if count else []
        if len(flat) != count * _ROW_FIELDS:
            return {}
        name_fields = flat[0::_ROW_FIELDS]
        if not all(f[:1] == '"' and f[-1:] == '"' for f in name_fields):
            return {}
        names = json.loads("[" + ",".join(name_fields) + "]")
        kinds = flat[1::_ROW_FIELDS]
        counts = list(map(int, flat[2::_ROW_FIELDS]))
        digests = flat[3::_ROW_FIELDS]
        parents = [None if p == "-" * 64 else p for p in flat[4::_ROW_FIELDS]]
        tails = [""] * (_TAIL * count)
        for j in range(_TAIL):
            tails[j::_TAIL] = flat[5 + j::_ROW_FIELDS]
        heads = versions_from_fields(digests, parents, tails, None)
    except (ValueError, IndexError, TypeError):
        return {}
    if len(names) != count or not all(type(n) is str for n in names) or not set(kinds) <= set(_KINDS) \
            or min(counts, default=1) < 1:
        return {}
    return dict(zip(names, zip(kinds, counts, heads, strict=True), strict=True))
