"""What a browser lists for a tenant's entries (EntryInfo), served from the tenant's
entries cache (entries_cache.py) for entries whose head has not moved."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat

from .entries_cache import CACHE_NAME, EntryColumns, encode_cache, parse_columns
from .errors import DbEngineError
from .heads import Heads
from .history_index import try_lock
from .names import check_tenant
from .objects import ObjectStore
from .utils import gc_paused
from .versions import Version


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

#: newest(tenant, entry, head digest) -> (number of versions, head Version), its line checked
Newest = Callable[[str, str, str], "tuple[int, Version]"]


def _set_fields(info: EntryInfo, fields: dict) -> None:
    info.__dict__.update(fields)


@dataclass
class EntryTable:
    """A tenant's readable entries column by column, in name order (row i is `names[i]`),
    and the entries that cannot be read; Versions are built only when asked for."""

    columns: EntryColumns
    errors: dict[str, DbEngineError]

    @property
    def names(self) -> list[str]:
        return self.columns.names

    def versions(self, rows: list[int] | None = None) -> list[Version]:
        """The head Versions of `rows` (default: all), from fields already checked."""
        return self.columns.versions(rows)

    def infos(self) -> dict[str, EntryInfo | DbEngineError]:
        """Every entry's EntryInfo (with its head Version), errors included, in name order."""
        columns = self.columns
        names = columns.names
        with gc_paused():
            fields = map(dict, map(zip, repeat(_INFO_FIELDS), zip(
                names, columns.kinds, columns.digests, columns.counts, columns.versions(), strict=True)))
            infos = list(map(object.__new__, repeat(EntryInfo, len(names))))
            deque(map(_set_fields, infos, fields), maxlen=0)  # (a frozen dataclass's __init__ costs 2 µs)
        if not self.errors:
            return dict(zip(names, infos, strict=True))
        merged: dict[str, EntryInfo | DbEngineError] = {**dict(zip(names, infos, strict=True)), **self.errors}
        return {name: merged[name] for name in sorted(merged)}


def entry_infos(heads: Heads, objects: ObjectStore, newest: Newest, tenant_id: str) -> dict[str, EntryInfo | DbEngineError]:
    """Every entry's info (with its head Version), in name order; an entry that cannot be
    read maps to its engine error, so one bad entry never hides the others."""
    return entry_table(heads, objects, newest, tenant_id).infos()


def entry_table(heads: Heads, objects: ObjectStore, newest: Newest, tenant_id: str) -> EntryTable:
    """The tenant's entries as columns: one file read when no head has moved (the cache's
    names and digests equal the head's); the others are read one by one and the cache is
    written back when the tenant lock is free at once (a reader never waits)."""
    storage = heads.storage
    check_tenant(tenant_id)
    head = heads.head(tenant_id)
    try:
        cached = parse_columns(storage.read_cache(tenant_id, CACHE_NAME))
    except DbEngineError:  # not a regular file, unreadable: rebuilt
        cached = None
    with gc_paused():
        names = sorted(head)
        if cached is not None and cached.names == names and cached.digests == list(map(head.__getitem__, names)):
            return EntryTable(cached, {})  # every row is current (the common case)
        hits = {} if cached is None else {name: i for i, (name, digest) in enumerate(
            zip(cached.names, cached.digests, strict=True)) if head.get(name) == digest}
        try:
            kept = cached.versions(list(hits.values())) if hits else []
        except ValueError:  # a field the parse let through that a Version refuses: all read again
            hits, kept = {}, []
    old = dict(zip(hits, kept, strict=True))
    rows: list[tuple[str, str, int, Version]] = []
    errors: dict[str, DbEngineError] = {}
    with gc_paused(skip_collection=True):  # (parsed objects and Versions pile up: no cycles among them)
        for name in names:
            at = hits.get(name)
            if at is not None:
                rows.append((name, cached.kinds[at], cached.counts[at], old[name]))
                continue
            digest = head[name]
            try:  # one read of the index's end: the head's line (checked against its object) and the count
                versions, version = newest(tenant_id, name, digest)
                kind = objects.version(tenant_id, digest)["__kind__"]
            except DbEngineError as error:
                errors[name] = error
                continue
            rows.append((name, kind, versions, version))
    data = encode_cache(rows)
    columns = parse_columns(data)
    if columns is None:  # what this process just read from the objects always encodes
        raise AssertionError("entries cache rows do not read back")
    if rows and (len(rows) != len(hits) or cached is None or len(cached.names) != len(hits)):
        with try_lock(storage, tenant_id) as held:
            if held:
                with contextlib.suppress(DbEngineError, OSError):
                    storage.write_cache(tenant_id, CACHE_NAME, data)
    return EntryTable(columns, errors)
