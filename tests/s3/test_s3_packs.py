"""A local database with packs (docs/FORMAT.md §6c), copied up like `aws s3 sync`, is a valid
S3 database: the S3 backend reads its packs (ranged GETs, each object checked), verify checks
them, damage is named, and S3 writes (loose objects) sync back down to a valid local one."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import BUCKET
from dbengine.dbengine import DbEngine
from dbengine.errors import CorruptObjectError, DigestNotFoundError
from dbengine.pack_file import parse_pack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "cli"))
from cli_helpers import assert_error, mydb  # noqa: E402

T = "t"
N = 64 * 17  # records: real-size leaves of 64 make at least PACK_MIN (16) nodes, so a pack
RECORDS = {f"k{i:04d}": {"i": i, "name": f"record {i}"} for i in range(N)}


def sync_up(s3, local_root: str, prefix: str) -> list[str]:
    """What `aws s3 sync LOCAL s3://bucket/prefix` does: one PUT per file; the keys."""
    files = [os.path.join(folder, name) for folder, _dirs, names in os.walk(local_root) for name in names]

    def upload(path: str) -> str:
        key = f"{prefix}/{os.path.relpath(path, local_root)}"
        with open(path, "rb") as handle:
            s3.put_object(Bucket=BUCKET, Key=key, Body=handle.read())
        return key

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(upload, files))


def sync_down(s3, prefix: str, local_root: str) -> None:
    """What `aws s3 sync s3://bucket/prefix LOCAL` does: one GET per key."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            path = os.path.join(local_root, item["Key"][len(prefix) + 1:])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())


def packed_local(tmp_path, make_engine, versions: int = 2) -> DbEngine:
    """A local database whose record entry `r` has its nodes in packs (a put_many of N records)."""
    local = make_engine(str(tmp_path / "local"))
    local.init(T)
    local.put_many(T, "u", "r", RECORDS)
    for n in range(1, versions):
        local.put_many(T, "u", "r", {f"k{i:04d}": {"i": -i, "v": n} for i in range(0, N, 7)})
    local.save(T, "u", "config", {"a": 1})
    assert os.listdir(local.storage.packs.folder(T)), "the local commit wrote no pack"
    return local


