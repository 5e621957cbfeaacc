"""History questions (key_history, blame, search, as_of, @{DATE}) against a brute-force
replay of every version: random histories of puts, deletes, saves and restores."""

from __future__ import annotations

import datetime as dt
import json
import tempfile

import pytest
from dbengine.dbengine import DbEngine
from dbengine.errors import (
    DigestNotFoundError,
    InvalidDateError,
    InvalidPathError,
    PatternMismatchError,
)
from dbengine.pointer import ABSENT, format_pointer, leaves, parse_pointer, value_at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXED_NOW, TickingClock

KEYS = ["a", "b", "c", "d/e", "~x"]
T, E = "t", "e"

values = st.one_of(st.integers(0, 3), st.sampled_from(["red", "blue", "red red"]),
                   st.lists(st.integers(0, 2), max_size=2), st.booleans())
record_ops = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), values),
    st.tuples(st.just("delete"), st.sampled_from(KEYS), st.none()),
    st.tuples(st.just("put_many"), st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=3), st.none()),
    st.tuples(st.just("restore"), st.integers(0, 20), st.none()),
), min_size=1, max_size=14)
documents = st.recursive(values, lambda inner: st.dictionaries(st.sampled_from(["x", "y", "z/1"]), inner, max_size=3),
                         max_leaves=6)
snapshot_ops = st.lists(st.one_of(
    st.tuples(st.just("save"), st.dictionaries(st.sampled_from(["x", "y", "w"]), documents, min_size=1, max_size=3)),
    st.tuples(st.just("restore"), st.integers(0, 20)),
), min_size=1, max_size=10)


def _replay_records(engine: DbEngine, ops) -> None:
    engine.init(T)
    engine.put(T, "u0", E, "a", 0)
    for i, (op, arg, value) in enumerate(ops):
        user = f"u{i % 3}"
        if op == "put":
            engine.put(T, user, E, arg, value)
        elif op == "put_many":
            engine.put_many(T, user, E, arg)
        elif op == "delete":
            if arg in engine.read_records(T, engine.get_digest(T, E)):
                engine.delete(T, user, E, arg)
        else:
            history = engine.history(T, E, max_items=None)
            if len(history) > 1 and history[arg % len(history)] != history[0]:
                engine.restore(T, user, E, history[arg % len(history)])


def _records_at(engine: DbEngine, digest: str | None) -> dict:
    return {} if digest is None else engine.read_records(T, digest)


def _brute_history(engine: DbEngine, key: str) -> list[tuple[str, str, object, object]]:
    out = []
    for version in engine.log(T, E, max_items=None):
        parent = version.parents[0]
        old = _records_at(engine, parent).get(key, ABSENT)
        new = _records_at(engine, version.digest).get(key, ABSENT)
        if json.dumps(old, default=repr) != json.dumps(new, default=repr):
            kind = "added" if old is ABSENT else "removed" if new is ABSENT else "changed"
            out.append((version.digest, kind, None if old is ABSENT else old, None if new is ABSENT else new))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=record_ops)
def test_record_questions_match_a_replay(ops):
    with tempfile.TemporaryDirectory() as root:
        engine = DbEngine(root, durable=False, clock=TickingClock())
        _replay_records(engine, ops)
        log = engine.log(T, E, max_items=None)
        for key in KEYS:
            got = [(c.version.digest, c.kind, c.old, c.new) for c in engine.key_history(T, E, key)]
            assert got == _brute_history(engine, key)
            assert engine.key_history(T, E, key, max_items=1) == engine.key_history(T, E, key)[:1]
        # blame: the newest version where each live record differs from its parent
        head_records = _records_at(engine, log[0].digest)
        expected = {}
        for key in head_records:
            expected[key] = next(d for d, *_ in _brute_history(engine, key))
        assert {k: v.digest for k, v in engine.blame(T, E).items()} == expected
        assert {k: v.digest for k, v in engine.blame(T, E, keys=["a", "zz"]).items()} == \
            {k: expected[k] for k in ["a"] if k in expected}
        # blame as of an older version
        old = log[len(log) // 2].digest
        as_of_old = {k: v.digest for k, v in engine.blame(T, E, digest=old).items()}
        assert set(as_of_old) == set(_records_at(engine, old))
        # pickaxe: versions where the count of "red" in a record's JSON changed
        brute = []
        for version in log:
            before, after = _records_at(engine, version.parents[0]), _records_at(engine, version.digest)
            for key in sorted(before.keys() | after.keys()):
                count = [json.dumps(side[key], separators=(",", ":")).count("red") if key in side else 0
                         for side in (before, after)]
                if count[0] != count[1]:
                    brute.append((version.digest, key, *count))
        hits = [(h.version.digest, h.key, h.before, h.after) for h in engine.search(T, E, "red", pickaxe=True)]
        assert hits == brute


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=snapshot_ops)
def test_snapshot_questions_match_a_replay(ops):
    with tempfile.TemporaryDirectory() as root:
        engine = DbEngine(root, durable=False, clock=TickingClock())
        engine.init(T)
        engine.save(T, "u0", E, {"x": 0})
        for i, op in enumerate(ops):
            if op[0] == "save":
                engine.save(T, f"u{i % 2}", E, op[1])
            else:
                history = engine.history(T, E, max_items=None)
                if history[op[1] % len(history)] != history[0]:
                    engine.restore(T, "r", E, history[op[1] % len(history)])
        log = engine.log(T, E, max_items=None)

        def value(digest):
            return ABSENT if digest is None else engine.read_snapshot(T, digest)["__data__"]

        head = value(log[0].digest)
        for tokens, _leaf in leaves(head):
            path = format_pointer(tokens)
            brute = []
            for version in log:
                a = value_at(value(version.parents[0]), list(tokens)) if version.parents[0] else ABSENT
                b = value_at(value(version.digest), list(tokens))
                if json.dumps(a, default=repr) != json.dumps(b, default=repr):
                    brute.append(version.digest)
            assert [c.version.digest for c in engine.key_history(T, E, path=path)] == brute
            assert engine.blame(T, E)[path].digest == brute[0]


