"""A database in an S3-compatible bucket (AWS S3, MinIO, R2...), with the layout of the disk.

`S3Storage` has the interface of `LocalStorage`, over boto3 (an optional extra:
`pip install 'mydbengine[s3]'`). Keys under `s3://bucket/prefix` are the paths of the
local layout (`{tenant}/head`, `{tenant}/objects/{d[:24]}/{d}`, `refs/{d[:24]}/{d}`), so
`aws s3 sync` of a local database gives a valid remote one and back. There are no locks:
objects and refs are written with `If-None-Match: *` (content-addressed: an existing one
is already right) and heads with compare-and-swap (`If-Match` on the ETag read,
`If-None-Match: *` for a new head); the engine retries a lost race (see heads.py, `Heads.swap`).

`S3Storage` keeps objects, refs, heads, caches and the lock, and composes the other parts:
requests, their retries, deadline and errors (s3requests.py, `S3Requests`), the history
index as segments (s3index.py, `S3Index`) and the packs of a synced local database
(s3packs.py, `S3Packs`).

Objects and refs are content-addressed: a 412 on `If-None-Match: *` means the key exists,
and it is taken as stored only when the key's ETag is the MD5 of the bytes (or, with an
ETag that is no MD5, its bytes are equal); a key holding other bytes (damage) is replaced.
A key is cached as present (`_seen`) only once it is known stored, so the engine, which
writes a head after the objects it names, never moves a head onto a missing object.

Requests sent by this class (GET/PUT/HEAD/LIST are single HTTP requests):
- read_head 1 GET, head_token 1 HEAD, write_head 1 PUT (+1 GET after a lost race)
- read/write/has object or ref: 1 GET / 1 PUT / 1 HEAD (refs over 1 MiB: HEAD, then PUT);
  a write refused because the key exists (412): +1 HEAD (+1 GET when its ETag is no MD5)
- tenant_exists: 1 HEAD the first time, then 0 (tenants are never deleted)
- list_tenants: 1 LIST (Delimiter="/"), +1 HEAD per folder not yet known to this engine
  as a tenant (in parallel); is_database: 1 LIST (MaxKeys=1)
- index_token, read_index*, append_index, write_index: see s3index.py
- scan/iter objects or refs: 1 LIST per 1,000 keys (iter_objects: +1 LIST of packs/)
- packs (a synced local database's, read only: s3packs.py): a missed object key +1 LIST of
  `{tenant}/packs/` (then at most once per 5 s, or after another writer's head), 1-2 ranged
  GETs per pack's index, then 1 ranged GET per packed object (no GET of its key)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from .errors import (
    CorruptObjectError,
    DigestNotFoundError,
    InvalidNameError,
    LockTimeoutError,
    NotInitializedError,
)
from .names import DIGEST_RE, check_digest, check_tenant
from .s3index import S3Index
from .s3packs import PACKS_FOLDER, S3Packs
from .s3requests import MissingDependencyError, S3Requests, S3Token, hash_int, operation

__all__ = ["MissingDependencyError", "S3Storage", "S3Token", "is_s3_url", "parse_s3_url"]

PREFIX_LEN = 24
TMP_PREFIX = ".tmp-"
BIG_REF = 1024 * 1024

_PROCESS_LOCKS: dict[tuple[str, str, str], threading.RLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def is_s3_url(root: object) -> bool:
    """True for an `s3://` root (the scheme in any case: `S3://bucket/x` too)."""
    return isinstance(root, str) and root[:5].lower() == "s3://"


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix").

    The scheme is case-insensitive. The prefix is normalised like a folder path: empty
    segments are dropped (`s3://b//x/`, `s3://b/x` and `s3://b/x//` are one database, and
    `s3://b/a//b` is `s3://b/a/b`); `.` and `..` segments are refused (InvalidNameError), so
    no key is ever written under `../`.
    """
    if not is_s3_url(url):
        raise InvalidNameError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise InvalidNameError(f"no bucket in {url!r} (use s3://bucket/prefix)")
    segments = [segment for segment in prefix.split("/") if segment]
    for segment in segments:
        if segment in (".", ".."):
            raise InvalidNameError(f"prefix of {url!r} has a {segment!r} segment: give the prefix without it")
    return bucket, "/".join(segments)


