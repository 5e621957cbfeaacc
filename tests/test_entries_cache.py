"""entry_infos(): every entry's info and head version from the tenant's entries cache."""

from __future__ import annotations

import os

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine
from dbengine.entries_cache import CACHE_NAME
from dbengine.utils import to_json_bytes

T = "t"


def expected(engine: DbEngine) -> dict:
    """What entry_info() and version() say, one entry at a time."""
    answer = {}
    for name in engine.entries(T):
        info = engine.entry_info(T, name)
        answer[name] = (info.kind, info.head, info.versions, engine.version(T, name, info.head))
    return answer


def listed(engine: DbEngine) -> dict:
    return {name: (i.kind, i.head, i.versions, i.version) for name, i in engine.entry_infos(T).items()}


@pytest.fixture
def engine(make_engine) -> DbEngine:
    db = make_engine()
    db.init(T)
    for i in range(3):
        db.save(T, "alice", "config", {"v": i, "x": 1})
    db.put_many(T, "bob", "users", {"a": 1, "b": 2})
    db.delete(T, "bob", "users", "a")
    db.restore(T, "carol", "config", db.history(T, "config")[-1])
    db.save(T, "u", "tab\tand \"quotes\" ☃", 1)
    return db


def test_the_listing_says_what_each_entry_says_cold_and_warm(engine):
    truth = expected(engine)
    assert listed(DbEngine(engine.root)) == truth  # builds the cache
    assert os.path.exists(engine.storage.cache_path(T, CACHE_NAME))
    assert listed(DbEngine(engine.root)) == truth  # from the cache
    assert DbEngine(engine.root).verify().ok


def test_a_moved_head_is_read_again_and_the_rest_comes_from_the_cache(engine, monkeypatch):
    DbEngine(engine.root).entry_infos(T)
    engine.save(T, "dave", "config", {"v": 99})
    reader = DbEngine(engine.root)
    reads = []
    real = reader.storage.read_object
    monkeypatch.setattr(reader.storage, "read_object", lambda t, d: reads.append(d) or real(t, d))
    assert listed(reader) == expected(engine)
    assert set(reads) <= set(engine.history(T, "config", max_items=2))  # only the moved entry's objects


def test_a_damaged_or_forged_cache_is_never_believed(engine):
    DbEngine(engine.root).entry_infos(T)
    path = engine.storage.cache_path(T, CACHE_NAME)
    data = open(path, "rb").read()
    with open(path, "wb") as handle:  # a flipped byte: the CRC fails, the cache is rebuilt
        handle.write(data.replace(b"carol", b"carom", 1))
    assert listed(DbEngine(engine.root)) == expected(engine)
    assert b"carol" in open(path, "rb").read() and b"carom" not in open(path, "rb").read()
    # a forged cache with a valid CRC (another program's bug or an attacker): verify names it
    from dbengine.entries_cache import encode_cache

    infos = DbEngine(engine.root).entry_infos(T)
    rows = [(n, "records" if n == "config" else i.kind, i.versions + 5, i.version) for n, i in infos.items()]
    with open(path, "wb") as handle:
        handle.write(encode_cache(rows))
    problems = [p for p in DbEngine(engine.root).verify().problems if p.kind == "cache-mismatch"]
    assert len(problems) == len(infos)


def test_bad_entries_are_errors_of_their_own(engine):
    head = dict(engine._head(T, fresh=True))
    head["bad\x00name"] = head["config"]
    head["missing"] = "0" * 64
    with engine.storage.lock(T):
        engine.storage.write_head(T, to_json_bytes(head))
    infos = DbEngine(engine.root).entry_infos(T)
    assert isinstance(infos["bad\x00name"], errors.InvalidNameError)
    assert isinstance(infos["missing"], errors.DigestNotFoundError)
    assert infos["config"].versions == 4 and infos["users"].kind == "records"
    assert list(infos) == sorted(infos)


def test_a_listing_never_waits_for_a_writer(engine, tenant_lock_held):
    with tenant_lock_held(engine.root, T):
        assert listed(DbEngine(engine.root, lock_timeout=30)) == expected(engine)
        assert not os.path.exists(engine.storage.cache_path(T, CACHE_NAME))  # written only when free
