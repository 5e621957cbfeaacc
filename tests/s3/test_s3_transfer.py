"""Moving data into an S3 database: `import` racing other writers (compare-and-swap of the
head, nothing lost), and a local database copied up with `aws s3 sync`, whose local history
indexes are reused so the first `log` does not GET every version.

Every test runs against a real S3 API (moto in server mode, on loopback; see conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from dbengine import errors, s3index
from dbengine.dbengine import DbEngine

TESTS = os.path.dirname(os.path.dirname(__file__))
sys.path[:0] = [TESTS, os.path.join(TESTS, "cli")]
from cli_helpers import StepClock as TickingClock  # noqa: E402
from cli_helpers import mydb  # noqa: E402
from test_concurrency import chain_from_objects  # noqa: E402

BUCKET = "mydb-tests"  # created by the s3_endpoint fixture (conftest.py)
T = "tenant_1"


def export_of(tmp_path, entries: int, versions: int = 2) -> list[str]:
    """The export of a local tenant `src` with `entries` snapshot entries."""
    source = DbEngine(str(tmp_path / "source"), clock=TickingClock(), durable=False)
    source.init("src")
    for v in range(versions):
        for e in range(entries):
            source.save("src", "importer", f"imported{e:02d}", {"e": e, "v": v})
    return list(source.export_jsonl("src"))


def expected_heads(lines: list[str]) -> dict[str, str]:
    import json

    return {r["entry"]: r["digest"] for r in map(json.loads, lines) if r["type"] == "head"}


# ---------------------------------------------------------------- import: compare-and-swap
def test_an_import_that_loses_the_race_keeps_the_other_writers_update(engine, tmp_path, monkeypatch):
    """A writer commits (to another entry) between the import's read of the head and its
    swap: the import re-reads the head and moves the entry again; the put is kept."""
    lines = export_of(tmp_path, entries=3)
    engine.put(T, "u", "live", "first", 0)
    other = DbEngine(engine.root)
    real = engine.storage.write_head
    calls = []

    def interfere(tenant, data, expected=...):
        calls.append(expected)
        if len(calls) == 1:
            other.put(T, "other", "live", "theirs", 1)  # wins the race
        return real(tenant, data, expected=expected)

    monkeypatch.setattr(engine.storage, "write_head", interfere)
    result = engine.import_jsonl(lines, T)
    assert result.heads_updated == 3
    assert len(calls) == 4 and all(token is not ... for token in calls)  # lost once, retried
    fresh = DbEngine(engine.root)
    assert fresh.get(T, "live") == [0, 1]
    assert [v.user_id for v in fresh.log(T, "live")] == ["other", "u"]
    assert {e: fresh.get_digest(T, e) for e in expected_heads(lines)} == expected_heads(lines)
    assert fresh.verify().ok


def test_an_import_whose_head_keeps_moving_gives_a_conflict_error(engine, tmp_path, monkeypatch):
    lines = export_of(tmp_path, entries=1)
    monkeypatch.setattr("dbengine.heads.CAS_DEADLINE", 0.2)
    monkeypatch.setattr("dbengine.heads.CAS_BASE_DELAY", 0.0)
    monkeypatch.setattr(engine.storage, "write_head", lambda tenant, data, expected=...: False)
    with pytest.raises(errors.ConflictError, match="attempts in 0 s"):
        engine.import_jsonl(lines, T)
    monkeypatch.undo()
    assert DbEngine(engine.root).entries(T) == []  # nothing moved; the objects are harmless
    assert engine.import_jsonl(lines, T).heads_updated == 1  # and a second run completes it


WRITER = r"""
import os, sys, time
from dbengine.dbengine import DbEngine

root, worker, count, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
engine = DbEngine(root)
engine.tenants()  # connected before the start
while not os.path.exists(go):
    time.sleep(0.005)
for i in range(count):
    assert engine.put("tenant_1", f"w{worker}", "live", f"w{worker}-{i:03d}", i)
    time.sleep(0.01)
