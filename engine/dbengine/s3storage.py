"""A database in an S3-compatible bucket (AWS S3, MinIO, R2...), with the layout of the disk.

`S3Storage` has the interface of `LocalStorage`, over boto3 (an optional extra:
`pip install 'mydbengine[s3]'`). Keys under `s3://bucket/prefix` are the paths of the
local layout (`{tenant}/head`, `{tenant}/objects/{d[:24]}/{d}`, `refs/{d[:24]}/{d}`), so
`aws s3 sync` of a local database gives a valid remote one and back. There are no locks:
objects and refs are written with `If-None-Match: *` (content-addressed: an existing one
is already right) and heads with compare-and-swap (`If-Match` on the ETag read,
`If-None-Match: *` for a new head); the engine retries a lost race (see heads.py, `Heads.swap`).

History index: S3 has no append, so an entry's index is a list of segment objects
`{tenant}/index-seg/{sha256(entry)}/{n:08d}`, each holding SEGMENT_LINES lines (the last
one fewer); their concatenation is the index file of the local layout. An append
rewrites only the last segment (`If-Match` on its ETag) or starts the next one
(`If-None-Match: *`), and only when the index is still the one the engine read (its
token); it is a cache, checked by the engine against the head and repaired from the
objects, so a lost or skipped append only makes it lag. An entry with no segments but a
local-format index `{tenant}/index/{sha256(entry)}` (a database copied up with `aws s3
sync`) gets its segments from that file's complete lines, read once. This module moves
the index's bytes and lines only: their format is history_index.py's and history.py's.

botocore's errors never leave this module: they become StorageError (a DbEngineError)
naming the key and the bucket, and saying what to check (bucket, endpoint, credentials).

Retries and time limits (botocore's own retries are off: its standard mode spends a quota
that only 2xx answers refill, and the engine's normal 404 and 412 answers refill nothing):
every request is tried at most ATTEMPTS times when the answer is transient (5xx,
throttling, 409 ConditionalRequestConflict, a reset or timed-out connection), with full
jitter exponential backoff (BACKOFF_BASE doubling, at most BACKOFF_CAP). Each attempt has
a CONNECT_TIMEOUT and a READ_TIMEOUT (time without a byte), and a storage operation (one
public method, all its requests and retries) has a deadline, DEFAULT_DEADLINE seconds or
$MYDB_S3_DEADLINE: no attempt starts after it, and the last one's read timeout ends with
it. Then the operation raises a StorageError saying the endpoint did not answer.

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
- index_token: 1 LIST; read_index: 1 LIST + 1 GET per segment at or after the offset
  (fetched in parallel); append_index: 1 PUT (2 when it starts a segment; +1 LIST +1 GET
  when the last segment is not cached); write_index: 1 LIST + 1 PUT per changed segment;
  read_index_range (a window of a long history): 1 LIST + 1 GET per segment it overlaps
- an entry without segments, once per engine: +1 GET of its local index, and when found
  1 PUT per segment made from it (no GET of those segments afterwards)
- scan/iter objects or refs: 1 LIST per 1,000 keys (iter_objects: +1 LIST of packs/)
- packs (a synced local database's, read only: s3packs.py): a missed object key +1 LIST of
  `{tenant}/packs/` (then at most once per 5 s, or after another writer's head), 1-2 ranged
  GETs per pack's index, then 1 ranged GET per packed object (no GET of its key)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from .errors import (
    CorruptObjectError,
    DbEngineError,
    DigestNotFoundError,
    InvalidNameError,
    LockTimeoutError,
    NotInitializedError,
    StorageError,
)
from .names import DIGEST_RE, check_digest, check_tenant
from .pool import daemon_map
from .s3packs import PACKS_FOLDER, S3Packs

PREFIX_LEN = 24
TMP_PREFIX = ".tmp-"
SEGMENT_LINES = 256
INDEX_FOLDER = "index-seg"
LOCAL_INDEX_FOLDER = "index"  # the local layout's index files, brought by `aws s3 sync`
BIG_REF = 1024 * 1024
_SEGMENT_RE = re.compile(r"\d{8}")

CONNECT_TIMEOUT = 3.0  # seconds to open a connection
READ_TIMEOUT = 10.0  # seconds without a byte of the answer
DEFAULT_DEADLINE = 30.0  # seconds for one storage operation, retries included
DEADLINE_ENV = "MYDB_S3_DEADLINE"
ATTEMPTS = 8  # tries of one request (1 + 7 retries) on transient answers
BACKOFF_BASE = 0.1  # seconds: the n-th retry waits uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**n))
BACKOFF_CAP = 1.0
# answers worth another attempt: the server's trouble, throttling, a conditional write
# that raced another one (409: not applied, "retry it")
_TRANSIENT_CODES = frozenset({
    "InternalError", "ServiceUnavailable", "SlowDown", "Throttling", "ThrottlingException",
    "ThrottledException", "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "RequestTimeout", "RequestTimeoutException",
    "PriorRequestNotComplete", "ConditionalRequestConflict", "OperationAborted",
})
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_CREDENTIAL_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
    "InvalidClientTokenId", "ExpiredTokenException",
})
_TIMEOUTS = ("ReadTimeoutError", "ConnectTimeoutError")


class MissingDependencyError(DbEngineError, ImportError):
    """An optional dependency (boto3 for s3:// roots) is not installed."""


class S3Token(NamedTuple):
    """Identity of a head or index on S3; compares like `FileToken` and carries the ETag."""

    inode: int
    size: int
    mtime_ns: int
    etag: str


class _Segment(NamedTuple):
    number: int
    key: str
    size: int
    etag: str


class _Tip(NamedTuple):
    """The last segment of an index as last read or written: what an append extends."""

    number: int
    etag: str
    body: bytes
    size: int  # of the whole index, up to the end of `body`


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


def _deadline_setting() -> float:
    """Seconds one storage operation may take: $MYDB_S3_DEADLINE, or DEFAULT_DEADLINE."""
    text = os.environ.get(DEADLINE_ENV, "").strip()
    if not text:
        return DEFAULT_DEADLINE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < 86_400):
        raise StorageError(f"${DEADLINE_ENV}={text!r} is not a number of seconds (e.g. 30)")
    return value


