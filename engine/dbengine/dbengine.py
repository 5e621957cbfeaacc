"""DbEngine: the versioned, content-addressed document database of the spec.

Every write creates an immutable JSON object named by the SHA-256 of its bytes; the
tenant's `head` maps entry names to their newest digest. See docs/FORMAT.md.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

from . import queries
from .cache import ObjectCache
from .changesets import path_touched, snapshot_changes
from .entries_cache import CACHE_NAME, encode_cache, parse_cache
from .errors import (
    AmbiguousDigestError,
    ConflictError,
    CorruptObjectError,
    DbEngineError,
    DigestNotFoundError,
    EntryNotFoundError,
    InvalidDocumentError,
    LockTimeoutError,
    PatternMismatchError,
    RecordNotFoundError,
    StorageError,
)
from .handlers import HandlerRegistry, handlers
from .history import (
    ChangeSummary,
    IndexState,
    Version,
    _all_hex,
    build_versions,
    chain_breaks,
    encode_lines,
    is_seed_layout,
    is_version_doc,
    normalize_version,
    parse_index,
    same_metadata,
    version_from_document,
)
from .index_window import Lines, LogView, WindowDamaged, newest, window
from .names import DIGEST_RE, check_digest, check_entry, check_key, check_tenant, check_user
from .pool import daemon_map
from .queries import KeyChange, SearchHit
from .records import (
    RecordsView,
    bucket_of,
    bucket_records,
    changed_items,
    is_bucket_doc,
    ordered_records,
    same_stored,
    scan_keys,
)
from .records_tree import (
    NODE_KINDS,
    Nodes,
    Tree,
    TreeError,
    is_node_doc,
    key_lookup_many,
    key_update,
    order_diff,
    order_get_many,
    order_leaves,
    order_update,
)
from .records_view import TreeRecordsView
from .serializer import Serializer, validate_stored
from .storage import FileToken, open_storage
from .utils import compute_digest, format_date, now_local, strict_loads, to_json_bytes

SNAPSHOT = "snapshot"
RECORDS = "records"
META_KEYS = ("__parent__", "__user_id__", "__date__", "__restored_from__")
_REV_RE = re.compile(r"HEAD(?:~(\d+))?")
_DATE_REV_RE = re.compile(r"@\{([^{}]{1,64})\}")

__all__ = [
    "DbEngine", "EntryInfo", "LogView", "LogWindow", "Version", "ChangeSummary", "RecordsView", "KeyChange",
    "SearchHit", "SNAPSHOT", "RECORDS",
]


@dataclass(frozen=True)
class EntryInfo:
    """What a browser lists for an entry: its pattern, head and number of versions."""

    name: str
    kind: str
    head: str
    versions: int
    #: The head's Version (metadata and summary), when the lister had it at hand.
    version: Version | None = None


@dataclass(frozen=True)
class LogWindow:
    """Part of an entry's history: `versions`, newest first, the first `start` versions
    below `head` (0: the head itself), of `total` versions in all."""

    head: str
    total: int
    start: int
    versions: list[Version]


_INFO_FIELDS = ("name", "kind", "head", "versions", "version")


def _set_fields(info: EntryInfo, fields: dict) -> None:
    info.__dict__.update(fields)


class DbEngine:
    """A versioned document database stored under `root`.

    `clock` returns the (timezone-aware) time stamped on new versions; `durable=False`
    skips fsync for bulk loads; `trust_pickle=False` refuses to unpickle `use_refs`
    fields (browsers of databases they did not write).
    """

    def __init__(
        self,
        root: str = ".mytools_db",
        *,
        clock: Callable[[], _dt.datetime] | None = None,
        durable: bool = True,
        trust_pickle: bool = True,
        registry: HandlerRegistry = handlers,
        cache_bytes: int = 128 * 1024 * 1024,
        lock_timeout: float = 30.0,
        storage: Any = None,
        s3_endpoint: str | None = None,
    ):
        self.root = root
        self.storage = storage or open_storage(
            root, durable=durable, lock_timeout=lock_timeout, s3_endpoint=s3_endpoint
        )
        self.clock = clock or now_local
        self.serializer = Serializer(self._write_ref, self.read_ref, registry, trust_pickle)
        self._objects = ObjectCache(cache_bytes)
        # Checked bytes of recently read buckets and nodes (prefetched on S3; a 0.4 key scan).
        self._bucket_bytes = ObjectCache(_BUCKET_BYTES_CACHE)
        self._checked_leaves: dict[str, set] = {}  # key-index leaves checked against their place
        self._heads: dict[str, tuple[FileToken, dict[str, str]]] = {}
        self._indexes: dict[tuple[str, str], IndexState] = {}
        # (tenant, entry) -> (head, number of versions, index size) read from the index's end
        self._totals: dict[tuple[str, str], tuple[str, int, int]] = {}
        self._guard = threading.RLock()
        # Compare-and-swap fairness on S3 (see _note_pace): (tenant, entry) -> last digest this
        # engine wrote, and -> seconds to pause before the next write when others write too.
        self._last_written: dict[tuple[str, str], str] = {}
        self._pace: dict[tuple[str, str], float] = {}

    # ================================================================== tenants
    def init(self, tenant_id: str) -> None:
        """Create the tenant's folders and an empty head (idempotent)."""
        self.storage.init_tenant(check_tenant(tenant_id))

    def is_initialized(self, tenant_id: str) -> bool:
        return self.storage.tenant_exists(check_tenant(tenant_id))

    def is_database(self) -> bool:
        """True when the root exists and holds refs/ or a tenant."""
        return self.storage.is_database()

    def tenants(self) -> list[str]:
        """The initialized tenants, sorted."""
        return self.storage.list_tenants()

    def entries(self, tenant_id: str) -> list[str]:
        """The tenant's entry names, sorted."""
        return sorted(self._head(tenant_id))

    def entry_info(self, tenant_id: str, entry: str) -> EntryInfo:
        """Pattern, head digest and number of versions of one entry."""
        head = self.get_digest(tenant_id, entry)
        document = self._snapshot_doc(tenant_id, head)
        return EntryInfo(entry, document["__kind__"], head, self._total(tenant_id, entry, head, 1)[0])

    def entry_infos(self, tenant_id: str) -> dict[str, EntryInfo | DbEngineError]:
        """Every entry's info (with its head Version), in name order; an entry that cannot be
        read maps to its engine error, so one bad entry never hides the others.

        Served from the tenant's entries cache (see entries_cache.py): one file read for
        entries whose head has not moved; the others are read one by one and the cache is
        written back when the tenant lock is free at once (a reader never waits).
        """
        check_tenant(tenant_id)
        head = self._head(tenant_id)
        try:
            cached = parse_cache(self.storage.read_cache(tenant_id, CACHE_NAME))
        except DbEngineError:  # not a regular file, unreadable: rebuilt
            cached = {}
        result: dict[str, EntryInfo | DbEngineError] = {}
        rows: list[tuple[str, str, int, Version]] = []
        misses = 0
        with _gc_paused():
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
                    window = self.log_window(tenant_id, name, 0, 1)
                    kind, versions, version = self._snapshot_doc(tenant_id, window.head)["__kind__"], \
                        window.total, window.versions[0]
                except DbEngineError as error:
                    result[name] = error
                    continue
            result[name] = EntryInfo(name, kind, head[name], versions, version)
            rows.append((name, kind, versions, version))
        if misses or len(rows) != len(cached):
            with self._try_lock(tenant_id) as held:
                if held:
                    with contextlib.suppress(DbEngineError, OSError):
                        self.storage.write_cache(tenant_id, CACHE_NAME, encode_cache(rows))
        return result

    def change_token(self, tenant_id: str | None = None) -> tuple:
        """A value that changes whenever a head changes (for watchers).

        It hashes the head bytes: (inode, size, mtime) alone can repeat on a fast rewrite.
        """
        tenants = [check_tenant(tenant_id)] if tenant_id is not None else self.tenants()
        tokens = []
        for tenant in tenants:
            result = self.storage.read_head(tenant)
            tokens.append((tenant, compute_digest(result[0]) if result is not None else None))
        return tuple(tokens)

    # ================================================================== snapshots
    def save(self, tenant_id: str, user_id: str, entry: str, obj: Any) -> str:
        """Store `obj` as the entry's new version; unchanged content writes nothing."""
        check_tenant(tenant_id), check_user(user_id), check_entry(entry)
        self._require(tenant_id)
        return self._save_stored(tenant_id, user_id, entry, self.serializer.encode(obj))

    def load(self, tenant_id: str, entry: str, digest: str | None = None) -> Any:
        """The value of the entry's head (or of version `digest`)."""
        document = self._entry_doc(tenant_id, entry, digest)
        if document["__kind__"] != SNAPSHOT:
            raise PatternMismatchError(
                f"entry {entry!r} of tenant {tenant_id!r} is a record entry: use get(), not load()"
            )
        return self.serializer.decode(document["__data__"])

    def commit_document(
        self, tenant_id: str, user_id: str, entry: str, document: dict, expected_head: str | None = None
    ) -> str:
        """Commit an edited stored-form snapshot document as a new version.

        `document` is what read_snapshot() returns (metadata optional): metadata, if
        present, must be the head's own (it is written by the engine, never forged);
        `__data__` is validated (tags well formed, every ref present) before anything
        is written. `expected_head` makes the commit fail if the head moved.
        """
        check_tenant(tenant_id), check_user(user_id), check_entry(entry)
        self._require(tenant_id)
        if type(document) is not dict or "__data__" not in document:
            raise InvalidDocumentError("a snapshot document must be a JSON object with a '__data__' key")
        unknown = [k for k in document if k not in (*META_KEYS, "__kind__", "__data__", "__layout__")]
        if unknown:
            raise InvalidDocumentError(f"unexpected top-level keys {unknown}: put data under '__data__'")
        if document.get("__kind__", SNAPSHOT) != SNAPSHOT:
            raise InvalidDocumentError("'__kind__' of a snapshot document must be 'snapshot'")
        head = self._head(tenant_id).get(entry)
        self._check_expected(tenant_id, entry, head, expected_head)
        given_meta = {k: document[k] for k in META_KEYS if k in document}
        if given_meta:
            head_doc = self._snapshot_doc(tenant_id, head) if head else {}
            forged = [k for k, v in given_meta.items() if head_doc.get(k) != v]
            if forged:
                raise InvalidDocumentError(
                    f"metadata {', '.join(forged)} differs from HEAD's: metadata is written by the "
                    "engine, edit only '__data__' (or HEAD moved since the document was read)"
                )
        self._validate(document["__data__"])
        data = _json_copy(document["__data__"])  # the caller keeps its dict; ours is cached
        return self._save_stored(tenant_id, user_id, entry, data, expected_head=head)

    def _save_stored(
        self, tenant_id: str, user_id: str, entry: str, data: Any, expected_head: str | None = None,
        restored_from: str | None = None,
    ) -> str:
        data_bytes = to_json_bytes(data)

        def build(head: str | None, head_doc: dict | None, date: str) -> tuple[dict, ChangeSummary] | None:
            if expected_head is not None and head != expected_head:
                raise ConflictError(f"HEAD of {entry!r} moved from {expected_head[:12]} to {head and head[:12]}")
            if head_doc is not None:
                if head_doc["__kind__"] != SNAPSHOT:
                    raise PatternMismatchError(
                        f"entry {entry!r} of tenant {tenant_id!r} is a record entry: use put(), not save()"
                    )
                if to_json_bytes(head_doc["__data__"]) == data_bytes:
                    return None
            document = self._envelope(SNAPSHOT, head, user_id, date, restored_from=restored_from)
            document["__data__"] = data
            old = head_doc["__data__"] if head_doc is not None else _ABSENT
            return document, _snapshot_summary(old, data)

        return self._commit(tenant_id, entry, build)[0]

    # ================================================================== records
    def put(self, tenant_id: str, user_id: str, entry: str, key: str, value: Any) -> bool:
        """Add or update one record; False (nothing written) if it already had that value."""
        return self.put_many(tenant_id, user_id, entry, {key: value})

    def put_many(self, tenant_id: str, user_id: str, entry: str, items: dict) -> bool:
        """Add or update several records in one version; False if nothing changed."""
        check_tenant(tenant_id), check_user(user_id), check_entry(entry)
        self._require(tenant_id)
        if not isinstance(items, dict):
            raise TypeError("put_many() takes a dict of {key: value}")
        stored = {check_key(key): self.serializer.encode(value) for key, value in items.items()}
        return self._put_stored(tenant_id, user_id, entry, stored, ())

    def put_stored(
        self, tenant_id: str, user_id: str, entry: str, key: str, stored_value: Any,
        expected_head: str | None = None,
    ) -> bool:
        """Add or update one record from its stored form (the TUI editor), validated first."""
        check_tenant(tenant_id), check_user(user_id), check_entry(entry), check_key(key)
        self._require(tenant_id)
        self._validate(stored_value)
        stored = _json_copy(stored_value)  # the caller keeps its value; ours is cached
        return self._put_stored(tenant_id, user_id, entry, {key: stored}, (), expected_head)

    def delete(self, tenant_id: str, user_id: str, entry: str, key: str) -> bool:
        """Remove a record as a new version; False if there was no such record."""
        check_tenant(tenant_id), check_user(user_id), check_entry(entry), check_key(key)
        self._require(tenant_id)
        if entry not in self._head(tenant_id):
            raise EntryNotFoundError(f"entry {entry!r} not found in tenant {tenant_id!r}")
        return self._put_stored(tenant_id, user_id, entry, {}, (key,))

    def get(self, tenant_id: str, entry: str, key: str | None = None, digest: str | None = None) -> Any:
        """One record's value (`key`), or the list of all values in insertion order."""
        document = self._entry_doc(tenant_id, entry, digest)
        decode = self.serializer.decode
        if _seed_record_entry(document):  # the seed's layout: a record entry is one flat object
            data = document["__data__"]
            if key is None:
                return [decode(value) for value in data.values()]
            if check_key(key) not in data:
                raise RecordNotFoundError(f"no record {key!r} in entry {entry!r} of tenant {tenant_id!r}")
            return decode(data[key])
        if document["__kind__"] != RECORDS:
            raise PatternMismatchError(
                f"entry {entry!r} of tenant {tenant_id!r} is a snapshot entry: use load(), not get()"
            )
        if key is not None:
            return decode(self._record(tenant_id, entry, document, check_key(key)))
        if _is_tree_doc(document):  # leaf by leaf: no list of (key, value) pairs in between
            with _gc_paused(), self._tree_guard(tenant_id):
                return [decode(item[2]) for _first, items in order_leaves(self._nodes(tenant_id), _tree(document))
                        for item in items]
        records = self._all_records(tenant_id, document)
        with _gc_paused():
            return [decode(stored) for _key, stored in records]

    def _record(self, tenant_id: str, entry: str, document: dict, key: str) -> Any:
        if _is_tree_doc(document):
            item = self._tree_items(tenant_id, _tree(document), [key]).get(key)
            if item is None:
                raise RecordNotFoundError(f"no record {key!r} in entry {entry!r} of tenant {tenant_id!r}")
            return item[1]
        bucket_digest = document["__buckets__"].get(bucket_of(key))
        item = self._bucket(tenant_id, bucket_digest).get(key) if bucket_digest else None
        if item is None:
            raise RecordNotFoundError(f"no record {key!r} in entry {entry!r} of tenant {tenant_id!r}")
        return item[1]

    def _all_records(self, tenant_id: str, document: dict) -> list[tuple[str, Any]]:
        with _gc_paused():  # parsing ~100k small objects: collection passes only cost time
            if _is_tree_doc(document):
                with self._tree_guard(tenant_id):
                    return [(item[1], item[2]) for _first, items in order_leaves(self._nodes(tenant_id), _tree(document))
                            for item in items]
            buckets = [self._bucket(tenant_id, d) for d in document["__buckets__"].values()]
            return ordered_records(buckets, document["__next_seq__"])

    def _record_items(self, tenant_id: str, document: dict | None) -> dict[str, list]:
        """Every record of a record version of any layout (seed, buckets, trees): key -> [seq, stored]."""
        if document is None:
            return {}
        if _seed_record_entry(document):
            return {key: [seq, stored] for seq, (key, stored) in enumerate(document["__data__"].items())}
        if _is_tree_doc(document):
            with self._tree_guard(tenant_id):
                return {item[1]: [item[0], item[2]] for _first, items in order_leaves(self._nodes(tenant_id), _tree(document))
                        for item in items}
        records: dict[str, list] = {}
        for digest in document["__buckets__"].values():
            records.update(self._bucket(tenant_id, digest))
        return records

    def _tree_items(self, tenant_id: str, tree: Tree, keys: Iterable[str]) -> dict[str, list]:
        """key -> [seq, stored] for those of `keys` in a tree-format version, each checked
        in both trees (the key index's seq must name that key in the order tree)."""
        nodes = self._nodes(tenant_id)
        with self._tree_guard(tenant_id):
            seqs = key_lookup_many(nodes, tree, keys)
            items = order_get_many(nodes, tree, seqs.values())
            found = {}
            for key, seq in seqs.items():
                item = items.get(seq)
                if item is None or item[1] != key:
                    raise TreeError(tree.keys or "", f"the key index names sequence number {seq} for {key[:40]!r}, "
                                    "whose record in the order tree is another or missing")
                found[key] = [seq, item[2]]
            return found

    def _build_trees(self, tenant_id: str, records: dict[str, list], next_seq: int) -> tuple[str | None, str | None]:
        """Roots of the trees of `records` (key -> [seq, stored]): the one-time conversion of
        a seed or bucket version, and what a restore of one writes."""
        nodes = self._nodes(tenant_id)
        empty = Tree(None, None, 0, 0)
        with self._tree_guard(tenant_id):
            order, _count = order_update(nodes, empty, {seq: [seq, key, stored] for key, (seq, stored) in records.items()}, next_seq)
            keys, _count = key_update(nodes, empty, {key: item[0] for key, item in records.items()})
        return order, keys

    def _put_stored(
        self, tenant_id: str, user_id: str, entry: str, upserts: dict[str, Any],
        deletes: Iterable[str], expected_head: str | None = None, restored_from: str | None = None,
    ) -> bool:
        deletes = list(deletes)

        def build(head: str | None, head_doc: dict | None, date: str) -> tuple[dict, ChangeSummary] | None:
            if expected_head is not None and head != expected_head:
                raise ConflictError(f"HEAD of {entry!r} moved from {expected_head[:12]} to {head and head[:12]}")
            if head_doc is not None and head_doc["__kind__"] != RECORDS and not _seed_record_entry(head_doc):
                raise PatternMismatchError(
                    f"entry {entry!r} of tenant {tenant_id!r} is a snapshot entry: use save(), not put()"
                )
            if head_doc is None or _is_tree_doc(head_doc):
                with _gc_paused():  # parsing and building hundreds of nodes: no collection passes
                    result = self._tree_put(tenant_id, head_doc, upserts, deletes)
            else:  # a seed or bucket version: converted once, whole
                result = self._convert_put(tenant_id, head_doc, upserts, deletes)
            if result is None or (head_doc is not None and result[1].is_empty):
                return None
            fields, summary = result
            document = self._envelope(RECORDS, head, user_id, date, restored_from=restored_from)
            document.update(fields)
            return document, summary

        return self._commit(tenant_id, entry, build)[1]

    def _tree_put(self, tenant_id: str, head_doc: dict | None, upserts: dict[str, Any],
                  deletes: list[str]) -> tuple[dict, ChangeSummary]:
        """The record fields of a tree-format version after the changes, and what changed:
        only the paths to the changed leaves of both trees are read and rewritten."""
        tree = _tree(head_doc) if head_doc is not None else Tree(None, None, 0, 0)
        nodes = self._nodes(tenant_id)
        current = self._tree_items(tenant_id, tree, [*upserts, *deletes])
        order_changes: dict[int, list | None] = {}
        key_changes: dict[str, int | None] = {}
        counts = [0, 0, 0]
        touched: list[str] = []
        next_seq = tree.next_seq
        for key, stored in upserts.items():  # in the caller's order: seq is insertion order
            item = current.get(key)
            if item is None:
                order_changes[next_seq] = [next_seq, key, stored]
                key_changes[key] = next_seq
                next_seq += 1
                counts[0] += 1
            elif not same_stored(item[1], stored):
                order_changes[item[0]] = [item[0], key, stored]
                counts[1] += 1
            else:
                continue
            touched.append(key)
        for key in deletes:
            item = current.get(key)
            if item is not None and key not in upserts:
                order_changes[item[0]] = None
                key_changes[key] = None
                counts[2] += 1
                touched.append(key)
        summary = ChangeSummary(*counts, keys=tuple(touched))
        if head_doc is not None and summary.is_empty:
            return _tree_fields(tree), summary
        with self._tree_guard(tenant_id):
            order, count = order_update(nodes, tree, order_changes, next_seq)
            keys, key_count = key_update(nodes, tree, key_changes)
        if count != key_count or count != tree.count + counts[0] - counts[2]:
            raise CorruptObjectError(f"record trees of {(head_doc or {}).get('__order__', '')!s:.12} disagree on "
                                     "the number of records", None)
        return _tree_fields(Tree(order, keys, count, next_seq)), summary

    def _convert_put(self, tenant_id: str, head_doc: dict, upserts: dict[str, Any],
                     deletes: list[str]) -> tuple[dict, ChangeSummary] | None:
        """The first write to a seed or bucket (format 0.4) version: its records, changed, as trees."""
        records = self._record_items(tenant_id, head_doc)
        for key in records:
            check_key(key)
        next_seq = len(records) if _seed_record_entry(head_doc) else head_doc["__next_seq__"]
        counts = [0, 0, 0]
        touched: list[str] = []
        for key, stored in upserts.items():
            item = records.get(key)
            if item is None:
                records[key] = [next_seq, stored]
                next_seq += 1
                counts[0] += 1
            elif not same_stored(item[1], stored):
                records[key] = [item[0], stored]
                counts[1] += 1
            else:
                continue
            touched.append(key)
        for key in deletes:
            if key not in upserts and records.pop(key, None) is not None:
                counts[2] += 1
                touched.append(key)
        summary = ChangeSummary(*counts, keys=tuple(touched))
        if summary.is_empty:
            return None
        order, keys = self._build_trees(tenant_id, records, next_seq)
        return _tree_fields(Tree(order, keys, len(records), next_seq)), summary

    def _as_tree_doc(self, tenant_id: str, document: dict) -> dict:
        """A record version of any layout with tree fields in place of its seed data or
        buckets (nodes written as needed; the metadata is the version's own)."""
        if _is_tree_doc(document):
            return document
        records = self._record_items(tenant_id, document)
        next_seq = len(records) if _seed_record_entry(document) else document["__next_seq__"]
        order, keys = self._build_trees(tenant_id, records, next_seq)
        converted = {k: v for k, v in document.items() if k in META_KEYS}
        converted["__kind__"] = RECORDS
        converted.update(_tree_fields(Tree(order, keys, len(records), next_seq)))
        return converted

    # ================================================================== history
    def exists(self, tenant_id: str, entry: str) -> bool:
        check_entry(entry)
        if not self.is_initialized(tenant_id):
            return False
        return entry in self._head(tenant_id)

    def get_digest(self, tenant_id: str, entry: str) -> str:
        """The digest of the entry's head."""
        check_entry(entry)
        digest = self._head(tenant_id).get(entry)
        if digest is None:
            raise EntryNotFoundError(f"entry {entry!r} not found in tenant {tenant_id!r}")
        if not self.storage.has_object(tenant_id, digest):  # a damaged head, or a lost object
            path = self.storage.head_path(tenant_id)
            raise DigestNotFoundError(
                f"head of entry {entry!r} of tenant {tenant_id!r} names {digest[:12]}, which is not in "
                f"the tenant's objects ({path})")
        return digest

    def history(self, tenant_id: str, entry: str, digest: str | None = None, max_items: int = 1000) -> list[str]:
        """Digests of the entry's versions, newest first, from the head (or `digest`)."""
        if digest is None and max_items is not None and 0 < max_items <= _WINDOW_MAX \
                and (tenant_id, entry) not in self._indexes:
            return [v.digest for v in self.log_window(tenant_id, entry, 0, max_items).versions]
        state, start = self._history_start(tenant_id, entry, digest)
        first = max(start + 1 - max_items, 0) if max_items is not None else 0
        return state.digests[first : start + 1][::-1]

    def log(self, tenant_id: str, entry: str, digest: str | None = None, max_items: int = 1000) -> list[Version]:
        """The entry's versions, newest first, from the head (or `digest`)."""
        if digest is None and max_items is not None and 0 < max_items <= _WINDOW_MAX \
                and (tenant_id, entry) not in self._indexes:
            return self.log_window(tenant_id, entry, 0, max_items).versions
        for attempt in (1, 2):
            state, start = self._history_start(tenant_id, entry, digest)
            first = max(start + 1 - max_items, 0) if max_items is not None else 0
            try:
                return state.versions_between(first, start + 1)[::-1]
            except ValueError:
                if attempt == 2:
                    raise
                self._rebuild_index(tenant_id, entry)
        raise AssertionError("unreachable")

    def log_window(self, tenant_id: str, entry: str, start: int = 0, count: int = 100) -> LogWindow:
        """Versions `start` .. `start + count - 1` below the head (0: the head), newest first,
        and the number of versions: only those lines of a long index are read (its end for
        the newest, its start for the oldest, a seek for the middle), checked as a whole
        read is (FORMAT.md section 10)."""
        if type(start) is not int or type(count) is not int or start < 0 or count < 0:
            raise ValueError("start and count must be integers >= 0")
        head = self.get_digest(tenant_id, entry)
        total, tail = self._total(tenant_id, entry, head, min(count, _WINDOW_MAX) if start == 0 else 1)
        lo, hi = max(total - start - count, 0), max(total - start, 0)
        return LogWindow(head, total, start, self._versions_at(tenant_id, entry, head, total, lo, hi, tail)[::-1])

    def log_view(self, tenant_id: str, entry: str, page: int = 256) -> LogView:
        """The entry's history as a lazy sequence of Versions, newest first, as of the head
        now: len() at once, versions read a page at a time (for browsers of long histories)."""
        head = self.get_digest(tenant_id, entry)
        total, _tail = self._total(tenant_id, entry, head, 1)
        return LogView(lambda lo, hi: self._versions_at(tenant_id, entry, head, total, lo, hi), head, total, page)

    def versions_touching(self, tenant_id: str, entry: str, key: str | None = None, path: str | None = None,
                          digest: str | None = None) -> list[tuple[str, bool]]:
        """Versions of the entry (from the head, or `digest`), newest first, whose change set
        names record `key` or touches JSON Pointer `path` (True), or whose change set is unknown
        (False: compare that version with its parent to know). Scans the index only."""
        if (key is None) == (path is None):
            raise ValueError("give a record key or a JSON Pointer path")
        if path is not None and not (type(path) is str and (path == "" or path.startswith("/"))):
            raise ValueError(f"{path!r} is not a JSON Pointer (RFC 6901): it must be empty or start with '/'")
        state, position = self._history_start(tenant_id, entry, digest)
        if key is not None:
            check_key(key)
            needle = json.dumps(key, ensure_ascii=True)

            def match(changes: tuple[str, ...]) -> bool:
                return key in changes
        else:
            needle = None

            def match(changes: tuple[str, ...]) -> bool:
                return path_touched(changes, path)
        for attempt in (1, 2):
            try:
                found = state.touching(position + 1, match, needle)
                return [(state.digests[i], certain) for i, certain in found]
            except ValueError:
                if attempt == 2:
                    raise
                self._rebuild_index(tenant_id, entry)
                state, position = self._history_start(tenant_id, entry, digest)
        raise AssertionError("unreachable")

    def version(self, tenant_id: str, entry: str, digest: str) -> Version:
        """One version of the entry, its index line checked against its object."""
        version = self.log(tenant_id, entry, digest, max_items=1)[0]
        if not self._line_agrees(tenant_id, self._indexes.get((tenant_id, entry)), digest, version):
            self._rebuild_index(tenant_id, entry)
            version = self.log(tenant_id, entry, digest, max_items=1)[0]
        return version

    def resolve(self, tenant_id: str, entry: str, rev: str) -> str:
        """A full digest for `rev`: a digest, a unique prefix (4+ hex), HEAD, HEAD~N, or
        @{DATE} (ISO 8601; the version that was HEAD then, see as_of)."""
        dated = _DATE_REV_RE.fullmatch(rev) if type(rev) is str else None
        if dated:
            version = self.as_of(tenant_id, entry, queries.parse_when(dated.group(1)))
            if version is None:
                raise DigestNotFoundError(f"{rev}: entry {entry!r} of tenant {tenant_id!r} had no version yet then")
            return version.digest
        head = self.get_digest(tenant_id, entry)
        state = self._index(tenant_id, entry, head)
        match = _REV_RE.fullmatch(rev)
        if match:
            digits = match.group(1) or "0"
            position = state.position(head) - int(digits) if len(digits) <= 18 else -1
            if position < 0:
                raise DigestNotFoundError(f"{rev}: entry {entry!r} has only {state.position(head) + 1} versions")
            return state.digests[position]
        if not re.fullmatch(r"[0-9a-f]{4,64}", rev):
            raise DigestNotFoundError(f"{rev!r} is not a revision: use a digest (4+ hex), HEAD or HEAD~N")
        candidates = [d for d in state.digests[: state.position(head) + 1] if d.startswith(rev)]
        if not candidates:
            raise DigestNotFoundError(f"no version {rev} in entry {entry!r} of tenant {tenant_id!r}")
        if len(candidates) > 1:
            raise AmbiguousDigestError(
                f"{rev} is ambiguous: {', '.join(c[:12] for c in candidates)}", candidates
            )
        return candidates[0]

    # ================================================================== history questions
    def key_history(self, tenant_id: str, entry: str, key: str | None = None, path: str | None = None,
                    max_items: int | None = None) -> list[KeyChange]:
        """The versions where record `key`, or the value at `path` (a JSON Pointer into the
        value, or into record `key` when both are given), was added, changed or removed,
        newest first, with the stored values before and after."""
        check_tenant(tenant_id), check_entry(entry)
        return queries.key_history(self, tenant_id, entry, key, path, max_items)

    def blame(self, tenant_id: str, entry: str, digest: str | None = None,
              keys: list[str] | None = None) -> dict[str, Version]:
        """Each record (or the given keys; in a snapshot entry each leaf JSON Pointer) -> the
        version that last changed it, as of `digest` (default HEAD)."""
        check_tenant(tenant_id), check_entry(entry)
        return queries.blame(self, tenant_id, entry, check_digest(digest) if digest else None, keys)

    def search(self, tenant_id: str, entry: str | None = None, text: str = "", *, pickaxe: bool = False,
               user: str | None = None, since: _dt.datetime | None = None, until: _dt.datetime | None = None,
               cancelled: Callable[[], bool] | None = None,
               progress: Callable[[int, int], None] | None = None) -> Iterator[SearchHit]:
        """A generator of SearchHits for `text` through one entry's history (or every entry's
        of the tenant), newest first; `pickaxe`: only where its number of occurrences changed."""
        check_tenant(tenant_id)
        if entry is not None:
            check_entry(entry)
        return queries.search(self, tenant_id, entry, text, pickaxe=pickaxe, user=user, since=since,
                              until=until, cancelled=cancelled, progress=progress)

    def as_of(self, tenant_id: str, entry: str, when: _dt.datetime) -> Version | None:
        """The version that was HEAD at `when` (naive: local time), None before the first."""
        check_tenant(tenant_id), check_entry(entry)
        return queries.as_of(self, tenant_id, entry, when)

    def _record_or_absent(self, tenant_id: str, document: dict, key: str, absent: Any) -> Any:
        """Record `key`'s stored value in a record version's document (the engine's cached
        value: read-only), or `absent`."""
        if _is_tree_doc(document):
            item = self._tree_items(tenant_id, _tree(document), [key]).get(key)
        else:
            bucket_digest = document["__buckets__"].get(bucket_of(key))
            item = self._bucket(tenant_id, bucket_digest).get(key) if bucket_digest else None
        return absent if item is None else item[1]

    def _record_diff(self, tenant_id: str, old: str | None, new: str, absent: Any) -> dict[str, tuple[Any, Any]]:
        """key -> (old stored, new stored) of every record that differs between two record
        versions (`absent` on the side where the record is not; read-only values)."""
        old_doc = self._snapshot_doc(tenant_id, old) if old is not None else None
        before, after = self._record_changes(tenant_id, old_doc, self._snapshot_doc(tenant_id, new))
        out = {key: (before.get(key, absent), value) for key, value in after.items()}
        out.update((key, (value, absent)) for key, value in before.items() if key not in after)
        return out

    def restore(self, tenant_id: str, user_id: str, entry: str, digest: str,
                key: str | None = None, path: str | None = None) -> str:
        """Make the content of an old version the new head (a new version; history is kept).
        With `key` and/or `path` (a JSON Pointer, into record `key` when both are given), only
        that record or value is brought back (removed if it was absent then)."""
        check_tenant(tenant_id), check_user(user_id), check_entry(entry), check_digest(digest)
        self._require(tenant_id)
        # Checked before the lock (a reader's repair, if any, never holds it): history only
        # grows, so a version of the head read here is a version of any later head.
        self._history_start(tenant_id, entry, digest)
        if key is not None or path is not None:
            return self._restore_part(tenant_id, user_id, entry, digest, key, path)

        def build(head: str | None, head_doc: dict | None, date: str) -> tuple[dict, ChangeSummary] | None:
            if head is None:
                raise EntryNotFoundError(f"entry {entry!r} not found in tenant {tenant_id!r}")
            if digest == head:
                raise ConflictError(f"{digest[:12]} is already the HEAD of {entry!r}: nothing to restore")
            old = self._snapshot_doc(tenant_id, digest)
            if head_doc["__kind__"] == RECORDS and (old["__kind__"] == RECORDS or _seed_record_entry(old)):
                old = self._as_tree_doc(tenant_id, old)  # new versions are written as trees
            if old["__kind__"] != head_doc["__kind__"]:
                raise PatternMismatchError(
                    f"version {digest[:12]} of {entry!r} is a {old['__kind__']} version but HEAD is a "
                    f"{head_doc['__kind__']} version: its history was forged; not restored"
                )
            document = self._envelope(old["__kind__"], head, user_id, date, restored_from=digest)
            for key, value in old.items():
                if key not in META_KEYS and key not in ("__kind__", "__layout__"):
                    document[key] = value
            return document, self._summary(tenant_id, head_doc, document)

        return self._commit(tenant_id, entry, build)[0]

    def _restore_part(self, tenant_id: str, user_id: str, entry: str, digest: str,
                      key: str | None, path: str | None) -> str:
        """restore() of one record or one value: the head with that place as it was at `digest`,
        written only if the head has not moved meanwhile (ConflictError: try again)."""
        head = self.get_digest(tenant_id, entry)
        plan = queries.restored_part(self, tenant_id, entry, digest, head, key, path)
        if plan.records:
            written = self._put_stored(tenant_id, user_id, entry, plan.upserts, plan.deletes,
                                       expected_head=head, restored_from=digest)
        else:
            written = self._save_stored(tenant_id, user_id, entry, plan.value, expected_head=head,
                                        restored_from=digest) != head
        if not written:
            raise ConflictError(f"{plan.place} already is as it was in {digest[:12]}: nothing to restore")
        for max_items in (16, None):  # ours was built on `head`: usually the head now
            for version in self.log(tenant_id, entry, max_items=max_items):
                if version.parents and version.parents[0] == head:
                    return version.digest
        raise AssertionError("a restore written on top of the head is in its history")

    # ================================================================== safe, raw views
    def read_snapshot(self, tenant_id: str, digest: str) -> dict:
        """The stored JSON document of a version, metadata included; nothing is decoded."""
        return _json_copy(self._snapshot_doc(tenant_id, check_digest(digest)))

    def entry_kind(self, tenant_id: str, entry: str) -> str:
        """`snapshot` or `records`."""
        return self._snapshot_doc(tenant_id, self.get_digest(tenant_id, entry))["__kind__"]

    def record_buckets(self, tenant_id: str, digest: str) -> dict[str, str]:
        """Bucket id -> bucket digest of a format-0.4 record version (equal digests: equal
        records); empty for a version stored as trees (see changed_records)."""
        document = self._snapshot_doc(tenant_id, check_digest(digest))
        if document["__kind__"] != RECORDS:
            raise PatternMismatchError(f"version {digest[:12]} is not a record version")
        return dict(document.get("__buckets__", {}))

    def read_bucket(
        self, tenant_id: str, bucket_digest: str, copy: bool = True, ordered: bool = True
    ) -> dict[str, Any]:
        """Stored records of one bucket, key -> stored value, in insertion order.

        `copy=False` returns the engine's cached values themselves (fast, for comparisons):
        the caller must treat them as read-only. `ordered=False` skips the insertion-order
        sort when the caller matches records by key anyway.
        """
        records = self._bucket(tenant_id, check_digest(bucket_digest))
        if not ordered and not copy:
            return {key: item[1] for key, item in records.items()}
        ordered = sorted(records.items(), key=lambda kv: kv[1][0])
        if not copy:
            return {key: item[1] for key, item in ordered}
        return {key: _json_copy(item[1]) for key, item in ordered}

    def changed_records(
        self, tenant_id: str, old: str | None, new: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The records that differ between two record versions (old may be None: all
        added): (old, new) maps of key -> stored value.

        Records equal in both (type-strict: 1, 1.0 and true differ) are left out; a key in
        one map only was added or removed. Versions stored as trees are compared node by
        node, skipping equal subtrees, so the cost follows the change. Two buckets of a
        format-0.4 version (digests of bucket objects) are compared as before, line by line.
        The values are the caller's own.
        """
        old_digest = check_digest(old) if old is not None else None
        new_digest = check_digest(new) if new is not None else None
        probe = new_digest if new_digest is not None else old_digest
        if probe is None or self._read_object(tenant_id, probe)["__kind__"] == "bucket":
            return self._changed_records(tenant_id, old_digest, new_digest, by_lines=True)
        docs = []
        for digest in (old_digest, new_digest):
            document = self._snapshot_doc(tenant_id, digest) if digest is not None else None
            if document is not None and document["__kind__"] != RECORDS and not _seed_record_entry(document):
                raise PatternMismatchError(f"version {digest[:12]} is not a record version")
            docs.append(document)
        before, after = self._record_changes(tenant_id, docs[0], docs[1] or {"__data__": {}, "__layout__": "seed"})
        with _gc_paused():
            return _json_copy(before), _json_copy(after)

    def _record_changes(self, tenant_id: str, old_doc: dict | None, new_doc: dict) -> tuple[dict[str, Any], dict[str, Any]]:
        """(old, new) key -> stored maps of the records that differ between two record versions
        of any layout (the engine's cached values: read-only). Two tree versions are diffed
        by subtree; any other pair record by record."""
        if old_doc is not None and old_doc["__kind__"] != RECORDS and not _seed_record_entry(old_doc):
            old_doc = None
        if (old_doc is None or _is_tree_doc(old_doc)) and _is_tree_doc(new_doc):
            with self._tree_guard(tenant_id):
                old_items, new_items = order_diff(self._nodes(tenant_id), _tree(old_doc) if old_doc else None, _tree(new_doc))
            before = {item[1]: item[2] for item in old_items}
            after = {item[1]: item[2] for item in new_items}
        else:
            old_records = self._record_items(tenant_id, old_doc)
            new_records = self._record_items(tenant_id, new_doc)
            before = {k: item[1] for k, item in old_records.items()
                      if k not in new_records or not same_stored(item[1], new_records[k][1])}
            after = {k: item[1] for k, item in new_records.items()
                     if k not in old_records or not same_stored(item[1], old_records[k][1])}
        for key in [k for k in after if k in before and same_stored(before[k], after[k])]:
            del before[key], after[key]  # same record, moved to another seq (deleted, re-added)
        return before, after

    def _changed_records(
        self, tenant_id: str, old_digest: str | None, new_digest: str | None, by_lines: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if old_digest == new_digest:
            return {}, {}
        if by_lines and old_digest is not None and new_digest is not None:
            try:
                items = changed_items(self._bucket_data(tenant_id, old_digest), self._bucket_data(tenant_id, new_digest))
            except ValueError:
                items = None  # malformed lines: the full parse below names the bad bucket
            if items is not None:
                old_items, new_items = items
                for key in [k for k, item in new_items.items() if k in old_items and same_stored(old_items[k][1], item[1])]:
                    del old_items[key], new_items[key]  # same record, re-added with a new seq
                return {k: item[1] for k, item in old_items.items()}, {k: item[1] for k, item in new_items.items()}
        old = self._bucket(tenant_id, old_digest) if old_digest is not None else {}
        new = self._bucket(tenant_id, new_digest) if new_digest is not None else {}
        differing: list[str] = []
        equal: list[str] = []  # equal by ==, not the same object: may still differ (1 vs true)
        for key, item in new.items():
            previous = old.get(key)
            if previous is None or _loosely_differ(previous[1], item[1]):
                differing.append(key)
            elif previous[1] is not item[1]:
                equal.append(key)
        if equal and not same_stored([old[k][1] for k in equal], [new[k][1] for k in equal]):
            differing.extend(key for key in equal if not same_stored(old[key][1], new[key][1]))  # 1 vs true...
        after = {key: _json_copy(new[key][1]) for key in differing}
        before = {key: _json_copy(old[key][1]) for key in differing if key in old}
        before.update((key, _json_copy(item[1])) for key, item in old.items() if key not in new)
        return before, after

    def read_records(self, tenant_id: str, digest: str, copy: bool = True) -> dict[str, Any]:
        """All stored records of a record version, key -> stored value, in insertion order.

        `copy=False` returns the engine's cached values themselves (fast, for browsers):
        the caller must treat them as read-only.
        """
        document = self._snapshot_doc(tenant_id, check_digest(digest))
        if document["__kind__"] != RECORDS:
            raise PatternMismatchError(f"version {digest[:12]} is not a record version")
        records = dict(self._all_records(tenant_id, document))
        if not copy:
            return records
        with _gc_paused():
            return _json_copy(records)

    def record_keys(self, tenant_id: str, digest: str) -> list[str]:
        """The record keys of a record version, in insertion order (no value is parsed)."""
        return list(self.records_view(tenant_id, digest).keys_list())

    def records_view(self, tenant_id: str, digest: str) -> RecordsView:
        """The stored records of a record version as a read-only mapping, key -> stored
        value in insertion order, read only where it is looked at: `keys_list()` is a lazy
        sequence for versions stored as trees (a window of 1,000,000 records costs a few
        node reads); a format-0.4 version's buckets are parsed when their values are read."""
        document = self._snapshot_doc(tenant_id, check_digest(digest))
        if document["__kind__"] != RECORDS:
            raise PatternMismatchError(f"version {digest[:12]} is not a record version")
        if _is_tree_doc(document):
            return TreeRecordsView(self._nodes(tenant_id), _tree(document), lambda: self._tree_guard(tenant_id))
        with _gc_paused():
            keys = self._ordered_keys(tenant_id, document)
        return RecordsView(keys, dict(document["__buckets__"]), lambda bucket: self._bucket(tenant_id, bucket))

    def _ordered_keys(self, tenant_id: str, document: dict) -> list[str]:
        """Keys in insertion order, scanned from the buckets' line starts; a bucket that is
        parsed already, or not scannable, is read whole."""
        keys: list[str] = []
        seqs: list = []
        self._prefetch(tenant_id, document["__buckets__"].values())
        for bucket in document["__buckets__"].values():
            cached = self._objects.get((tenant_id, bucket))
            scanned = scan_keys(self._bucket_data(tenant_id, bucket)) if cached is None else None
            if scanned is None:
                records = self._bucket(tenant_id, bucket)
                keys += records
                seqs += [item[0] for item in records.values()]
            else:
                keys += scanned[0]
                seqs += scanned[1]
        next_seq = document["__next_seq__"]
        slots: list = [None] * next_seq
        try:
            for seq, key in zip(map(int, seqs), keys, strict=True):
                if slots[seq] is not None:
                    raise IndexError("duplicate sequence number")
                slots[seq] = key
        except IndexError:  # malformed: the full parse orders it (or names the bad bucket)
            return [key for key, _stored in self._all_records(tenant_id, document)]
        return [key for key in slots if key is not None] if len(keys) != next_seq else slots

    def read_record(self, tenant_id: str, entry: str, key: str, digest: str | None = None) -> Any:
        """The stored form of one record (no decoding)."""
        document = self._entry_doc(tenant_id, entry, digest)
        if document["__kind__"] != RECORDS:
            raise PatternMismatchError(f"entry {entry!r} is a snapshot entry")
        return _json_copy(self._record(tenant_id, entry, document, check_key(key)))

    def read_ref(self, digest: str) -> bytes:
        """The bytes of a ref, checked against its digest."""
        data = self.storage.read_ref(check_digest(digest))
        if compute_digest(data) != digest:
            path = self.storage.ref_path(digest)
            raise CorruptObjectError(f"ref {digest[:12]} is corrupt: its bytes do not match its digest ({path})", path)
        return data

    def ref_size(self, digest: str) -> int:
        return self.storage.ref_size(check_digest(digest))

    def has_ref(self, digest: str) -> bool:
        return isinstance(digest, str) and bool(DIGEST_RE.fullmatch(digest)) and self.storage.has_ref(digest)

    def decode(self, stored: Any) -> Any:
        """Decode a stored value with the registered handlers (pickles only if trusted)."""
        return self.serializer.decode(stored)

    # ================================================================== export / import
    def export_jsonl(self, tenant_id: str, entry: str | None = None) -> Iterator[str]:
        """Lines of a JSON Lines export of the tenant (or entry): refs, objects oldest first, heads."""
        from .transfer import export_lines

        return export_lines(self, tenant_id, entry)

    def import_jsonl(self, lines: Iterable[str | bytes], tenant_id: str | None = None) -> Any:
        """Import an export stream (digests kept, every object verified); idempotent."""
        from .transfer import import_lines

        return import_lines(self, lines, tenant_id)

    # ================================================================== verification
    def verify(self, tenant_id: str | None = None) -> Any:
        """Re-hash and cross-check every object, ref, head and index: a read-only fsck."""
        from .verify import verify_database

        return verify_database(self, tenant_id)

    # ================================================================== internals: writes
    def _envelope(self, kind: str, parent: str | None, user_id: str, date: str,
                  restored_from: str | None = None) -> dict:
        document = {
            "__kind__": kind,
            "__parent__": [parent],
            "__user_id__": user_id,
            "__date__": date,
        }
        if restored_from:
            document["__restored_from__"] = restored_from
        return document

    def _commit(
        self, tenant_id: str, entry: str,
        build: Callable[[str | None, dict | None, str], tuple[dict, ChangeSummary] | None],
    ) -> tuple[str | None, bool]:
        """Write the version `build(head digest, head document, date)` returns (None: nothing
        to write) and make it the entry's head: (head digest, changed)."""
        date = format_date(self.clock())  # a date no timezone can show is refused before any write

        def step(current: str | None) -> tuple[str, Callable[[], None]] | None:
            head_doc = self._snapshot_doc(tenant_id, current) if current else None
            result = build(current, head_doc, date)
            if result is None:
                return None
            document, summary = result
            digest = self._write_object(tenant_id, document)

            def after() -> None:  # once the head is swapped: keeps the race window short on S3
                with contextlib.suppress(DbEngineError, ValueError, OSError):  # a cache: repaired on read
                    state = self._appendable_index(tenant_id, entry, current) if current else None
                    self._index_append(tenant_id, entry, current, state, digest, document, summary)

            return digest, after

        return self._swap_head(tenant_id, entry, step, "try again")

    def _swap_head(
        self, tenant_id: str, entry: str,
        step: Callable[[str | None], tuple[str, Callable[[], None]] | None], retry_hint: str,
    ) -> tuple[str | None, bool]:
        """Read-modify-write of one entry of the head as a compare-and-swap: (head digest, changed).

        `step(current head digest)` returns the new digest and what to do once it is the
        head, or None to leave the head as it is. It runs under the tenant lock (a file lock
        on local disk, where the swap always succeeds; a no-op on S3, where a writer that
        lost the race re-reads the head and steps again). A swap reported lost may have
        landed (its response was lost, and the retry found the head changed): each attempt
        first looks for the versions of earlier attempts in the head, so that a write is
        reported once and never applied twice.
        """
        tried: list[tuple[str | None, str, Callable[[], None]]] = []  # (based on, digest, after)
        deadline = time.monotonic() + _CAS_DEADLINE
        attempt = 0
        pace = self._pace.get((tenant_id, entry))
        if pace:  # others write this entry too: give the writers that lost a race a turn first
            time.sleep(random.uniform(pace, 2 * pace))
        while True:
            started = time.monotonic()
            with self.storage.lock(tenant_id):
                head, token = self._read_head(tenant_id)
                current = head.get(entry)
                landed = self._landed(tenant_id, current, tried)
                if landed is not None:
                    digest, after = landed
                    after()
                    return digest, True
                decided = step(current)
                if decided is None:
                    return current, False
                digest, after = decided
                new_head = dict(head)
                new_head[entry] = digest
                swapped = self.storage.write_head(tenant_id, to_json_bytes(new_head), expected=token)
                with self._guard:
                    self._heads.pop(tenant_id, None)
                if swapped:
                    self._note_pace(tenant_id, entry, current, digest, attempt, time.monotonic() - started)
                    after()
                    return digest, True
                tried.append((current, digest, after))
            attempt += 1
            if time.monotonic() >= deadline:
                raise ConflictError(
                    f"entry {entry!r} of tenant {tenant_id!r}: the head kept moving under "
                    f"{attempt} attempts in {_CAS_DEADLINE:.0f} s to write it; {retry_hint}"
                )
            # Short, jittered waits that do not grow: a writer that lost often retries as
            # soon as a fresh one, and winners pause (`_note_pace`), so every writer progresses.
            time.sleep(random.uniform(0, _CAS_BASE_DELAY))

    def _note_pace(self, tenant_id: str, entry: str, current: str | None, digest: str,
                   attempt: int, took: float) -> None:
        """After a won swap on a backend without locks: when others wrote the entry since this
        engine's last write (or it lost races for this one), pause about one attempt's time
        before its next write of the entry, so the writers that lost do not lose again to it."""
        if not getattr(self.storage, "swaps_can_lose", False):
            return
        key = (tenant_id, entry)
        with self._guard:
            previous = self._last_written.get(key)
            contended = attempt > 0 or (previous is not None and current != previous)
            if contended:
                self._pace[key] = min(_CAS_MAX_PACE, took)
            else:
                self._pace.pop(key, None)
            self._last_written[key] = digest
            if len(self._last_written) > 4096:  # a cache: forget it rather than grow
                self._last_written.clear()
                self._pace.clear()

    def _landed(self, tenant_id: str, current: str | None,
                tried: list[tuple[str | None, str, Callable[[], None]]]) -> tuple[str, Callable[[], None]] | None:
        """An earlier attempt that is in the entry's history after all (its head write landed
        though reported lost): its digest and what is left to do for it, or None. Walks back
        from `current` to the head the first attempt was based on: only the versions written
        meanwhile."""
        if not tried or current is None:
            return None
        for _base, digest, after in tried:
            if current == digest:  # nobody wrote this entry since: finish what the write started
                return digest, after
        ours = {digest for _base, digest, _after in tried}
        stop = tried[0][0]
        cursor: str | None = current
        with contextlib.suppress(DbEngineError):
            for _ in range(100_000):
                if cursor is None or cursor == stop:
                    break
                if cursor in ours:
                    return cursor, _nothing  # landed, and another writer built on it: its index line is theirs to fix
                cursor = self._snapshot_doc(tenant_id, cursor)["__parent__"][0]
        return None

    def _index_append(
        self, tenant_id: str, entry: str, parent: str | None, state: IndexState | None, digest: str,
        document: dict, summary: ChangeSummary,
    ) -> None:
        """Add a committed version to the index: a cache, a failure here is repaired on read.

        An index that did not end at the parent is left to the next reader to repair.
        """
        with contextlib.suppress(DbEngineError, ValueError, OSError):
            version = version_from_document(digest, document, summary)
            if parent is None:  # a new entry: whatever file is there is not its index
                self.storage.write_index(tenant_id, entry, encode_lines([version], 0, 0)[0])
            elif state is None:
                return
            elif state.token is not None and state.offset == state.token.size and not state.damaged:
                line = encode_lines([version], state.crc, len(state))[0]
                appended = self.storage.append_index(tenant_id, entry, line)
                if appended is not None and appended[0] == state.offset:  # ours follows what it holds
                    with self._guard:  # the next commit finds it current: no read back, no check
                        chunk = parse_index(line, state.crc)
                        if self._indexes.get((tenant_id, entry)) is state and state.offset == appended[0] \
                                and chunk.clean and chunk.digests == [digest] and chunk.consumed == len(line):
                            state.add_chunk(chunk)
                            state.token = appended[1]
                            state.checked.add(digest)
            else:  # the file has a torn or damaged tail (or no file): rewrite it whole
                versions = state.versions_with_changes() + [version]
                self.storage.write_index(tenant_id, entry, encode_lines(versions, 0, 0)[0])

    def _write_object(self, tenant_id: str, document: dict) -> str:
        data = to_json_bytes(document)
        digest = compute_digest(data)
        self.storage.write_object(tenant_id, digest, data)
        self._objects.put((tenant_id, digest), document, len(data))
        return digest

    def _write_ref(self, data: bytes) -> str:
        digest = compute_digest(data)
        self.storage.write_ref(digest, data)
        return digest

    def _validate(self, stored: Any) -> None:
        problems = validate_stored(stored, self.has_ref)
        if problems:
            raise InvalidDocumentError("invalid stored value: " + "; ".join(problems[:5]))

    def _check_expected(self, tenant_id: str, entry: str, head: str | None, expected: str | None) -> None:
        if expected is not None and head != expected:
            raise ConflictError(
                f"HEAD of {entry!r} in tenant {tenant_id!r} moved to {head and head[:12]} "
                f"(expected {expected[:12]}): reload and edit again"
            )

    # ================================================================== internals: reads
    def _require(self, tenant_id: str) -> None:
        self.storage.require_tenant(tenant_id)

    def _head(self, tenant_id: str, fresh: bool = False) -> dict[str, str]:
        """The tenant's head map, re-read only when the file changed."""
        check_tenant(tenant_id)
        if not fresh:
            token = self.storage.head_token(tenant_id)
            cached = self._heads.get(tenant_id)
            if cached is not None and token == cached[0]:
                return cached[1]
        return self._read_head(tenant_id)[0]

    def _read_head(self, tenant_id: str) -> tuple[dict[str, str], Any]:
        """The head map read now, with the token its compare-and-swap expects (None: no head)."""
        result = self.storage.read_head(tenant_id)
        if result is None:
            self._require(tenant_id)
            return {}, None
        data, token = result
        path = self.storage.head_path(tenant_id)
        try:
            head = strict_loads(data)
        except (ValueError, RecursionError):
            raise CorruptObjectError(f"head of tenant {tenant_id!r} is not valid UTF-8 JSON ({path})", path) from None
        if type(head) is not dict or not _all_digests(list(head.values())):  # (JSON keys are strings)
            raise CorruptObjectError(f"head of tenant {tenant_id!r} is malformed ({path})", path)
        # Like git's "racily clean" rule: a file changed within the last seconds may change
        # again without its (inode, size, mtime) changing, so it is not cached yet.
        if time.time_ns() - token.mtime_ns > _RACY_NS:
            with self._guard:
                self._heads[tenant_id] = (token, head)
        return head, token

    def _object_bytes(self, tenant_id: str, digest: str) -> bytes:
        """An object's bytes, checked against its digest."""
        data = self.storage.read_object(tenant_id, digest)
        if compute_digest(data) != digest:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(
                f"object {digest[:12]} of tenant {tenant_id!r} is corrupt: its bytes do not match its digest ({path})",
                path,
            )
        return data

    def _prefetch(self, tenant_id: str, digests: Iterable[str]) -> None:
        """Fetch the bytes of buckets not at hand concurrently, on storages where a read is
        a network round trip (S3: 250 buckets at 20 ms are 5 s one by one)."""
        workers = getattr(self.storage, "concurrent_reads", 1)
        todo = [d for d in dict.fromkeys(digests) if self._objects.get((tenant_id, d)) is None
                and self._bucket_bytes.get((tenant_id, d)) is None]
        if workers <= 1 or len(todo) <= 1:
            return
        with contextlib.suppress(DbEngineError):  # a damaged bucket (or a silent store) fails where it is read
            daemon_map(lambda digest: self._bucket_data(tenant_id, digest), todo, workers)

    def _bucket_data(self, tenant_id: str, digest: str) -> bytes:
        """A bucket's bytes, checked, through the bytes cache (a key scan followed by a
        comparison of the same version reads each bucket file once)."""
        key = (tenant_id, digest)
        data = self._bucket_bytes.get(key)
        if data is None:
            data = self._object_bytes(tenant_id, digest)
            self._bucket_bytes.put(key, data, len(data))
        return data

    def _read_object(self, tenant_id: str, digest: str) -> dict:
        """A parsed object, verified against its digest, from the cache or the disk."""
        key = (tenant_id, digest)
        cached = self._objects.get(key)
        if cached is not None:
            return cached
        data = self._bucket_bytes.get(key)  # checked bytes of a bucket whose keys were scanned
        if data is None:
            data = self._object_bytes(tenant_id, digest)
        path = self.storage.object_path(tenant_id, digest)
        try:  # UTF-8 only: json.loads would also take UTF-16 and UTF-32 bytes
            document = strict_loads(data)
        except (ValueError, RecursionError) as exc:
            why = {UnicodeDecodeError: "is not UTF-8", RecursionError: "is nested too deeply to parse"}.get(
                type(exc), "is not valid JSON")
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} {why} ({path})", path) from None
        if type(document) is not dict:
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a JSON object ({path})", path)
        document = normalize_version(document)
        kind = document.get("__kind__")
        if kind in NODE_KINDS:
            shaped = is_node_doc(document)
        else:
            shaped = is_bucket_doc(document) if kind == "bucket" else kind in (SNAPSHOT, RECORDS) and is_version_doc(document)
        if not shaped:
            raise CorruptObjectError(
                f"object {digest[:12]} of tenant {tenant_id!r} is not a version, bucket or record-tree node ({path})", path
            )
        self._objects.put(key, document, len(data))
        if kind == "bucket":
            self._bucket_bytes.put(key, data, len(data))
        return document

    def _snapshot_doc(self, tenant_id: str, digest: str) -> dict:
        document = self._read_object(tenant_id, digest)
        if document["__kind__"] not in (SNAPSHOT, RECORDS):  # shape checked once, when parsed
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a version ({path})", path)
        return document

    def _bucket(self, tenant_id: str, digest: str) -> dict[str, list]:
        try:
            return bucket_records(self._read_object(tenant_id, digest))
        except ValueError:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a bucket ({path})", path) from None

    def _nodes(self, tenant_id: str) -> Nodes:
        """The record-tree functions' access to this tenant's objects (verified reads, cached)."""
        concurrent = getattr(self.storage, "concurrent_reads", 1) > 1
        checked = self._checked_leaves.setdefault(tenant_id, set())
        if len(checked) > 1_000_000:  # a memo: forgetting only costs hashing again
            checked.clear()
        return Nodes(lambda digest: self._node(tenant_id, digest), lambda node: self._write_object(tenant_id, node),
                     (lambda digests: self._prefetch(tenant_id, digests)) if concurrent else None, checked)

    def _node(self, tenant_id: str, digest: str) -> dict:
        if type(digest) is not str or not DIGEST_RE.fullmatch(digest):
            raise TreeError(str(digest), f"a record-tree link is not a digest: {str(digest)[:40]!r}")
        document = self._read_object(tenant_id, digest)
        if document["__kind__"] not in NODE_KINDS:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a record-tree node ({path})", path)
        return document

    @contextlib.contextmanager
    def _tree_guard(self, tenant_id: str) -> Iterator[None]:
        """A record-tree node that disagrees with its place raises CorruptObjectError naming its file."""
        try:
            yield
        except TreeError as exc:
            path = self.storage.object_path(tenant_id, exc.digest) if DIGEST_RE.fullmatch(exc.digest) else None
            raise CorruptObjectError(
                f"record-tree node {exc.digest[:12]} of tenant {tenant_id!r} is corrupt: {exc}" + (f" ({path})" if path else ""),
                path) from None

    def _entry_doc(self, tenant_id: str, entry: str, digest: str | None) -> dict:
        head = self.get_digest(tenant_id, entry)
        return self._snapshot_doc(tenant_id, head if digest is None else check_digest(digest))

    def _history_start(self, tenant_id: str, entry: str, digest: str | None) -> tuple[IndexState, int]:
        head = self.get_digest(tenant_id, entry)
        state = self._index(tenant_id, entry, head)
        if digest is None:
            return state, state.position(head)
        position = state.position(check_digest(digest))
        if position is None and self._chain_has(tenant_id, head, digest):
            self._rebuild_index(tenant_id, entry)  # the index hid a version of the chain
            state = self._index(tenant_id, entry, head)
            position = state.position(digest)
        if position is None or position > state.position(head):
            raise DigestNotFoundError(f"{digest[:12]} is not a version of entry {entry!r} of tenant {tenant_id!r}")
        return state, position

    def _chain_has(self, tenant_id: str, head: str, digest: str) -> bool:
        """True when `digest` is on the first-parent chain of `head`, walked in the objects
        (only asked when the index does not have it: a cost on misses only)."""
        if not self.storage.has_object(tenant_id, digest):
            return False
        cursor: str | None = head
        with contextlib.suppress(DbEngineError):
            while cursor is not None:
                if cursor == digest:
                    return True
                cursor = self._snapshot_doc(tenant_id, cursor)["__parent__"][0]
        return False

    # ================================================================== internals: history index
    def _index(self, tenant_id: str, entry: str, head: str, locked: bool = False) -> IndexState:
        """The entry's index, validated to form a chain that reaches `head`, whose line for
        `head` agrees with the head's object (else it is rebuilt from the objects)."""
        with self._guard:
            state = self._refresh_index(tenant_id, entry)
            position = state.position(head) if not state.damaged else None
            if position is not None and self._line_agrees(tenant_id, state, head):
                return state
        return self._repair_index(tenant_id, entry, head, locked, from_scratch=position is not None)

    def _appendable_index(self, tenant_id: str, entry: str, head: str) -> IndexState | None:
        """The entry's index when it ends at `head`, so that a writer appends its new version;
        None otherwise: a writer never walks the history under the lock."""
        with self._guard:
            state = self._refresh_index(tenant_id, entry)
        if state.damaged or not state.digests or state.digests[-1] != head:
            return None
        return state if self._line_agrees(tenant_id, state, head) else None

    def _line_agrees(self, tenant_id: str, state: IndexState | None, digest: str,
                     version: Version | None = None) -> bool:
        """True when the index's line for `digest` (or `version`) says what its object says.

        Checked once per state and digest: one object read, so that an index rewritten to
        disagree with the objects is not trusted where it is read.
        """
        if state is not None and digest in state.checked:
            return True
        try:
            if version is None:
                if state is None or state.position(digest) is None:
                    return False
                version = state.version(state.position(digest))
            expected = version_from_document(digest, self._snapshot_doc(tenant_id, digest), None)
        except ValueError:
            return False
        agrees = same_metadata(version, expected)
        if agrees and state is not None:
            state.checked.add(digest)
        return agrees

    def _total(self, tenant_id: str, entry: str, head: str, want: int) -> tuple[int, Lines | None]:
        """The number of versions up to `head` and, when read from the index's end, its newest
        `want` lines (or fewer). An index already in memory answers at once; otherwise one
        small read of the file's end, whose last line must be the head's and agree with its
        object; anything else goes to the whole, repairing read."""
        key = (tenant_id, entry)
        if key not in self._indexes:
            known = self._totals.get(key)
            if known is not None and known[0] == head and want <= 1:
                return known[1], None
            try:
                got = newest(self._read_range(tenant_id, entry), max(want, 1))
            except WindowDamaged:
                self._rebuild_index(tenant_id, entry)
                got = None
            except CorruptObjectError:  # not a regular file: the whole read rebuilds it
                got = None
            if got is not None and got[0].digests[-1] == head:
                lines, total, size = got
                try:
                    version = build_versions(lines.digests[-1:], lines.parents[-1:], lines.tails[-1:], total - 1)[0]
                except ValueError:
                    version = None
                if version is not None and self._line_agrees(tenant_id, None, head, version):
                    self._totals[key] = (head, total, size)
                    return total, lines
        state = self._index(tenant_id, entry, head)
        return state.position(head) + 1, None

    def _read_range(self, tenant_id: str, entry: str) -> Callable[[int, int], tuple[bytes, int, int] | None]:
        return lambda offset, nbytes: self.storage.read_index_range(tenant_id, entry, offset, nbytes)

    def _versions_at(self, tenant_id: str, entry: str, head: str, total: int, lo: int, hi: int,
                     tail: Lines | None = None) -> list[Version]:
        """Versions at chain positions lo..hi-1 (oldest first) of the history of `head`, which
        has `total` versions: from the index in memory, from `tail` (the newest lines, just
        read), or from a window of the file; damage is repaired as a whole read repairs it."""
        if hi <= lo:
            return []
        key = (tenant_id, entry)
        if key not in self._indexes and hi - lo <= _WINDOW_MAX:
            lines = tail if tail is not None and tail.first <= lo and hi == total else None
            if lines is None:
                size = self._totals.get(key, (head, total, total * _LINE_GUESS))[2]
                try:
                    lines = window(self._read_range(tenant_id, entry), lo, hi, total, size)
                except WindowDamaged:
                    self._rebuild_index(tenant_id, entry)
                except CorruptObjectError:
                    pass
            if lines is not None:
                skip = lo - lines.first
                with contextlib.suppress(ValueError):  # a malformed field: the whole read repairs it
                    return build_versions(lines.digests[skip:skip + hi - lo], lines.parents[skip:skip + hi - lo],
                                          lines.tails[skip:skip + hi - lo], lo)
                self._rebuild_index(tenant_id, entry)
        for attempt in (1, 2):
            state = self._index(tenant_id, entry, head)
            if state.position(head) + 1 != total:
                raise ConflictError(f"the history of {entry!r} up to {head[:12]} changed while it was read")
            try:
                return state.versions_between(lo, hi)
            except ValueError:
                if attempt == 2:
                    raise
                self._rebuild_index(tenant_id, entry)
        raise AssertionError("unreachable")

    def _rebuild_index(self, tenant_id: str, entry: str) -> None:
        """Throw away a damaged index and rebuild it from the objects."""
        with self._guard:
            self._indexes.pop((tenant_id, entry), None)
        head = self.get_digest(tenant_id, entry)
        self._repair_index(tenant_id, entry, head, locked=False, from_scratch=True)

    def _refresh_index(self, tenant_id: str, entry: str) -> IndexState:
        """The cached index, completed with the lines appended to the file since it was read.

        Damaged lines end the scan: the state keeps the intact, chained lines before them
        and is marked `damaged`, so that the next repair rewrites the file.
        """
        key = (tenant_id, entry)
        state = self._indexes.get(key)
        token = self.storage.index_token(tenant_id, entry)
        if state is not None and token == state.token:
            return state
        if state is None or token is None or state.token is None or token.inode != state.token.inode \
                or token.size < state.offset or state.damaged:
            state = IndexState()
        try:
            result = self.storage.read_index(tenant_id, entry, state.offset)
        except CorruptObjectError:  # not a regular file (a FIFO, a symlink): rebuilt, it is a cache
            result, state = None, IndexState()
            state.token, state.damaged = token, True  # the repair replaces it with a regular file
        if result is None:
            self._indexes[key] = state
            return state
        data, token = result
        chunk = parse_index(data, state.crc)
        start = len(state)
        state.add_chunk(chunk)
        state.token = token
        if chain_breaks(state.digests, state.parents, start):
            state = state.keep(_chained_length(state, start))
            state.token, state.damaged = token, True
        elif not chunk.clean:
            state.damaged = True
        self._indexes[key] = state
        return state

    def _repair_index(
        self, tenant_id: str, entry: str, head: str, locked: bool, from_scratch: bool = False
    ) -> IndexState:
        """Rebuild the part of the index the head is ahead of, from the objects.

        The walk reads objects without the tenant lock; the result is written back only
        if the lock is free at once and the file has not changed meanwhile, so that a
        reader never waits on a writer and never holds writers up for a long walk.
        """
        with self._guard:
            state = IndexState() if from_scratch else self._refresh_index(tenant_id, entry)
            if not from_scratch and not state.damaged and state.position(head) is not None:
                return state
            based_on = self.storage.index_token(tenant_id, entry) if from_scratch else state.token
            missing: list[Version] = []
            cursor: str | None = head
            while cursor is not None and state.position(cursor) is None:
                document = self._snapshot_doc(tenant_id, cursor)
                parent = document["__parent__"][0] if document["__parent__"] else None
                parent_doc = self._snapshot_doc(tenant_id, parent) if parent else None
                missing.append(version_from_document(cursor, document, self._summary(tenant_id, parent_doc, document)))
                if len(missing) > 10_000_000:
                    raise CorruptObjectError(f"history of {entry!r} does not end", None)
                cursor = parent
            keep = state.position(cursor) + 1 if cursor is not None else 0
            fresh = state.keep(keep)
            missing.reverse()
            fresh.add_versions(missing)
            fresh.checked.add(head)
        written = False
        with contextlib.nullcontext(True) if locked else self._try_lock(tenant_id) as held:
            if held and self.storage.index_token(tenant_id, entry) == based_on:
                # (ValueError: a kept line is damaged; log() rebuilds it all)
                with contextlib.suppress(DbEngineError, OSError, ValueError):
                    appendable = not state.damaged and state.token is not None and state.offset == state.token.size
                    if keep == len(state) and appendable:
                        data, crc = encode_lines(missing, state.crc, keep)
                        self.storage.append_index(tenant_id, entry, data)
                    else:
                        data, crc = encode_lines(fresh.versions_with_changes(), 0, 0)
                        self.storage.write_index(tenant_id, entry, data)
                    fresh.crc, written = crc, True
        with self._guard:
            token = self.storage.index_token(tenant_id, entry) if written else based_on
            if token is not None:
                # Read-only: keep the repaired view and follow later appends from here.
                fresh.token, fresh.offset = token, token.size
            self._indexes[(tenant_id, entry)] = fresh
        return fresh

    @contextlib.contextmanager
    def _try_lock(self, tenant_id: str) -> Iterator[bool]:
        """Take the tenant lock for a repair if it is free now; otherwise repair in memory only."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.storage.lock(tenant_id, timeout=0))
                held = True
            except (StorageError, LockTimeoutError, OSError):
                held = False
            yield held

    def _summary(self, tenant_id: str, old_doc: dict | None, new_doc: dict) -> ChangeSummary:
        """Change counts between two versions' documents (keys, or records)."""
        if new_doc["__kind__"] == SNAPSHOT:
            old = old_doc["__data__"] if old_doc is not None and old_doc["__kind__"] == SNAPSHOT else _ABSENT
            return _snapshot_summary(old, new_doc["__data__"])
        if _is_tree_doc(new_doc) or _is_tree_doc(old_doc):
            before, after = self._record_changes(tenant_id, old_doc, new_doc)
            keys = [*after, *(k for k in before if k not in after)]
            both = sum(1 for key in after if key in before)
            return ChangeSummary(len(after) - both, both, len(before) - both, keys=tuple(keys))
        if _seed_record_entry(old_doc):
            new = {b: self._bucket(tenant_id, d) for b, d in new_doc["__buckets__"].items()}
            return _records_summary(_seed_records(old_doc), new)
        old_buckets = old_doc["__buckets__"] if old_doc is not None and old_doc["__kind__"] == RECORDS else {}
        added = changed = removed = 0
        for bucket_id in set(old_buckets) | set(new_doc["__buckets__"]):
            a, b = old_buckets.get(bucket_id), new_doc["__buckets__"].get(bucket_id)
            if a == b:
                continue
            # Just written, both buckets are parsed and share their unchanged records.
            cached = a is not None and b is not None and self._objects.get((tenant_id, a)) is not None \
                and self._objects.get((tenant_id, b)) is not None
            before, after = self._changed_records(tenant_id, a, b, by_lines=not cached)
            both = sum(1 for key in after if key in before)
            added, changed, removed = added + len(after) - both, changed + both, removed + len(before) - both
        return ChangeSummary(added, changed, removed)


_ABSENT = object()
_RACY_NS = 2_000_000_000
_BUCKET_BYTES_CACHE = 32 << 20  # two versions of 100,000 records of ~100 bytes
_WINDOW_MAX = 5000  # versions a windowed read serves; more are read with the whole index
_LINE_GUESS = 200  # bytes of an index line, to place a first window read
_CAS_DEADLINE = 60.0  # seconds of lost races on a head before ConflictError (only without a file lock)
_CAS_BASE_DELAY = 0.002
_CAS_MAX_PACE = 2.0  # longest pause of a winner that others wait behind (one attempt's time)


def _snapshot_summary(old: Any, new: Any) -> ChangeSummary:
    """Top-level key changes between two stored snapshot values, with the change set (the
    JSON Pointers of what changed, see changesets.py)."""
    if old is _ABSENT:
        return ChangeSummary(added=len(new) if _plain_dict(new) else 1, keys=snapshot_changes(None, new, first=True))
    if old == new and to_json_bytes(old) == to_json_bytes(new):  # a restore of equal data
        return ChangeSummary(keys=())
    keys = snapshot_changes(old, new)
    if _plain_dict(old) and _plain_dict(new):
        added = sum(1 for k in new if k not in old)
        removed = sum(1 for k in old if k not in new)
        changed = sum(1 for k in new if k in old and old[k] != new[k])
        return ChangeSummary(added, changed, removed, keys)
    return ChangeSummary(changed=0 if old == new else 1, keys=keys)


def _nothing() -> None:
    pass


def _all_digests(values: list) -> bool:
    """Every item is a digest (64 lowercase hex): checked at C speed, a head of 100,000 entries
    in a few milliseconds."""
    return set(map(type, values)) <= {str} and _all_hex(values)


def _seed_record_entry(document: dict | None) -> bool:
    """True for a seed-layout version whose value is a JSON object: the seed's record entry."""
    return is_seed_layout(document) and _plain_dict(document["__data__"])


def _is_tree_doc(document: dict | None) -> bool:
    """True for a record version stored as trees (format 0.5), not as buckets or seed data."""
    return document is not None and "__order__" in document


def _tree(document: dict) -> Tree:
    return Tree(document["__order__"], document["__keys__"], document["__count__"], document["__next_seq__"])


def _tree_fields(tree: Tree) -> dict:
    """The record fields of a tree-format version document."""
    return {"__count__": tree.count, "__next_seq__": tree.next_seq, "__order__": tree.order, "__keys__": tree.keys}


def _seed_records(document: dict) -> dict[str, dict[str, list]]:
    """The records of a seed record entry (see _seed_record_entry), by bucket id,
    `[seq, stored]` in the object's order."""
    records: dict[str, dict[str, list]] = {}
    for seq, (key, stored) in enumerate(document["__data__"].items()):
        records.setdefault(bucket_of(key), {})[key] = [seq, stored]
    return records


def _records_summary(old: dict[str, dict[str, list]], new: dict[str, dict[str, list]]) -> ChangeSummary:
    """Records added, changed and removed between two versions' parsed buckets, by bucket id."""
    added = changed = removed = 0
    for bucket_id in set(old) | set(new):
        before, after = old.get(bucket_id, {}), new.get(bucket_id, {})
        added += sum(1 for key in after if key not in before)
        removed += sum(1 for key in before if key not in after)
        changed += sum(1 for key, item in after.items() if key in before and not same_stored(before[key][1], item[1]))
    return ChangeSummary(added, changed, removed)


def _plain_dict(value: Any) -> bool:
    return type(value) is dict and "__special__" not in value


def _loosely_differ(a: Any, b: Any) -> bool:
    """`a != b` for two stored values; one too deep to compare counts as different."""
    try:
        return a is not b and a != b
    except RecursionError:
        return True


def _json_copy(value: Any) -> Any:
    """A deep copy of parsed JSON: recursive (fast), iterative when nesting is too deep."""
    try:
        return _json_copy_recursive(value)
    except RecursionError:
        return _json_copy_iterative(value)


def _json_copy_recursive(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _json_copy_recursive(v) for k, v in value.items()}
    if kind is list:
        return [_json_copy_recursive(v) for v in value]
    return value


def _json_copy_iterative(value: Any) -> Any:
    kind = type(value)
    if kind is not dict and kind is not list:
        return value
    root = {} if kind is dict else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if type(source) is dict else enumerate(source)
        for key, item in items:
            item_kind = type(item)
            if item_kind is dict or item_kind is list:
                child = {} if item_kind is dict else []
                stack.append((item, child))
                item = child
            if type(target) is dict:
                target[key] = item
            else:
                target.append(item)
    return root


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many small acyclic objects (JSON)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _chained_length(state: IndexState, start: int) -> int:
    """How many versions of `state` chain from its first one (those from `start` on were just added)."""
    count = start
    previous = state.digests[start - 1] if start else None
    for digest, parent in zip(state.digests[start:], state.parents[start:], strict=True):
        if parent != previous:
            break
        previous, count = digest, count + 1
    return count