def test_as_of_and_dated_revisions(tmp_path):
    engine = DbEngine(str(tmp_path), durable=False, clock=TickingClock())
    engine.init(T)
    digests = [engine.save(T, "u", E, {"v": i}) for i in range(50)]  # dated FIXED_NOW + i s
    assert engine.as_of(T, E, FIXED_NOW - dt.timedelta(seconds=1)) is None
    for i in (0, 1, 17, 49):
        assert engine.as_of(T, E, FIXED_NOW + dt.timedelta(seconds=i)).digest == digests[i]
        assert engine.as_of(T, E, FIXED_NOW + dt.timedelta(seconds=i, milliseconds=500)).digest == digests[i]
    assert engine.as_of(T, E, FIXED_NOW + dt.timedelta(days=3)).digest == digests[-1]
    # naive dates are local time
    local = (FIXED_NOW + dt.timedelta(seconds=5)).astimezone().replace(tzinfo=None)
    assert engine.as_of(T, E, local).digest == digests[5]
    stamp = (FIXED_NOW + dt.timedelta(seconds=9)).isoformat()
    assert engine.resolve(T, E, f"@{{{stamp}}}") == digests[9]
    assert engine.load(T, E, engine.resolve(T, E, "@{2099-01-01}")) == {"v": 49}
    with pytest.raises(DigestNotFoundError, match="no version yet"):
        engine.resolve(T, E, "@{2001-01-01}")
    with pytest.raises(InvalidDateError, match="ISO 8601"):
        engine.resolve(T, E, "@{yesterday}")


def test_questions_refuse_bad_paths_and_kinds(tmp_path):
    engine = DbEngine(str(tmp_path), durable=False, clock=TickingClock())
    engine.init(T)
    engine.save(T, "u", "snap", {"a": {"b": 1}})
    engine.put(T, "u", "recs", "k", {"b": 1})
    with pytest.raises(InvalidPathError, match="RFC 6901"):
        engine.key_history(T, "snap", path="a/b")
    with pytest.raises(InvalidPathError):
        engine.key_history(T, "snap")
    with pytest.raises(PatternMismatchError):
        engine.key_history(T, "snap", key="a")
    assert engine.key_history(T, "snap", path="/never/there") == []
    assert engine.key_history(T, "recs", key="never") == []
    assert [c.kind for c in engine.key_history(T, "recs", path="/k/b")] == ["added"]
    assert [c.new for c in engine.key_history(T, "recs", key="k", path="/b")] == [1]
    with pytest.raises(InvalidPathError):
        engine.search(T, "recs", "")
        next(engine.search(T, "recs", ""))


def test_search_streams_filters_and_cancels(tmp_path):
    engine = DbEngine(str(tmp_path), durable=False, clock=TickingClock())
    engine.init(T)
    for i in range(30):
        engine.put(T, "alice" if i % 2 else "bob", "people", f"p{i % 5}", {"name": "needle" if i % 3 == 0 else "hay"})
    engine.save(T, "carol", "notes", {"text": "a needle here"})
    seen = []
    hits = list(engine.search(T, None, "needle", progress=lambda done, total: seen.append((done, total))))
    assert {h.entry for h in hits} == {"people", "notes"}
    versions = len(engine.history(T, "people", max_items=None)) + 1
    assert seen[-1] == (versions, versions)
    assert all("needle" in h.snippet for h in hits)
    assert {h.version.user_id for h in engine.search(T, "people", "needle", user="alice")} == {"alice"}
    since = FIXED_NOW + dt.timedelta(seconds=20)
    assert all(h.version.date >= since for h in engine.search(T, "people", "needle", since=since))
    stop = []
    cancelled = engine.search(T, "people", "hay", cancelled=lambda: len(stop) > 2)
    for _hit in cancelled:
        stop.append(1)
    assert len(stop) == 3
    assert parse_pointer("/a~1b/~0c") == ["a/b", "~c"]


