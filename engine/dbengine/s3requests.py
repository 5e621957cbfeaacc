"""`S3Requests`: the S3 client of one bucket and its requests, retried within a deadline.

Every S3 request of the backend (s3storage.py, s3index.py, s3packs.py) goes through here,
so all are counted (`requests`, by operation name) and retried alike; botocore's errors
never leave this module's callers: they become StorageError (a DbEngineError) naming the
key and the bucket, and saying what to check (bucket, endpoint, credentials).

Retries and time limits (botocore's own retries are off: its standard mode spends a quota
that only 2xx answers refill, and the engine's normal 404 and 412 answers refill nothing):
every request is tried at most ATTEMPTS times when the answer is transient (5xx,
throttling, 409 ConditionalRequestConflict, a reset or timed-out connection), with full
jitter exponential backoff (BACKOFF_BASE doubling, at most BACKOFF_CAP). Each attempt has
a CONNECT_TIMEOUT and a READ_TIMEOUT (time without a byte), and a storage operation (one
public method, all its requests and retries: `operation`) has a deadline, DEFAULT_DEADLINE
seconds or $MYDB_S3_DEADLINE: no attempt starts after it, and the last one's read timeout
ends with it. Then the operation raises a StorageError saying the endpoint did not answer.

boto3 is imported only when a client is made (`make_client`): the engine imports without it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from .errors import DbEngineError, StorageError
from .pool import daemon_map

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


def hash_int(*parts: str) -> int:
    """A stable 60-bit number for ETags (a token's inode or mtime field)."""
    return int(hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:15], 16)


def md5_etag(data: bytes) -> str:
    """The ETag S3 gives `data` stored by a single PUT (quoted MD5)."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


def operation(method):
    """One storage operation of an object holding `self.s3` (an `S3Requests`): its requests
    and their retries share one deadline."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.s3.timed():
            return method(self, *args, **kwargs)

    return wrapper


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