class _GaveUp(Exception):
    """A request that kept getting transient answers until its attempts or deadline ran out."""

    def __init__(self, last: Exception, attempts: int, elapsed: float, deadline: float, out_of_time: bool):
        super().__init__(str(last))
        self.last, self.attempts, self.elapsed = last, attempts, elapsed
        self.deadline, self.out_of_time = deadline, out_of_time


def _transient(exc: Exception) -> bool:
    """Worth another attempt: a 5xx or throttling answer, a 409 conditional conflict, a
    connection refused, reset or timed out, an answer cut short."""
    response = getattr(exc, "response", None)
    if response:
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in _TRANSIENT_CODES or status in _TRANSIENT_STATUS
    try:
        from botocore import exceptions as botocore_errors
    except ImportError:  # a test's fake client without botocore
        return False
    if isinstance(exc, botocore_errors.SSLError):
        return False  # a certificate problem does not go away by asking again
    return isinstance(exc, (botocore_errors.HTTPClientError, botocore_errors.ConnectionError,
                            botocore_errors.IncompleteReadError))


def _operation(method):
    """One storage operation: its requests and their retries share one deadline."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        local = self._local
        if getattr(local, "deadline", None) is not None:
            return method(self, *args, **kwargs)  # part of an operation already timed
        local.deadline = time.monotonic() + self.deadline
        try:
            return method(self, *args, **kwargs)
        finally:
            local.deadline = None

    return wrapper


def _hash_int(*parts: str) -> int:
    return int(hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:15], 16)


def _md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


class S3Storage:
    """A database under `s3://bucket/prefix`: objects, refs, heads and index segments."""

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
        self.deadline = _deadline_setting()
        self.read_timeout = min(READ_TIMEOUT, self.deadline)
        self._endpoint_source = (_endpoint_source(endpoint_url) if client is None
                                 else f"endpoint_url={client.meta.endpoint_url} of the client given")
        self.client = client or _make_client(endpoint_url, self.bucket, self.deadline)
        self.requests: Counter[str] = Counter()
        self._local = threading.local()  # .deadline: of the storage operation running in this thread
        self.client.meta.events.register("before-call.s3", self._before_call)
        self._known_tenants: set[str] = set()  # tenants whose head was seen (never deleted)
        self._present: set[str] = set()  # object and ref keys known to exist
        self._tips: dict[tuple[str, str], _Tip] = {}
        self._local_checked: set[tuple[str, str]] = set()  # entries whose local index was looked for
        self._adopted: dict[tuple[str, str], dict[str, tuple[bytes, str]]] = {}  # bodies just uploaded
        self._guard = threading.Lock()
        self._recent = threading.local()
        self.packs = S3Packs(self._list_sizes, self._get_range, self._get_body, self.url,
                             lambda tenant: self._key(f"{check_tenant(tenant)}/{PACKS_FOLDER}/"))

    def _before_call(self, model: Any = None, context: Any = None, **_kwargs: Any) -> None:
        """Count the request; its read timeout ends with the operation's deadline."""
        self.requests[model.name if model is not None else "?"] += 1
        deadline = getattr(self._local, "deadline", None)
        if deadline is not None and isinstance(context, dict):
            context["read_timeout"] = max(0.05, min(self.read_timeout, deadline - time.monotonic()))

    # ------------------------------------------------------------------ keys and names
    def _key(self, relative: str) -> str:
        return self._base + relative

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

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

    def _index_prefix(self, tenant: str, entry: str) -> str:
        name = hashlib.sha256(entry.encode("utf-8")).hexdigest()
        return self._key(f"{check_tenant(tenant)}/{INDEX_FOLDER}/{name}/")

    def _local_index_key(self, tenant: str, entry: str) -> str:
        name = hashlib.sha256(entry.encode("utf-8")).hexdigest()
        return self._key(f"{check_tenant(tenant)}/{LOCAL_INDEX_FOLDER}/{name}")

    def object_path(self, tenant: str, digest: str) -> str:
        return self.url(self._object_key(tenant, digest))

    def ref_path(self, digest: str) -> str:
        return self.url(self._ref_key(digest))

    def head_path(self, tenant: str) -> str:
        return self.url(self._head_key(tenant))

    def index_path(self, tenant: str, entry: str) -> str:
        return self.url(self._index_prefix(tenant, entry))

    def describe(self) -> str:
        return self.root

    # ------------------------------------------------------------------ low level
    def _call(self, request: Any) -> Any:
        """`request()` (one S3 request and the reading of its answer), tried again on
        transient answers: at most ATTEMPTS times, with jittered exponential backoff, and
        never past the deadline of the running operation (`_GaveUp` then)."""
        local = self._local
        own = getattr(local, "deadline", None) is None
        if own:
            local.deadline = time.monotonic() + self.deadline
        deadline = local.deadline
        try:
            attempt = 0
            while True:
                attempt += 1
                try:
                    return request()
                except Exception as exc:
                    if not _transient(exc):
                        raise
                    delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
                    now = time.monotonic()
                    if attempt >= ATTEMPTS or now + delay >= deadline:  # (elapsed: since the operation began)
                        raise _GaveUp(exc, attempt, now - (deadline - self.deadline), self.deadline,
                                      now + delay >= deadline) from exc
                    time.sleep(delay)
        finally:
            if own:
                local.deadline = None

    def _get(self, key: str, what: str) -> tuple[bytes, str] | None:
        """Body and ETag of a key, None when it does not exist."""

        def request() -> tuple[bytes, str]:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"]

        return self._read_or_none(request, key)

    def _get_range(self, key: str, offset: int, length: int) -> bytes | None:
        """`length` bytes of a key from `offset` (one ranged GET), None when it does not exist."""
        if length <= 0:
            return b""

        def request() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")
            return response["Body"].read()

        return self._read_or_none(request, key)

    def _read_or_none(self, request: Callable[[], Any], key: str) -> Any:
        """`request` (a GET of `key`) through `_call`; None when the key does not exist."""
        try:
            return self._call(request)
        except Exception as exc:  # botocore's errors: classified by _classify
            if _classify(exc) == "missing":
                return None
            raise self._fail("read", key, exc) from exc

    def _get_body(self, key: str) -> bytes | None:
        found = self._get(key, "pack")
        return None if found is None else found[0]

    def _list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every key under `prefix` (1 LIST per 1,000 keys)."""
        for page in self._list(prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["Size"]

    def _read_required(self, key: str, what: str) -> bytes:
        found = self._get(key, what)
        if found is None:
            raise DigestNotFoundError(f"{what} not found ({self.url(key)})")
        return found[0]

    def _head(self, key: str) -> dict | None:
        try:
            return self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        except Exception as exc:
            if _classify(exc) == "missing":
                return None
            raise self._fail("stat", key, exc) from exc

    def _put(self, key: str, data: bytes, **conditions: str) -> str | None:
        """PUT a key; its new ETag, or None when the condition did not hold: 412, or 404 for
        `If-Match` on a key deleted meanwhile. A 409 (a conditional write that raced another:
        not applied) is tried again like a 5xx, never taken as a refusal or a success."""
        try:
            return self._call(lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                                             **conditions)["ETag"])
        except Exception as exc:
            kind = _classify(exc)
            if conditions and (kind == "precondition" or (kind == "missing" and "IfMatch" in conditions)):
                return None
            raise self._fail("write", key, exc) from exc

    def _put_content(self, key: str, data: bytes) -> bool:
        """Store a content-addressed key (an object or a ref): True when written, False when
        it already held exactly `data`. Returns only once the key is known to hold them.

        A 412 (the key exists) is confirmed: its ETag must be the MD5 of `data` (or, for an
        ETag that is no MD5 — multipart, SSE-KMS — its bytes must equal `data`). A key that
        holds other bytes (damage) is replaced by an unconditional PUT, as on disk.
        """
        if self._put(key, data, IfNoneMatch="*") is not None:
            return True
        if self._holds(key, data):
            return False
        self._put(key, data)  # absent again (deleted by hand), or other bytes: write ours
        return True

    def _holds(self, key: str, data: bytes, found: dict | None = None) -> bool:
        """The key holds exactly `data`: its ETag is their MD5, or (an ETag that is no MD5)
        its bytes are equal. `found`: the key's HEAD answer when already at hand."""
        found = found or self._head(key)
        if found is None or found.get("ContentLength", len(data)) != len(data):
            return False
        if found.get("ETag") == _md5_etag(data):
            return True
        stored = self._get(key, "stored copy")
        return stored is not None and stored[0] == data

    def _list(self, prefix: str, delimiter: str | None = None) -> Iterator[dict]:
        """Pages of a listing (1 request per 1,000 keys)."""
        options: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            options["Delimiter"] = delimiter
        while True:
            try:
                page = self._call(lambda: self.client.list_objects_v2(**options))
            except Exception as exc:
                raise self._fail("list", prefix, exc) from exc
            yield page
            if not page.get("IsTruncated"):
                return
            options["ContinuationToken"] = page["NextContinuationToken"]

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        """A botocore error as a StorageError (a DbEngineError) naming the key and the bucket."""
        return StorageError(f"cannot {action} {self.url(key)}: {_reason(exc, self.bucket, self._endpoint_source)}")

    # ------------------------------------------------------------------ database and tenants
    @_operation
    def is_database(self) -> bool:
        """True when anything is stored under the prefix (1 LIST)."""
        try:
            page = self._call(lambda: self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._base, MaxKeys=1))
        except Exception as exc:
            raise self._fail("list", self._base, exc) from exc
        return page.get("KeyCount", 0) > 0

    @_operation
    def list_tenants(self) -> list[str]:
        """The tenants under the prefix: one delimited listing, and for each folder not yet
        known as a tenant, a HEAD of its `head` (in parallel).

        A folder is a tenant when its name is a valid tenant id and it holds a `head` (what
        `tenant_exists` checks): other databases' prefixes under this one (a bucket root
        holding `prod/`, `test/`...) and stray keys are not tenants.
        """
        names = []
        for page in self._list(self._base, delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(self._base):].rstrip("/")
                if name == "refs" or name.startswith("."):
                    continue
                with contextlib.suppress(InvalidNameError):
                    names.append(check_tenant(name))
        with self._guard:
            unknown = [name for name in names if name not in self._known_tenants]
        self._map(self.tenant_exists, unknown)  # adds the tenants found to _known_tenants
        with self._guard:
            return sorted(name for name in names if name in self._known_tenants)

    def _map(self, function: Any, items: list) -> list:
        """`function` over `items` on 8 daemon threads, within the caller's deadline."""
        if len(items) <= 1:
            return [function(item) for item in items]
        deadline = getattr(self._local, "deadline", None)

        def run(item: Any) -> Any:
            self._local.deadline = deadline
            try:
                return function(item)
            finally:
                self._local.deadline = None

        return daemon_map(run, items, 8, "s3-index")  # daemon threads: a silent endpoint never holds up exit

    @_operation
    def tenant_exists(self, tenant: str) -> bool:
        if tenant in self._known_tenants:
            return True
        if self._head(self._head_key(tenant)) is None:
            return False
        with self._guard:
            self._known_tenants.add(tenant)
        return True

    @_operation
    def init_tenant(self, tenant: str) -> None:
        self._put(self._head_key(tenant), b"{}", IfNoneMatch="*")  # an existing head stays
        with self._guard:
            self._known_tenants.add(tenant)

    def require_tenant(self, tenant: str) -> None:
        if not self.tenant_exists(tenant):
            raise NotInitializedError(f"tenant {tenant!r} is not initialized in {self.root} (call init())")

    # ------------------------------------------------------------------ objects and refs
    @_operation
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
        found = self._get(key, "object")
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

    @_operation
    def has_object(self, tenant: str, digest: str) -> bool:
        """True when the object has a key or a pack of the tenant names it."""
        key = self._object_key(tenant, digest)
        if key in self._present or self.packs.has(tenant, digest, listing=False):
            return True  # objects are immutable and never deleted
        found = self._head(key) is not None
        if found:
            self._seen(key)
        return found or self.packs.has(tenant, digest)

    @_operation
    def write_object(self, tenant: str, digest: str, data: bytes) -> bool:
        """Store an object; False when it already held these bytes (content addressing).
        Returns only once the object is known stored (else a StorageError)."""
        key = self._object_key(tenant, digest)
        written = self._put_content(key, data)
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

    @_operation
    def read_ref(self, digest: str) -> bytes:
        return self._read_required(self._ref_key(digest), f"ref {digest}")

    @_operation
    def has_ref(self, digest: str) -> bool:
        key = self._ref_key(digest)
        if key in self._present:
            return True
        found = self._head(key) is not None
        if found:
            self._seen(key)
        return found

    @_operation
    def ref_size(self, digest: str) -> int:
        found = self._head(self._ref_key(digest))
        if found is None:
            raise DigestNotFoundError(f"ref {digest} not found in {self.root}/refs")
        return found["ContentLength"]

    @_operation
    def write_ref(self, digest: str, data: bytes) -> bool:
        key = self._ref_key(digest)
        if key in self._present:
            return False
        if len(data) > BIG_REF:  # big refs are not uploaded again just to be refused
            found = self._head(key)
            if found is not None and self._holds(key, data, found):
                self._seen(key)
                return False
        written = self._put_content(key, data)
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
        for page in self._list(prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                folder, _, name = key[len(prefix):].rpartition("/")
                if name.startswith(TMP_PREFIX) or not name:
                    continue
                well_named = DIGEST_RE.fullmatch(name) and folder == name[:PREFIX_LEN]
                yield self.url(key), (name if well_named else None)

    @_operation
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
    @_operation
    def read_head(self, tenant: str) -> tuple[bytes, S3Token] | None:
        found = self._get(self._head_key(tenant), f"head of tenant {tenant!r}")
        if found is None:
            return None
        data, etag = found
        self.packs.saw_head(tenant, etag)
        return data, S3Token(_hash_int(etag), len(data), 0, etag)

    @_operation
    def head_token(self, tenant: str) -> S3Token | None:
        found = self._head(self._head_key(tenant))
        if found is None:
            return None
        self.packs.saw_head(tenant, found["ETag"])
        return S3Token(_hash_int(found["ETag"]), found["ContentLength"], 0, found["ETag"])

    @_operation
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
        etag = self._put(key, data, **conditions)
        if etag is not None:
            self.packs.saw_head(tenant, etag, own=True)
            return True
        current = self._get(key, f"head of tenant {tenant!r}")
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

    # ------------------------------------------------------------------ history index
    def _segments(self, tenant: str, entry: str) -> list[_Segment]:
        """The index's segments; when there are none, those made from a synced local index."""
        segments = self._list_segments(tenant, entry)
        if segments or (tenant, entry) in self._local_checked:
            return segments
        return self._adopt_local_index(tenant, entry)

    def _adopt_local_index(self, tenant: str, entry: str) -> list[_Segment]:
        """Upload the local-format index `{tenant}/index/{sha}` (left by `aws s3 sync` of a
        local database) as segments, so the first history read does not GET every version.

        Looked for once per entry and engine (1 GET); its complete lines are kept. It stays a
        cache: the engine checks it line by line and against the head as always, and
        rewrites it when damaged.
        """
        found = self._get(self._local_index_key(tenant, entry), "local index")
        with self._guard:
            self._local_checked.add((tenant, entry))
        data = found[0][: found[0].rfind(b"\n") + 1] if found is not None else b""
        if not data:
            return []
        lines = data.splitlines(keepends=True)
        prefix = self._index_prefix(tenant, entry)
        segments, bodies = [], {}
        for number, start in enumerate(range(0, len(lines), SEGMENT_LINES)):
            body = b"".join(lines[start : start + SEGMENT_LINES])
            key = f"{prefix}{number:08d}"
            try:
                etag = self._put(key, body, IfNoneMatch="*")
            except StorageError:  # read-only credentials: rebuilt from the objects instead
                return []
            if etag is None:  # another process adopted it (or wrote segments) first
                return self._list_segments(tenant, entry)
            segments.append(_Segment(number, key, len(body), etag))
            bodies[key] = (body, etag)
        with self._guard:
            self._adopted[(tenant, entry)] = bodies  # read_index uses them instead of GETs
        last = segments[-1]
        self._remember_tip(tenant, entry, _Tip(last.number, last.etag, bodies[last.key][0], len(data)))
        return segments

    def _list_segments(self, tenant: str, entry: str) -> list[_Segment]:
        """The index's segments 0..n-1 (stops at a gap: what follows it is unreachable)."""
        prefix = self._index_prefix(tenant, entry)
        found: dict[int, _Segment] = {}
        for page in self._list(prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix):]
                if _SEGMENT_RE.fullmatch(name):
                    found[int(name)] = _Segment(int(name), item["Key"], item["Size"], item["ETag"])
        segments = []
        while len(segments) in found:
            segments.append(found[len(segments)])
        return segments

    @staticmethod
    def _token(segments: list[_Segment]) -> S3Token:
        # inode stays constant: the engine reads on from its offset and checks that the
        # new lines continue its chain (a rewritten index is re-read whole when they do not).
        etags = [f"{s.number}:{s.etag}" for s in segments]
        return S3Token(1, sum(s.size for s in segments), _hash_int(*etags), etags[-1] if etags else "")

    @_operation
    def index_token(self, tenant: str, entry: str) -> S3Token | None:
        segments = self._segments(tenant, entry)
        self._recent.listing = ((tenant, entry), segments, time.monotonic())  # for read_index
        return self._token(segments) if segments else None

    def cache_path(self, tenant: str, name: str) -> str:
        return self.url(self._key(f"{check_tenant(tenant)}/cache/{name}"))

    @_operation
    def read_cache(self, tenant: str, name: str) -> bytes | None:
        """A tenant-level cache object (`{tenant}/cache/{name}`), None when there is none."""
        found = self._get(self._key(f"{check_tenant(tenant)}/cache/{name}"), f"cache {name} of tenant {tenant!r}")
        return None if found is None else found[0]

    @_operation
    def write_cache(self, tenant: str, name: str, data: bytes) -> None:
        """Replace a tenant-level cache object (last writer wins: it is rebuilt when stale)."""
        self._put(self._key(f"{check_tenant(tenant)}/cache/{name}"), data)

    @_operation
    def read_index(self, tenant: str, entry: str, offset: int = 0) -> tuple[bytes, S3Token] | None:
        """Bytes of the index from `offset` (segments fetched in parallel), and its token."""
        recent = getattr(self._recent, "listing", None)
        self._recent.listing = None
        if recent is not None and recent[0] == (tenant, entry) and time.monotonic() - recent[2] < 1:
            segments = recent[1]  # listed by index_token just before, in this thread
        else:
            segments = self._segments(tenant, entry)
        if not segments:
            return None
        start, wanted, first_start = 0, [], 0
        for segment in segments:
            if start + segment.size > offset:
                if not wanted:
                    first_start = start
                wanted.append(segment)
            start += segment.size
        actual = segments[: len(segments) - len(wanted)]
        with self._guard:
            tip = self._tips.get((tenant, entry))
            adopted = self._adopted.pop((tenant, entry), {})
        cached = {s.key: adopted[s.key] for s in wanted if adopted.get(s.key, (b"", ""))[1] == s.etag}
        if tip is not None and wanted and (wanted[-1].number, wanted[-1].etag) == (tip.number, tip.etag):
            cached[wanted[-1].key] = (tip.body, tip.etag)  # our own last append: no GET
        keys = [s.key for s in wanted if s.key not in cached]
        cached.update(zip(keys, self._fetch_all(keys), strict=True))
        bodies = []
        for segment, found in ((s, cached[s.key]) for s in wanted):
            if found is None:  # deleted meanwhile (a rewrite): what follows is unreachable
                break
            actual.append(segment._replace(size=len(found[0]), etag=found[1]))
            bodies.append(found[0])
        if bodies and len(actual) == len(segments):
            last = actual[-1]
            self._remember_tip(tenant, entry, _Tip(last.number, last.etag, bodies[-1], sum(s.size for s in actual)))
        data = b"".join(bodies)[offset - first_start :] if bodies else b""
        return data, self._token(actual)

    @_operation
    def read_index_tail(self, tenant: str, entry: str, nbytes: int) -> tuple[bytes, int] | None:
        """The last `nbytes` (or a little more) of the index and the offset they start at."""
        segments = self._segments(tenant, entry)
        if not segments:
            return None
        size = sum(s.size for s in segments)
        self._recent.listing = ((tenant, entry), segments, time.monotonic())
        result = self.read_index(tenant, entry, max(size - nbytes, 0))
        if result is None:
            return None
        return result[0], max(size - nbytes, 0)

    @_operation
    def read_index_range(self, tenant: str, entry: str, offset: int, nbytes: int) -> tuple[bytes, int, int] | None:
        """Up to `nbytes` of the index from `offset` (negative: from the end), the offset they
        start at and the index's size: 1 LIST + 1 GET per segment the range overlaps."""
        segments = self._segments(tenant, entry)
        if not segments:
            return None
        size = sum(s.size for s in segments)
        start = max(size + offset, 0) if offset < 0 else min(offset, size)
        end = min(start + max(nbytes, 0), size)
        wanted, first_start, position = [], 0, 0
        for segment in segments:
            if position + segment.size > start and position < end:
                if not wanted:
                    first_start = position
                wanted.append(segment)
            position += segment.size
        with self._guard:
            tip = self._tips.get((tenant, entry))
            adopted = self._adopted.get((tenant, entry), {})
            cached = {s.key: adopted.pop(s.key) for s in wanted if adopted.get(s.key, (b"", ""))[1] == s.etag}
        if tip is not None and wanted and (wanted[-1].number, wanted[-1].etag) == (tip.number, tip.etag):
            cached[wanted[-1].key] = (tip.body, tip.etag)
        keys = [s.key for s in wanted if s.key not in cached]
        cached.update(zip(keys, self._fetch_all(keys), strict=True))
        bodies = []
        for segment in wanted:
            found = cached[segment.key]
            if found is None or len(found[0]) != segment.size:  # rewritten meanwhile: read it again
                return None
            bodies.append(found[0])
        data = b"".join(bodies)[start - first_start : end - first_start]
        return data, start, size

    def _fetch_all(self, keys: list[str]) -> list[tuple[bytes, str] | None]:
        return self._map(lambda key: self._get(key, "index segment"), keys)

    def _remember_tip(self, tenant: str, entry: str, tip: _Tip | None) -> None:
        with self._guard:
            if tip is None or (tip.body and not tip.body.endswith(b"\n")):
                self._tips.pop((tenant, entry), None)
            else:
                self._tips[(tenant, entry)] = tip

    def _current_tip(self, tenant: str, entry: str) -> _Tip | None:
        """The cached last segment, or the one in the bucket now (1 LIST + 1 GET)."""
        with self._guard:
            tip = self._tips.get((tenant, entry))
        if tip is not None:
            return tip
        segments = self._list_segments(tenant, entry)  # (an entry without segments: its first line is written whole, see history_index.py)
        if not segments:
            return _Tip(-1, "", b"", 0)
        found = self._get(segments[-1].key, "index segment")
        if found is None:
            return None
        return _Tip(segments[-1].number, found[1], found[0], sum(s.size for s in segments[:-1]) + len(found[0]))

    @_operation
    def append_index(self, tenant: str, entry: str, data: bytes, expected: Any = None) -> None:
        """Append lines: rewrite the last segment (If-Match) and start new ones (If-None-Match).

        Skipped when the index is no longer the `expected` one (the token of the index the
        lines continue), or when another writer changed it first: the engine then completes
        it from the objects.
        """
        tip = self._current_tip(tenant, entry)
        if tip is None or (expected is not None and (getattr(expected, "size", None), getattr(expected, "etag", None))
                           != (tip.size, f"{tip.number}:{tip.etag}")):
            self._remember_tip(tenant, entry, None)
            return
        lines = data.splitlines(keepends=True)
        number, body, etag = tip.number, tip.body, tip.etag
        base = tip.size - len(body)  # bytes of the segments before this one
        if number < 0 or body.count(b"\n") >= SEGMENT_LINES:
            number, body, etag, base = number + 1, b"", "", tip.size
        while lines:
            room = SEGMENT_LINES - body.count(b"\n")
            body += b"".join(lines[:room])
            lines = lines[room:]
            key = f"{self._index_prefix(tenant, entry)}{number:08d}"
            new_etag = self._put(key, body, **({"IfMatch": etag} if etag else {"IfNoneMatch": "*"}))
            if new_etag is None:
                self._remember_tip(tenant, entry, None)
                return
            self._remember_tip(tenant, entry, _Tip(number, new_etag, body, base + len(body)))
            if lines:
                number, body, etag, base = number + 1, b"", "", base + len(body)

    @_operation
    def write_index(self, tenant: str, entry: str, data: bytes) -> None:
        """Rewrite the whole index (a repair): PUT the segments that differ, delete extra ones."""
        segments = self._list_segments(tenant, entry)
        lines = data.splitlines(keepends=True)
        chunks = [b"".join(lines[i : i + SEGMENT_LINES]) for i in range(0, len(lines), SEGMENT_LINES)]
        prefix = self._index_prefix(tenant, entry)
        tip, size = None, 0
        for number, chunk in enumerate(chunks):
            etag = _md5_etag(chunk)
            if number >= len(segments) or segments[number].etag != etag:
                etag = self._put(f"{prefix}{number:08d}", chunk)
            size += len(chunk)
            tip = _Tip(number, etag, chunk, size)
        extra = [{"Key": s.key} for s in segments[len(chunks):]]
        if extra:
            try:
                self._call(lambda: self.client.delete_objects(Bucket=self.bucket,
                                                              Delete={"Objects": extra, "Quiet": True}))
            except Exception as exc:
                raise self._fail("delete segments of", prefix, exc) from exc
        self._remember_tip(tenant, entry, tip)



