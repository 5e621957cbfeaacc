"""fsck for a database: re-hash and cross-check everything, change nothing."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from .entries_cache import CACHE_NAME, parse_cache
from .errors import DbEngineError
from .index_format import build_versions, chain_breaks, parse_index
from .layout import tree_of
from .names import DIGEST_RE, check_entry, check_tenant
from .record_entries import RecordEntries
from .records import bucket_records, is_bucket_doc, records_problems
from .records_tree import NODE_KINDS, ORDER_LEAF_KIND, Nodes, TreeError, is_node_doc
from .serializer import iter_ref_digests
from .storage_protocol import Storage
from .summaries import version_summary
from .tree_check import tree_problems
from .utils import compute_digest, strict_loads
from .versions import (
    is_seed_layout,
    is_version_doc,
    metadata_error,
    normalize_version,
    same_metadata,
    version_from_document,
)


@dataclass(frozen=True)
class Problem:
    """One piece of damage: the file, what is wrong with it, and a sentence."""

    path: str
    kind: str
    message: str
    tenant: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.message}"


@dataclass
class VerifyReport:
    """What verify() found: `problems` is damage, `notes` are harmless or self-repairing."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    objects_checked: int = 0
    refs_checked: int = 0
    tenants_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_database(records: RecordEntries, tenant_id: str | None = None) -> VerifyReport:
    """Check every object, ref, head, parent, bucket, ref link and index of the database
    (`records`: the record reads over the database's object store)."""
    storage = records.objects.storage
    report = VerifyReport()
    tenants = [check_tenant(tenant_id)] if tenant_id is not None else storage.list_tenants()
    referenced_refs: dict[str, str] = {}
    for tenant in tenants:
        _verify_tenant(records, tenant, report, referenced_refs)
        for path, kind, message, damage in storage.journal_problems(tenant):
            (report.problems if damage else report.notes).append(Problem(path, kind, message, tenant))
        report.tenants_checked += 1
    good_refs = _verify_refs(storage, report, want=None if tenant_id is None else set(referenced_refs))
    for digest, where in referenced_refs.items():
        if digest not in good_refs:
            report.problems.append(Problem(storage.ref_path(digest), "missing-ref", f"ref {digest[:12]} used by {where} is missing or corrupt"))
    for temp in storage.temp_files():
        report.notes.append(Problem(temp, "temp-file", "left by an interrupted write; harmless"))
    _report_strange_files(storage, report, tenant_id)
    return report


def _verify_tenant(records: RecordEntries, tenant: str, report: VerifyReport, referenced_refs: dict[str, str]) -> None:
    storage = records.objects.storage
    objects: dict[str, dict] = {}
    # the journal first: a checkpoint after it only gives its objects files (listed below);
    # files first would miss the objects a checkpoint moved meanwhile out of the journal
    journal_objects = getattr(storage, "journal_objects", None)  # a local database's journal (S3: none)
    journaled = list(journal_objects(tenant)) if journal_objects is not None else []
    for path, digest in storage.scan_objects(tenant):
        if digest is None:
            report.problems.append(Problem(path, "stray-file", "not named {digest[:24]}/{digest}", tenant))
            continue
        document = _check_object(storage, path, digest, report, tenant)
        if document is not None:
            objects[digest] = document
    damaged_at: dict[str, str] = {}  # digest -> where its damaged copy lies (a pack and offset, the journal)
    for where, digest, data in journaled:
        if digest in objects:
            continue  # its file holds it (a damaged file is reported above, whatever the journal holds)
        document = _check_object_bytes(where, digest, data, report, tenant)
        if document is not None:
            objects[digest] = document
        else:
            damaged_at.setdefault(digest, where)
    _check_packs(storage, tenant, objects, report, damaged_at)

    def place(digest: str) -> str:
        """Where a missing or damaged object was looked for: its damaged copy, else its file
        (a sound object is named at its file, whatever damaged copies lie elsewhere)."""
        return (digest not in objects and damaged_at.get(digest)) or storage.object_path(tenant, digest)

    head: dict[str, str] = {}
    head_path = storage.head_path(tenant)
    try:
        raw = storage.read_head(tenant)  # first: it may replay the journal into the head file
        head_path = _head_source(storage, tenant)
        if raw is None:
            report.problems.append(Problem(head_path, "missing-head", "tenant has no head file", tenant))
        else:
            head = strict_loads(raw[0])
            if type(head) is not dict or not all(type(v) is str and DIGEST_RE.fullmatch(v) for v in head.values()):
                head = {}
                raise ValueError("not an entry -> digest map")
    except (ValueError, RecursionError, DbEngineError) as exc:
        head_path = _head_source(storage, tenant)
        report.problems.append(Problem(head_path, "corrupt-head", f"head cannot be read: {exc}", tenant))
        head = {}
    bucket_checks: dict = {}
    chains: dict[str, list[str] | None] = {}
    for digest, document in objects.items():
        _check_links(place, tenant, digest, document, objects, report, referenced_refs)
        if document["__kind__"] in ("snapshot", "records"):
            _check_version(storage, tenant, digest, document, objects, report, bucket_checks)
    for entry, digest in list(head.items()):
        try:
            check_entry(entry)
        except DbEngineError as exc:
            report.problems.append(Problem(head_path, "bad-entry-name", f"{exc}; no API call can read it", tenant))
            del head[entry]
            continue
        if digest not in objects:
            report.problems.append(Problem(place(digest), "missing-object", f"head of entry {entry!r} ({head_path}) points to a missing or corrupt object", tenant))
            continue
        chain = _check_chain(storage, tenant, entry, digest, objects, report)
        _check_index(records, tenant, entry, digest, objects, report, chain)
        chains[entry] = chain
    _check_orphan_indexes(storage, tenant, head_path, head, report)
    _check_entries_cache(storage, tenant, head, objects, chains, report)