def pack_keys(s3, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/{T}/packs/").get("Contents", [])
    return sorted(item["Key"] for item in listed)


def test_a_synced_database_with_packs_reads_and_verifies_on_s3(tmp_path, make_engine, s3):
    local = packed_local(tmp_path, make_engine)
    prefix = f"packs-{os.urandom(4).hex()}"
    sync_up(s3, local.root, prefix)
    assert pack_keys(s3, prefix)
    remote = DbEngine(f"s3://{BUCKET}/{prefix}")
    assert remote.get(T, "r") == local.get(T, "r")
    assert remote.get(T, "r", key="k0007") == {"i": -7, "v": 1}
    assert remote.log(T, "r") == local.log(T, "r")
    old, new = (version.digest for version in reversed(local.log(T, "r")))
    assert remote.changed_records(T, old, new) == local.changed_records(T, old, new)
    # a cold read of one record: the packs listed once, and no index loaded twice
    cold = DbEngine(remote.root)
    assert cold.get(T, "r", key="k0100") == {"i": 100, "name": "record 100"}
    assert cold.storage.requests["ListObjectsV2"] <= 3, cold.storage.requests  # index segments, packs
    report = remote.verify(T)
    assert report.ok, report.problems
    assert report.objects_checked == len(set(local.storage.iter_objects(T)))
    assert set(remote.storage.iter_objects(T)) == set(local.storage.iter_objects(T))


def test_the_cli_reads_and_verifies_a_synced_database_with_packs(tmp_path, make_engine, s3):
    local = packed_local(tmp_path, make_engine, versions=1)
    prefix = f"packs-{os.urandom(4).hex()}"
    sync_up(s3, local.root, prefix)
    root = f"s3://{BUCKET}/{prefix}"
    got = mydb("get", T, "r", "k0042", "--json", root=root)
    assert got.rc == 0, got.err
    assert '"record 42"' in got.out
    checked = mydb("verify", root=root)
    assert checked.rc == 0, (checked.out, checked.err)


def test_a_flipped_byte_in_a_packed_object_is_named(tmp_path, make_engine, s3):
    local = packed_local(tmp_path, make_engine, versions=1)
    prefix = f"packs-{os.urandom(4).hex()}"
    sync_up(s3, local.root, prefix)
    [key] = pack_keys(s3, prefix)
    data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    index, digests = parse_pack(bytes(data))
    offsets = index.offsets
    leaf = next(at for at in range(index.count) if data[offsets[at]:offsets[at + 1]].startswith(b'{"__kind__":"rec-leaf"'))
    data[(offsets[leaf] + offsets[leaf + 1]) // 2] ^= 0x01  # inside an order leaf (read by every `get`)
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    remote = DbEngine(f"s3://{BUCKET}/{prefix}")
    with pytest.raises(CorruptObjectError) as caught:
        remote.get(T, "r")
    message = str(caught.value)
    assert key in message and "do not match its digest" in message, (key, message)
    problems = remote.verify(T).problems
    named = sorted((problem.path, problem.kind) for problem in problems if key in problem.path)
    # the pack's sha256 is not its name, the object at its offset is not its digest, and the
    # node the tree links is missing there (named where its damaged copy lies)
    assert named == [(remote.storage.url(key), "hash-mismatch"),
                     (f"{remote.storage.url(key)} at offset {offsets[leaf]}", "hash-mismatch"),
                     (f"{remote.storage.url(key)} at offset {offsets[leaf]}", "missing-node")], problems
    assert_error(mydb("show", T, "r", root=remote.root), key, "do not match its digest")


def test_a_pack_with_a_damaged_index_is_skipped_and_named(tmp_path, make_engine, s3):
    local = packed_local(tmp_path, make_engine, versions=1)
    prefix = f"packs-{os.urandom(4).hex()}"
    sync_up(s3, local.root, prefix)
    [key] = pack_keys(s3, prefix)
    data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"mydb-pack 1 99999" + data[17:])
    remote = DbEngine(f"s3://{BUCKET}/{prefix}")
    with pytest.raises(CorruptObjectError) as caught:
        remote.get(T, "r")
    assert "damaged packs may have held it" in str(caught.value) and key in str(caught.value)
    assert any(problem.kind == "pack-damaged" and key in problem.path for problem in remote.verify(T).problems)


def test_s3_writes_to_a_packed_entry_sync_back_to_a_valid_local_database(tmp_path, make_engine, s3):
    local = packed_local(tmp_path, make_engine, versions=1)
    prefix = f"packs-{os.urandom(4).hex()}"
    sync_up(s3, local.root, prefix)
    remote = DbEngine(f"s3://{BUCKET}/{prefix}")
    for engine in (remote, local):  # the same changes on S3 (loose objects) and on the local copy
        engine.put_many(T, "remote", "r", {"k0001": {"i": "remote"}, "new": 1})
        engine.delete(T, "remote", "r", "k0002")
    expected = local.get(T, "r")
    assert DbEngine(remote.root).get(T, "r") == expected and len(expected) == N
    assert DbEngine(remote.root).get(T, "r", key="k0001") == {"i": "remote"}
    assert len(pack_keys(s3, prefix)) == 1  # the S3 engine wrote loose objects, no pack
    down = str(tmp_path / "down")
    sync_down(s3, prefix, down)
    back = DbEngine(down, durable=False)
    assert back.get(T, "r") == expected and back.get(T, "r", key="new") == 1
    assert [v.digest for v in back.log(T, "r")] == [v.digest for v in remote.log(T, "r")]
    assert back.verify(T).ok, back.verify(T).problems


def test_a_database_without_packs_pays_one_list_on_a_miss_and_nothing_on_a_hit(make_engine):
    engine = make_engine()
    engine.init(T)
    engine.save(T, "u", "config", {"a": 1})
    cold = DbEngine(engine.root)
    digest = cold.get_digest(T, "config")
    cold.storage.requests.clear()
    cold.storage.read_object(T, digest)
    assert cold.storage.requests == {"GetObject": 1}
    cold.storage.requests.clear()
    missing = "0" * 64
    with pytest.raises(DigestNotFoundError):
        cold.storage.read_object(T, missing)
    assert cold.storage.requests == {"GetObject": 1, "ListObjectsV2": 1}
    cold.storage.requests.clear()
    with pytest.raises(DigestNotFoundError):
        cold.storage.read_object(T, missing)
    assert not cold.storage.has_object(T, missing)
    assert cold.storage.requests == {"GetObject": 1, "HeadObject": 1}  # listed just before: not again


def test_a_pack_synced_after_another_writers_commit_is_read_at_once(tmp_path, make_engine, s3):
    """An engine that listed packs/ lists it again on a miss after the head moved (not only
    after RELIST_SECONDS): a later sync's new pack is read by the same engine."""
    local = packed_local(tmp_path, make_engine, versions=1)
    prefix = f"packs-{os.urandom(4).hex()}"
    sync_up(s3, local.root, prefix)
    remote = DbEngine(f"s3://{BUCKET}/{prefix}")
    assert remote.get(T, "r") == local.get(T, "r")
    local.put_many(T, "u", "r", {f"k{i:04d}": {"again": i} for i in range(0, N, 5)})
    sync_up(s3, local.root, prefix)
    assert len(pack_keys(s3, prefix)) == 2
    assert remote.get(T, "r") == local.get(T, "r")
    assert remote.storage.requests["ListObjectsV2"] <= 6, remote.storage.requests
