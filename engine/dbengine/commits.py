"""Commits: the version documents that save, put and restore write, each built on the
head read under the compare-and-swap (again when a swap is lost), and the history-index
line appended once the head points at it."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

from .cache import ObjectCache
from .errors import ConflictError, DbEngineError, EntryNotFoundError, PatternMismatchError
from .heads import Heads
from .history_index import HistoryIndex
from .index_state import IndexState
from .layout import META_KEYS, RECORDS, SNAPSHOT, envelope, is_record_version
from .objects import ObjectStore
from .record_entries import RecordEntries
from .summaries import ABSENT, snapshot_summary
from .utils import format_date, to_json_bytes, to_json_bytes_utf8
from .versions import ChangeSummary

#: build(head digest, head document, date) -> (new version document, its summary[, its bytes]), or None
Build = Callable[[str | None, dict | None, str], tuple | None]
#: summarize(tenant, old document or None, new document): what a version changed
Summarize = Callable[[str, "dict | None", dict], ChangeSummary]
#: index_append(tenant, entry, parent, index state or None, digest, document, summary)
IndexAppend = Callable[[str, str, "str | None", "IndexState | None", str, dict, ChangeSummary], None]
#: Bytes of saved JSON kept for the next save's comparison, all entries together (a snapshot
#: over a quarter of it is not kept).
SAVED_BYTES = 32 << 20


class Commits:
    """The write side of the engine: new versions made the head by compare-and-swap."""

    def __init__(self, objects: ObjectStore, heads: Heads, records: RecordEntries, index: HistoryIndex,
                 clock: Callable[[], _dt.datetime], summarize: Summarize, index_append: IndexAppend):
        self.objects = objects
        self.heads = heads
        self.records = records
        self.index = index
        self.clock = clock
        self.summarize = summarize
        self.index_append = index_append
        # (tenant, digest) -> JSON of the __data__ of a snapshot saved here: the next save
        # compares its data with these bytes instead of encoding the head's data again (a
        # digest names its bytes for good: a cache that never goes stale)
        self._saved = ObjectCache(SAVED_BYTES)

    def commit(self, tenant_id: str, entry: str, build: Build) -> tuple[str | None, bool]:
        """Write the version `build(head digest, head document, date)` returns (None: nothing
        to write) and make it the entry's head: (head digest, changed)."""
        date = format_date(self.clock())  # a date no timezone can show is refused before any write

        def step(current: str | None) -> tuple[str, Callable[[], None]] | None:
            head_doc = self.objects.version(tenant_id, current) if current else None
            result = build(current, head_doc, date)
            if result is None:
                return None
            document, summary, *data = result  # (data: the document's bytes, when build made them)
            digest = self.objects.write(tenant_id, document, *data)

            def after() -> None:  # once the head is swapped: keeps the race window short on S3
                try:
                    state = self.index.appendable(tenant_id, entry, current) if current else None
                    self.index_append(tenant_id, entry, current, state, digest, document, summary)
                except (DbEngineError, ValueError, OSError):  # a cache: repaired on read
                    pass

            return digest, after

        return self.heads.swap(tenant_id, entry, step, "try again")

    def save(self, tenant_id: str, user_id: str, entry: str, data: Any, expected_head: str | None = None,
             restored_from: str | None = None) -> str:
        """Commit stored snapshot `data` (the engine's own copy); unchanged data writes nothing."""
        utf8 = to_json_bytes_utf8(data)  # None: a lone surrogate, the document is ASCII-escaped whole
        data_bytes = to_json_bytes(data) if utf8 is None else utf8

        def build(head: str | None, head_doc: dict | None, date: str) -> tuple | None:
            _check_moved(entry, head, expected_head)
            if head_doc is not None:
                if head_doc["__kind__"] != SNAPSHOT:
                    raise PatternMismatchError(
                        f"entry {entry!r} of tenant {tenant_id!r} is a record entry: use put(), not save()"
                    )
                saved = self._saved.get((tenant_id, head))
                if (saved if saved is not None else to_json_bytes(head_doc["__data__"])) == data_bytes:
                    return None
            document = envelope(SNAPSHOT, head, user_id, date, restored_from=restored_from)
            old = head_doc["__data__"] if head_doc is not None else ABSENT
            summary = snapshot_summary(old, data)
            if utf8 is None:
                document["__data__"] = data
                return document, summary
            # the document's bytes are its metadata's and the data's, spliced: no second encoding of the data
            meta = snapshot_meta(head, user_id, date) if restored_from is None else None
            if meta is None:
                meta = to_json_bytes_utf8(document)
            document["__data__"] = data
            if meta is None:
                return document, summary
            return document, summary, b"".join((meta[:-1], b',"__data__":', utf8, b"}"))

        digest = self.commit(tenant_id, entry, build)[0]
        if digest is not None:
            self._saved.put((tenant_id, digest), data_bytes, len(data_bytes))
        return digest

    def put(self, tenant_id: str, user_id: str, entry: str, upserts: dict[str, Any], deletes: list[str],
            expected_head: str | None = None, restored_from: str | None = None) -> bool:
        """Commit record changes (stored values, the engine's own); False when nothing changed."""

        def build(head: str | None, head_doc: dict | None, date: str) -> tuple[dict, ChangeSummary] | None:
            _check_moved(entry, head, expected_head)
            if head_doc is not None and not is_record_version(head_doc):
                raise PatternMismatchError(
                    f"entry {entry!r} of tenant {tenant_id!r} is a snapshot entry: use save(), not put()"
                )
            result = self.records.put(tenant_id, head_doc, upserts, deletes)
            if result is None or (head_doc is not None and result[1].is_empty):
                return None
            fields, summary = result
            document = envelope(RECORDS, head, user_id, date, restored_from=restored_from)
            document.update(fields)
            return document, summary

        return self.commit(tenant_id, entry, build)[1]

    def restore(self, tenant_id: str, user_id: str, entry: str, digest: str) -> str:
        """Commit the content of version `digest` (a version of the entry) as the new head."""

        def build(head: str | None, head_doc: dict | None, date: str) -> tuple[dict, ChangeSummary] | None:
            if head is None:
                raise EntryNotFoundError(f"entry {entry!r} not found in tenant {tenant_id!r}")
            if digest == head:
                raise ConflictError(f"{digest[:12]} is already the HEAD of {entry!r}: nothing to restore")
            old = self.objects.version(tenant_id, digest)
            if head_doc["__kind__"] == RECORDS and is_record_version(old):
                old = self.records.as_tree_doc(tenant_id, old, META_KEYS)  # new versions are written as trees
            if old["__kind__"] != head_doc["__kind__"]:
                raise PatternMismatchError(
                    f"version {digest[:12]} of {entry!r} is a {old['__kind__']} version but HEAD is a "
                    f"{head_doc['__kind__']} version: its history was forged; not restored"
                )
            document = envelope(old["__kind__"], head, user_id, date, restored_from=digest)
            for key, value in old.items():
                if key not in META_KEYS and key not in ("__kind__", "__layout__"):
                    document[key] = value
            return document, self.summarize(tenant_id, head_doc, document)

        return self.commit(tenant_id, entry, build)[0]