def _check_packs(storage: Storage, tenant: str, objects: dict[str, dict], report: VerifyReport,
                 damaged_at: dict[str, str]) -> None:
    """Every pack of the tenant (a local database's: S3 has none): its name, its sha256, its
    header and index, and each of its objects as a loose one is checked (where: the pack and
    offset), also those a file or the journal holds too (a damaged copy is damage)."""
    pack_contents = getattr(storage, "pack_contents", None)
    if pack_contents is None:
        return
    folder = storage.packs.folder(tenant)  # type: ignore[attr-defined]  (a local database's)
    if os.path.lexists(folder) and not os.path.isdir(folder) and not _is_special(folder):
        report.problems.append(Problem(folder, "stray-file", "a file where the packs/ folder belongs: "
                                       "commits that write a pack fail until it is moved away", tenant))
        return
    for item in pack_contents(tenant):
        if item.kind is not None:
            report.problems.append(Problem(item.where, item.kind, item.message, tenant))
            continue
        document = _check_object_bytes(item.where, item.digest, item.data, report, tenant)
        if document is not None:
            objects.setdefault(item.digest, document)
        else:
            damaged_at.setdefault(item.digest, item.where)


def _is_special(path: str) -> bool:
    """True for a FIFO, socket or device, or a symlink out of the root or to nothing
    (`strange_files` reports those)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def _head_source(storage: Storage, tenant: str) -> str:
    """Where the head is read from now: the journal while its last record gives one, else the
    head file (named after the head was read: that read may have replayed the journal)."""
    try:
        return getattr(storage, "head_source", storage.head_path)(tenant)
    except (DbEngineError, OSError):
        return storage.head_path(tenant)


def _check_entries_cache(storage: Storage, tenant: str, head: dict, objects: dict, chains: dict, report: VerifyReport) -> None:
    """Lines of the entries cache that name a current head must say what the objects say
    (a damaged cache is only a note: it is rebuilt on the next listing)."""
    try:
        data = storage.read_cache(tenant, CACHE_NAME)
    except DbEngineError as exc:
        report.notes.append(Problem(storage.cache_path(tenant, CACHE_NAME), "cache-unreadable", str(exc), tenant))
        return
    cached = parse_cache(data)
    if data and not cached:
        report.notes.append(Problem(storage.cache_path(tenant, CACHE_NAME), "cache-damaged", "entries cache is damaged; rebuilt on the next listing", tenant))
    for name, (kind, versions, version) in cached.items():
        chain = chains.get(name)
        if head.get(name) != version.digest or chain is None:
            continue  # stale lines are recomputed by readers
        expected = version_from_document(version.digest, objects[version.digest], None)
        if kind != objects[version.digest]["__kind__"] or versions != len(chain) or not same_metadata(version, expected):
            report.problems.append(Problem(storage.cache_path(tenant, CACHE_NAME), "cache-mismatch",
                                           f"entries cache disagrees with entry {name!r} (kind, versions or head "
                                           "metadata); it is a cache: delete it and the next listing rebuilds it", tenant))


def _check_orphan_indexes(storage: Storage, tenant: str, head_path: str, head: dict, report: VerifyReport) -> None:
    """An index is written only after its entry is in the head, and entries are never removed:
    an index that belongs to no entry means the head lost (or renamed) that entry."""
    if not head:
        return  # an unreadable head is reported already
    folder = os.path.dirname(storage.index_path(tenant, "x"))
    try:
        names = os.listdir(folder)
    except OSError:
        return
    owned = {os.path.basename(storage.index_path(tenant, entry)) for entry in head}
    for name in sorted(names):
        if DIGEST_RE.fullmatch(name) and name not in owned:
            report.problems.append(Problem(head_path, "lost-entry", f"history index {name[:12]} belongs to no entry of the head: an entry was removed or renamed in {head_path}", tenant))


def _check_object(storage: Storage, path: str, digest: str, report: VerifyReport, tenant: str) -> dict | None:
    try:
        data = storage.read_path(path)
    except DbEngineError as exc:
        report.objects_checked += 1
        report.problems.append(Problem(path, "unreadable", str(exc), tenant))
        return None
    return _check_object_bytes(path, digest, data, report, tenant)


def _check_object_bytes(path: str, digest: str, data: bytes, report: VerifyReport, tenant: str) -> dict | None:
    """The parsed object of bytes found at `path` (a file, or a place in the journal), or
    None after reporting why they are not the object `digest` names."""
    report.objects_checked += 1
    if compute_digest(data) != digest:
        report.problems.append(Problem(path, "hash-mismatch", "content does not match its digest", tenant))
        return None
    try:
        document = strict_loads(data, overflow=True)
    except (ValueError, RecursionError) as exc:
        report.problems.append(Problem(path, "corrupt-object", f"not valid UTF-8 JSON: {exc}", tenant))
        return None
    if type(document) is dict:
        document = normalize_version(document)
    kind = document.get("__kind__") if type(document) is dict else None
    if kind in NODE_KINDS:
        shaped = is_node_doc(document)
    else:
        shaped = is_bucket_doc(document) if kind == "bucket" else is_version_doc(document)
    if not shaped:
        what = {"bucket": "malformed bucket"}.get(kind, "malformed record-tree node" if kind in NODE_KINDS
                                                   else "not a well-formed version, bucket or record-tree node")
        report.problems.append(Problem(path, "corrupt-object", what, tenant))
        return None
    return document


def _check_links(place: Callable[[str], str], tenant, digest, document, objects, report, referenced_refs) -> None:
    path = place(digest)
    kind = document["__kind__"]
    if kind == "bucket":
        stored_values = [item[1] for item in bucket_records(document).values()]
    elif kind in NODE_KINDS:
        for child in ([c[1] for c in document["children"]] if "children" in document else []):
            if child not in objects or objects[child]["__kind__"] not in NODE_KINDS:
                where = place(child) if DIGEST_RE.fullmatch(child) else path
                report.problems.append(Problem(where, "missing-node", f"record-tree node {child[:12]} linked from {digest[:12]} is missing or corrupt", tenant))
        stored_values = [item[2] for item in document["items"]] if kind == ORDER_LEAF_KIND else []
    else:
        for parent in document["__parent__"]:
            if type(parent) is str and DIGEST_RE.fullmatch(parent) and parent not in objects:
                where = place(parent) if DIGEST_RE.fullmatch(str(parent)) else path
                report.problems.append(Problem(where, "missing-parent", f"parent of version {digest[:12]} is missing or corrupt", tenant))
        if kind == "records" and "__order__" in document:
            for root in (document["__order__"], document["__keys__"]):
                if root is not None and (root not in objects or objects[root]["__kind__"] not in NODE_KINDS):
                    report.problems.append(Problem(place(root), "missing-node", f"record-tree root {root[:12]} of version {digest[:12]} is missing or corrupt", tenant))
            return
        if kind == "records":
            buckets = document.get("__buckets__")
            for bucket in (buckets.values() if type(buckets) is dict else []):
                if bucket not in objects or objects[bucket].get("__kind__") != "bucket":
                    where = place(bucket) if DIGEST_RE.fullmatch(str(bucket)) else path
                    report.problems.append(Problem(where, "missing-bucket", f"bucket {str(bucket)[:12]} of version {digest[:12]} is missing or corrupt", tenant))
            return
        stored_values = [document.get("__data__")]
    for value in stored_values:
        try:
            for _tag, ref in iter_ref_digests(value):
                if isinstance(ref, str) and DIGEST_RE.fullmatch(ref):
                    referenced_refs.setdefault(ref, f"tenant {tenant!r} object {digest[:12]}")
                else:
                    report.problems.append(Problem(path, "bad-ref", f"invalid ref digest {ref!r}", tenant))
        except RecursionError:
            report.problems.append(Problem(path, "corrupt-object", "nested too deeply to check", tenant))


def _check_version(storage: Storage, tenant: str, digest: str, document: dict, objects: dict,
                   report: VerifyReport, bucket_checks: dict) -> None:
    """Metadata every reader parses, and record buckets that agree with their version."""
    path = storage.object_path(tenant, digest)
    error = metadata_error(version_from_document(digest, document, None), path)
    if error is not None:
        report.problems.append(Problem(path, "bad-metadata", str(error), tenant))
    if document["__kind__"] != "records":
        return
    if "__order__" in document:
        for problem in _tree_problems(digest, objects, bucket_checks):
            report.problems.append(Problem(path, "tree-mismatch", f"record version {digest[:12]}: {problem}", tenant))
        return
    buckets = {bucket: objects[bucket] for bucket in document["__buckets__"].values()
               if bucket in objects and objects[bucket]["__kind__"] == "bucket"}
    if len(buckets) != len(set(document["__buckets__"].values())):
        return  # reported as missing-bucket already
    for problem in records_problems(document, lambda bucket: bucket_records(buckets[bucket]), bucket_checks):
        report.problems.append(Problem(path, "bucket-mismatch", f"record version {digest[:12]}: {problem}", tenant))


def _tree_problems(digest: str, objects: dict, checks: dict) -> list[str]:
    """Problems of a tree-format record version's trees, read from the checked objects.

    Versions of one entry share most nodes: a version whose parent's trees were found
    sound is checked against it (only the subtrees that differ are read); the first tree
    version of a chain is read whole. Results are kept in `checks` by version digest."""

    def load(node: str) -> dict:
        document = objects.get(node)
        if document is None or document["__kind__"] not in NODE_KINDS:
            raise TreeError(node, "missing or corrupt")
        return document

    def store(_node: dict) -> str:
        raise AssertionError("verify writes nothing")

    nodes = Nodes(load, store, None)
    pending = []
    cursor: str | None = digest
    while cursor is not None and ("tree", cursor) not in checks:
        document = objects.get(cursor)
        if document is None or document["__kind__"] != "records" or "__order__" not in document:
            break
        pending.append(cursor)
        cursor = document["__parent__"][0]
        if len(pending) > 10_000_000:
            break
    for version in reversed(pending):
        document = objects[version]
        parent = document["__parent__"][0]
        sound_parent = parent is not None and checks.get(("tree", parent)) == []
        base_tree = tree_of(objects[parent]) if sound_parent else None
        checks[("tree", version)] = tree_problems(nodes, tree_of(document), base_tree)
    return checks.get(("tree", digest), [])


def _check_chain(storage: Storage, tenant, entry, head, objects, report) -> list[str] | None:
    """The entry's first-parent chain, oldest first (None if broken: reported already)."""
    seen: set[str] = set()
    chain = []
    cursor = head
    kind = objects[head]["__kind__"]
    while cursor is not None:
        if cursor in seen:
            report.problems.append(Problem(storage.object_path(tenant, cursor), "cycle", f"history of {entry!r} loops", tenant))
            return None
        seen.add(cursor)
        document = objects.get(cursor)
        if document is None or document["__kind__"] not in ("snapshot", "records"):
            return None  # reported as missing-parent or missing-object already
        if document["__kind__"] != kind and not (is_seed_layout(document) and kind == "records"):
            report.problems.append(Problem(
                storage.object_path(tenant, cursor), "kind-change",
                f"history of {entry!r} changes kind: {cursor[:12]} is a {document['__kind__']} version "
                f"under a {kind} version", tenant))
        if not is_seed_layout(document):  # a seed-layout version may be followed by either kind
            kind = document["__kind__"]
        chain.append(cursor)
        cursor = document["__parent__"][0]
    chain.reverse()
    return chain


