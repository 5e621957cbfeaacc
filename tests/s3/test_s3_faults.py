"""The S3 backend under faults (issue 11): 409 answers, damaged keys, a silent endpoint,
and a long run with 5xx answers and broken connections on a third of the requests.

Faults are injected in the client with botocore's `before-send` event: a handler that
returns an `AWSResponse` answers in the server's place (the request is never sent); one
that raises `ConnectionClosedError` breaks the connection, before the request is sent or
after (the request is sent through the client's HTTP session first: applied on the
server, its answer lost). The server is moto on loopback (conftest.py); the silent
endpoint is a socket that accepts connections and never answers.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError
from dbengine import errors, s3requests
from dbengine.dbengine import DbEngine

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "cli"))
from cli_helpers import MODULE, cli_env  # noqa: E402
from ref_values import Blob

BUCKET = "mydb-tests"
T = "tenant_1"


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_kwargs):
        yield self.body


def answer(request, status: int, code: str) -> AWSResponse:
    """An S3 error answer given in the server's place."""
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>injected by the test</Message></Error>").encode()
    return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw(body))


class Conflicts:
    """A `before-send.s3.PutObject` handler: 409 ConditionalRequestConflict for the first
    `times` tries of each PUT (key and bytes) whose URL contains one of `parts` (times=None:
    always)."""

    def __init__(self, parts: tuple[str, ...], times: int | None):
        self.parts, self.times = parts, times
        self.tries: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request, **_kwargs):
        if request.method != "PUT" or not any(part in request.url for part in self.parts):
            return None
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        if not isinstance(request.body, bytes):
            request.body.seek(0)
        put = (request.url, body)
        with self.lock:
            self.tries[put] += 1
            if self.times is not None and self.tries[put] > self.times:
                return None
        return answer(request, 409, "ConditionalRequestConflict")


# ---------------------------------------------------------------- 409 and 412 (section 1)
def test_a_409_on_object_and_ref_uploads_is_retried_not_taken_for_success(engine, fast_retries):
    engine.save(T, "u", "e", {"v": 0})
    conflicts = Conflicts(("/objects/", "/refs/"), times=3)
    engine.storage.client.meta.events.register("before-send.s3.PutObject", conflicts)
    digest = engine.save(T, "u", "e", {"v": 1, "blob": Blob(b"\x01" * 100)})
    fresh = DbEngine(engine.root)
    value = fresh.load(T, "e")
    assert value["v"] == 1 and value["blob"].payload == b"\x01" * 100
    assert fresh.get_digest(T, "e") == digest
    assert fresh.verify().ok
    assert sorted(conflicts.tries.values()) == [4, 4]  # the ref and the version: 3 x 409, then stored


def test_a_409_on_head_and_index_writes_is_retried(engine, fast_retries):
    engine.save(T, "u", "e", {"v": 0})
    conflicts = Conflicts(("/head", "/index-seg/"), times=2)
    engine.storage.client.meta.events.register("before-send.s3.PutObject", conflicts)
    for i in range(1, 4):
        engine.put(T, "u", "recs", f"k{i}", i)
        engine.save(T, "u", "e", {"v": i})
    assert conflicts.tries and set(conflicts.tries.values()) == {3}
    fresh = DbEngine(engine.root)
    assert fresh.get(T, "recs") == [1, 2, 3]
    assert [fresh.load(T, "e", v.digest)["v"] for v in fresh.log(T, "e")] == [3, 2, 1, 0]  # none doubled
    assert fresh.verify().ok


def test_a_409_that_never_stops_fails_the_save_and_leaves_the_head(engine, fast_retries):
    before = engine.save(T, "u", "e", {"v": 0})
    conflicts = Conflicts(("/objects/",), times=None)
    engine.storage.client.meta.events.register("before-send.s3.PutObject", conflicts)
    with pytest.raises(errors.StorageError, match="409 ConditionalRequestConflict.*gave up after 8 attempts"):
        engine.save(T, "u", "e", {"v": 1})
    assert list(conflicts.tries.values()) == [8]
    fresh = DbEngine(engine.root)
    assert fresh.get_digest(T, "e") == before
    assert fresh.load(T, "e") == {"v": 0}
    assert fresh.verify().ok


