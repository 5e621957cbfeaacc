"""The engine on S3: the engine's own tests re-run on an s3:// root, plus what only S3 has
(conditional writes, lost races, index segments, request counts, sync round trips).

Every test runs against a real S3 API (moto in server mode, on loopback; see conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError
from dbengine import errors, s3index
from dbengine.dbengine import DbEngine
from dbengine.s3storage import MissingDependencyError, S3Storage

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # tests/: the engine's tests

# The engine's tests that use only the public API (no file paths) run again here, on S3:
# the db_root fixture of tests/s3/conftest.py makes their engines S3-backed.
from test_concurrency import chain_from_objects  # noqa: E402
from test_dbengine import (  # noqa: E402,F401
    test_commit_document_makes_a_new_version,
    test_delete_a_record,
    test_get_at_an_old_digest,
    test_history_is_newest_first_and_agrees_with_log,
    test_i_can_save_and_load,
    test_key_order_is_kept_at_every_depth,
    test_load_of_a_specific_digest,
    test_log_of_a_fresh_engine_matches,
    test_log_summaries,
    test_missing_entries_and_records_raise_specific_errors,
    test_operations_on_an_uninitialized_tenant_raise,
    test_put_many_makes_one_version,
    test_put_stored_adds_a_record_from_its_stored_form,
    test_read_ref_and_sizes,
    test_records_pattern,
    test_resolve,
    test_restore_makes_a_new_version,
    test_restore_of_a_record_entry,
    test_restore_refuses_foreign_digests,
    test_snapshot_metadata,
    test_tenants_and_entries_are_sorted,
    test_the_two_patterns_do_not_mix,
    test_unchanged_subtrees_are_shared_between_versions,
)
from test_history_index import (  # noqa: E402,F401
    built,
    test_a_warm_engine_sees_versions_written_by_another,
    test_the_index_agrees_with_the_objects,
)
from test_safety import test_commit_document_accepts_present_refs, test_pattern_mismatch  # noqa: E402,F401

BUCKET = "mydb-tests"  # created by the s3_endpoint fixture (conftest.py)
T = "tenant_1"


def keys_under(s3, prefix: str) -> dict[str, bytes]:
    """Every key under a prefix (relative to it) and its bytes."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            found[item["Key"][len(prefix) + 1 :]] = body
    return found


def prefix_of(engine: DbEngine) -> str:
    return engine.storage.prefix


# ---------------------------------------------------------------- the server and the client
def test_moto_honours_conditional_puts(s3):
    """The CAS of heads relies on these answers (moto >= 5.1, AWS, MinIO)."""
    first = s3.put_object(Bucket=BUCKET, Key="cond/k", Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=BUCKET, Key="cond/k", Body=b"2", IfNoneMatch="*")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as stale:
        s3.put_object(Bucket=BUCKET, Key="cond/k", Body=b"2", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert stale.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    s3.put_object(Bucket=BUCKET, Key="cond/k", Body=b"3", IfMatch=first)
    assert s3.get_object(Bucket=BUCKET, Key="cond/k")["Body"].read() == b"3"


def test_an_s3_root_picks_the_s3_backend(engine, s3_endpoint):
    assert isinstance(engine.storage, S3Storage)
    assert engine.storage.describe() == engine.root
    explicit = DbEngine(engine.root, s3_endpoint=s3_endpoint)
    assert explicit.tenants() == [T]


def test_without_boto3_an_s3_root_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'mydbengine\[s3\]'") as raised:
        DbEngine("s3://some-bucket/db")
    assert isinstance(raised.value, errors.DbEngineError)


def test_the_keys_are_the_paths_of_a_local_database(make_engine, tmp_path, s3):
    """Same clock, same writes: the S3 keys are the local files (the index aside)."""
    def fill(engine: DbEngine) -> None:
        engine.init(T)
        engine.init("other")
        engine.save(T, "u", "settings", {"theme": "dark", "blob": b"\x00" * 10})
        engine.put_many(T, "u", "people", {"alice": 1, "bob": {"x": (1, 2)}})
        engine.delete(T, "u", "people", "alice")
        engine.save("other", "u", "e", [1, 2])

    remote, local = make_engine(), make_engine(str(tmp_path / "local"))
    fill(remote)
    fill(local)
    on_s3 = {k: v for k, v in keys_under(s3, prefix_of(remote)).items() if "/index-seg/" not in k}
    on_disk = {}
    for folder, _dirs, files in os.walk(local.root):
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), local.root)
            if "/index/" not in rel and not rel.endswith("head.lock"):
                on_disk[rel] = open(os.path.join(folder, name), "rb").read()
    assert on_s3 == on_disk
    assert remote.verify().ok


