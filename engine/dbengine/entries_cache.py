"""The tenant's entries cache: each entry's kind, number of versions and head version.

Listing a tenant of 100,000 entries would otherwise read 100,000 head objects and
indexes. A line holds what never changes for a given head digest (a version's history
is immutable), so a line is valid exactly while its digest is still the entry's head;
the file is a cache, like the history index: checked by a CRC, rebuilt when missing,
damaged or stale, never the source of truth. Format (ASCII):

    mydb-entries 1\\n
    <entry name as a JSON string> \\t <kind> \\t <versions> \\t <the head's index line>\\n ...
    #crc \\t <crc32 of everything above, 8 hex>\\n
"""

from __future__ import annotations

import json
import zlib

from .history import Version, build_versions, encode_lines

CACHE_NAME = "entries"
_HEADER = b"mydb-entries 1\n"
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
    if not data or not data.startswith(_HEADER):
        return {}
    cut = data.rfind(b"#crc\t")
    if cut < 0 or data[cut:] != b"#crc\t%08x\n" % zlib.crc32(data[:cut]):
        return {}
    try:
        rows = data[len(_HEADER):cut].decode("ascii").split("\n")[:-1]
        fields = [row.split("\t", 3) for row in rows]
        names = [json.loads(f[0]) for f in fields]
        kinds = [f[1] for f in fields]
        counts = [int(f[2]) for f in fields]
        lines = [f[3] for f in fields]
        heads = build_versions([line[:64] for line in lines],
                               [None if line[65:129] == "-" * 64 else line[65:129] for line in lines],
                               [line[130:] for line in lines])
    except (ValueError, IndexError, TypeError):
        return {}
    if not all(type(n) is str for n in names) or not set(kinds) <= set(_KINDS) or min(counts, default=1) < 1:
        return {}
    return dict(zip(names, zip(kinds, counts, heads, strict=True), strict=True))
