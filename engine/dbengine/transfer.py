"""Export a tenant (or one entry) as JSON Lines, and import such a stream, digests kept.

Format (one JSON object per line, see docs/FORMAT.md):
  {"type": "mydb-export", "version": 1, "tenant": T, "entry": E | null}
  {"type": "ref", "digest": D, "base64": ...}                  before any object using it
  {"type": "object", "digest": D, "text": <exact stored JSON text>}  nodes before versions,
                                                               versions oldest first
  {"type": "head", "entry": E, "digest": D}                    after its objects
Export of the same database is byte-identical every time; import checks every digest
and link before writing, and re-importing is a no-op.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .errors import ConflictError, DbEngineError, DigestNotFoundError, StorageError
from .heads import Heads
from .history_index import HistoryIndex
from .history_reads import HistoryReader
from .layout import tree_of
from .names import DIGEST_RE, check_entry, check_tenant
from .objects import ObjectStore
from .records import bucket_records, is_bucket_doc, records_problems
from .records_tree import NODE_KINDS, ORDER_LEAF_KIND, is_node_doc
from .serializer import iter_ref_digests
from .tree_check import tree_problems
from .utils import compute_digest, strict_loads
from .versions import is_seed_layout, is_version_doc, normalize_version, version_from_document

FORMAT_NAME = "mydb-export"
FORMAT_VERSION = 1


class ImportFormatError(DbEngineError, ValueError):
    """An import stream line that is malformed, or whose content does not match its digest."""


@dataclass
class ImportResult:
    """What an import wrote: counts of new objects/refs and heads moved."""

    objects_written: int = 0
    objects_present: int = 0
    refs_written: int = 0
    refs_present: int = 0
    heads_updated: int = 0
    heads_unchanged: int = 0


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"


def export_lines(objects: ObjectStore, heads: Heads, reader: HistoryReader, tenant_id: str,
                 entry: str | None = None) -> Iterator[str]:
    """The JSON Lines export of a tenant (or of one entry), deterministic."""
    storage = objects.storage
    check_tenant(tenant_id)
    storage.require_tenant(tenant_id)
    head = heads.head(tenant_id)
    entries = sorted(head) if entry is None else [check_entry(entry)]
    yield _line({"type": FORMAT_NAME, "version": FORMAT_VERSION, "tenant": tenant_id, "entry": entry})
    sent_objects: set[str] = set()
    sent_refs: set[str] = set()

    def refs_of(stored) -> Iterator[str]:
        for _tag, digest in iter_ref_digests(stored):
            if isinstance(digest, str) and digest not in sent_refs:
                sent_refs.add(digest)
                data = objects.read_ref(digest)
                yield _line({"type": "ref", "digest": digest, "base64": base64.b64encode(data).decode("ascii")})

    def object_line(digest: str) -> str:
        sent_objects.add(digest)
        data = storage.read_object(tenant_id, digest)
        objects.read(tenant_id, digest)  # verifies the digest before it leaves
        return _line({"type": "object", "digest": digest, "text": data.decode("utf-8")})

    def tree_lines(root: str | None) -> Iterator[str]:
        """The nodes of a subtree not sent yet, children first (a sent node's subtree is sent)."""
        if root is None or root in sent_objects:
            return
        node = objects.node(tenant_id, root)
        for child in [c[1] for c in node.get("children", [])]:
            yield from tree_lines(child)
        if node["__kind__"] == ORDER_LEAF_KIND:
            for item in node["items"]:
                yield from refs_of(item[2])
        yield object_line(root)

    for name in entries:
        head_digest = reader.index.head_of(tenant_id, name)
        for digest in reversed(reader.digests(tenant_id, name, None, None)):
            if digest in sent_objects:
                continue
            document = objects.version(tenant_id, digest)
            if document["__kind__"] == "records" and "__order__" in document:
                for root in (document["__order__"], document["__keys__"]):
                    yield from tree_lines(root)
            elif document["__kind__"] == "records":
                for bucket in document["__buckets__"].values():
                    if bucket not in sent_objects:
                        for item in objects.bucket(tenant_id, bucket).values():
                            yield from refs_of(item[1])
                        yield object_line(bucket)
            else:
                yield from refs_of(document["__data__"])
            yield object_line(digest)
        yield _line({"type": "head", "entry": name, "digest": head_digest})


def import_lines(objects: ObjectStore, heads: Heads, index: HistoryIndex, lines: Iterable[str | bytes],
                 tenant_id: str | None = None) -> ImportResult:
    """Import an export stream into `tenant_id` (default: the exported tenant's name)."""
    storage = objects.storage
    result = ImportResult()
    tenant: str | None = None
    known: set[str] = set()
    bucket_checks: dict = {}
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            raise ImportFormatError(f"line {number}: not valid JSON") from None
        if type(record) is not dict or not isinstance(record.get("type"), str):
            raise ImportFormatError(f"line {number}: not an export record")
        kind = record["type"]
        if tenant is None:
            if kind != FORMAT_NAME or record.get("version") != FORMAT_VERSION:
                raise ImportFormatError(f"line {number}: missing '{FORMAT_NAME}' version {FORMAT_VERSION} header")
            try:
                tenant = check_tenant(tenant_id if tenant_id is not None else record.get("tenant"))
            except DbEngineError as exc:
                raise ImportFormatError(f"line {number}: {exc}") from None
            storage.init_tenant(tenant)
            continue
        digest = record.get("digest")
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            raise ImportFormatError(f"line {number}: invalid digest {digest!r}")
        if kind == "ref":
            data = _base64(record.get("base64"), number)
            if compute_digest(data) != digest:
                raise ImportFormatError(f"line {number}: ref bytes do not match digest {digest[:12]}")
            written = storage.write_ref(digest, data)
            result.refs_written += written
            result.refs_present += not written
        elif kind == "object":
            text = record.get("text")
            if not isinstance(text, str):
                raise ImportFormatError(f"line {number}: object without 'text'")
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:
                raise ImportFormatError(f"line {number}: object text is not valid UTF-8") from None
            if compute_digest(data) != digest:
                raise ImportFormatError(f"line {number}: object bytes do not match digest {digest[:12]}")
            _check_links(objects, tenant, digest, data, known, number, bucket_checks)
            written = storage.write_object(tenant, digest, data)
            known.add(digest)
            result.objects_written += written
            result.objects_present += not written
        elif kind == "head":
            try:
                entry = check_entry(record.get("entry"))
            except DbEngineError as exc:
                raise ImportFormatError(f"line {number}: {exc}") from None
            if not (digest in known or storage.has_object(tenant, digest)):
                raise ImportFormatError(f"line {number}: head of {entry!r} names unknown object {digest[:12]}")
            moved = _move_head(objects, heads, index, tenant, entry, digest, number)
            result.heads_updated += moved
            result.heads_unchanged += not moved
        else:
            raise ImportFormatError(f"line {number}: unknown record type {kind!r}")
    if tenant is None:
        raise ImportFormatError("empty import stream: no header")
    return result


def _base64(value: object, number: int) -> bytes:
    if not isinstance(value, str):
        raise ImportFormatError(f"line {number}: ref without 'base64'")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ImportFormatError(f"line {number}: invalid base64") from None


def _check_links(objects: ObjectStore, tenant: str, digest: str, data: bytes, known: set[str], number: int,
                 bucket_checks: dict) -> None:
    """An object may only be imported once everything it points to is present, and a
    version only with metadata every reader can parse, buckets that agree with it and the
    kind of its parent (nothing is written for a refused line, no head moves)."""
    storage = objects.storage
    try:
        document = strict_loads(data, overflow=True)
    except (ValueError, RecursionError):
        raise ImportFormatError(f"line {number}: object {digest[:12]} is not valid JSON") from None

    def present(target: str) -> bool:
        return target in known or storage.has_object(tenant, target)

    if type(document) is not dict:
        raise ImportFormatError(f"line {number}: object {digest[:12]} is not a JSON object")
    document = normalize_version(document)
    if document.get("__kind__") == "bucket":
        if not is_bucket_doc(document):
            raise ImportFormatError(f"line {number}: malformed bucket {digest[:12]}")
        stored = [item[1] for item in bucket_records(document).values()]
    elif document.get("__kind__") in NODE_KINDS:
        if not is_node_doc(document):
            raise ImportFormatError(f"line {number}: malformed record-tree node {digest[:12]}")
        for child in [c[1] for c in document.get("children", [])]:
            if not (DIGEST_RE.fullmatch(child) and present(child)):
                raise ImportFormatError(f"line {number}: record-tree node {child[:12]} of {digest[:12]} not imported yet")
        stored = [item[2] for item in document["items"]] if document["__kind__"] == ORDER_LEAF_KIND else []
    elif is_version_doc(document):
        parent = document["__parent__"][0]
        if parent is not None and not present(parent):
            raise ImportFormatError(f"line {number}: parent {parent[:12]} of {digest[:12]} not imported yet")
        for root in (document.get("__order__"), document.get("__keys__")):
            if root is not None and not present(root):
                raise ImportFormatError(f"line {number}: record-tree root {root[:12]} of {digest[:12]} not imported yet")
        for bucket in document.get("__buckets__", {}).values():
            if not present(bucket):
                raise ImportFormatError(f"line {number}: bucket {bucket[:12]} of {digest[:12]} not imported yet")
        damage = version_from_document(digest, document, None).damage
        if damage is not None:
            raise ImportFormatError(f"line {number}: version {digest[:12]} has bad metadata: {damage}")
        try:
            parent_doc = objects.version(tenant, parent) if parent is not None else None
            parent_kind = None if parent_doc is None or is_seed_layout(parent_doc) else parent_doc["__kind__"]
            if document["__kind__"] == "records" and "__order__" in document:
                problems = _tree_problems(objects, tenant, document, bucket_checks)
                bucket_checks[("tree", digest)] = problems
            elif document["__kind__"] == "records":
                problems = records_problems(document, lambda d: objects.bucket(tenant, d), bucket_checks)
            else:
                problems = []
        except StorageError:
            raise  # the disk refused a read: not the stream's fault
        except DbEngineError as exc:
            raise ImportFormatError(f"line {number}: object {digest[:12]} links to damaged objects: {exc}") from None
        if parent_kind not in (None, document["__kind__"]):
            raise ImportFormatError(f"line {number}: version {digest[:12]} is a {document['__kind__']} version "
                                    f"whose parent is a {parent_kind} version: an entry never changes kind")
        if problems:
            raise ImportFormatError(f"line {number}: record version {digest[:12]}: {problems[0]}")
        stored = [document.get("__data__")]
    else:
        raise ImportFormatError(f"line {number}: object {digest[:12]} is neither a version nor a bucket")
    try:
        for value in stored:
            for _tag, ref in iter_ref_digests(value):
                if not (isinstance(ref, str) and DIGEST_RE.fullmatch(ref) and storage.has_ref(ref)):
                    raise ImportFormatError(f"line {number}: ref {str(ref)[:12]} of {digest[:12]} is missing")
    except RecursionError:
        raise ImportFormatError(f"line {number}: object {digest[:12]} is nested too deeply") from None


def _tree_problems(objects: ObjectStore, tenant: str, document: dict, checks: dict) -> list[str]:
    """Problems of an imported tree version's trees: against its parent when the parent's
    trees were found sound in this import (only differing subtrees are read), else whole."""
    parent = document["__parent__"][0]
    base = tree_of(objects.version(tenant, parent)) if parent is not None and checks.get(("tree", parent)) == [] else None
    return tree_problems(objects.nodes(tenant), tree_of(document), base)


def _move_head(objects: ObjectStore, heads: Heads, index: HistoryIndex, tenant: str, entry: str, digest: str,
               number: int) -> bool:
    """Point the entry at `digest` when that only moves it forward; refuse a divergent history.

    A compare-and-swap of the head, like every write: on S3 (no lock between machines) a
    writer that changed any entry meanwhile makes the swap fail, and the move is decided
    again on the new head, so that writer's update is never overwritten.
    """
    ancestors = _ancestors(objects, tenant, digest)

    def step(current: str | None) -> tuple[str, Callable[[], None]] | None:
        if current == digest:
            return None
        if current is not None and current not in ancestors:
            if digest in _ancestors(objects, tenant, current):
                return None  # the database is already ahead of the import
            raise ConflictError(
                f"line {number}: entry {entry!r} of tenant {tenant!r} has a different history "
                f"(head {current[:12]}); import into another tenant"
            )
        return digest, lambda: index.index(tenant, entry, digest, locked=True)

    return heads.swap(tenant, entry, step, f"line {number}: run the import again (it is idempotent)")[1]


def _ancestors(objects: ObjectStore, tenant: str, digest: str) -> set[str]:
    seen: set[str] = set()
    cursor: str | None = digest
    while cursor is not None and cursor not in seen:
        seen.add(cursor)
        try:
            cursor = objects.parent(tenant, cursor)
        except DigestNotFoundError:
            break
    return seen
