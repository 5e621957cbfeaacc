"""entry_infos(): every entry's info and head version from the tenant's entries cache."""

from __future__ import annotations

import os
import zlib

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
    assert "head of entry 'missing'" in str(infos["missing"])  # (the error a lone read of it gives)
    assert infos["config"].versions == 4 and infos["users"].kind == "records"
    assert list(infos) == sorted(infos)


def test_a_listing_never_waits_for_a_writer(engine, tenant_lock_held):
    with tenant_lock_held(engine.root, T):
        assert listed(DbEngine(engine.root, lock_timeout=30)) == expected(engine)
        assert not os.path.exists(engine.storage.cache_path(T, CACHE_NAME))  # written only when free


def _cache_bytes(engine: DbEngine) -> bytes:
    DbEngine(engine.root).entry_infos(T)
    with open(engine.storage.cache_path(T, CACHE_NAME), "rb") as handle:
        return handle.read()


def _with_crc(body: bytes) -> bytes:
    import zlib

    return body + b"#crc\t%08x\n" % zlib.crc32(body)


def _forge(engine: DbEngine, column: int, edit) -> bytes:
    """The cache with line `column` (0: header, 1: names, 2: kinds, ...) passed through
    `edit`, the CRC recomputed: a forgery that only the column checks can catch."""
    data = _cache_bytes(engine)
    lines = data[: data.rfind(b"#crc\t")].split(b"\n")
    lines[column] = edit(lines[column])
    return _with_crc(b"\n".join(lines))


def test_the_table_is_the_listing_column_by_column(engine):
    truth = expected(engine)
    for reader in (DbEngine(engine.root), DbEngine(engine.root)):  # built, then from the cache
        table = reader.entry_table(T)
        assert table.errors == {} and table.names == sorted(truth)
        assert table.columns.kinds == [truth[n][0] for n in table.names]
        assert table.columns.digests == [truth[n][1] for n in table.names]
        assert table.columns.counts == [truth[n][2] for n in table.names]
        assert table.versions() == [truth[n][3] for n in table.names]
        assert table.versions([2, 0]) == [truth[table.names[2]][3], truth[table.names[0]][3]]
        assert table.columns.users == [truth[n][3].user_id for n in table.names]


def test_a_cache_of_the_previous_format_is_rebuilt(engine):
    path = engine.storage.cache_path(T, CACHE_NAME)
    DbEngine(engine.root).entry_infos(T)
    with open(path, "wb") as handle:
        handle.write(_with_crc(b"mydb-entries 2\n"))
    assert listed(DbEngine(engine.root)) == expected(engine)
    assert open(path, "rb").read().startswith(b"mydb-entries 3\n")


@pytest.mark.parametrize("column, edit", [
    (2, lambda line: line.replace(b"snapshot", b"snapshoT", 1)),  # an unknown kind
    (3, lambda line: b"0" + line),  # a count with a leading zero
    (3, lambda line: line.replace(b"4", b"-4", 1)),  # a signed count
    (3, lambda line: line.replace(b"1", b"\xd9\xa1", 1)),  # a non-ASCII digit
    (4, lambda line: line[:-1]),  # a digest one hex digit short
    (4, lambda line: line.replace(line[:1], b"G", 1)),  # not hex
    (5, lambda line: b"-" * 32 + line[32:]),  # half a missing parent
    (6, lambda line: line.replace(b"-", b'"nothex"', 1)),  # a restored_from that is no digest
    (7, lambda line: line.replace(b",", b";", 1)),  # a bad summary
    (8, lambda line: line.replace(b"-11-", b"-13-", 1)),  # a bad date
    (8, lambda line: b"-" + line[line.find(b"\t"):]),  # no date, and no damage said
    (8, lambda line: b"2026-11-26T14:03:07" + line[line.find(b"\t"):]),  # a date without offset
    (8, lambda line: b"0001-01-01T00:00:00+05:00" + line[line.find(b"\t"):]),  # before MIN_DATE
    (9, lambda line: line.replace(b'"', b"", 2)),  # a user id that is no JSON string
    (9, lambda line: line + b"\t\"extra\""),  # one field too many
    (10, lambda line: b'["' + b"0" * 64 + b'"]' + line[1:]),  # parents naming another first parent
    (1, lambda line: line.replace(b'"config"', b'"config", "ghost"')),  # a name without fields
])
def test_a_forged_cache_with_a_valid_crc_but_a_bad_field_is_rebuilt(engine, column, edit):
    path = engine.storage.cache_path(T, CACHE_NAME)
    forged = _forge(engine, column, edit)
    assert forged != _cache_bytes(engine)
    with open(path, "wb") as handle:
        handle.write(forged)
    assert listed(DbEngine(engine.root)) == expected(engine)
    assert open(path, "rb").read() != forged  # rewritten from the objects


def test_rows_are_trusted_only_for_the_head_they_name(engine):
    """A cache listing other digests (a stale one, or one made for another head) is read
    again for those entries, whatever else it says."""
    path = engine.storage.cache_path(T, CACHE_NAME)
    config = engine.get_digest(T, "config")
    old = engine.history(T, "config")[1]
    forged = _forge(engine, 4, lambda line: line.replace(config.encode(), old.encode()))
    forged = forged[: forged.rfind(b"#crc\t")].replace(b"\t4\t", b"\t99\t", 1)
    with open(path, "wb") as handle:
        handle.write(_with_crc(forged))
    assert listed(DbEngine(engine.root)) == expected(engine)
    assert DbEngine(engine.root).entry_table(T).columns.counts[0] == 4


def test_an_empty_tenant_lists_nothing(make_engine):
    db = make_engine()
    db.init(T)
    table = DbEngine(db.root).entry_table(T)
    assert table.names == [] and table.versions() == [] and table.infos() == {}
    assert not os.path.exists(db.storage.cache_path(T, CACHE_NAME))  # nothing to keep
    report = DbEngine(db.root).verify()
    assert report.ok and not report.notes
    from dbengine.entries_cache import encode_cache, parse_columns

    empty = parse_columns(encode_cache([]))  # the shape of an empty cache reads back
    assert empty is not None and empty.names == [] and empty.versions() == []


def test_a_forged_head_line_is_not_listed_when_the_cache_is_rebuilt(engine):
    """With no entries cache, each head's Version comes from its index's last line: one forged
    with a valid CRC (another user) is checked against the head's object, never listed."""
    truth = expected(engine)
    path = engine.storage.index_path(T, "config")
    lines = open(path, "rb").read().splitlines(keepends=True)
    assert b'\t"carol"\t' in lines[-1]
    seed = zlib.crc32(lines[-2][-10:], int(lines[-2][-9:-1], 16))
    forged = lines[-1].replace(b'\t"carol"\t', b'\t"mallory"\t')
    forged = forged[:-9] + b"%08x\n" % zlib.crc32(forged[:-10], seed)
    with open(path, "wb") as handle:
        handle.write(b"".join(lines[:-1] + [forged]))
    assert not os.path.exists(engine.storage.cache_path(T, CACHE_NAME))
    assert listed(DbEngine(engine.root)) == truth
    assert listed(DbEngine(engine.root)) == truth  # and the cache written then says so too
