"""Odd dates, forged metadata, indexes and buckets that look right but are not.

Every case is a real database in tmp_path whose objects are written with correct digests
through the storage layer (as a hostile or buggy writer would): reads return the right
answer or one engine error for the bad version or entry, the rest of the entry stays
readable, import refuses before moving a head, and verify reports every case.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest
from dbengine import Version, errors
from dbengine.dbengine import DbEngine
from dbengine.index_format import encode_lines
from dbengine.records import bucket_of, encode_bucket
from dbengine.utils import compute_digest, to_json_bytes

T = "t"
DATE = "20261126 14:03:07 +0100"
UTC = dt.UTC


def write_doc(engine: DbEngine, document: dict, tenant: str = T) -> str:
    data = to_json_bytes(document)
    digest = compute_digest(data)
    engine.storage.write_object(tenant, digest, data)
    return digest


def version_doc(parent: str | None, data, **meta) -> dict:
    document = {"__kind__": "snapshot", "__parent__": [parent], "__user_id__": "u", "__date__": DATE}
    document.update(meta)
    document["__data__"] = data
    return document


def set_head(engine: DbEngine, head: dict, tenant: str = T) -> None:
    with engine.storage.lock(tenant):
        engine.storage.write_head(tenant, to_json_bytes(head))


def problems(engine: DbEngine, kind: str) -> list:
    return [p for p in engine.verify().problems if p.kind == kind]


@pytest.fixture
def engine(tmp_path) -> DbEngine:
    db = DbEngine(str(tmp_path / "db"), durable=False)
    db.init(T)
    return db


# ---------------------------------------------------------------------- dates
@pytest.mark.parametrize("moment", [
    dt.datetime(1, 1, 1, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=30))),
])
def test_a_date_no_timezone_can_show_is_refused_before_anything_is_written(engine, moment):
    engine.clock = lambda: moment
    with pytest.raises(errors.InvalidDateError):
        engine.save(T, "u", "e", {"v": 1})
    with pytest.raises(errors.InvalidDateError):
        engine.put(T, "u", "r", "k", 1)
    assert engine.entries(T) == [] and list(engine.storage.iter_objects(T)) == []


def test_years_below_1000_are_written_with_four_digits_and_read_back(engine):
    engine.clock = lambda: dt.datetime(999, 6, 1, tzinfo=UTC)
    digest = engine.save(T, "u", "e", {"v": 1})
    assert engine.read_snapshot(T, digest)["__date__"] == "09990601 00:00:00 +0000"
    fresh = DbEngine(engine.root)
    assert fresh.log(T, "e")[0].date == dt.datetime(999, 6, 1, tzinfo=UTC)
    assert fresh.log(T, "e")[0].date_text == "09990601 00:00:00 +0000"


def test_an_unpadded_year_written_by_older_versions_reads_as_its_year(engine):
    digest = write_doc(engine, version_doc(None, 1, __date__="9990601 00:00:00 +0000"))
    set_head(engine, {"e": digest})
    (version,) = DbEngine(engine.root).log(T, "e")
    assert version.date == dt.datetime(999, 6, 1, tzinfo=UTC) and version.damage is None


BAD_DATES = ["yesterday", "00010101 00:00:00 +0000", "99991231 23:00:00 -0500", "20261326 14:03:07 +0100",
             "2026-11-26T14:03:07+01:00", "20261126 14:03:07 +2500", ""]


@pytest.mark.parametrize("bad", BAD_DATES)
def test_a_stored_date_that_cannot_be_shown_damages_only_its_version(engine, bad):
    engine.save(T, "u", "e", {"v": 0})
    first = engine.get_digest(T, "e")
    middle = write_doc(engine, version_doc(first, {"v": 1}, __date__=bad))
    set_head(engine, {"e": middle})
    engine.save(T, "u", "e", {"v": 2})  # the entry stays writable
    for reader in (DbEngine(engine.root), engine):
        versions = reader.log(T, "e")
        assert [v.digest for v in versions][1:] == [middle, first]
        assert versions[1].date is None and versions[1].date_text == "invalid date"
        assert "invalid date" in versions[1].damage or "outside the range" in versions[1].damage
        assert versions[0].damage is None and versions[2].damage is None
        assert reader.load(T, "e", digest=middle) == {"v": 1}
        assert reader.version(T, "e", middle).damage == versions[1].damage
    (problem,) = problems(engine, "bad-metadata")
    assert middle in problem.path


def test_resolve_of_a_revision_beyond_the_int_limit_is_a_clear_error(engine):
    engine.save(T, "u", "e", 1)
    with pytest.raises(errors.DigestNotFoundError):
        engine.resolve(T, "e", "HEAD~" + "9" * 5000)


# ---------------------------------------------------------------------- odd metadata
ODD_META = {
    "restored-dict": {"__restored_from__": {"x": 1}},
    "restored-short": {"__restored_from__": "abc"},
    "extra-parent-dict": "extra",
    "empty-user": {"__user_id__": ""},
    "nul-user": {"__user_id__": "a\x00b"},
    "yesterday": {"__date__": "yesterday"},
}


def test_odd_metadata_is_one_damage_per_version_and_never_a_crash(engine):
    engine.save(T, "u", "base", 0)
    base = engine.get_digest(T, "base")
    head = {"base": base}
    for name, meta in ODD_META.items():
        document = version_doc(base, name)
        if meta == "extra":
            document["__parent__"] = [base, {"evil": 1}]
        else:
            document.update(meta)
        head[name] = write_doc(engine, document)
    set_head(engine, head)
    reader = DbEngine(engine.root, trust_pickle=False)
    for name in ODD_META:
        (version,) = reader.log(T, name, max_items=1)
        assert version.damage, name
        assert reader.load(T, name) == name
        assert reader.entry_info(T, name).versions == 2
    found = problems(engine, "bad-metadata")
    assert len(found) == len(ODD_META)
    # the damage survives the index: a third reader reads it from the index lines
    assert {DbEngine(engine.root).log(T, n, max_items=1)[0].damage for n in ODD_META} == \
        {reader.log(T, n, max_items=1)[0].damage for n in ODD_META}


def test_a_parent_list_starting_with_a_dict_is_a_corrupt_object_reported_by_verify(engine):
    digest = write_doc(engine, {**version_doc(None, 1), "__parent__": [{"x": 1}]})
    engine.save(T, "u", "good", 1)
    set_head(engine, {**engine._head(T, fresh=True), "bad": digest})
    with pytest.raises(errors.CorruptObjectError):
        engine.log(T, "bad")
    assert engine.load(T, "good") == 1
    assert any(digest in p.path for p in problems(engine, "corrupt-object"))


BAD_NAMES = ["\ud800lone", "x" * 201, "nul\x00", ""]


def test_head_keys_that_are_not_valid_names_are_listed_refused_and_reported(engine):
    engine.save(T, "u", "good", 1)
    good = engine.get_digest(T, "good")
    set_head(engine, {"good": good, **{name: good for name in BAD_NAMES}})
    reader = DbEngine(engine.root)
    assert set(reader.entries(T)) == {"good", *BAD_NAMES}
    for name in BAD_NAMES:
        with pytest.raises(errors.InvalidNameError):
            reader.log(T, name)
    assert reader.log(T, "good")[0].digest == good
    report = engine.verify()
    assert len([p for p in report.problems if p.kind == "bad-entry-name"]) == len(BAD_NAMES)


def test_objects_that_are_not_utf8_are_damage_everywhere(engine):
    data = json.dumps(version_doc(None, "x")).encode("utf-16")
    digest = compute_digest(data)
    engine.storage.write_object(T, digest, data)
    set_head(engine, {"e": digest})
    reader = DbEngine(engine.root)
    with pytest.raises(errors.CorruptObjectError):
        reader.load(T, "e")
    with pytest.raises(errors.CorruptObjectError):
        list(reader.export_jsonl(T))
    assert any(digest in p.path for p in problems(engine, "corrupt-object"))


# ---------------------------------------------------------------------- forged indexes
def _three_versions(engine: DbEngine) -> list[str]:
    for user, value in (("alice", 0), ("bob", 1), ("alice", 2)):
        engine.save(T, user, "e", {"v": value})
    return engine.history(T, "e")[::-1]


def _forge_index(engine: DbEngine, versions: list[Version]) -> None:
    engine.storage.write_index(T, "e", encode_lines(versions, 0)[0])


def test_an_index_that_skips_a_version_and_renames_a_user_is_not_trusted(engine):
    v1, v2, v3 = _three_versions(engine)
    real = {v.digest: v for v in engine.log(T, "e")}
    mallory = Version(v1, [None], "mallory", real[v1].date, None, real[v1].summary)
    skipped = Version(v3, [v1], "alice", real[v3].date, None, real[v3].summary)
    _forge_index(engine, [mallory, skipped])
    found = problems(DbEngine(engine.root), "index-mismatch")
    assert len(found) == 1 and found[0].path == engine.storage.index_path(T, "e")
    for reader in (DbEngine(engine.root), DbEngine(engine.root)):
        assert [(v.digest, v.user_id) for v in reader.log(T, "e", max_items=2)] == [(v3, "alice"), (v2, "bob")]
        assert [(v.digest, v.user_id) for v in reader.log(T, "e")] == [(v3, "alice"), (v2, "bob"), (v1, "alice")]
    _forge_index(engine, [mallory, skipped])
    assert DbEngine(engine.root).resolve(T, "e", v2[:10]) == v2
    _forge_index(engine, [mallory, skipped])
    assert DbEngine(engine.root).version(T, "e", v2).user_id == "bob"
    _forge_index(engine, [mallory, skipped])
    restored = DbEngine(engine.root).restore(T, "carol", "e", v2)
    assert DbEngine(engine.root).load(T, "e") == {"v": 1}
    assert DbEngine(engine.root).log(T, "e")[0].restored_from == v2 and restored
    assert DbEngine(engine.root).verify().ok


def test_an_index_that_renames_a_user_deep_in_the_history(engine):
    digests = [engine.save(T, f"user{i}", "e", {"v": i}) for i in range(6)]
    real = engine.log(T, "e", max_items=None)[::-1]
    forged = list(real)
    old = forged[2]
    forged[2] = Version(old.digest, old.parents, "mallory", old.date, old.restored_from, old.summary)
    _forge_index(engine, forged)
    (problem,) = problems(DbEngine(engine.root), "index-mismatch")
    assert "disagrees with version " + digests[2][:12] in problem.message
    # a version asked for by digest is checked against its object
    assert DbEngine(engine.root).version(T, "e", digests[2]).user_id == "user2"


def test_a_forged_summary_is_reported(engine):
    for i in range(3):
        engine.save(T, "u", "e", {"v": i, f"k{i}": i})
    real = engine.log(T, "e", max_items=None)[::-1]
    from dbengine import ChangeSummary
    old = real[1]
    real[1] = Version(old.digest, old.parents, old.user_id, old.date, None, ChangeSummary(9, 9, 9))
    _forge_index(engine, real)
    assert problems(DbEngine(engine.root), "index-mismatch")


# ---------------------------------------------------------------------- buckets
def _records_version(engine: DbEngine, buckets: dict[str, dict], count: int, next_seq: int) -> str:
    ids = {}
    for bucket_id, records in buckets.items():
        data = encode_bucket(records)
        ids[bucket_id] = compute_digest(data)
        engine.storage.write_object(T, ids[bucket_id], data)
    return write_doc(engine, {"__kind__": "records", "__parent__": [None], "__user_id__": "u", "__date__": DATE,
                              "__count__": count, "__next_seq__": next_seq, "__buckets__": dict(sorted(ids.items()))})


def _other_bucket(key: str) -> str:
    return "00" if bucket_of(key) != "00" else "01"


INCONSISTENT_BUCKETS = {
    "key-in-two-buckets": lambda: ({bucket_of("a"): {"a": [0, 1]}, _other_bucket("a"): {"a": [1, 2]}}, 2, 2),
    "key-in-wrong-bucket": lambda: ({_other_bucket("a"): {"a": [0, 1]}}, 1, 1),
    "count-mismatch": lambda: ({bucket_of("a"): {"a": [0, 1]}}, 5, 1),
    "seq-past-next": lambda: ({bucket_of("a"): {"a": [7, 1]}}, 1, 1),
}


@pytest.mark.parametrize("case", INCONSISTENT_BUCKETS)
def test_inconsistent_buckets_are_reported_by_verify_and_refused_by_import(engine, tmp_path, case):
    buckets, count, next_seq = INCONSISTENT_BUCKETS[case]()
    digest = _records_version(engine, buckets, count, next_seq)
    set_head(engine, {"r": digest})
    assert problems(engine, "bucket-mismatch"), case
    export = list(engine.export_jsonl(T))
    target = DbEngine(str(tmp_path / "other"), durable=False)
    with pytest.raises(errors.DbEngineError, match="record version"):
        target.import_jsonl(export)
    assert not target.is_initialized(T) or target.entries(T) == []


# ---------------------------------------------------------------------- kinds
def test_an_entry_whose_history_changes_kind(engine, tmp_path):
    engine.save(T, "u", "e", {"v": 0})
    snapshot = engine.get_digest(T, "e")
    bucket = encode_bucket({"a": [0, 1]})
    engine.storage.write_object(T, compute_digest(bucket), bucket)
    records = write_doc(engine, {"__kind__": "records", "__parent__": [snapshot], "__user_id__": "u", "__date__": DATE,
                                 "__count__": 1, "__next_seq__": 1, "__buckets__": {bucket_of("a"): compute_digest(bucket)}})
    set_head(engine, {"e": records})
    assert problems(engine, "kind-change")
    with pytest.raises(errors.PatternMismatchError):
        engine.restore(T, "u", "e", snapshot)
    assert engine.get_digest(T, "e") == records
    target = DbEngine(str(tmp_path / "other"), durable=False)
    with pytest.raises(errors.DbEngineError, match="never changes kind"):
        target.import_jsonl(engine.export_jsonl(T))
    assert target.entries(T) == []


def test_import_of_a_bad_date_moves_no_head(engine, tmp_path):
    engine.save(T, "u", "e", {"v": 0})
    bad = write_doc(engine, version_doc(engine.get_digest(T, "e"), 1, __date__="00010101 00:00:00 +0000"))
    set_head(engine, {"e": bad})
    target = DbEngine(str(tmp_path / "other"), durable=False)
    with pytest.raises(errors.DbEngineError, match="bad metadata"):
        target.import_jsonl(engine.export_jsonl(T))
    assert target.entries(T) == []


# ---------------------------------------------------------------------- readers never wait
def test_a_reader_repairs_in_memory_while_a_writer_holds_the_lock(engine, tenant_lock_held):
    for i in range(20):
        engine.save(T, "u", "e", {"v": i})
    index = engine.storage.index_path(T, "e")
    os.unlink(index)
    with tenant_lock_held(engine.root, T):
        reader = DbEngine(engine.root, lock_timeout=30)
        started = time.monotonic()
        assert len(reader.log(T, "e", max_items=None)) == 20
        assert [e for e in reader.entries(T)] == ["e"]
        waited = time.monotonic() - started
        assert waited < 15, f"the reader waited {waited:.1f} s on the writer's lock"  # 30 s if it waited
        assert not os.path.exists(index)  # nothing written without the lock
    assert len(DbEngine(engine.root).log(T, "e", max_items=None)) == 20
    assert os.path.exists(index)  # written back once the lock was free


def test_a_writer_does_not_walk_a_missing_index_under_the_lock(engine):
    for i in range(5):
        engine.save(T, "u", "e", {"v": i})
    os.unlink(engine.storage.index_path(T, "e"))
    writer = DbEngine(engine.root, durable=False)
    writer.save(T, "u", "e", {"v": 5})
    assert not os.path.exists(engine.storage.index_path(T, "e"))  # left to a reader
    assert [v.digest for v in DbEngine(engine.root).log(T, "e")] == engine.history(T, "e")
    assert len(engine.history(T, "e")) == 6


def test_an_index_that_is_not_a_regular_file_is_rebuilt_and_replaced(engine):
    for i in range(3):
        engine.save(T, "u", "e", {"v": i})
    expected = engine.log(T, "e")
    index = engine.storage.index_path(T, "e")
    os.unlink(index)
    os.mkfifo(index)
    assert DbEngine(engine.root).log(T, "e") == expected  # no hang, no error: the index is a cache
    assert os.path.isfile(index) and not os.path.islink(index)  # replaced by the repaired file
    assert DbEngine(engine.root).log(T, "e") == expected


@pytest.mark.parametrize("number", [b"NaN", b"-Infinity", b"1e999", b"-2E+400"])
def test_bare_non_json_numbers_in_a_stored_object_are_damage(engine, tmp_path, number):
    data = b'{"__kind__":"snapshot","__parent__":[null],"__user_id__":"u","__date__":"' + DATE.encode() + \
        b'","__data__":{"x":' + number + b',"y":"1e999 in a string is fine"}}'
    digest = compute_digest(data)
    engine.storage.write_object(T, digest, data)
    set_head(engine, {"e": digest})
    if b"NaN" in number or b"Inf" in number:
        with pytest.raises(errors.CorruptObjectError, match="not valid JSON"):
            DbEngine(engine.root).load(T, "e")
    else:  # reads skip the overflow scan (it costs as much as the parse): the infinity it parses to
        assert DbEngine(engine.root).load(T, "e")["x"] in (float("inf"), float("-inf"))
    assert any(digest in p.path for p in problems(engine, "corrupt-object"))
    export = [json.dumps({"type": "mydb-export", "version": 1, "tenant": T, "entry": None}),
              json.dumps({"type": "object", "digest": digest, "text": data.decode()})]
    with pytest.raises(errors.DbEngineError, match="not valid JSON"):
        DbEngine(str(tmp_path / "other")).import_jsonl(export)


def test_big_but_finite_exponents_still_read(engine):
    engine.save(T, "u", "e", {"x": 1e300, "y": "e999"})
    assert DbEngine(engine.root).load(T, "e") == {"x": 1e300, "y": "e999"}