def _check_index(records: RecordEntries, tenant: str, entry: str, head: str, objects: dict, report: VerifyReport,
                 chain: list[str] | None) -> None:
    storage = records.objects.storage
    path = storage.index_path(tenant, entry)
    try:
        result = storage.read_index(tenant, entry)
    except DbEngineError as exc:
        report.notes.append(Problem(path, "index-unreadable", str(exc), tenant))
        return
    if result is None:
        report.notes.append(Problem(path, "index-missing", f"history index of {entry!r} is missing; rebuilt on next read", tenant))
        return
    chunk = parse_index(result[0])
    digests = chunk.digests
    try:
        versions = build_versions(digests, chunk.parents, chunk.tails, 0)  # (positions checked too)
    except ValueError:
        chunk.clean, versions = False, []
    if not chunk.clean or chunk.consumed != len(result[0]) or chain_breaks(digests, chunk.parents):
        report.notes.append(Problem(path, "index-damaged", f"history index of {entry!r} is damaged; rebuilt on next read", tenant))
        return
    if chain is None:
        return  # the object chain is broken: reported already
    # Every line must say what the objects say: an index that passes its CRCs and chains
    # to the head but skips a version or names another user would mislead every reader.
    if digests != chain[: len(digests)]:
        where = next((i for i, (a, b) in enumerate(zip(digests, chain, strict=False)) if a != b), min(len(digests), len(chain)))
        report.problems.append(Problem(path, "index-mismatch", f"history index of {entry!r} does not list the versions of its object chain (from version {where + 1} on); {_REBUILD}", tenant))
        return
    for version in versions:
        document = objects[version.digest]
        parent = document["__parent__"][0]
        expected = version_from_document(version.digest, document, None)
        try:
            summary = version_summary(records, tenant, objects.get(parent) if parent else None, document) \
                if version.summary is not None else None
        except DbEngineError:
            summary = version.summary  # a damaged bucket: reported with its own path already
        if not same_metadata(version, expected) or summary != version.summary:
            report.problems.append(Problem(path, "index-mismatch", f"history index of {entry!r} disagrees with version {version.digest[:12]} (user, date, parents, restored_from or summary); {_REBUILD}", tenant))
            return
    if head not in digests:
        report.notes.append(Problem(path, "index-stale", f"history index of {entry!r} lags the head; completed on next read", tenant))


_REBUILD = "the index is a cache: delete it and the next read rebuilds it from the objects"


def _verify_refs(storage: Storage, report: VerifyReport, want: set[str] | None) -> set[str]:
    good = set()
    for path, name in storage.scan_refs():
        if name is None:
            report.problems.append(Problem(path, "stray-file", "not named {digest[:24]}/{digest}"))
            continue
        if want is not None and name not in want:
            continue
        report.refs_checked += 1
        try:
            data = storage.read_path(path)
        except DbEngineError as exc:
            report.problems.append(Problem(path, "unreadable", str(exc)))
            continue
        if compute_digest(data) != name:
            report.problems.append(Problem(path, "hash-mismatch", "content does not match its digest"))
            continue
        good.add(name)
    return good


def _report_strange_files(storage: Storage, report: VerifyReport, tenant_id: str | None) -> None:
    """Symlinks leading out of the root and special files (FIFOs, sockets, devices): reads
    refuse such files and writes never go through such links (storage.strange_files)."""
    for path, kind, message in storage.strange_files(tenant_id):
        report.problems.append(Problem(path, kind, message, tenant_id))