def test_a_412_on_a_key_holding_other_bytes_is_not_taken_for_success(engine, make_engine, s3):
    """An object key that exists with other bytes (damage): the write replaces them."""
    value = {"v": "right"}
    other = make_engine(engine.root + "-scratch")  # the same clock
    other.init(T)
    digest = other.save(T, "u", "e", value)  # the same document: the same digest
    key = f"{engine.storage.prefix}/{T}/objects/{digest[:24]}/{digest}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"damaged": true}')
    assert engine.save(T, "u", "e", value) == digest
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == engine.storage.read_path(other.storage.object_path(T, digest))
    fresh = DbEngine(engine.root)
    assert fresh.load(T, "e") == value
    assert fresh.verify().ok


# ---------------------------------------------------------------- a silent endpoint (section 3)
@pytest.fixture
def silent_endpoint():
    """http://127.0.0.1:PORT of a server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_endpoint_gives_a_one_line_error_within_the_deadline(db_root, silent_endpoint):
    deadline = 2.0
    env = cli_env(MYDB_S3_ENDPOINT=silent_endpoint, MYDB_S3_DEADLINE=str(deadline))
    start = time.monotonic()
    proc = subprocess.run([*MODULE, "tenants", "--root", db_root], capture_output=True, text=True,
                          env=env, timeout=deadline + 30)
    elapsed = time.monotonic() - start
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("mydb: error: "), proc.stderr
    assert "did not answer in" in lines[0] and "MYDB_S3_DEADLINE=2 s" in lines[0] and silent_endpoint in lines[0]
    assert "set MYDB_S3_ENDPOINT" not in lines[0]  # it is set: the message names it instead
    assert elapsed < deadline + 8, elapsed  # the interpreter's start-up and imports take the rest


def test_timeouts_attempts_and_deadline_are_the_documented_ones(db_root, monkeypatch):
    monkeypatch.delenv("MYDB_S3_DEADLINE", raising=False)
    config = DbEngine(db_root).storage.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 10)
    assert config.retries["total_max_attempts"] == 1  # botocore's retries off: the storage's own
    assert (s3requests.ATTEMPTS, s3requests.DEFAULT_DEADLINE) == (8, 30)
    monkeypatch.setenv("MYDB_S3_DEADLINE", "4")
    config = DbEngine(db_root).storage.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 4)
    monkeypatch.setenv("MYDB_S3_DEADLINE", "soon")
    with pytest.raises(errors.StorageError, match="MYDB_S3_DEADLINE='soon' is not a number of seconds"):
        DbEngine(db_root)


# ---------------------------------------------------------------- faults at a high rate (section 4)
class Chaos:
    """A `before-send.s3` handler breaking `rate` of all requests: 500 InternalError, 503
    SlowDown, a connection reset before sending, or one after sending (applied, answer lost)."""

    def __init__(self, client, rate: float, seed: int):
        self.session = client._endpoint.http_session
        self.rate, self.random = rate, random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def __call__(self, request, **_kwargs):
        with self.lock:
            roll, kind = self.random.random(), self.random.random()
            self.counts["requests"] += 1
            if roll >= self.rate:
                return None
            fault = "500" if kind < 0.3 else "503" if kind < 0.6 else "reset" if kind < 0.8 else "lost"
            self.counts[fault] += 1
        if fault == "500":
            return answer(request, 500, "InternalError")
        if fault == "503":
            return answer(request, 503, "SlowDown")
        if fault == "lost":
            _ = self.session.send(request).content  # applied on the server...
        raise ConnectionClosedError(endpoint_url=request.url)  # ...but the answer never comes


def _quota(exc: BaseException) -> bool:
    """The error, or one it was raised from, is botocore's retry quota running out."""
    while exc is not None:
        response = getattr(exc, "response", None) or {}
        if "RetryQuotaReached" in str(exc) or response.get("ResponseMetadata", {}).get("RetryQuotaReached"):
            return True
        exc = exc.__cause__ or getattr(exc, "last", None)
    return False


