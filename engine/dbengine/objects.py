"""The verified object store: every object and ref read is checked against its digest
and its shape before anyone sees it (CorruptObjectError naming the file if not), and
parsed objects are cached; writes name objects by the SHA-256 of their bytes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from .cache import ObjectCache
from .errors import CorruptObjectError, DbEngineError
from .layout import RECORDS, SNAPSHOT
from .names import DIGEST_RE, check_digest
from .node_bytes import KeyLeafScan, node_to_bytes, scan_key_leaf
from .pool import daemon_map
from .records import bucket_records, is_bucket_doc
from .records_tree import KEY_LEAF_KIND, NODE_KINDS, Nodes, TreeError, is_node_doc
from .storage_protocol import Storage
from .utils import compute_digest, strict_loads, to_json_bytes
from .versions import is_version_doc, normalize_version

BUCKET_BYTES_CACHE = 32 << 20  # two versions of 100,000 records of ~100 bytes
NODE_BYTES_CACHE = 16 << 20  # the nodes a put_many of a few thousand records reads
#: Memory a KeyLeafScan holds per key beyond its leaf's bytes: two bytes objects (a key and
#: its separator, 33 bytes of header each) and their two list slots.
SCAN_PAIR_BYTES = 82
#: Digests remembered as written canonical, all tenants together (~155 bytes each): the
#: memo serves only nodes whose bytes are still in node_bytes (NODE_BYTES_CACHE).
CANONICAL_MEMO = 1 << 16
#: (digest, count[, depth]) of nodes whose children (inner nodes) or size and key order (key
#: leaves) were checked, per tenant (~200 bytes each; a write adds ~200): the inner nodes and
#: key leaves of a 1,000,000-record entry are ~5,000.
SOUND_MEMO = 100_000
#: Tenants whose checked-node memos (key leaves in place, sound nodes) are kept at once: an
#: engine serving more forgets them all when a new one comes (each is bounded alone).
MEMO_TENANTS = 64


class ObjectStore:
    """Verified, cached reads and content-addressed writes of one database's objects and refs."""

    def __init__(self, storage: Storage, cache_bytes: int = 128 * 1024 * 1024):
        self.storage = storage
        self.cache = ObjectCache(cache_bytes)
        # Checked bytes of recently read buckets and nodes (prefetched on S3; a 0.4 key scan).
        self.bucket_bytes = ObjectCache(BUCKET_BYTES_CACHE)
        self._checked_leaves: dict[str, set] = {}  # key-index leaves checked against their place
        self._sound_nodes: dict[str, set] = {}  # (digest, count) of inner nodes whose children were checked
        self._canonical: dict[str, set] = {}  # digests of nodes written here: to_json_bytes of the node
        self._canonical_adds = 0  # digests added to the memo since it was last emptied
        # Key-index leaves read as bytes (node_bytes.KeyLeafScan), and the checked bytes of
        # the nodes read or written lately (a changed node's bytes are built from its old ones).
        self.key_scans = ObjectCache(NODE_BYTES_CACHE)
        self.node_bytes = ObjectCache(NODE_BYTES_CACHE)

    # ------------------------------------------------------------------ reads
    def object_bytes(self, tenant_id: str, digest: str) -> bytes:
        """An object's bytes, checked against its digest."""
        data = self.storage.read_object(tenant_id, digest)
        if compute_digest(data) != digest:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(
                f"object {digest[:12]} of tenant {tenant_id!r} is corrupt: its bytes do not match its digest ({path})",
                path,
            )
        return data

    def read(self, tenant_id: str, digest: str) -> dict:
        """A parsed object, verified against its digest and shape, from the cache or the disk."""
        key = (tenant_id, digest)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        data = self.bucket_bytes.get(key)  # checked bytes of a bucket whose keys were scanned
        if data is None:
            data = self.node_bytes.get(key)  # a node's checked bytes (one written as bytes: not cached parsed)
        if data is None:
            data = self.object_bytes(tenant_id, digest)
        document = self._parse(tenant_id, digest, data)
        self.cache.put(key, document, len(data))
        if document["__kind__"] == "bucket":
            self.bucket_bytes.put(key, data, len(data))
        elif document["__kind__"] in NODE_KINDS:
            self.node_bytes.put(key, data, len(data))
        return document

    def _parse(self, tenant_id: str, digest: str, data: bytes) -> dict:
        """The parsed object of checked bytes, its shape verified (CorruptObjectError if not)."""
        try:  # UTF-8 only: json.loads would also take UTF-16 and UTF-32 bytes
            document = strict_loads(data)
        except (ValueError, RecursionError) as exc:
            why = {UnicodeDecodeError: "is not UTF-8", RecursionError: "is nested too deeply to parse"}.get(
                type(exc), "is not valid JSON")
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} {why} ({path})", path) from None
        if type(document) is not dict:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a JSON object ({path})", path)
        document = normalize_version(document)
        kind = document.get("__kind__")
        if kind in NODE_KINDS:
            shaped = is_node_doc(document)
        else:
            shaped = is_bucket_doc(document) if kind == "bucket" else kind in (SNAPSHOT, RECORDS) and is_version_doc(document)
        if not shaped:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(
                f"object {digest[:12]} of tenant {tenant_id!r} is not a version, bucket or record-tree node ({path})", path
            )
        return document

    def version(self, tenant_id: str, digest: str) -> dict:
        """A version document (snapshot or records), verified."""
        document = self.read(tenant_id, digest)
        if document["__kind__"] not in (SNAPSHOT, RECORDS):  # shape checked once, when parsed
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a version ({path})", path)
        return document

    def parent(self, tenant_id: str, digest: str) -> str | None:
        """The first parent of a version (None for a first version)."""
        return self.version(tenant_id, digest)["__parent__"][0]

    def bucket(self, tenant_id: str, digest: str) -> dict[str, list]:
        """The records of a format-0.4 bucket, key -> [seq, stored], verified."""
        try:
            return bucket_records(self.read(tenant_id, digest))
        except ValueError:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a bucket ({path})", path) from None

    def bucket_data(self, tenant_id: str, digest: str) -> bytes:
        """A bucket's bytes, checked, through the bytes cache (a key scan followed by a
        comparison of the same version reads each bucket file once)."""
        key = (tenant_id, digest)
        data = self.bucket_bytes.get(key)
        if data is None:
            data = self.object_bytes(tenant_id, digest)
            self.bucket_bytes.put(key, data, len(data))
        return data

    def is_parsed(self, tenant_id: str, digest: str) -> bool:
        """True when the object is parsed in the cache (reading it costs nothing)."""
        return self.cache.get((tenant_id, digest)) is not None

    def prefetch(self, tenant_id: str, digests: Iterable[str]) -> None:
        """Fetch the bytes of objects not at hand concurrently, on storages where a read is
        a network round trip (S3: 250 buckets at 20 ms are 5 s one by one)."""
        workers = getattr(self.storage, "concurrent_reads", 1)
        todo = [d for d in dict.fromkeys(digests) if self.cache.get((tenant_id, d)) is None
                and self.bucket_bytes.get((tenant_id, d)) is None and self.node_bytes.get((tenant_id, d)) is None
                and self.key_scans.get((tenant_id, d)) is None]
        if workers <= 1 or len(todo) <= 1:
            return
        with contextlib.suppress(DbEngineError):  # a damaged bucket (or a silent store) fails where it is read
            daemon_map(lambda digest: self.bucket_data(tenant_id, digest), todo, workers)

    def node(self, tenant_id: str, digest: str) -> dict:
        """A record-tree node, verified (TreeError for a link that is no digest)."""
        cached = self.cache.get((tenant_id, digest)) if type(digest) is str else None  # keys: checked digests
        if cached is not None and cached["__kind__"] in NODE_KINDS:
            return cached
        if type(digest) is not str or not DIGEST_RE.fullmatch(digest):
            raise TreeError(str(digest), f"a record-tree link is not a digest: {str(digest)[:40]!r}")
        document = self.read(tenant_id, digest)
        if document["__kind__"] not in NODE_KINDS:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a record-tree node ({path})", path)
        return document

    def fresh_node(self, tenant_id: str, digest: str) -> tuple[dict, bytes] | None:
        """A record-tree node parsed afresh from its checked bytes and not cached (the caller
        owns its values), with those bytes; None when it is cached (read() costs nothing)."""
        if self.cache.get((tenant_id, digest)) is not None:
            return None
        if type(digest) is not str or not DIGEST_RE.fullmatch(digest):
            raise TreeError(str(digest), f"a record-tree link is not a digest: {str(digest)[:40]!r}")
        data = self.bucket_bytes.get((tenant_id, digest))  # prefetched (S3)
        if data is None:
            data = self.object_bytes(tenant_id, digest)
        document = self._parse(tenant_id, digest, data)
        if document["__kind__"] not in NODE_KINDS:
            path = self.storage.object_path(tenant_id, digest)
            raise CorruptObjectError(f"object {digest[:12]} of tenant {tenant_id!r} is not a record-tree node ({path})", path)
        return document, data

    def key_leaf(self, tenant_id: str, digest: str) -> KeyLeafScan | None:
        """A key-index leaf read as checked bytes without parsing them (node_bytes), or None
        when it is parsed already (reading it costs nothing) or is not read that way (its
        bytes are kept for the parse that follows)."""
        key = (tenant_id, digest)
        if self.cache.get(key) is not None:
            return None
        scan = self.key_scans.get(key)
        if scan is not None:
            return scan
        if type(digest) is not str or not DIGEST_RE.fullmatch(digest):
            raise TreeError(str(digest), f"a record-tree link is not a digest: {str(digest)[:40]!r}")
        data = self.bucket_bytes.get(key)  # prefetched (S3)
        if data is None:
            data = self.node_bytes.get(key)  # a leaf this engine wrote as bytes (not cached parsed)
        if data is None:
            data = self.object_bytes(tenant_id, digest)
        scan = scan_key_leaf(data)
        if scan is None:
            self.bucket_bytes.put(key, data, len(data))  # read() parses these, no second read
            return None
        self.key_scans.put(key, scan, len(data) + SCAN_PAIR_BYTES * len(scan.keys))
        return scan

    def unparsed_data(self, tenant_id: str, digest: str) -> bytes | None:
        """A record-tree node's checked bytes for a write's key lookup (kept in node_bytes),
        or None when it is scanned as a key leaf or cached parsed as another node (read from
        there at no cost). A key leaf cached parsed is read as bytes all the same: the write
        splices its bytes, where re-encoding it from the parsed pairs costs ~4x a read (an
        engine that had just written 1,000,000 records took 56 ms per put_many of 100, not 16)."""
        key = (tenant_id, digest)
        if self.key_scans.get(key) is not None:
            return None
        parsed = self.cache.get(key)
        if parsed is not None and parsed["__kind__"] != KEY_LEAF_KIND:
            return None
        return self.node_data(tenant_id, digest)

    def node_data(self, tenant_id: str, digest: str) -> bytes:
        """A record-tree node's bytes checked against its digest, not parsed (kept in
        node_bytes: a diff reads lined leaves line by line; TreeError for a bad link)."""
        key = (tenant_id, digest)
        data = self.node_bytes.get(key)
        if data is None:
            if type(digest) is not str or not DIGEST_RE.fullmatch(digest):
                raise TreeError(str(digest), f"a record-tree link is not a digest: {str(digest)[:40]!r}")
            data = self.bucket_bytes.get(key)  # prefetched (S3)
            if data is None:
                data = self.object_bytes(tenant_id, digest)
            self.node_bytes.put(key, data, len(data))
        return data

    def write_bytes(self, tenant_id: str, document: dict | None, data: bytes, proven: bool = True) -> str:
        """Store a node given as its bytes, which must be exactly `node_to_bytes(document)`
        (built by node_bytes) when `proven` (remembered so), and may carry unread lines of
        the node it was built from otherwise; `document` (None: not at hand) is cached parsed."""
        digest = compute_digest(data)
        self.storage.write_object(tenant_id, digest, data)
        if document is not None:
            self.cache.put((tenant_id, digest), document, len(data))
        self.node_bytes.put((tenant_id, digest), data, len(data))
        if proven:
            self._written_canonical(tenant_id, digest)
        return digest

    def _written_canonical(self, tenant_id: str, digest: str) -> None:
        """Remember that `digest` was written as to_json_bytes of its node (a memo, bounded for
        all tenants together: forgetting only costs proving the bytes canonical again)."""
        self._canonical_adds += 1
        if self._canonical_adds > CANONICAL_MEMO:
            for known in list(self._canonical.values()):  # emptied in place: Nodes hold them
                known.clear()
            self._canonical_adds = 1
        self._canonical.setdefault(tenant_id, set()).add(digest)

    def nodes(self, tenant_id: str) -> Nodes:
        """The record-tree functions' access to this tenant's objects (verified reads, cached)."""
        concurrent = getattr(self.storage, "concurrent_reads", 1) > 1
        if tenant_id not in self._sound_nodes and len(self._sound_nodes) >= MEMO_TENANTS:
            self._checked_leaves, self._sound_nodes = {}, {}  # a memo: forgetting only costs checking again
        checked = self._checked_leaves.setdefault(tenant_id, set())
        if len(checked) > 1_000_000:  # a memo: forgetting only costs hashing again
            checked.clear()
        sound = self._sound_nodes.setdefault(tenant_id, set())
        if len(sound) > SOUND_MEMO:  # a memo: forgetting only costs checking again
            sound.clear()
        return Nodes(lambda digest: self.node(tenant_id, digest), lambda node: self.write(tenant_id, node),
                     (lambda digests: self.prefetch(tenant_id, digests)) if concurrent else None, checked,
                     key_leaf=lambda digest: self.key_leaf(tenant_id, digest),
                     raw=lambda digest: self.node_bytes.get((tenant_id, digest)),
                     store_bytes=lambda node, data, proven=True: self.write_bytes(tenant_id, node, data, proven),
                     canonical=self._canonical.setdefault(tenant_id, set()),
                     data=lambda digest: self.node_data(tenant_id, digest),
                     unparsed=lambda digest: self.unparsed_data(tenant_id, digest), sound=sound)

    @contextlib.contextmanager
    def tree_guard(self, tenant_id: str) -> Iterator[None]:
        """A record-tree node that disagrees with its place raises CorruptObjectError naming its file."""
        try:
            yield
        except TreeError as exc:
            path = self.storage.object_path(tenant_id, exc.digest) if DIGEST_RE.fullmatch(exc.digest) else None
            raise CorruptObjectError(
                f"record-tree node {exc.digest[:12]} of tenant {tenant_id!r} is corrupt: {exc}" + (f" ({path})" if path else ""),
                path) from None

    def read_ref(self, digest: str) -> bytes:
        """The bytes of a ref, checked against its digest."""
        data = self.storage.read_ref(check_digest(digest))
        if compute_digest(data) != digest:
            path = self.storage.ref_path(digest)
            raise CorruptObjectError(f"ref {digest[:12]} is corrupt: its bytes do not match its digest ({path})", path)
        return data

    # ------------------------------------------------------------------ writes
    def write(self, tenant_id: str, document: dict, data: bytes | None = None) -> str:
        """Store a document as an object named by its digest (cached parsed); `data`, when
        given, is what it writes for the document (to_json_bytes, node_bytes.node_to_bytes for
        a record-tree node), made by the caller from bytes it had already."""
        if data is None:
            data = node_to_bytes(document) if document.get("__kind__") in NODE_KINDS else to_json_bytes(document)
        digest = compute_digest(data)
        self.storage.write_object(tenant_id, digest, data)
        self.cache.put((tenant_id, digest), document, len(data))
        if document.get("__kind__") in NODE_KINDS:
            self.node_bytes.put((tenant_id, digest), data, len(data))
            self._written_canonical(tenant_id, digest)
        return digest

    def write_ref(self, data: bytes) -> str:
        """Store a ref's bytes under their digest."""
        digest = compute_digest(data)
        self.storage.write_ref(digest, data)
        return digest