# ---------------------------------------------------------------- compare-and-swap of heads
def test_a_stale_head_token_loses_the_swap(engine):
    storage = engine.storage
    engine.save(T, "u", "e", 1)
    data, token = storage.read_head(T)
    DbEngine(engine.root).save(T, "other", "e", 2)  # moves the head
    assert storage.write_head(T, b'{"e":"' + b"0" * 64 + b'"}', expected=token) is False
    assert engine.load(T, "e") == 2
    assert storage.write_head("fresh", b"{}", expected=None) is True  # If-None-Match: *
    assert storage.write_head("fresh", b'{"x":"y"}', expected=None) is False
    assert storage.write_head("fresh", b"{}", expected=None) is True  # same bytes: done already


def test_a_writer_that_loses_the_race_reapplies_its_put(engine, monkeypatch):
    """Another writer commits between our read of the head and our swap: nothing is lost."""
    other = DbEngine(engine.root)
    engine.put(T, "u", "recs", "first", 0)
    real = engine.storage.write_head
    calls = []

    def interfere(tenant, data, expected=...):
        calls.append(expected)
        if len(calls) == 1:
            other.put(T, "other", "recs", "theirs", 1)  # wins the race
        return real(tenant, data, expected=expected)

    monkeypatch.setattr(engine.storage, "write_head", interfere)
    assert engine.put(T, "u", "recs", "mine", 2) is True
    assert len(calls) == 2  # lost once, then re-read and re-applied
    fresh = DbEngine(engine.root)
    assert fresh.get(T, "recs") == [0, 1, 2]
    assert [v.user_id for v in fresh.log(T, "recs")] == ["u", "other", "u"]
    assert fresh.history(T, "recs") == chain_from_objects(fresh, "recs")


def test_a_head_that_keeps_moving_gives_a_conflict_error(engine, monkeypatch):
    monkeypatch.setattr("dbengine.heads.CAS_DEADLINE", 0.2)
    monkeypatch.setattr("dbengine.heads.CAS_BASE_DELAY", 0.0)
    monkeypatch.setattr(engine.storage, "write_head", lambda tenant, data, expected=...: False)
    with pytest.raises(errors.ConflictError, match="attempts in 0 s"):
        engine.save(T, "u", "e", 1)


WRITER = r"""
import os, sys, time
from dbengine.dbengine import DbEngine

root, worker, count, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
engine = DbEngine(root)
while not os.path.exists(go):
    time.sleep(0.005)
for i in range(count):
    assert engine.put("tenant_1", f"w{worker}", "shared", f"p{worker}-{i:03d}", {"p": worker, "i": i})
print("done", flush=True)
"""


def test_four_processes_put_into_one_entry_through_s3(engine, tmp_path, stress_factor):
    count = 15 * stress_factor
    go = str(tmp_path / "go")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, engine.root, str(w), str(count), go],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(4)]
    time.sleep(1.0)  # let every process import boto3 and wait at the start line
    open(go, "w").close()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    fresh = DbEngine(engine.root)
    records = fresh.get(T, "shared")
    assert len(records) == 4 * count
    assert sorted((r["p"], r["i"]) for r in records) == [(p, i) for p in range(4) for i in range(count)]
    history = fresh.history(T, "shared", max_items=None)
    assert len(history) == 4 * count  # one version per put: no update lost, none doubled
    assert history == chain_from_objects(fresh, "shared")
    assert [v.digest for v in fresh.log(T, "shared", max_items=None)] == history
    assert fresh.verify().ok


