"""DbEngine: the versioned, content-addressed document database of the spec.

Every write creates an immutable JSON object named by the SHA-256 of its bytes; the
tenant's `head` maps entry names to their newest digest. See docs/FORMAT.md.

This class is the public front: it checks arguments and composes the modules that do
the work (docs/ARCHITECTURE.md), as dulwich's Repo composes its object store and refs:
the verified object store (objects.py), the heads and their compare-and-swap
(heads.py), the history index (history_index.py, history_reads.py), the records of
record entries (record_entries.py) and the commits that write versions (commits.py).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import queries
from .commits import Commits
from .entry_listing import EntryInfo, EntryTable, entry_infos, entry_table
from .errors import (
    CheckpointError,
    ConflictError,
    DbEngineError,
    DigestNotFoundError,
    EntryNotFoundError,
    InvalidDocumentError,
    PatternMismatchError,
    RecordNotFoundError,
)
from .handlers import HandlerRegistry, handlers
from .heads import Heads
from .history_index import HistoryIndex
from .history_reads import HistoryReader, LogWindow
from .index_columns import IndexColumns
from .index_window import LogView
from .layout import (
    META_KEYS,
    RECORDS,
    SNAPSHOT,
    envelope,
    is_record_version,
    is_seed_record_entry,
    is_tree_doc,
)
from .names import DIGEST_RE, check_digest, check_entry, check_key, check_tenant, check_user
from .objects import ObjectStore
from .queries import KeyChange, SearchHit
from .record_entries import RecordEntries
from .records import RecordsView
from .serializer import Serializer, validate_stored
from .storage import open_storage
from .storage_protocol import Storage
from .summaries import ABSENT as _ABSENT  # noqa: F401  (bench/history_scale.py)
from .summaries import snapshot_summary as _snapshot_summary  # noqa: F401  (bench/history_scale.py)
from .summaries import version_summary
from .transfer import ImportResult, export_lines, import_lines
from .utils import compute_digest, gc_paused, json_copy, now_local
from .verify import VerifyReport, verify_database
from .versions import ChangeSummary, Version

_DATE_REV_RE = re.compile(r"@\{([^{}]{1,64})\}")

__all__ = [
    "DbEngine", "EntryInfo", "EntryTable", "LogView", "LogWindow", "Version", "ChangeSummary", "RecordsView", "KeyChange",
    "SearchHit", "SNAPSHOT", "RECORDS",
]

_VALID_TENANTS: set[str] = set()  # tenant ids check_tenant accepted: a save checks its tenant in one lookup


def _check_tenant_once(tenant_id: object) -> str:
    """check_tenant(tenant_id), remembered for the ids it accepted (a name's validity never changes)."""
    if type(tenant_id) is str and tenant_id in _VALID_TENANTS:
        return tenant_id
    name = check_tenant(tenant_id)
    if type(name) is str and len(_VALID_TENANTS) < 4096:
        _VALID_TENANTS.add(name)
    return name


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
        storage: Storage | None = None,
        s3_endpoint: str | None = None,
    ):
        self.root = root
        self.storage: Storage = storage or open_storage(
            root, durable=durable, lock_timeout=lock_timeout, s3_endpoint=s3_endpoint
        )
        self.clock = clock or now_local
        self.objects = ObjectStore(self.storage, cache_bytes)
        self.heads = Heads(self.storage, self.objects)
        self.records = RecordEntries(self.objects)
        self.index = HistoryIndex(self.storage, self.objects, self._summary, self.get_digest)
        self.reader = HistoryReader(self.index)
        self.commits = Commits(self.objects, self.heads, self.records, self.index, lambda: self.clock(), self._summary,
                               lambda *line: self._index_append(*line))
        self.serializer = Serializer(self.objects.write_ref, self.read_ref, registry, trust_pickle)
        # Private names kept for the tests, benches and queries.py that reach into the engine.
        self._objects, self._bucket_bytes, self._indexes = self.objects.cache, self.objects.bucket_bytes, self.index.states
        self._node, self._nodes, self._write_object, self._write_ref = (
            self.objects.node, self.objects.nodes, self.objects.write, self.objects.write_ref)
        self._snapshot_doc, self._head, self._read_head = self.objects.version, self.heads.head, self.heads.read
        self._history_start, self._rebuild_index = self.index.start, self.index.rebuild
        self._index_append, self._build_trees = self.index.append_to, self.records.build_trees
        self._envelope = envelope

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
        return sorted(self.heads.head(tenant_id))

    def entry_info(self, tenant_id: str, entry: str) -> EntryInfo:
        """Pattern, head digest and number of versions of one entry."""
        head = self.get_digest(tenant_id, entry)
        document = self.objects.version(tenant_id, head)
        return EntryInfo(entry, document["__kind__"], head, self.reader.total(tenant_id, entry, head, 1)[0])

    def entry_infos(self, tenant_id: str) -> dict[str, EntryInfo | DbEngineError]:
        """Every entry's info (with its head Version), in name order; an entry that cannot be
        read maps to its engine error, so one bad entry never hides the others (served from
        the tenant's entries cache, see entry_listing.py)."""

        return entry_infos(self.heads, self.objects, self._newest, tenant_id)

    def entry_table(self, tenant_id: str) -> EntryTable:
        """entry_infos() column by column, with no object per entry: what a listing of
        100,000 entries prints (`mydb entries`); Versions only for the rows asked for."""
        return entry_table(self.heads, self.objects, self._newest, tenant_id)

    def _newest(self, tenant: str, name: str, head: str) -> tuple[int, Version]:
        """log_window(tenant, name, 0, 1) for the head `head` the lister read already."""
        check_entry(name)
        try:
            return self.reader.head_line(tenant, name, head)
        except DbEngineError:
            self.get_digest(tenant, name)  # (a head naming a lost object: the error a lone read gives)
            raise

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
        _check_tenant_once(tenant_id), check_user(user_id), check_entry(entry)
        self.storage.require_tenant(tenant_id)
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
        self.storage.require_tenant(tenant_id)
        if type(document) is not dict or "__data__" not in document:
            raise InvalidDocumentError("a snapshot document must be a JSON object with a '__data__' key")
        unknown = [k for k in document if k not in (*META_KEYS, "__kind__", "__data__", "__layout__")]
        if unknown:
            raise InvalidDocumentError(f"unexpected top-level keys {unknown}: put data under '__data__'")
        if document.get("__kind__", SNAPSHOT) != SNAPSHOT:
            raise InvalidDocumentError("'__kind__' of a snapshot document must be 'snapshot'")
        head = self.heads.head(tenant_id).get(entry)
        if expected_head is not None and head != expected_head:
            raise ConflictError(
                f"HEAD of {entry!r} in tenant {tenant_id!r} moved to {head and head[:12]} "
                f"(expected {expected_head[:12]}): reload and edit again"
            )
        given_meta = {k: document[k] for k in META_KEYS if k in document}
        if given_meta:
            head_doc = self.objects.version(tenant_id, head) if head else {}
            forged = [k for k, v in given_meta.items() if head_doc.get(k) != v]
            if forged:
                raise InvalidDocumentError(
                    f"metadata {', '.join(forged)} differs from HEAD's: metadata is written by the "
                    "engine, edit only '__data__' (or HEAD moved since the document was read)"
                )
        self._validate(document["__data__"])
        data = json_copy(document["__data__"])  # the caller keeps its dict; ours is cached
        return self._save_stored(tenant_id, user_id, entry, data, expected_head=head)

    def _save_stored(self, tenant_id: str, user_id: str, entry: str, data: Any, expected_head: str | None = None,
                     restored_from: str | None = None) -> str:
        return self.commits.save(tenant_id, user_id, entry, data, expected_head, restored_from)

    # ================================================================== records
    def put(self, tenant_id: str, user_id: str, entry: str, key: str, value: Any) -> bool:
        """Add or update one record; False (nothing written) if it already had that value."""
        return self.put_many(tenant_id, user_id, entry, {key: value})

    def put_many(self, tenant_id: str, user_id: str, entry: str, items: dict) -> bool:
        """Add or update several records in one version; False if nothing changed."""
        check_tenant(tenant_id), check_user(user_id), check_entry(entry)
        self.storage.require_tenant(tenant_id)
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
        self.storage.require_tenant(tenant_id)
        self._validate(stored_value)
        stored = json_copy(stored_value)  # the caller keeps its value; ours is cached
        return self._put_stored(tenant_id, user_id, entry, {key: stored}, (), expected_head)

    def delete(self, tenant_id: str, user_id: str, entry: str, key: str) -> bool:
        """Remove a record as a new version; False if there was no such record."""
        check_tenant(tenant_id), check_user(user_id), check_entry(entry), check_key(key)
        self.storage.require_tenant(tenant_id)
        if entry not in self.heads.head(tenant_id):
            raise EntryNotFoundError(f"entry {entry!r} not found in tenant {tenant_id!r}")
        return self._put_stored(tenant_id, user_id, entry, {}, (key,))

    def get(self, tenant_id: str, entry: str, key: str | None = None, digest: str | None = None) -> Any:
        """One record's value (`key`), or the list of all values in insertion order."""
        document = self._entry_doc(tenant_id, entry, digest)
        decode = self.serializer.decode
        if is_seed_record_entry(document):  # the seed's layout: a record entry is one flat object
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
            return decode(self.records.required(tenant_id, entry, document, check_key(key)))
        if is_tree_doc(document):  # leaf by leaf; leaves without tagged values need no decode
            return self.records.tree_values(tenant_id, document, decode)
        records = self.records.all_records(tenant_id, document)
        with gc_paused():
            return [decode(stored) for _key, stored in records]

    def _put_stored(self, tenant_id: str, user_id: str, entry: str, upserts: dict[str, Any], deletes: Iterable[str],
                    expected_head: str | None = None, restored_from: str | None = None) -> bool:
        return self.commits.put(tenant_id, user_id, entry, upserts, list(deletes), expected_head, restored_from)

    # ================================================================== history
    def exists(self, tenant_id: str, entry: str) -> bool:
        check_entry(entry)
        if not self.is_initialized(tenant_id):
            return False
        return entry in self.heads.head(tenant_id)

    def get_digest(self, tenant_id: str, entry: str) -> str:
        """The digest of the entry's head."""
        check_entry(entry)
        digest = self.heads.head(tenant_id).get(entry)
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
        return self.reader.digests(tenant_id, entry, digest, max_items)

    def log(self, tenant_id: str, entry: str, digest: str | None = None, max_items: int = 1000) -> list[Version]:
        """The entry's versions, newest first, from the head (or `digest`)."""
        return self.reader.log(tenant_id, entry, digest, max_items)

    def log_window(self, tenant_id: str, entry: str, start: int = 0, count: int = 100) -> LogWindow:
        """Versions `start` .. `start + count - 1` below the head (0: the head), newest first,
        and the number of versions: only those lines of a long index are read (its end for
        the newest, its start for the oldest, a seek for the middle), checked as a whole
        read is (FORMAT.md section 10)."""
        return self.reader.window(tenant_id, entry, start, count)

    def log_view(self, tenant_id: str, entry: str, page: int = 256) -> LogView:
        """The entry's history as a lazy sequence of Versions, newest first, as of the head
        now: len() at once, versions read a page at a time (for browsers of long histories)."""
        return self.reader.view(tenant_id, entry, page)

    def versions_touching(self, tenant_id: str, entry: str, key: str | None = None, path: str | None = None,
                          digest: str | None = None) -> list[tuple[str, bool]]:
        """Versions of the entry (from the head, or `digest`), newest first, whose change set
        names record `key` or touches JSON Pointer `path` (True), or whose change set is unknown
        (False: compare that version with its parent to know). Scans the index only."""
        return self.reader.touching(tenant_id, entry, key, path, digest)

    def version(self, tenant_id: str, entry: str, digest: str) -> Version:
        """One version of the entry, its index line checked against its object."""
        return self.reader.version(tenant_id, entry, digest)

    def resolve(self, tenant_id: str, entry: str, rev: str) -> str:
        """A full digest for `rev`: a digest, a unique prefix (4+ hex), HEAD, HEAD~N, or
        @{DATE} (ISO 8601; the version that was HEAD then, see as_of)."""
        dated = _DATE_REV_RE.fullmatch(rev) if type(rev) is str else None
        if dated:
            version = self.as_of(tenant_id, entry, queries.parse_when(dated.group(1)))
            if version is None:
                raise DigestNotFoundError(f"{rev}: entry {entry!r} of tenant {tenant_id!r} had no version yet then")
            return version.digest
        return self.reader.resolve(tenant_id, entry, rev)

    def is_ancestor(self, tenant_id: str, entry: str, older: str, newer: str) -> bool:
        """True when version `older` is in the history of version `newer` (itself included):
        compared by chain positions, without reading the whole index of a long history.
        DigestNotFoundError when `newer` is not a version of the entry."""
        return self.reader.is_ancestor(tenant_id, entry, older, newer)

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

    def history_columns(self, tenant_id: str, entry: str, thorough: bool = False) -> IndexColumns:
        """The user, date and summary columns of the history up to HEAD, oldest first (for
        filters over long histories: no Version is built per line)."""
        check_tenant(tenant_id), check_entry(entry)
        return queries.history_columns(self, tenant_id, entry, thorough)

    def _record_or_absent(self, tenant_id: str, document: dict, key: str, absent: Any) -> Any:
        """Record `key`'s stored value in a record version's document (read-only), or `absent` (queries.py)."""
        return self.records.record(tenant_id, document, key, absent)

    def _record_diff(self, tenant_id: str, old: str | None, new: str, absent: Any) -> dict[str, tuple[Any, Any]]:
        """key -> (old stored, new stored) of every record that differs between two record
        versions (`absent` on the side where the record is not; read-only values; queries.py)."""
        old_doc = self.objects.version(tenant_id, old) if old is not None else None
        before, after = self.records.record_changes(tenant_id, old_doc, self.objects.version(tenant_id, new))
        out = {key: (before.get(key, absent), value) for key, value in after.items()}
        out.update((key, (value, absent)) for key, value in before.items() if key not in after)
        return out

    def restore(self, tenant_id: str, user_id: str, entry: str, digest: str,
                key: str | None = None, path: str | None = None) -> str:
        """Make the content of an old version the new head (a new version; history is kept).
        With `key` and/or `path` (a JSON Pointer, into record `key` when both are given), only
        that record or value is brought back (removed if it was absent then)."""
        check_tenant(tenant_id), check_user(user_id), check_entry(entry), check_digest(digest)
        self.storage.require_tenant(tenant_id)
        # Checked before the lock (a reader's repair, if any, never holds it): history only
        # grows, so a version of the head read here is a version of any later head.
        self.index.start(tenant_id, entry, digest)
        if key is not None or path is not None:
            return self._restore_part(tenant_id, user_id, entry, digest, key, path)

        return self.commits.restore(tenant_id, user_id, entry, digest)

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
        return json_copy(self.objects.version(tenant_id, check_digest(digest)))

    def entry_kind(self, tenant_id: str, entry: str) -> str:
        """`snapshot` or `records`."""
        return self.objects.version(tenant_id, self.get_digest(tenant_id, entry))["__kind__"]

    def record_buckets(self, tenant_id: str, digest: str) -> dict[str, str]:
        """Bucket id -> bucket digest of a format-0.4 record version (equal digests: equal
        records); empty for a version stored as trees (see changed_records)."""
        document = self._record_version(tenant_id, digest)
        return dict(document.get("__buckets__", {}))

    def read_bucket(
        self, tenant_id: str, bucket_digest: str, copy: bool = True, ordered: bool = True
    ) -> dict[str, Any]:
        """Stored records of one bucket, key -> stored value, in insertion order.

        `copy=False` returns the engine's cached values themselves (fast, for comparisons):
        the caller must treat them as read-only. `ordered=False` skips the insertion-order
        sort when the caller matches records by key anyway.
        """
        records = self.objects.bucket(tenant_id, check_digest(bucket_digest))
        if not ordered and not copy:
            return {key: item[1] for key, item in records.items()}
        ordered = sorted(records.items(), key=lambda kv: kv[1][0])
        if not copy:
            return {key: item[1] for key, item in ordered}
        return {key: json_copy(item[1]) for key, item in ordered}

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
        if probe is None or self.objects.read(tenant_id, probe)["__kind__"] == "bucket":
            return self.records.bucket_changes(tenant_id, old_digest, new_digest, by_lines=True)
        docs = []
        for digest in (old_digest, new_digest):
            document = self.objects.version(tenant_id, digest) if digest is not None else None
            if document is not None and not is_record_version(document):
                raise PatternMismatchError(f"version {digest[:12]} is not a record version")
            docs.append(document)
        before, after = self.records.record_changes(tenant_id, docs[0], docs[1] or {"__data__": {}, "__layout__": "seed"})
        with gc_paused():
            return json_copy(before), json_copy(after)

    def read_records(self, tenant_id: str, digest: str, copy: bool = True) -> dict[str, Any]:
        """All stored records of a record version, key -> stored value, in insertion order.

        `copy=False` returns the engine's cached values themselves (fast, for browsers):
        the caller must treat them as read-only.
        """
        records = dict(self.records.all_records(tenant_id, self._record_version(tenant_id, digest)))
        if not copy:
            return records
        with gc_paused():
            return json_copy(records)

    def record_keys(self, tenant_id: str, digest: str) -> list[str]:
        """The record keys of a record version, in insertion order (no value is parsed)."""
        return list(self.records_view(tenant_id, digest).keys_list())

    def records_view(self, tenant_id: str, digest: str) -> RecordsView:
        """The stored records of a record version as a read-only mapping, key -> stored
        value in insertion order, read only where it is looked at: `keys_list()` is a lazy
        sequence for versions stored as trees (a window of 1,000,000 records costs a few
        node reads); a format-0.4 version's buckets are parsed when their values are read."""
        return self.records.view(tenant_id, self._record_version(tenant_id, digest))

    def read_record(self, tenant_id: str, entry: str, key: str, digest: str | None = None) -> Any:
        """The stored form of one record (no decoding)."""
        document = self._entry_doc(tenant_id, entry, digest)
        if document["__kind__"] != RECORDS:
            raise PatternMismatchError(f"entry {entry!r} is a snapshot entry")
        return json_copy(self.records.required(tenant_id, entry, document, check_key(key)))

    def read_ref(self, digest: str) -> bytes:
        """The bytes of a ref, checked against its digest."""
        return self.objects.read_ref(digest)

    def ref_size(self, digest: str) -> int:
        return self.storage.ref_size(check_digest(digest))

    def has_ref(self, digest: str) -> bool:
        return isinstance(digest, str) and bool(DIGEST_RE.fullmatch(digest)) and self.storage.has_ref(digest)

    def decode(self, stored: Any) -> Any:
        """Decode a stored value with the registered handlers (pickles only if trusted)."""
        return self.serializer.decode(stored)

    # ================================================================== export, import, verify
    def export_jsonl(self, tenant_id: str, entry: str | None = None) -> Iterator[str]:
        """Lines of a JSON Lines export of the tenant (or entry): refs, objects oldest first, heads."""
        return export_lines(self.objects, self.heads, self.reader, tenant_id, entry)

    def import_jsonl(self, lines: Iterable[str | bytes], tenant_id: str | None = None) -> ImportResult:
        """Import an export stream (digests kept, every object verified); idempotent."""
        return import_lines(self.objects, self.heads, self.index, lines, tenant_id)

    def checkpoint(self, tenant_id: str | None = None) -> list[str]:
        """Give the objects of durable commits their files and empty the journals of one
        tenant (or all); the tenants done. Reads never need it: copies of the files do
        (`aws s3 sync`, rsync). Nothing to do on S3. Of all tenants, one that fails does
        not stop the others: CheckpointError names the failed ones once all were tried."""
        if tenant_id is not None:
            self.storage.require_tenant(check_tenant(tenant_id))
            self.storage.checkpoint(tenant_id)
            return [tenant_id]
        done: list[str] = []
        failed: dict[str, Exception] = {}
        for tenant in self.storage.list_tenants():
            try:
                self.storage.checkpoint(tenant)
            except (DbEngineError, OSError) as exc:
                failed[tenant] = exc
            else:
                done.append(tenant)
        if failed:
            raise CheckpointError(done, failed)
        return done

    def verify(self, tenant_id: str | None = None) -> VerifyReport:
        """Re-hash and cross-check every object, ref, head and index: a read-only fsck."""
        return verify_database(self.records, tenant_id)

    # ================================================================== internals
    def _validate(self, stored: Any) -> None:
        problems = validate_stored(stored, self.has_ref)
        if problems:
            raise InvalidDocumentError("invalid stored value: " + "; ".join(problems[:5]))

    def _entry_doc(self, tenant_id: str, entry: str, digest: str | None) -> dict:
        head = self.get_digest(tenant_id, entry)
        return self.objects.version(tenant_id, head if digest is None else check_digest(digest))

    def _record_version(self, tenant_id: str, digest: str) -> dict:
        document = self.objects.version(tenant_id, check_digest(digest))
        if document["__kind__"] != RECORDS:
            raise PatternMismatchError(f"version {digest[:12]} is not a record version")
        return document

    def _summary(self, tenant_id: str, old_doc: dict | None, new_doc: dict) -> ChangeSummary:
        """Change counts between two versions' documents (keys, or records)."""
        return version_summary(self.records, tenant_id, old_doc, new_doc)