def test_restore_one_record_or_one_value(tmp_path):
    from dbengine.errors import ConflictError, RecordNotFoundError

    engine = DbEngine(str(tmp_path), durable=False, clock=TickingClock())
    engine.init(T)
    engine.put_many(T, "u", "people", {"p1": {"city": "Lyon", "n": 1}, "p2": {"city": "Oslo"}})
    old = engine.get_digest(T, "people")
    engine.put_many(T, "u", "people", {"p1": {"city": "Rome", "n": 2}, "p2": {"city": "Bern"}, "p3": 3})
    new = engine.restore(T, "r", "people", old, key="p1")
    assert engine.get_digest(T, "people") == new
    assert engine.version(T, "people", new).restored_from == old
    assert engine.read_records(T, new) == {"p1": {"city": "Lyon", "n": 1}, "p2": {"city": "Bern"}, "p3": 3}
    engine.put(T, "u", "people", "p1", {"city": "Rome", "n": 5})
    engine.restore(T, "r", "people", old, path="/p1/city")  # one field inside the record
    assert engine.get(T, "people", "p1") == {"city": "Lyon", "n": 5}
    engine.restore(T, "r", "people", old, key="p3")  # absent then: removed now
    assert "p3" not in engine.read_records(T, engine.get_digest(T, "people"))
    with pytest.raises(ConflictError, match="nothing to restore"):
        engine.restore(T, "r", "people", old, key="p3")
    with pytest.raises(RecordNotFoundError, match="whole record"):
        engine.restore(T, "r", "people", old, key="p3", path="/x")

    engine.save(T, "u", "config", {"db": {"port": 1, "hosts": ["a"]}, "x": 1})
    first = engine.get_digest(T, "config")
    engine.save(T, "u", "config", {"db": {"port": 2, "hosts": ["a", "b"], "new": True}, "x": 2})
    engine.restore(T, "r", "config", first, path="/db/port")
    assert engine.load(T, "config") == {"db": {"port": 1, "hosts": ["a", "b"], "new": True}, "x": 2}
    engine.restore(T, "r", "config", first, path="/db/new")
    engine.restore(T, "r", "config", first, path="/db/hosts/1")
    assert engine.load(T, "config") == {"db": {"port": 1, "hosts": ["a"]}, "x": 2}
    history = engine.key_history(T, "config", path="/db/port")
    assert [c.version.restored_from for c in history][:1] == [first]
    with pytest.raises(InvalidPathError):
        engine.restore(T, "r", "config", first, path="/nope/deeper")
    with pytest.raises(PatternMismatchError):
        engine.restore(T, "r", "config", first, key="db")


def test_search_names_the_exact_value_in_added_subtrees(tmp_path):
    engine = DbEngine(str(tmp_path), durable=False, clock=TickingClock())
    engine.init(T)
    engine.save(T, "u", "config", {"db": {"host": "needle.example", "port": 1}, "list": ["a", "needle"]})
    engine.save(T, "u", "config", {"db": {"host": "other", "port": 1}, "list": ["a", "needle"], "new": {"x": "needle"}})
    hits = [(h.version.digest[:8], h.path, h.before, h.after) for h in engine.search(T, "config", "needle", pickaxe=True)]
    head, first = (d[:8] for d in engine.history(T, "config"))
    assert hits == [(head, "/db/host", 1, 0), (head, "/new/x", 0, 1),
                    (first, "/db/host", 0, 1), (first, "/list/1", 0, 1)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gaps=st.lists(st.integers(0, 5000), min_size=1, max_size=150), probes=st.lists(st.integers(-10, 400_000), max_size=8))
def test_as_of_matches_a_scan_with_uneven_dates(gaps, probes):
    moments = iter([FIXED_NOW + dt.timedelta(seconds=sum(gaps[: i + 1])) for i in range(len(gaps))])
    with tempfile.TemporaryDirectory() as root:
        engine = DbEngine(root, durable=False, clock=lambda: next(moments))
        engine.init(T)
        for i in range(len(gaps)):
            engine.save(T, "u", E, {"v": i})
        log = engine.log(T, E, max_items=None)
        for offset in probes:
            when = FIXED_NOW + dt.timedelta(seconds=offset)
            expected = next((v.digest for v in log if v.date <= when), None)
            got = engine.as_of(T, E, when)
            assert (got.digest if got else None) == expected


def test_blame_lists_records_in_their_order(tmp_path):
    """Blame answers in the records' order (or the order of the keys asked), never a set's,
    and builds one Version per version it names (shared by the records it blames)."""
    engine = DbEngine(str(tmp_path), durable=False, clock=TickingClock())
    engine.init(T)
    engine.put_many(T, "u", E, {k: 0 for k in ("k9", "k1", "k5", "k3")})
    engine.put(T, "v", E, "k5", 1)
    engine.delete(T, "v", E, "k1")
    blamed = engine.blame(T, E)
    assert list(blamed) == engine.record_keys(T, engine.get_digest(T, E)) == ["k9", "k5", "k3"]
    assert blamed["k9"] is blamed["k3"] and blamed["k5"].user_id == "v"
    assert list(engine.blame(T, E, keys=["k3", "k1", "k9", "k3"])) == ["k3", "k9"]