# ---------------------------------------------------------------- the history index on S3
@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(s3index, "SEGMENT_LINES", 8)
    return 8


def segment_keys(s3, engine: DbEngine, entry: str) -> list[str]:
    prefix = f"{prefix_of(engine)}/{T}/index-seg/{hashlib.sha256(entry.encode()).hexdigest()}/"
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listing)


def index_bytes(s3, engine: DbEngine, entry: str) -> bytes:
    return b"".join(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in segment_keys(s3, engine, entry))


def test_the_index_is_segmented_and_log_reads_few_objects(ticking_engine, small_segments, s3):
    engine = ticking_engine
    for i in range(30):
        engine.save(T, "u", "config", {"v": i})
    keys = segment_keys(s3, engine, "config")
    assert [k[-8:] for k in keys] == ["00000000", "00000001", "00000002", "00000003"]
    assert index_bytes(s3, engine, "config").count(b"\n") == 30
    cold = DbEngine(engine.root)
    storage = cold.storage
    storage.requests.clear()
    log = cold.log(T, "config", max_items=None)
    assert [v.digest for v in log] == chain_from_objects(engine, "config")
    # HEAD + GET of the head, HEAD of the head version (get_digest checks it exists), GET
    # of the head version (its index line is checked against it), 1 LIST of the segments,
    # 1 GET per segment: no other version object is read
    assert storage.requests == {"HeadObject": 2, "GetObject": 2 + len(keys), "ListObjectsV2": 1}
    storage.requests.clear()
    assert cold.log(T, "config", max_items=5) == log[:5]
    assert storage.requests == {"HeadObject": 1, "ListObjectsV2": 1}  # warm: head's HEAD, LIST


def test_a_put_costs_a_constant_number_of_requests(ticking_engine, small_segments):
    engine = ticking_engine
    costs = []
    for i in range(40):
        engine.storage.requests.clear()
        engine.put(T, "u", "recs", f"k{i % 7}", i)
        costs.append(sum(engine.storage.requests.values()))
    # warm: GET head, LIST index, GET leaf (when not cached), PUT leaf, PUT version,
    # PUT head, PUT index segment; never more as the history grows
    assert max(costs[10:]) <= 7, costs


@pytest.mark.parametrize("damage", ["garbage_segment", "middle_deleted", "all_deleted", "stale", "foreign_lines"])
def test_a_damaged_index_on_s3_is_repaired(ticking_engine, small_segments, s3, damage):
    engine = ticking_engine
    for i in range(20):
        engine.save(T, f"user{i % 3}", "config", {"v": i})
    expected = (engine.history(T, "config"), engine.log(T, "config"))
    good = index_bytes(s3, engine, "config")
    keys = segment_keys(s3, engine, "config")
    if damage == "garbage_segment":
        s3.put_object(Bucket=BUCKET, Key=keys[1], Body=b"not an index\n")
    elif damage == "middle_deleted":
        s3.delete_object(Bucket=BUCKET, Key=keys[1])
    elif damage == "all_deleted":
        for key in keys:
            s3.delete_object(Bucket=BUCKET, Key=key)
    elif damage == "stale":
        s3.delete_object(Bucket=BUCKET, Key=keys[-1])
    elif damage == "foreign_lines":
        other_line = good.splitlines(keepends=True)[3]
        s3.put_object(Bucket=BUCKET, Key=keys[-1], Body=other_line * 2)
    for eng in (DbEngine(engine.root), engine):
        assert eng.history(T, "config") == expected[0]
        assert eng.log(T, "config") == expected[1]
        assert eng.resolve(T, "config", "HEAD~3") == expected[0][3]
    assert index_bytes(s3, engine, "config") == good  # repaired in the bucket too
    engine.save(T, "u", "config", {"after": "repair"})
    assert DbEngine(engine.root).history(T, "config")[1:] == expected[0]