class S3Storage:
    """A database under `s3://bucket/prefix`: objects, refs, heads, the lock and caches here;
    requests in `s3` (S3Requests), history indexes in `index` (S3Index), packs in `packs`."""

    #: How many object reads the engine may run at once (each is a network round trip).
    concurrent_reads = 32  # botocore keeps max_pool_connections=32 connections
    #: Heads are compare-and-swapped without a lock between processes: a swap can lose.
    swaps_can_lose = True

    def __init__(self, root: str, *, endpoint_url: str | None = None, client: Any = None,
                 lock_timeout: float = 30.0, **_ignored: Any):
        self.lock_timeout = lock_timeout
        self.bucket, self.prefix = parse_s3_url(root)
        self.root = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.durable = True
        self._base = f"{self.prefix}/" if self.prefix else ""
        self.s3 = S3Requests(self.bucket, endpoint_url=endpoint_url, client=client)
        self.client = self.s3.client
        self.requests = self.s3.requests  # by operation name: the same Counter, cleared by tests and bench
        self.index = S3Index(self.s3, self._base)
        self._known_tenants: set[str] = set()  # tenants whose head was seen (never deleted)
        self._present: set[str] = set()  # object and ref keys known to exist
        self._guard = threading.Lock()
        self.packs = S3Packs(self.s3.list_sizes, self.s3.get_range, self.s3.get_body, self.url,
                             lambda tenant: self._key(f"{check_tenant(tenant)}/{PACKS_FOLDER}/"))

    # ------------------------------------------------------------------ keys and names
    def _key(self, relative: str) -> str:
        return self._base + relative

    def url(self, key: str) -> str:
        return self.s3.url(key)

    def tenant_dir(self, tenant: str) -> str:
        return self.url(self._key(check_tenant(tenant)))

    def _object_key(self, tenant: str, digest: str) -> str:
        check_digest(digest)
        return self._key(f"{check_tenant(tenant)}/objects/{digest[:PREFIX_LEN]}/{digest}")

    def _ref_key(self, digest: str) -> str:
        check_digest(digest)
        return self._key(f"refs/{digest[:PREFIX_LEN]}/{digest}")

    def _head_key(self, tenant: str) -> str:
        return self._key(f"{check_tenant(tenant)}/head")

    def object_path(self, tenant: str, digest: str) -> str:
        return self.url(self._object_key(tenant, digest))

    def ref_path(self, digest: str) -> str:
        return self.url(self._ref_key(digest))

    def head_path(self, tenant: str) -> str:
        return self.url(self._head_key(tenant))

    def index_path(self, tenant: str, entry: str) -> str:
        return self.index.path(tenant, entry)

    def describe(self) -> str:
        return self.root

    def _read_required(self, key: str, what: str) -> bytes:
        found = self.s3.get(key)
        if found is None:
            raise DigestNotFoundError(f"{what} not found ({self.url(key)})")
        return found[0]

    # ------------------------------------------------------------------ database and tenants
    @operation
    def is_database(self) -> bool:
        """True when anything is stored under the prefix (1 LIST)."""
        return self.s3.any_key(self._base)

    @operation
    def list_tenants(self) -> list[str]:
        """The tenants under the prefix: one delimited listing, and for each folder not yet
        known as a tenant, a HEAD of its `head` (in parallel).

        A folder is a tenant when its name is a valid tenant id and it holds a `head` (what
        `tenant_exists` checks): other databases' prefixes under this one (a bucket root
        holding `prod/`, `test/`...) and stray keys are not tenants.
        """
        names = []
        for page in self.s3.list(self._base, delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(self._base):].rstrip("/")
                if name == "refs" or name.startswith("."):
                    continue
                with contextlib.suppress(InvalidNameError):
                    names.append(check_tenant(name))
        with self._guard:
            unknown = [name for name in names if name not in self._known_tenants]
        self.s3.map(self.tenant_exists, unknown)  # adds the tenants found to _known_tenants
        with self._guard:
            return sorted(name for name in names if name in self._known_tenants)

    @operation
    def tenant_exists(self, tenant: str) -> bool:
        if tenant in self._known_tenants:
            return True
        if self.s3.head(self._head_key(tenant)) is None:
            return False
        with self._guard:
            self._known_tenants.add(tenant)
        return True

    @operation
    def init_tenant(self, tenant: str) -> None:
        self.s3.put(self._head_key(tenant), b"{}", IfNoneMatch="*")  # an existing head stays
        with self._guard:
            self._known_tenants.add(tenant)

    def require_tenant(self, tenant: str) -> None:
        if not self.tenant_exists(tenant):
            raise NotInitializedError(f"tenant {tenant!r} is not initialized in {self.root} (call init())")

    # ------------------------------------------------------------------ objects and refs
    @operation
    def read_object(self, tenant: str, digest: str) -> bytes:
        """An object's bytes: from a pack already listed that names it (1 ranged GET), else its
        key (1 GET), else the tenant's packs (listed again when allowed: s3packs.py). Packed
        bytes are checked against `digest`; a damaged packed copy does not hide the key's."""
        key = self._object_key(tenant, digest)
        try:
            data = self.packs.read(tenant, digest, listing=False)
        except CorruptObjectError:
            data = None  # found damaged: the key may hold it (else raised below)
        if data is not None:
            return data
        found = self.s3.get(key)
        if found is not None:
            return found[0]
        data = self.packs.read(tenant, digest)
        if data is not None:
            return data
        what = f"object {digest} of tenant {tenant!r}"
        damaged = self.packs.damage(tenant)
        if damaged is None:
            raise DigestNotFoundError(f"{what} not found ({self.url(key)})")
        raise CorruptObjectError(f"{what} not found ({self.url(key)}), and damaged packs may have held it: "
                                 f"{damaged}", self.packs.folder(tenant))

    @operation
    def has_object(self, tenant: str, digest: str) -> bool:
        """True when the object has a key or a pack of the tenant names it."""
        key = self._object_key(tenant, digest)
        if key in self._present or self.packs.has(tenant, digest, listing=False):
            return True  # objects are immutable and never deleted
        found = self.s3.head(key) is not None
        if found:
            self._seen(key)
        return found or self.packs.has(tenant, digest)

    @operation
    def write_object(self, tenant: str, digest: str, data: bytes) -> bool:
        """Store an object; False when it already held these bytes (content addressing).
        Returns only once the object is known stored (else a StorageError)."""
        key = self._object_key(tenant, digest)
        written = self.s3.put_content(key, data)
        self._seen(key)
        return written

    def _seen(self, key: str) -> None:
        with self._guard:
            if len(self._present) > 200_000:
                self._present.clear()
            self._present.add(key)

    def iter_objects(self, tenant: str) -> Iterator[str]:
        """The digests of the tenant's objects, each once: those with a key, then those only in packs."""
        seen = set()
        for _path, digest in self.scan_objects(tenant):
            if digest is not None:
                seen.add(digest)
                yield digest
        for digest in self.packs.digests(tenant):
            if digest not in seen:
                seen.add(digest)
                yield digest

    def pack_contents(self, tenant: str) -> Iterator:
        """Everything under the tenant's packs/ (a synced local database's), read afresh for
        verify: problems and the objects of sound packs with their place (`s3packs.PackItem`)."""
        return self.packs.check(tenant)

    @operation
    def read_ref(self, digest: str) -> bytes:
        return self._read_required(self._ref_key(digest), f"ref {digest}")

    @operation
    def has_ref(self, digest: str) -> bool:
        key = self._ref_key(digest)
        if key in self._present:
            return True
        found = self.s3.head(key) is not None
        if found:
            self._seen(key)
        return found

    @operation
    def ref_size(self, digest: str) -> int:
        found = self.s3.head(self._ref_key(digest))
        if found is None:
            raise DigestNotFoundError(f"ref {digest} not found in {self.root}/refs")
        return found["ContentLength"]

    @operation
    def write_ref(self, digest: str, data: bytes) -> bool:
        key = self._ref_key(digest)
        if key in self._present:
            return False
        if len(data) > BIG_REF:  # big refs are not uploaded again just to be refused
            found = self.s3.head(key)
            if found is not None and self.s3.holds(key, data, found):
                self._seen(key)
                return False
        written = self.s3.put_content(key, data)
        self._seen(key)
        return written

    def iter_refs(self) -> Iterator[str]:
        for _path, digest in self.scan_refs():
            if digest is not None:
                yield digest

    def scan_objects(self, tenant: str) -> Iterator[tuple[str, str | None]]:
        """Every key under the tenant's objects/: (URL, digest), digest None if misnamed."""
        yield from self._scan(self._key(f"{check_tenant(tenant)}/objects/"))

    def scan_refs(self) -> Iterator[tuple[str, str | None]]:
        yield from self._scan(self._key("refs/"))

    def _scan(self, prefix: str) -> Iterator[tuple[str, str | None]]:
        for page in self.s3.list(prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                folder, _, name = key[len(prefix):].rpartition("/")
                if name.startswith(TMP_PREFIX) or not name:
                    continue
                well_named = DIGEST_RE.fullmatch(name) and folder == name[:PREFIX_LEN]
                yield self.url(key), (name if well_named else None)

    @operation
    def read_path(self, path: str) -> bytes:
        """Raw bytes of a key found by a scan (an s3:// URL of this bucket)."""
        bucket, key = parse_s3_url(path)[0], path[len(f"s3://{self.bucket}/"):]
        if bucket != self.bucket:
            raise InvalidNameError(f"{path} is not in bucket {self.bucket}")
        return self._read_required(key, path)

    def temp_files(self) -> list[str]:
        """Always empty: S3 writes are atomic and leave no temp files behind."""
        return []

    def strange_files(self, tenant: str | None = None) -> list[tuple[str, str, str]]:
        """Always empty: a bucket holds neither symlinks nor special files."""
        return []

    def journal_problems(self, tenant: str) -> list[tuple[str, str, str, bool]]:
        """Always empty: writes on S3 are not journaled."""
        return []

    def checkpoint(self, tenant: str) -> None:
        """Nothing to do: writes on S3 are not journaled (every object has its key)."""

    # ------------------------------------------------------------------ heads
    @operation
    def read_head(self, tenant: str) -> tuple[bytes, S3Token] | None:
        found = self.s3.get(self._head_key(tenant))
        if found is None:
            return None
        data, etag = found
        self.packs.saw_head(tenant, etag)
        return data, S3Token(hash_int(etag), len(data), 0, etag)

    @operation
    def head_token(self, tenant: str) -> S3Token | None:
        found = self.s3.head(self._head_key(tenant))
        if found is None:
            return None
        self.packs.saw_head(tenant, found["ETag"])
        return S3Token(hash_int(found["ETag"]), found["ContentLength"], 0, found["ETag"])

    @operation
    def write_head(self, tenant: str, data: bytes, expected: Any = ...) -> bool:
        """Compare-and-swap the head: False when it is no longer `expected` (None: absent).

        Without `expected` the write is unconditional. A failed condition whose head now
        holds exactly `data` counts as done (a retried request that had succeeded).
        """
        key = self._head_key(tenant)
        if expected is ...:
            conditions = {}
        elif expected is None:
            conditions = {"IfNoneMatch": "*"}
        else:
            conditions = {"IfMatch": expected.etag}
        etag = self.s3.put(key, data, **conditions)
        if etag is not None:
            self.packs.saw_head(tenant, etag, own=True)
            return True
        current = self.s3.get(key)
        return current is not None and current[0] == data

    @contextlib.contextmanager
    def lock(self, tenant: str, timeout: float | None = None) -> Iterator[None]:
        """Writers of this process take turns (they would only lose races to each other);
        between processes and machines there is no lock: heads are compare-and-swapped.
        `timeout` overrides `lock_timeout` (0: take it only if it is free now)."""
        with _PROCESS_LOCKS_GUARD:
            lock = _PROCESS_LOCKS.setdefault((self.bucket, self.prefix, tenant), threading.RLock())
        timeout = self.lock_timeout if timeout is None else timeout
        if not (lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(blocking=False)):
            raise LockTimeoutError(f"timed out after {timeout:.0f}s waiting for writers of {self.head_path(tenant)}")
        try:
            yield
        finally:
            lock.release()


    # ------------------------------------------------------------------ caches
    def cache_path(self, tenant: str, name: str) -> str:
        return self.url(self._key(f"{check_tenant(tenant)}/cache/{name}"))

    @operation
    def read_cache(self, tenant: str, name: str) -> bytes | None:
        """A tenant-level cache object (`{tenant}/cache/{name}`), None when there is none."""
        found = self.s3.get(self._key(f"{check_tenant(tenant)}/cache/{name}"))
        return None if found is None else found[0]

    @operation
    def write_cache(self, tenant: str, name: str, data: bytes) -> None:
        """Replace a tenant-level cache object (last writer wins: it is rebuilt when stale)."""
        self.s3.put(self._key(f"{check_tenant(tenant)}/cache/{name}"), data)

    # ------------------------------------------------------------------ history index (s3index.py)
    def index_token(self, tenant: str, entry: str) -> S3Token | None:
        return self.index.token(tenant, entry)

    def read_index(self, tenant: str, entry: str, offset: int = 0) -> tuple[bytes, S3Token] | None:
        return self.index.read(tenant, entry, offset)

    def read_index_tail(self, tenant: str, entry: str, nbytes: int) -> tuple[bytes, int] | None:
        return self.index.read_tail(tenant, entry, nbytes)

    def read_index_range(self, tenant: str, entry: str, offset: int, nbytes: int) -> tuple[bytes, int, int] | None:
        return self.index.read_range(tenant, entry, offset, nbytes)

    def append_index(self, tenant: str, entry: str, data: bytes, expected: Any = None) -> None:
        self.index.append(tenant, entry, data, expected)

    def write_index(self, tenant: str, entry: str, data: bytes) -> None:
        self.index.write(tenant, entry, data)