print("done", flush=True)
"""


def test_mydb_import_racing_writers_on_s3_loses_nothing(engine, tmp_path, stress_factor):
    """`mydb import` (20 head moves) while two processes put into another entry of the tenant."""
    lines = export_of(tmp_path, entries=20 * stress_factor, versions=1)
    export = tmp_path / "export.jsonl"
    export.write_text("".join(lines), encoding="utf-8")
    count = 12 * stress_factor
    go = str(tmp_path / "go")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, engine.root, str(w), str(count), go],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for w in range(2)]
    time.sleep(0.8)  # every writer imported boto3 and waits at the start line
    open(go, "w").close()
    imported = mydb("import", str(export), "--tenant", T, "--json", root=engine.root)
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    assert imported.rc == 0, imported.err
    assert imported.json()["heads_updated"] == 20 * stress_factor
    fresh = DbEngine(engine.root)
    assert sorted(fresh.get(T, "live")) == sorted(list(range(count)) * 2)  # no put lost
    history = fresh.history(T, "live", max_items=None)
    assert len(history) == 2 * count and history == chain_from_objects(fresh, "live")
    assert {e: fresh.get_digest(T, e) for e in expected_heads(lines)} == expected_heads(lines)
    assert fresh.verify().ok


# ---------------------------------------------------------------- aws s3 sync of a local database
def sync_up(s3, local_root: str, prefix: str) -> int:
    """What `aws s3 sync LOCAL s3://bucket/prefix` does: one PUT per file (in parallel)."""
    files = [os.path.join(folder, name) for folder, _dirs, names in os.walk(local_root) for name in names]

    def upload(path: str) -> None:
        with open(path, "rb") as handle:
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{os.path.relpath(path, local_root)}", Body=handle.read())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, files))
    return len(files)


def segment_keys(s3, prefix: str, entry: str) -> list[str]:
    folder = f"{prefix}/{T}/index-seg/{hashlib.sha256(entry.encode()).hexdigest()}/"
    return sorted(i["Key"] for i in s3.list_objects_v2(Bucket=BUCKET, Prefix=folder).get("Contents", []))


def local_index(local: DbEngine, entry: str) -> str:
    return local.storage.index_path(T, entry)


def test_a_synced_database_reuses_its_local_index(make_engine, tmp_path, s3):
    """After the sync, the first `log` of a 1,000-version entry reads the local index (one
    GET) and uploads it as 4 segments, instead of one GET per version."""
    local = make_engine(str(tmp_path / "local"), clock=TickingClock())
    local.init(T)
    for i in range(1000):
        local.save(T, f"user{i % 3}", "config", {"v": i})
    local.put_many(T, "u", "recs", {"a": 1, "b": 2})
    prefix = f"sync-{os.urandom(4).hex()}"
    sync_up(s3, local.root, prefix)
    remote = DbEngine(f"s3://{BUCKET}/{prefix}")
    remote.storage.requests.clear()
    log = remote.log(T, "config")
    assert log == local.log(T, "config")  # the 1,000 newest: all of them
    requests = remote.storage.requests
    # HEAD + GET head, HEAD + GET of the head version (its index line is checked against
    # it), LIST segments (none), GET local index, PUT 4 segments; without the local
    # index: 1,000+ GETs of versions
    assert sum(requests.values()) <= 13, requests
    assert requests["PutObject"] == 4 and requests["GetObject"] == 3
    assert len(segment_keys(s3, prefix, "config")) == 4
    # the next engines read the segments (the local index is not read again)
    cold = DbEngine(remote.root)
    assert cold.log(T, "config", max_items=None) == log
    assert cold.storage.requests == {"HeadObject": 2, "GetObject": 2 + 4, "ListObjectsV2": 1}
    assert cold.log(T, "recs") == local.log(T, "recs")
    # writes on S3 extend the adopted index (verify of synced databases: test_s3_engine.py)
    new = cold.save(T, "remote", "config", {"v": "remote"})
    assert DbEngine(remote.root).history(T, "config", max_items=None) == [new] + [v.digest for v in log]


@pytest.mark.parametrize("damage", ["bad_crc", "broken_chain", "garbage"])
def test_a_damaged_synced_index_is_only_a_cache(make_engine, tmp_path, s3, monkeypatch, damage):
    monkeypatch.setattr(s3index, "SEGMENT_LINES", 8)
    local = make_engine(str(tmp_path / "local"), clock=TickingClock())
    local.init(T)
    for i in range(20):
        local.save(T, "u", "config", {"v": i})
    expected = local.log(T, "config")
    path = local_index(local, "config")
    lines = open(path, "rb").read().splitlines(keepends=True)
    if damage == "bad_crc":
        lines[10] = lines[10].replace(b'"u"', b'"x"')  # the CRC no longer matches
    elif damage == "broken_chain":
        del lines[10]
    else:
        lines = [b"garbage\n"] + lines
    with open(path, "wb") as handle:
        handle.write(b"".join(lines))
    prefix = f"sync-{os.urandom(4).hex()}"
    sync_up(s3, local.root, prefix)
    remote = DbEngine(f"s3://{BUCKET}/{prefix}")
    assert remote.log(T, "config", max_items=None) == expected
    object_reads = remote.storage.requests["GetObject"] - 2  # minus the head and the local index
    if damage == "garbage":
        assert object_reads >= 20  # nothing kept: every version read
    else:
        # lines 0-8 kept (the line before a bad one is dropped too): versions 9-19 and 8, a parent, read
        assert object_reads == 12
    assert remote.history(T, "config", max_items=None) == chain_from_objects(remote, "config")
    cold = DbEngine(remote.root)  # the segments now hold the whole, good index
    assert cold.log(T, "config", max_items=None) == expected
    # the head, the head version (checked against its line) and 3 segments: no other version read
    assert cold.storage.requests["GetObject"] == 2 + 3
    assert cold.verify().ok