def test_faults_on_a_third_of_the_requests_lose_no_acknowledged_write(make_engine, fast_retries, stress_factor):
    operations = 100 * stress_factor
    engine = make_engine()
    engine.init(T)
    engine.init("t2")
    seed = int(os.environ.get("MYDB_S3_FAULT_SEED", "11"))  # another seed: other faults, other operations
    chaos = Chaos(engine.storage.client, rate=0.3, seed=seed)
    engine.storage.client.meta.events.register("before-send.s3", chaos)
    rng = random.Random(seed)
    saves: list[tuple[str, str, str, object]] = []  # (tenant, entry, digest, value) acknowledged
    records: dict[tuple[str, str], object] = {}  # (tenant, key) -> acknowledged value (None: deleted)
    doubtful: set[tuple[str, str]] = set()  # written last by a failed operation: applied or not
    failed: list[BaseException] = []
    for number in range(operations):
        tenant = rng.choice([T, "t2"])
        what = rng.random()
        touched: list[tuple[str, str]] = []
        try:
            if what < 0.3:
                entry, value = rng.choice(["a", "b"]), {"n": number, "blob": Blob(os.urandom(8))}
                touched = [(tenant, entry)]
                saves.append((tenant, entry, engine.save(tenant, "u", entry, value), value))
            elif what < 0.6:
                key = f"k{rng.randrange(12)}"
                touched = [(tenant, key)]
                engine.put(tenant, "u", "recs", key, number)
                records[(tenant, key)] = number
            elif what < 0.7:
                items = {f"k{rng.randrange(12)}": number for _ in range(3)}
                touched = [(tenant, key) for key in items]
                engine.put_many(tenant, "u", "recs", items)
                records.update(dict.fromkeys(touched, number))
            elif what < 0.8:
                key = f"k{rng.randrange(12)}"
                if records.get((tenant, key)) is not None and (tenant, key) not in doubtful:
                    touched = [(tenant, key)]
                    engine.delete(tenant, "u", "recs", key)
                    records[(tenant, key)] = None
            elif what < 0.85 and saves:
                old_tenant, entry, digest, value = rng.choice(saves)
                head = [d for t, e, d, _v in saves if (t, e) == (old_tenant, entry)][-1]
                if digest != head and (old_tenant, entry) not in doubtful:  # (restoring the head is refused)
                    touched = [(old_tenant, entry)]
                    saves.append((old_tenant, entry, engine.restore(old_tenant, "u", entry, digest), value))
            else:  # reads under faults answer right too
                if saves:
                    old_tenant, entry, digest, value = rng.choice(saves)
                    assert engine.load(old_tenant, entry, digest)["n"] == value["n"]
                for (t, key), value in list(records.items())[:4]:
                    if value is not None and (t, key) not in doubtful:
                        assert engine.get(t, "recs", key) == value
            doubtful.difference_update(touched)
        except errors.DbEngineError as exc:
            failed.append(exc)
            doubtful.update(touched)
    injected = sum(count for name, count in chaos.counts.items() if name != "requests")
    print(f"\nseed {seed}: {operations} operations, {chaos.counts['requests']} requests, {injected} faults "
          f"{dict(chaos.counts)}, {len(failed)} failed, {len(saves)} saves acknowledged")
    assert not [exc for exc in failed if _quota(exc)], failed
    assert all("gave up after 8 attempts" in str(exc) for exc in failed), failed
    assert len(failed) <= max(1, operations // 100), failed
    assert injected > operations  # about 0.3 of 5-10 requests per operation

    fresh = DbEngine(engine.root)  # no faults: what was acknowledged is there
    for tenant, entry, digest, value in saves:
        stored = fresh.load(tenant, entry, digest)
        assert stored["n"] == value["n"] and stored["blob"].payload == value["blob"].payload
        assert digest in fresh.history(tenant, entry, max_items=None)
    for (tenant, key), value in records.items():
        if (tenant, key) in doubtful:
            continue
        if value is None:
            with pytest.raises(errors.DbEngineError):
                fresh.get(tenant, "recs", key)
        else:
            assert fresh.get(tenant, "recs", key) == value
    last = {(t, e): d for t, e, d, _v in saves}
    for (tenant, entry), digest in last.items():
        if (tenant, entry) not in doubtful:
            assert fresh.get_digest(tenant, entry) == digest
    assert fresh.verify().ok