def _classify(exc: Exception) -> str:
    """'missing', 'precondition', 'conflict' or 'other' for a botocore error."""
    response = getattr(exc, "response", None)
    if not response:
        return "other"
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("NoSuchKey", "404", "NotFound"):
        return "missing"
    if code in ("PreconditionFailed", "412") or status == 412:
        return "precondition"
    if code == "ConditionalRequestConflict" or status == 409:
        return "conflict"
    return "other"


def _reason(exc: Exception, bucket: str, endpoint_source: str | None = None) -> str:
    """One line saying why an S3 call failed, in the user's terms (bucket, credentials, endpoint).

    `endpoint_source` names where the endpoint came from (None: AWS's default endpoint), so
    a server that cannot be reached is blamed on the right setting.
    """
    if isinstance(exc, _GaveUp):
        return _gave_up_reason(exc, bucket, endpoint_source)
    name = type(exc).__name__
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return f"bucket {bucket!r} does not exist (create it first: the engine never creates buckets)"
    if code in _CREDENTIAL_CODES:  # (answered with 403 too: before the policy case)
        return (f"the AWS credentials were refused ({code}) for bucket {bucket!r}: check AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
    if code in ("AccessDenied", "AllAccessDisabled", "403") or status == 403:
        return f"access to bucket {bucket!r} denied ({code or status}): check the credentials and the bucket's policy"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return (f"no AWS credentials for bucket {bucket!r}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ProxyConnectionError"):
        return f"cannot reach the S3 endpoint of bucket {bucket!r} ({exc}); {_endpoint_hint(endpoint_source)}"
    if name in ("ReadTimeoutError", "IncompleteReadError", "ResponseStreamingError"):
        return f"the S3 endpoint of bucket {bucket!r} stopped answering ({name})"
    if code == "ConditionalRequestConflict":
        return "the server answered 409 ConditionalRequestConflict (another write to the key was in progress)"
    if code:
        return f"{code}: {response.get('Error', {}).get('Message') or status}"
    return f"{name}: {exc}"


def _gave_up_reason(exc: _GaveUp, bucket: str, endpoint_source: str | None) -> str:
    last = exc.last
    tries = f"{exc.attempts} attempt{'s' if exc.attempts > 1 else ''} in {exc.elapsed:.1f} s"
    if type(last).__name__ in _TIMEOUTS:
        attempts = f"{exc.attempts} attempt{'s' if exc.attempts > 1 else ''}"
        return (f"the S3 endpoint of bucket {bucket!r} did not answer in {exc.elapsed:.1f} s "
                f"({type(last).__name__}, {attempts}; the limit per operation is {DEADLINE_ENV}={exc.deadline:g} s); "
                f"{_endpoint_hint(endpoint_source)}")
    return f"{_reason(last, bucket, endpoint_source)} (gave up after {tries})"


def _endpoint_hint(source: str | None) -> str:
    if source is None:
        return "for MinIO-style servers set MYDB_S3_ENDPOINT"
    return f"check that the server is up and that the endpoint ({source}) is right"


def _endpoint_source(endpoint_url: str | None) -> str | None:
    """Where the endpoint comes from, and which: `MYDB_S3_ENDPOINT=http://...`; None for AWS's default."""
    if endpoint_url:
        return f"s3_endpoint={endpoint_url}"
    for variable in ("MYDB_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        if os.environ.get(variable):
            return f"{variable}={os.environ[variable]}"
    return None


def _make_client(endpoint_url: str | None, bucket: str, deadline: float = DEFAULT_DEADLINE) -> Any:
    """A boto3 S3 client: endpoint from the argument, MYDB_S3_ENDPOINT or AWS's own settings.

    botocore's retries are off (`total_max_attempts=1`): `S3Storage._call` retries
    transient answers itself, without a quota that 404 and 412 answers would starve.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingDependencyError(
            "s3:// databases need boto3: pip install 'mydbengine[s3]'"
        ) from None
    endpoint = endpoint_url or os.environ.get("MYDB_S3_ENDPOINT") or None
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=32,
        connect_timeout=min(CONNECT_TIMEOUT, deadline),
        read_timeout=min(READ_TIMEOUT, deadline),
        s3={"addressing_style": "path"} if endpoint else {},
    )
    # AWS_ENDPOINT_URL(_S3), region and credentials come from boto3's standard chain.
    try:
        return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)
    except Exception as exc:  # ProfileNotFound, a malformed endpoint URL, a bad config file...
        raise StorageError(f"cannot open s3://{bucket}: {type(exc).__name__}: {exc}") from exc