def test_an_index_ahead_of_a_rolled_back_head_on_s3(ticking_engine, small_segments, s3):
    engine = ticking_engine
    for i in range(10):
        engine.save(T, "u", "config", {"v": i})
    head_key = f"{prefix_of(engine)}/{T}/head"
    old_head = s3.get_object(Bucket=BUCKET, Key=head_key)["Body"].read()
    old = engine.history(T, "config")
    for i in range(3):
        engine.save(T, "u", "config", {"future": i})
    s3.put_object(Bucket=BUCKET, Key=head_key, Body=old_head)  # the rollback
    assert DbEngine(engine.root).history(T, "config") == old
    new = engine.save(T, "u", "config", {"after": "rollback"})
    for eng in (engine, DbEngine(engine.root)):
        assert eng.history(T, "config") == [new] + old
        assert eng.history(T, "config") == chain_from_objects(eng, "config")


# ---------------------------------------------------------------- tenants, verify, sync
def test_tenants_come_from_one_delimited_listing(make_engine):
    engine = make_engine()
    for name in ("zeta", "alpha", "mid"):
        engine.init(name)
    engine.save("alpha", "u", "e", {"blob": b"x"})  # creates refs/
    engine.storage.requests.clear()
    assert engine.tenants() == ["alpha", "mid", "zeta"]
    assert dict(engine.storage.requests) == {"ListObjectsV2": 1}
    assert engine.is_database()
    assert not DbEngine(engine.root + "-nothing").is_database()


def test_verify_finds_a_corrupt_object_on_s3(engine, s3):
    digest = engine.save(T, "u", "e", {"a": 1})
    engine.save(T, "u", "e", {"a": 2})
    assert engine.verify().ok
    key = f"{prefix_of(engine)}/{T}/objects/{digest[:24]}/{digest}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"tampered":true}')
    report = DbEngine(engine.root).verify()
    assert not report.ok
    assert any(p.kind == "hash-mismatch" and digest in p.path for p in report.problems)
    with pytest.raises(errors.CorruptObjectError, match=digest[:12]):
        DbEngine(engine.root).load(T, "e", digest=digest)


def test_a_synced_local_database_works_on_s3_and_back(make_engine, tmp_path, s3):
    """What `aws s3 sync` does, with boto3: local files -> keys -> local files."""
    local = make_engine(str(tmp_path / "local"))
    local.init(T)
    for i in range(12):
        local.save(T, "u", "config", {"v": i, "bytes": bytes([i])})
        local.put(T, "u", "recs", f"k{i % 4}", {"i": i})
    local.restore(T, "u", "config", local.history(T, "config")[4])
    prefix = f"sync-{os.urandom(4).hex()}"
    for folder, _dirs, files in os.walk(local.root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{os.path.relpath(path, local.root)}", Body=handle.read())
    remote = DbEngine(f"s3://{BUCKET}/{prefix}")
    assert remote.verify().ok
    for entry in ("config", "recs"):
        assert remote.log(T, entry) == local.log(T, entry)
    assert remote.load(T, "config") == local.load(T, "config")
    assert remote.get(T, "recs") == local.get(T, "recs")
    remote.put(T, "remote", "recs", "new", 1)  # written on S3, then synced back down
    back = tmp_path / "back"
    for key, body in keys_under(s3, prefix).items():
        path = back / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    down = DbEngine(str(back))
    assert down.verify().ok
    assert down.log(T, "recs") == remote.log(T, "recs")
    assert down.get(T, "recs", key="new") == 1
    down.save(T, "u", "config", {"local": "again"})
    assert down.verify().ok


def test_threads_of_one_engine_race_on_s3(engine):
    """One engine, several threads, no lock on S3: the CAS loop keeps every put."""
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(8):
                engine.put(T, f"t{worker}", "threads", f"t{worker}-{i}", i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert len(engine.get(T, "threads")) == 32
    assert len(engine.history(T, "threads", max_items=None)) == 32