class S3Requests:
    """The client of one bucket: single requests (GET, ranged GET, HEAD, PUT, LIST, DELETE),
    counted, retried on transient answers within the running operation's deadline, and
    their errors classified (missing, precondition) or raised as StorageError."""

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, client: Any = None):
        self.bucket = bucket
        self.deadline = _deadline_setting()
        self.read_timeout = min(READ_TIMEOUT, self.deadline)
        self.endpoint_source = (_endpoint_source(endpoint_url) if client is None
                                else f"endpoint_url={client.meta.endpoint_url} of the client given")
        self.client = client or make_client(endpoint_url, bucket, self.deadline)
        self.requests: Counter[str] = Counter()
        self._local = threading.local()  # .deadline: of the storage operation running in this thread
        self.client.meta.events.register("before-call.s3", self._before_call)

    def _before_call(self, model: Any = None, context: Any = None, **_kwargs: Any) -> None:
        """Count the request; its read timeout ends with the operation's deadline."""
        self.requests[model.name if model is not None else "?"] += 1
        deadline = getattr(self._local, "deadline", None)
        if deadline is not None and isinstance(context, dict):
            context["read_timeout"] = max(0.05, min(self.read_timeout, deadline - time.monotonic()))

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        """The deadline of one storage operation, for this thread (nested: the outer one's)."""
        local = self._local
        if getattr(local, "deadline", None) is not None:
            yield  # part of an operation already timed
            return
        local.deadline = time.monotonic() + self.deadline
        try:
            yield
        finally:
            local.deadline = None

    def call(self, request: Callable[[], Any]) -> Any:
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

    def map(self, function: Callable[[Any], Any], items: list) -> list:
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

    # ------------------------------------------------------------------ reads
    def get(self, key: str) -> tuple[bytes, str] | None:
        """Body and ETag of a key, None when it does not exist."""

        def request() -> tuple[bytes, str]:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"]

        return self._read_or_none(request, key)

    def get_range(self, key: str, offset: int, length: int) -> bytes | None:
        """`length` bytes of a key from `offset` (one ranged GET), None when it does not exist."""
        if length <= 0:
            return b""

        def request() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")
            return response["Body"].read()

        return self._read_or_none(request, key)

    def _read_or_none(self, request: Callable[[], Any], key: str) -> Any:
        """`request` (a GET of `key`) through `call`; None when the key does not exist."""
        try:
            return self.call(request)
        except Exception as exc:  # botocore's errors: classified by _classify
            if _classify(exc) == "missing":
                return None
            raise self.fail("read", key, exc) from exc

    def get_body(self, key: str) -> bytes | None:
        """A key's bytes, None when it does not exist."""
        found = self.get(key)
        return None if found is None else found[0]

    def head(self, key: str) -> dict | None:
        """A key's HEAD answer (ContentLength, ETag...), None when it does not exist."""
        try:
            return self.call(lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        except Exception as exc:
            if _classify(exc) == "missing":
                return None
            raise self.fail("stat", key, exc) from exc

    def list(self, prefix: str, delimiter: str | None = None) -> Iterator[dict]:
        """Pages of a listing (1 request per 1,000 keys)."""
        options: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            options["Delimiter"] = delimiter
        while True:
            try:
                page = self.call(lambda: self.client.list_objects_v2(**options))
            except Exception as exc:
                raise self.fail("list", prefix, exc) from exc
            yield page
            if not page.get("IsTruncated"):
                return
            options["ContinuationToken"] = page["NextContinuationToken"]

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every key under `prefix` (1 LIST per 1,000 keys)."""
        for page in self.list(prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["Size"]

    def any_key(self, prefix: str) -> bool:
        """True when some key starts with `prefix` (1 LIST of at most one key)."""
        try:
            page = self.call(lambda: self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1))
        except Exception as exc:
            raise self.fail("list", prefix, exc) from exc
        return page.get("KeyCount", 0) > 0

    # ------------------------------------------------------------------ writes
    def put(self, key: str, data: bytes, **conditions: str) -> str | None:
        """PUT a key; its new ETag, or None when the condition did not hold: 412, or 404 for
        `If-Match` on a key deleted meanwhile. A 409 (a conditional write that raced another:
        not applied) is tried again like a 5xx, never taken as a refusal or a success."""
        try:
            return self.call(lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                                            **conditions)["ETag"])
        except Exception as exc:
            kind = _classify(exc)
            if conditions and (kind == "precondition" or (kind == "missing" and "IfMatch" in conditions)):
                return None
            raise self.fail("write", key, exc) from exc

    def put_content(self, key: str, data: bytes) -> bool:
        """Store a content-addressed key (an object or a ref): True when written, False when
        it already held exactly `data`. Returns only once the key is known to hold them.

        A 412 (the key exists) is confirmed: its ETag must be the MD5 of `data` (or, for an
        ETag that is no MD5 — multipart, SSE-KMS — its bytes must equal `data`). A key that
        holds other bytes (damage) is replaced by an unconditional PUT, as on disk.
        """
        if self.put(key, data, IfNoneMatch="*") is not None:
            return True
        if self.holds(key, data):
            return False
        self.put(key, data)  # absent again (deleted by hand), or other bytes: write ours
        return True

    def holds(self, key: str, data: bytes, found: dict | None = None) -> bool:
        """The key holds exactly `data`: its ETag is their MD5, or (an ETag that is no MD5)
        its bytes are equal. `found`: the key's HEAD answer when already at hand."""
        found = found or self.head(key)
        if found is None or found.get("ContentLength", len(data)) != len(data):
            return False
        if found.get("ETag") == md5_etag(data):
            return True
        stored = self.get(key)
        return stored is not None and stored[0] == data

    def delete(self, keys: list[str], what: str) -> None:
        """Delete keys (one DeleteObjects request); `what` names them in an error."""
        objects = [{"Key": key} for key in keys]
        try:
            self.call(lambda: self.client.delete_objects(Bucket=self.bucket,
                                                         Delete={"Objects": objects, "Quiet": True}))
        except Exception as exc:
            raise self.fail("delete segments of", what, exc) from exc

    def fail(self, action: str, key: str, exc: Exception) -> StorageError:
        """A botocore error as a StorageError (a DbEngineError) naming the key and the bucket."""
        return StorageError(f"cannot {action} {self.url(key)}: {_reason(exc, self.bucket, self.endpoint_source)}")


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


def make_client(endpoint_url: str | None, bucket: str, deadline: float = DEFAULT_DEADLINE) -> Any:
    """A boto3 S3 client: endpoint from the argument, MYDB_S3_ENDPOINT or AWS's own settings.

    botocore's retries are off (`total_max_attempts=1`): `S3Requests.call` retries
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
