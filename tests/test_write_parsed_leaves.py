"""A write splices a key leaf's bytes even when this engine holds the leaf parsed.

An engine that has just written many records keeps their key leaves parsed in its cache;
its next adds once re-encoded each such leaf from the parsed pairs (the slow path: 56 ms
per put_many of 100 into 1,000,000 records instead of 16). These tests pin the fast path
and that it writes exactly what a fresh engine writes."""

from __future__ import annotations

import shutil

import pytest
from dbengine import key_tree, packs, records_tree
from dbengine.dbengine import DbEngine
from dbengine.errors import CorruptObjectError

T, U, E = "t", "u", "records"


def _records(first: int, count: int, version: int = 0) -> dict:
    return {f"key-{i:06d}": {"n": i, "v": version} for i in range(first, first + count)}


@pytest.fixture
def bulk(tmp_path, monkeypatch) -> DbEngine:
    """An engine that wrote 3,000 records in one put_many: its key leaves (KEY_LEAF 512) are cached parsed
    (as loose files, to be forged on disk: a damaged pack is tests/test_packs.py's)."""
    monkeypatch.setattr(packs, "PACK_MIN", 10**9)
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    engine.init(T)
    engine.put_many(T, U, E, _records(0, 3000))
    return engine


def _parsed_key_leaves(engine: DbEngine) -> int:
    return sum(1 for value in engine.objects.cache._items.values()
               if isinstance(value[0], dict) and value[0].get("__kind__") == records_tree.KEY_LEAF_KIND)


def test_adds_on_parsed_key_leaves_splice_bytes_and_write_what_a_fresh_engine_writes(bulk, tmp_path, monkeypatch):
    assert _parsed_key_leaves(bulk) >= 4  # the situation under test: leaves held parsed
    shutil.copytree(bulk.root, tmp_path / "copy")
    fresh = DbEngine(str(tmp_path / "copy"), durable=False)
    adds = {f"new-{i:04d}": {"n": i} for i in range(40)}

    def parsed_pairs(*args, **kwargs):
        raise AssertionError("a write parsed a key leaf's pairs instead of splicing its bytes")

    monkeypatch.setattr(key_tree, "_key_pairs", parsed_pairs)
    bulk.put_many(T, U, E, adds)
    fresh.put_many(T, U, E, adds)
    monkeypatch.undo()
    ours, theirs = bulk.get_digest(T, E), fresh.get_digest(T, E)
    assert bulk.objects.version(T, ours)["__keys__"] == fresh.objects.version(T, theirs)["__keys__"]
    cold = DbEngine(bulk.root, durable=False)
    assert cold.get(T, E, "new-0007") == {"n": 7} and len(cold.get(T, E)) == 3040
    assert cold.verify().ok


def test_a_parsed_leaf_forged_on_disk_is_still_refused_by_the_write(bulk):
    """The bytes a write reads for a parsed leaf are checked against the digest like any read."""
    digest = next(key[1] for key, value in bulk.objects.cache._items.items()
                  if isinstance(value[0], dict) and value[0].get("__kind__") == records_tree.KEY_LEAF_KIND)
    path = bulk.storage.object_path(T, digest)
    bulk.objects.node_bytes._items.clear()  # the write must read the file
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data.replace(b'"key-', b'"kez-', 1))
    with pytest.raises(CorruptObjectError, match=digest[:12]):  # 1,000 new keys reach every one of the 64 leaves
        bulk.put_many(T, U, E, {f"new-{i:04d}": {"n": i} for i in range(1000)})
