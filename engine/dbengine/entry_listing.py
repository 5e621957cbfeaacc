"""What a browser lists for a tenant's entries (EntryInfo), served from the tenant's
entries cache (entries_cache.py) for entries whose head has not moved."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter

from .entries_cache import CACHE_NAME, encode_cache, parse_cache
from .errors import DbEngineError
from .heads import Heads
from .history import Version
from .history_index import try_lock
from .names import check_tenant
from .objects import ObjectStore
from .utils import gc_paused


@dataclass(frozen=True)
class EntryInfo:
    """What a browser lists for an entry: its pattern, head and number of versions."""

    name: str
    kind: str
    head: str
    versions: int
    #: The head's Version (metadata and summary), when the lister had it at hand.
    version: Version | None = None


_INFO_FIELDS = ("name", "kind", "head", "versions", "version")

#: newest(tenant, entry) -> (head digest, number of versions, head Version), its line checked
Newest = Callable[[str, str], "tuple[str, int, Version]"]


def _set_fields(info: EntryInfo, fields: dict) -> None:
    info.__dict__.update(fields)


def entry_infos(heads: Heads, objects: ObjectStore, newest: Newest, tenant_id: str) -> dict[str, EntryInfo | DbEngineError]:
    """Every entry's info (with its head Version), in name order; an entry that cannot be
    read maps to its engine error, so one bad entry never hides the others.

    One file read for entries whose head has not moved; the others are read one by one
    and the cache is written back when the tenant lock is free at once (a reader never waits).
    """
    storage = heads.storage
    check_tenant(tenant_id)
    head = heads.head(tenant_id)
    try:
        cached = parse_cache(storage.read_cache(tenant_id, CACHE_NAME))
    except DbEngineError:  # not a regular file, unreadable: rebuilt
        cached = {}
    result: dict[str, EntryInfo | DbEngineError] = {}
    rows: list[tuple[str, str, int, Version]] = []
    misses = 0
    with gc_paused():
        names = sorted(head)
        if cached and len(cached) == len(head) and all(
                hit[2].digest == head[name] for name, hit in zip(names, map(cached.get, names), strict=True)
                if hit is not None) and all(map(cached.__contains__, names)):
            # every line is current (the common case): rows built at C speed
            hits = list(map(cached.__getitem__, names))
            fields = map(dict, map(zip, repeat(_INFO_FIELDS), zip(
                names, map(itemgetter(0), hits), map(head.__getitem__, names), map(itemgetter(1), hits),
                map(itemgetter(2), hits), strict=True)))
            infos = list(map(object.__new__, repeat(EntryInfo, len(names))))
            deque(map(_set_fields, infos, fields), maxlen=0)  # (a frozen dataclass's __init__ costs 2 µs)
            return dict(zip(names, infos, strict=True))
    for name in names:
        hit = cached.get(name)
        if hit is not None and hit[2].digest == head[name]:
            kind, versions, version = hit
        else:
            misses += 1
            try:  # one read of the index's end: the head's line (checked against its object) and the count
                digest, versions, version = newest(tenant_id, name)
                kind = objects.version(tenant_id, digest)["__kind__"]
            except DbEngineError as error:
                result[name] = error
                continue
        result[name] = EntryInfo(name, kind, head[name], versions, version)
        rows.append((name, kind, versions, version))
    if misses or len(rows) != len(cached):
        with try_lock(storage, tenant_id) as held:
            if held:
                with contextlib.suppress(DbEngineError, OSError):
                    storage.write_cache(tenant_id, CACHE_NAME, encode_cache(rows))
    return result