_META_HEAD = b'{"__kind__":"' + SNAPSHOT.encode("ascii") + b'","__parent__":['
_quoted = json.encoder.encode_basestring  # the JSON string of a str as to_json_bytes writes it (non-ASCII kept)


def snapshot_meta(parent: str | None, user_id: str, date: str) -> bytes | None:
    """to_json_bytes_utf8(envelope(SNAPSHOT, parent, user_id, date)) written directly (no
    encoder set-up): `parent` a digest or None, `date` a format_date text; None when the
    user id is not plain UTF-8 (a lone surrogate: the caller's general path decides)."""
    if not (parent is None or (type(parent) is str and len(parent) == 64 and parent.isalnum() and parent.isascii())) \
            or type(user_id) is not str or type(date) is not str or not (date.isascii() and date.isprintable()) \
            or '"' in date or "\\" in date:
        return None
    try:
        user = _quoted(user_id).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return b"".join((_META_HEAD, b"null" if parent is None else b'"' + parent.encode("ascii") + b'"',
                     b'],"__user_id__":', user, b',"__date__":"', date.encode("ascii"), b'"}'))


def _check_moved(entry: str, head: str | None, expected_head: str | None) -> None:
    if expected_head is not None and head != expected_head:
        raise ConflictError(f"HEAD of {entry!r} moved from {expected_head[:12]} to {head and head[:12]}")
