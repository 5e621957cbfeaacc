"""DbEngine: the API of the spec, its storage layout, history and record entries."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess

import pytest
from dbengine import ChangeSummary, Version, errors
from dbengine.dbengine import DbEngine, EntryInfo

T = "tenant_1"
U = "user_1"


def object_file(root: str, tenant: str, digest: str) -> str:
    return os.path.join(root, tenant, "objects", digest[:24], digest)


def ref_file(root: str, digest: str) -> str:
    return os.path.join(root, "refs", digest[:24], digest)


# ---------------------------------------------------------------- init and quick start
def test_i_can_init_a_tenant(make_engine, db_root):
    engine = make_engine()
    assert not engine.is_initialized(T)
    assert not engine.is_database()
    engine.init(T)
    assert engine.is_initialized(T)
    assert engine.is_database()
    engine.init(T)  # idempotent
    assert engine.tenants() == [T]
    assert engine.entries(T) == []
    with open(os.path.join(db_root, T, "head"), "rb") as handle:
        assert json.loads(handle.read()) == {}


def test_i_can_save_and_load(engine):
    engine.save(T, U, "config", {"theme": "dark", "lang": "en"})
    data = engine.load(T, "config")
    assert data == {"theme": "dark", "lang": "en"}
    assert list(data) == ["theme", "lang"]  # key order kept


def test_key_order_is_kept_at_every_depth(engine):
    value = {"z": 1, "a": {"y": 2, "b": 3, "m": 4}, "c": [{"q": 1, "d": 2}]}
    engine.save(T, U, "ordered", value)
    loaded = engine.load(T, "ordered")
    assert json.dumps(loaded) == json.dumps(value)
    mixed = {3: "three", "x": 1, 1: "one", (2,): "tuple"}
    engine.save(T, U, "mixed", mixed)
    assert list(engine.load(T, "mixed").items()) == list(mixed.items())


def test_load_of_a_specific_digest(engine):
    first = engine.save(T, U, "session", {"users": ["alice", "bob"], "count": 2})
    second = engine.save(T, U, "session", {"users": ["alice"], "count": 1})
    assert first != second
    assert engine.load(T, "session") == {"users": ["alice"], "count": 1}
    assert engine.load(T, "session", digest=first) == {"users": ["alice", "bob"], "count": 2}
    assert engine.get_digest(T, "session") == second


def test_operations_on_an_uninitialized_tenant_raise(make_engine):
    engine = make_engine()
    with pytest.raises(errors.NotInitializedError, match="ghost"):
        engine.save("ghost", U, "e", 1)
    with pytest.raises(errors.NotInitializedError):
        engine.put("ghost", U, "e", "k", 1)
    with pytest.raises(errors.NotInitializedError):
        engine.load("ghost", "e")
    assert engine.exists("ghost", "e") is False


def test_missing_entries_and_records_raise_specific_errors(engine):
    with pytest.raises(errors.EntryNotFoundError, match="'nope'.*'tenant_1'"):
        engine.load(T, "nope")
    with pytest.raises(errors.EntryNotFoundError):
        engine.get(T, "nope")
    with pytest.raises(errors.EntryNotFoundError):
        engine.get_digest(T, "nope")
    with pytest.raises(errors.EntryNotFoundError):
        engine.history(T, "nope")
    engine.put(T, U, "users", "a", 1)
    with pytest.raises(errors.RecordNotFoundError, match="'b'"):
        engine.get(T, "users", key="b")
    with pytest.raises(errors.DigestNotFoundError):
        engine.load(T, "users", digest="0" * 64)
    assert issubclass(errors.RecordNotFoundError, errors.DbEngineError)


# ---------------------------------------------------------------- metadata and clock
def test_snapshot_metadata(engine, fixed_now):
    first = engine.save(T, U, "config", {"a": 1})
    second = engine.save(T, "user_2", "config", {"a": 2})
    doc1 = engine.read_snapshot(T, first)
    doc2 = engine.read_snapshot(T, second)
    assert doc1["__parent__"] == [None]
    assert doc2["__parent__"] == [first]
    assert doc1["__user_id__"] == U and doc2["__user_id__"] == "user_2"
    assert doc1["__date__"] == "20261126 14:03:07 +0100"
    assert re.fullmatch(r"\d{8} \d{2}:\d{2}:\d{2} [+-]\d{4}", doc2["__date__"])
    assert doc1["__kind__"] == "snapshot"
    assert doc1["__data__"] == {"a": 1}
    version = engine.version(T, "config", first)
    assert version.date == fixed_now and version.date.utcoffset() == dt.timedelta(hours=1)


def test_the_default_clock_stamps_the_local_time(make_engine):
    engine = DbEngine(make_engine().root)
    engine.init(T)
    before = dt.datetime.now().astimezone().replace(microsecond=0)
    digest = engine.save(T, U, "e", 1)
    after = dt.datetime.now().astimezone()
    date = engine.log(T, "e")[0].date
    assert date.tzinfo is not None
    assert engine.read_snapshot(T, digest)["__date__"] == date.strftime("%Y%m%d %H:%M:%S %z")
    assert before <= date <= after


def test_a_fixed_clock_gives_reproducible_digests(tmp_path, make_engine):
    a = make_engine(str(tmp_path / "a"))
    b = make_engine(str(tmp_path / "b"))
    for engine in (a, b):
        engine.init(T)
    assert a.save(T, U, "e", {"x": [1, 2]}) == b.save(T, U, "e", {"x": [1, 2]})
    assert a.put(T, U, "r", "k", 1) and b.put(T, U, "r", "k", 1)
    assert a.get_digest(T, "r") == b.get_digest(T, "r")


# ---------------------------------------------------------------- storage layout
def test_storage_layout_is_the_spec_tree(engine, db_root, list_files):
    digest = engine.save(T, U, "config", {"theme": "dark"})
    assert os.path.isfile(os.path.join(db_root, T, "head"))
    with open(os.path.join(db_root, T, "head"), "rb") as handle:
        assert json.loads(handle.read()) == {"config": digest}
    assert os.path.isfile(object_file(db_root, T, digest))
    assert os.path.isdir(os.path.join(db_root, "refs"))
    for rel in list_files(os.path.join(db_root, T, "objects")):
        prefix, name = rel.split(os.sep)
        assert re.fullmatch(r"[0-9a-f]{64}", name) and prefix == name[:24]


def test_every_object_and_ref_file_is_named_by_its_sha256(engine, db_root, list_files):
    engine.save(T, U, "config", {"theme": "dark", "blob": b"\x00\x01" * 100})
    holder = _Holder(meta={"n": 1}, payload=list(range(50)))
    engine.save(T, U, "holder", holder)
    engine.put_many(T, U, "records", {f"k{i}": {"i": i} for i in range(30)})
    files = [os.path.join(db_root, rel) for rel in list_files(db_root)
             if rel.startswith((f"{T}{os.sep}objects", f"refs{os.sep}"))]
    assert any(f"refs{os.sep}" in f for f in files)
    assert len(files) > 5
    out = subprocess.run(["sha256sum", *files], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        checksum, path = line.split(maxsplit=1)
        assert os.path.basename(path) == checksum
    for path in files:  # the same check without the external tool
        with open(path, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == os.path.basename(path)


class _Holder:
    def __init__(self, meta, payload):
        self.meta = meta
        self.payload = payload

    @staticmethod
    def use_refs():
        return {"payload"}

    def __eq__(self, other):
        return type(other) is _Holder and vars(self) == vars(other)


def test_use_refs_fields_go_to_refs_and_are_shared_across_tenants(engine, db_root, list_files):
    engine.init("tenant_2")
    a = engine.save(T, U, "holder", _Holder({"n": 1}, list(range(100))))
    refs_before = {f for f in list_files(db_root) if f.startswith("refs")}
    b = engine.save("tenant_2", "someone", "other", _Holder({"n": 2}, list(range(100))))
    refs_after = {f for f in list_files(db_root) if f.startswith("refs")}
    assert len(refs_before) == 1
    assert refs_after == refs_before  # identical ref data stored once
    pointer_a = engine.read_snapshot(T, a)["__data__"]["state"]["payload"]
    pointer_b = engine.read_snapshot("tenant_2", b)["__data__"]["state"]["payload"]
    assert pointer_a == pointer_b
    assert pointer_a["__special__"] == "py/pickle"
    assert os.path.isfile(ref_file(db_root, pointer_a["__digest__"]))
    assert engine.load(T, "holder") == _Holder({"n": 1}, list(range(100)))


def test_identical_content_is_stored_once(engine, db_root, list_files):
    engine.save(T, U, "a", {"x": 1})
    engine.save(T, U, "b", {"x": 1})  # same user, date, parent and data: same object
    assert engine.get_digest(T, "a") == engine.get_digest(T, "b")
    assert len(list_files(os.path.join(db_root, T, "objects"))) == 1


# ---------------------------------------------------------------- zero overhead
def test_saving_unchanged_content_writes_nothing(ticking_engine, db_root, list_files):
    engine = ticking_engine
    digest = engine.save(T, U, "config", {"theme": "dark", "n": [1, 2.5, None]})
    files = list_files(db_root)
    head_stat = os.stat(os.path.join(db_root, T, "head"))
    assert engine.save(T, "other_user", "config", {"theme": "dark", "n": [1, 2.5, None]}) == digest
    assert list_files(db_root) == files
    assert os.stat(os.path.join(db_root, T, "head")).st_mtime_ns == head_stat.st_mtime_ns
    assert engine.history(T, "config") == [digest]
    # A different order is a different content: a new version.
    assert engine.save(T, U, "config", {"n": [1, 2.5, None], "theme": "dark"}) != digest


def test_put_of_an_unchanged_value_writes_nothing(ticking_engine, db_root, list_files):
    engine = ticking_engine
    assert engine.put(T, U, "users", "john", {"age": 30}) is True
    files = list_files(db_root)
    assert engine.put(T, U, "users", "john", {"age": 30}) is False
    assert engine.put_many(T, U, "users", {"john": {"age": 30}}) is False
    assert list_files(db_root) == files
    assert len(engine.history(T, "users")) == 1


# ---------------------------------------------------------------- records
def test_records_pattern(engine):
    assert engine.put(T, U, "users", "john", {"name": "John", "age": 30}) is True
    engine.put(T, U, "users", "jane", {"name": "Jane", "age": 25})
    assert engine.get(T, "users") == [{"name": "John", "age": 30}, {"name": "Jane", "age": 25}]
    assert engine.get(T, "users", key="jane") == {"name": "Jane", "age": 25}
    engine.put(T, U, "users", "john", {"name": "John", "age": 31})  # update keeps the position
    assert engine.get(T, "users") == [{"name": "John", "age": 31}, {"name": "Jane", "age": 25}]
    assert engine.entry_kind(T, "users") == "records"
    assert engine.entry_info(T, "users") == EntryInfo("users", "records", engine.get_digest(T, "users"), 3)


def test_put_many_makes_one_version(engine):
    engine.put(T, U, "users", "alice", {"name": "Alice", "role": "admin"})
    users = {"bob": {"name": "Bob", "role": "user"}, "charlie": {"name": "Charlie", "role": "user"}}
    assert engine.put_many(T, U, "users", users) is True
    assert len(engine.history(T, "users")) == 2
    assert [u["name"] for u in engine.get(T, "users")] == ["Alice", "Bob", "Charlie"]
    assert engine.log(T, "users")[0].summary == ChangeSummary(added=2)
    many = {f"k{i:04d}": i for i in range(1000)}
    engine.put_many(T, U, "big", many)
    assert len(engine.history(T, "big")) == 1
    assert engine.get(T, "big") == list(range(1000))


def test_get_at_an_old_digest(engine):
    engine.put(T, U, "users", "a", 1)
    old = engine.get_digest(T, "users")
    engine.put(T, U, "users", "b", 2)
    assert engine.get(T, "users", digest=old) == [1]
    assert engine.get(T, "users", key="a", digest=old) == 1
    with pytest.raises(errors.RecordNotFoundError):
        engine.get(T, "users", key="b", digest=old)


def test_delete_a_record(engine):
    engine.put_many(T, U, "users", {"a": 1, "b": 2, "c": 3})
    assert engine.delete(T, U, "users", "b") is True
    assert engine.get(T, "users") == [1, 3]
    assert engine.delete(T, U, "users", "b") is False
    assert len(engine.history(T, "users")) == 2
    assert engine.log(T, "users")[0].summary == ChangeSummary(removed=1)
    assert engine.read_snapshot(T, engine.get_digest(T, "users"))["__count__"] == 2
    with pytest.raises(errors.EntryNotFoundError):
        engine.delete(T, U, "nothing", "a")
    engine.save(T, U, "snap", {"a": 1})
    with pytest.raises(errors.PatternMismatchError):
        engine.delete(T, U, "snap", "a")
    engine.put(T, U, "users", "b", 22)  # re-added records go to the end
    assert engine.get(T, "users") == [1, 3, 22]


def test_the_two_patterns_do_not_mix(engine):
    engine.save(T, U, "config", {"a": 1})
    engine.put(T, U, "users", "a", 1)
    with pytest.raises(errors.PatternMismatchError, match="'config'"):
        engine.put(T, U, "config", "k", 1)
    with pytest.raises(errors.PatternMismatchError, match="'users'"):
        engine.save(T, U, "users", {"a": 1})
    with pytest.raises(errors.PatternMismatchError):
        engine.get(T, "config")
    with pytest.raises(errors.PatternMismatchError):
        engine.load(T, "users")
    assert engine.entry_kind(T, "config") == "snapshot"
    assert engine.entry_kind(T, "users") == "records"
    assert len(engine.history(T, "config")) == 1 and len(engine.history(T, "users")) == 1


def test_a_put_into_10000_records_rewrites_one_order_path_and_the_version(make_engine, db_root, list_files):
    engine = make_engine()
    engine.init(T)
    engine.put_many(T, U, "big", {f"key{i:05d}": {"n": i, "pad": "x" * 50} for i in range(10_000)})
    before = list_files(db_root)
    sizes_before = sum(os.path.getsize(os.path.join(db_root, f)) for f in before)
    engine.put(T, U, "big", "key00042", {"n": -1})
    after = list_files(db_root)
    new = after - before
    assert before <= after
    # 10,000 seqs: leaves of 64 under two levels of 16-way nodes; an update keeps the key index
    assert len(new) == 4, new
    head_doc = engine.read_snapshot(T, engine.get_digest(T, "big"))
    new_names = {os.path.basename(f) for f in new}
    assert engine.get_digest(T, "big") in new_names
    assert head_doc["__order__"] in new_names and head_doc["__keys__"] not in new_names
    assert "__buckets__" not in head_doc and len(json.dumps(head_doc)) < 500  # names roots, not leaves
    written = sum(os.path.getsize(os.path.join(db_root, f)) for f in new)
    assert written < 0.02 * sizes_before  # the cost follows the change, not the collection
    assert engine.get(T, "big", key="key00042") == {"n": -1}
    assert len(engine.get(T, "big")) == 10_000
    assert engine.get(T, "big")[42] == {"n": -1}


def test_unchanged_subtrees_are_shared_between_versions(engine):
    engine.put_many(T, U, "r", {f"k{i}": i for i in range(2000)})
    old = engine.get_digest(T, "r")
    engine.put(T, U, "r", "k7", "changed")
    new = engine.get_digest(T, "r")
    a, b = engine.read_snapshot(T, old), engine.read_snapshot(T, new)
    assert a["__keys__"] == b["__keys__"] and a["__order__"] != b["__order__"]
    assert engine.changed_records(T, old, new) == ({"k7": 7}, {"k7": "changed"})
    assert engine.changed_records(T, None, old)[1]["k5"] == 5
    assert engine.read_records(T, new)["k7"] == "changed"
    assert list(engine.read_records(T, new))[:3] == ["k0", "k1", "k2"]
    assert engine.read_record(T, "r", "k7") == "changed"
    assert engine.read_record(T, "r", "k7", digest=old) == 7


# ---------------------------------------------------------------- history and log
def test_history_is_newest_first_and_agrees_with_log(ticking_engine):
    engine = ticking_engine
    digests = [engine.save(T, U, "config", {"v": i}) for i in range(12)]
    assert engine.history(T, "config") == digests[::-1]
    assert engine.history(T, "config", max_items=3) == digests[::-1][:3]
    assert engine.history(T, "config", digest=digests[5]) == digests[5::-1]
    log = engine.log(T, "config")
    assert [v.digest for v in log] == engine.history(T, "config")
    assert all(isinstance(v, Version) for v in log)
    assert log[-1].parents == [None]
    assert [v.parents[0] for v in log[:-1]] == [v.digest for v in log[1:]]
    assert all(v.date.tzinfo is not None for v in log)
    assert [v.date for v in log] == sorted((v.date for v in log), reverse=True)
    assert engine.load(T, "config", digest=engine.history(T, "config", max_items=10)[1]) == {"v": 10}
    assert engine.exists(T, "config") and not engine.exists(T, "other")
    with pytest.raises(errors.DigestNotFoundError):
        engine.history(T, "config", digest="f" * 64)


def test_log_summaries(ticking_engine):
    engine = ticking_engine
    engine.save(T, U, "c", {"a": 1, "b": 2})
    engine.save(T, U, "c", {"a": 1, "b": 3, "c": 4})
    engine.save(T, U, "c", {"c": 4})
    summaries = [v.summary for v in engine.log(T, "c")]
    assert summaries == [ChangeSummary(0, 0, 2), ChangeSummary(1, 1, 0), ChangeSummary(2, 0, 0)]
    assert str(summaries[1]) == "+1 ~1 -0"


def test_log_of_a_fresh_engine_matches(ticking_engine, make_engine):
    engine = ticking_engine
    for i in range(5):
        engine.put(T, f"u{i}", "r", f"k{i}", i)
    other = make_engine()
    assert other.log(T, "r") == engine.log(T, "r")
    assert other.history(T, "r") == engine.history(T, "r")


def test_resolve(ticking_engine):
    engine = ticking_engine
    digests = [engine.save(T, U, "c", i) for i in range(4)]
    assert engine.resolve(T, "c", "HEAD") == digests[-1]
    assert engine.resolve(T, "c", "HEAD~2") == digests[1]
    assert engine.resolve(T, "c", digests[0][:10]) == digests[0]
    assert engine.resolve(T, "c", digests[2]) == digests[2]
    with pytest.raises(errors.DigestNotFoundError):
        engine.resolve(T, "c", "HEAD~4")
    with pytest.raises(errors.DigestNotFoundError):
        engine.resolve(T, "c", "zzzz")


def test_restore_makes_a_new_version(ticking_engine):
    engine = ticking_engine
    first = engine.save(T, U, "config", {"v": 1})
    second = engine.save(T, U, "config", {"v": 2})
    restored = engine.restore(T, "admin", "config", first)
    assert restored not in (first, second)
    assert engine.load(T, "config") == {"v": 1}
    assert engine.history(T, "config") == [restored, second, first]
    doc = engine.read_snapshot(T, restored)
    assert doc["__parent__"] == [second]
    assert doc["__restored_from__"] == first
    assert doc["__user_id__"] == "admin"
    assert engine.log(T, "config")[0].restored_from == first
    assert engine.log(T, "config")[1].restored_from is None


def test_restore_of_a_record_entry(ticking_engine):
    engine = ticking_engine
    engine.put(T, U, "r", "a", 1)
    old = engine.get_digest(T, "r")
    engine.put_many(T, U, "r", {"b": 2, "a": 10})
    engine.restore(T, U, "r", old)
    assert engine.get(T, "r") == [1]
    assert engine.log(T, "r")[0].summary == ChangeSummary(added=0, changed=1, removed=1)
    engine.put(T, U, "r", "c", 3)
    assert engine.get(T, "r") == [1, 3]


def test_restore_refuses_foreign_digests(ticking_engine):
    engine = ticking_engine
    mine = engine.save(T, U, "a", 1)
    engine.save(T, U, "a", 2)
    theirs = engine.save(T, U, "b", 3)
    with pytest.raises(errors.DigestNotFoundError):
        engine.restore(T, U, "a", theirs)
    with pytest.raises(errors.DigestNotFoundError):
        engine.restore(T, U, "a", "0" * 64)
    with pytest.raises(errors.InvalidDigestError):
        engine.restore(T, U, "a", "../../etc/passwd")
    assert len(engine.history(T, "a")) == 2
    engine.restore(T, U, "a", mine)
    assert engine.load(T, "a") == 1


# ---------------------------------------------------------------- browsing API
def test_tenants_and_entries_are_sorted(engine):
    for tenant in ("zeta", "alpha", "mid"):
        engine.init(tenant)
    assert engine.tenants() == ["alpha", "mid", T, "zeta"]
    for name in ("b", "a", "c"):
        engine.save("mid", U, name, 1)
    engine.put("mid", U, "0rec", "k", 1)
    assert engine.entries("mid") == ["0rec", "a", "b", "c"]
    info = engine.entry_info("mid", "a")
    assert info.kind == "snapshot" and info.versions == 1 and info.head == engine.get_digest("mid", "a")


def test_change_token_changes_when_a_head_changes(engine):
    token = engine.change_token()
    assert engine.change_token() == token
    engine.save(T, U, "e", 1)
    token2 = engine.change_token()
    assert token2 != token
    assert engine.change_token(T) != token
    engine.save(T, U, "e", 1)  # unchanged: no write, same token
    assert engine.change_token() == token2


def test_commit_document_makes_a_new_version(engine):
    head = engine.save(T, U, "config", {"a": 1, "when": (1, 2)})
    document = engine.read_snapshot(T, head)
    document["__data__"]["a"] = 2
    new = engine.commit_document(T, "editor", "config", document, expected_head=head)
    assert engine.load(T, "config") == {"a": 2, "when": (1, 2)}
    assert engine.read_snapshot(T, new)["__user_id__"] == "editor"
    assert engine.read_snapshot(T, new)["__parent__"] == [head]
    with pytest.raises(errors.ConflictError):
        engine.commit_document(T, "editor", "config", {"__data__": 3}, expected_head=head)
    assert engine.commit_document(T, "editor", "fresh", {"__data__": [1]}) == engine.get_digest(T, "fresh")


def test_put_stored_adds_a_record_from_its_stored_form(engine):
    engine.put(T, U, "r", "a", 1)
    engine.put_stored(T, U, "r", "b", {"__special__": "py/tuple", "items": [1, 2]})
    assert engine.get(T, "r", key="b") == (1, 2)
    with pytest.raises(errors.InvalidDocumentError):
        engine.put_stored(T, U, "r", "c", {"__special__": "py/tuple"})
    with pytest.raises(errors.ConflictError):
        engine.put_stored(T, U, "r", "c", 3, expected_head="0" * 64)
    assert len(engine.history(T, "r")) == 2


def test_read_snapshot_returns_a_copy(engine):
    digest = engine.save(T, U, "c", {"a": [1]})
    document = engine.read_snapshot(T, digest)
    document["__data__"]["a"].append(2)
    assert engine.load(T, "c") == {"a": [1]}
    assert engine.read_snapshot(T, digest)["__data__"] == {"a": [1]}


def test_a_committed_document_is_not_aliased(engine):
    data = {"a": [1]}
    engine.commit_document(T, U, "c", {"__data__": data})
    data["a"].append(2)  # the caller's dict changes after the commit
    assert engine.load(T, "c") == {"a": [1]}
    stored = {"x": [1]}
    engine.put_stored(T, U, "r", "k", stored)
    stored["x"].append(2)
    assert engine.get(T, "r", key="k") == {"x": [1]}


def test_read_ref_and_sizes(engine):
    engine.save(T, U, "h", _Holder({}, b"payload"))
    pointer = engine.read_snapshot(T, engine.get_digest(T, "h"))["__data__"]["state"]["payload"]
    digest = pointer["__digest__"]
    assert engine.has_ref(digest)
    assert hashlib.sha256(engine.read_ref(digest)).hexdigest() == digest
    assert engine.ref_size(digest) == len(engine.read_ref(digest))
    assert not engine.has_ref("0" * 64)
    assert not engine.has_ref("not a digest")
