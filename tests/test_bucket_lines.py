"""Buckets of format 0.4 written one record per line (read, no longer written), and
`changed_records`, which compares two of them line by line, or two record versions."""

from __future__ import annotations

import json
import os
import sys

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine
from dbengine.node_bytes import order_leaf_bytes
from dbengine.records import bucket_of, changed_items, encode_bucket
from dbengine.utils import compute_digest, to_json_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from legacy_layout import write_v04  # noqa: E402

T, E = "t", "rec"


def bucket_digests(engine: DbEngine, rev: str = "HEAD") -> dict[str, str]:
    return engine.record_buckets(T, engine.resolve(T, E, rev))


def changed(engine: DbEngine, old: str, new: str) -> tuple[dict, dict]:
    """changed_records of two versions; for format 0.4, also merged over their buckets (the same)."""
    result = engine.changed_records(T, engine.resolve(T, E, old), engine.resolve(T, E, new))
    a, b = bucket_digests(engine, old), bucket_digests(engine, new)
    if a or b:
        before, after = {}, {}
        for bucket in a.keys() | b.keys():
            x, y = engine.changed_records(T, a.get(bucket), b.get(bucket))
            before.update(x)
            after.update(y)
        assert (before, after) == result
    return result


def test_bucket_file_holds_one_record_per_line_and_is_plain_json(engine):
    engine.init(T)
    keys = [k for k in (f"k{i}" for i in range(400)) if bucket_of(k) == bucket_of("k0")][:3]
    write_v04(engine, T, E, [{k: {"n": i, "s": "é\n"} for i, k in enumerate(keys)}])
    (digest,) = bucket_digests(engine).values()
    data = open(os.path.join(engine.root, T, "objects", digest[:24], digest), "rb").read()
    assert compute_digest(data) == digest
    lines = data.split(b"\n")
    assert lines[0] == b'{"__kind__":"bucket","records":{' and lines[-1] == b"}}"
    assert [json.loads(b"{" + line.rstrip(b",") + b"}") for line in lines[1:-1]] == [
        {k: [i, {"n": i, "s": "é\n"}]} for i, k in enumerate(keys)]
    assert json.loads(data)["records"] == {k: [i, {"n": i, "s": "é\n"}] for i, k in enumerate(keys)}


def test_lone_surrogates_fall_back_to_ascii_like_every_other_object():
    data = encode_bucket({"a": [0, "\udc80 é"]})
    assert data.isascii() and json.loads(data)["records"] == {"a": [0, "\udc80 é"]}


@pytest.mark.parametrize("layout", ["trees", "0.4"])
def test_changed_records_is_type_strict_and_ignores_unchanged_records(engine, layout):
    engine.init(T)
    first = {f"r{i}": {"v": 1, "i": i} for i in range(300)}
    second = {**first, "r1": {"v": True, "i": 1}, "r2": {"v": 1.0, "i": 2}, "r3": {"v": 1, "i": 3}, "new": [1]}
    third = {k: v for k, v in second.items() if k != "r4"}
    if layout == "0.4":
        write_v04(engine, T, E, [first, second, third])
    else:
        engine.put_many(T, "u", E, first)
        engine.put_many(T, "u", E, {k: second[k] for k in ("r1", "r2", "r3", "new")})
        engine.delete(T, "u", E, "r4")
    before, after = changed(engine, "HEAD~2", "HEAD")
    assert after == {"r1": {"v": True, "i": 1}, "r2": {"v": 1.0, "i": 2}, "new": [1]}
    assert before == {"r1": {"v": 1, "i": 1}, "r2": {"v": 1, "i": 2}, "r4": {"v": 1, "i": 4}}
    assert type(after["r1"]["v"]) is bool and type(after["r2"]["v"]) is float
    assert str(engine.log(T, E)[1].summary) == "+1 ~2 -0" and str(engine.log(T, E)[0].summary) == "+0 ~0 -1"


@pytest.mark.parametrize("layout", ["trees", "0.4"])
def test_a_key_deleted_and_added_again_with_the_same_value_is_unchanged(engine, layout):
    engine.init(T)
    if layout == "0.4":
        write_v04(engine, T, E, [{"a": 1, "b": 2}, {"b": 2}, {"b": 2, "a": 1}])
    else:
        engine.put_many(T, "u", E, {"a": 1, "b": 2})
        engine.delete(T, "u", E, "a")
        engine.put(T, "u", E, "a", 1)  # a new seq: a different item, the same record
    assert changed(engine, "HEAD~2", "HEAD") == ({}, {})


def test_returned_values_are_the_callers_own(engine):
    engine.init(T)
    engine.put(T, "u", E, "a", {"x": [1]})
    engine.put(T, "u", E, "a", {"x": [2]})
    before, after = changed(engine, "HEAD~1", "HEAD")
    after["a"]["x"].append(3)
    before["a"]["x"].append(3)
    assert engine.get(T, E, "a") == {"x": [2]} and engine.get(T, E, "a", digest=engine.resolve(T, E, "HEAD~1")) == {"x": [1]}


def legacy_bucket(engine: DbEngine, records: dict) -> str:
    """Write a bucket in the compact layout of earlier engines; return its digest."""
    data = to_json_bytes({"__kind__": "bucket", "records": records})
    digest = compute_digest(data)
    engine.storage.write_object(T, digest, data)
    return digest


def test_compact_buckets_of_earlier_engines_compare_the_same(engine):
    engine.init(T)
    old = {"a": [0, 1], "b": [1, {"x": 1}], "c": [2, "same"], "d": [3, 0]}
    new = {"a": [0, True], "b": [1, {"x": 2}], "c": [2, "same"], "e": [4, None]}
    expected = ({"a": 1, "b": {"x": 1}, "d": 0}, {"a": True, "b": {"x": 2}, "e": None})
    lines = [compute_digest(encode_bucket(r)) for r in (old, new)]
    for records in (old, new):
        engine.storage.write_object(T, compute_digest(encode_bucket(records)), encode_bucket(records))
    compact = [legacy_bucket(engine, r) for r in (old, new)]
    assert engine.changed_records(T, *lines) == expected
    assert DbEngine(engine.root).changed_records(T, *compact) == expected
    assert DbEngine(engine.root).changed_records(T, lines[0], compact[1]) == expected
    assert engine.changed_records(T, None, lines[1]) == ({}, expected[1] | {"c": "same"})
    assert engine.changed_records(T, lines[0], lines[0]) == ({}, {})


@pytest.mark.parametrize("records", [
    {"a": [0, 1], "b": "not a record"},
    {"a": [-1, 1]},
    {"a": [True, 1]},
])
def test_a_malformed_differing_line_raises_a_corrupt_object_error(engine, records):
    engine.init(T)
    good = encode_bucket({"a": [0, 2]})
    bad = b'{"__kind__":"bucket","records":{\n' + b",\n".join(
        json.dumps(k).encode() + b":" + json.dumps(v).encode() for k, v in records.items()) + b"\n}}"
    for data in (good, bad):
        engine.storage.write_object(T, compute_digest(data), data)
    with pytest.raises(errors.CorruptObjectError):
        engine.changed_records(T, compute_digest(good), compute_digest(bad))


def test_changed_items_parses_only_the_lines_that_differ():
    old = encode_bucket({f"k{i}": [i, {"v": i}] for i in range(100)})
    # A shared line that is not even JSON is never parsed, so it cannot be misread either.
    tweak = lambda data: data.replace(b'"k5":[5,{"v":5}]', b'"k5":[5,{"v":5}')  # noqa: E731
    items = changed_items(tweak(old), tweak(encode_bucket({**{f"k{i}": [i, {"v": i}] for i in range(100)},
                                                          "k7": [7, {"v": -7}]})))
    assert items == ({"k7": [7, {"v": 7}]}, {"k7": [7, {"v": -7}]})
    assert changed_items(b'{"__kind__":"bucket","records":{"a":[0,1]}}', old) is None


def test_a_rewritten_node_has_the_bytes_of_a_fresh_encoding(engine, make_engine):
    """Every record-tree node a put writes is the compact JSON of its content: any writer
    that builds the same node writes the same bytes (and digest)."""
    engine.init(T)
    keys = [f"k{i}" for i in range(6)]
    engine.put_many(T, "u", E, {k: {"n": i, "s": "é"} for i, k in enumerate(keys)})
    engine.put(T, "u", E, keys[1], {"n": "\udc80"})  # a lone surrogate: that node is ASCII-escaped
    engine.put(T, "u", E, keys[2], [2])
    engine.delete(T, "u", E, keys[3])
    make_engine().put(T, "u", E, keys[4], 4)  # a cold engine
    head = engine.read_snapshot(T, engine.get_digest(T, E))
    path = engine.storage.object_path(T, head["__order__"])
    data = open(path, "rb").read()
    items = json.loads(data)["items"]
    assert data == order_leaf_bytes(items)  # lined: to_json_bytes with a newline between items
    assert data.replace(b"\n", b"") == to_json_bytes({"__kind__": "rec-leaf", "items": items})
    assert items == [[0, keys[0], {"n": 0, "s": "é"}], [1, keys[1], {"n": "\udc80"}], [2, keys[2], [2]],
                     [4, keys[4], 4], [5, keys[5], {"n": 5, "s": "é"}]]
    assert "é".encode() not in data and b'"\\udc80"' in data  # the whole node is ASCII-escaped


scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 2.5]) | st.text(max_size=3)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=st.dictionaries(st.text(max_size=3), scalars | st.lists(scalars, max_size=2), max_size=12),
       updates=st.dictionaries(st.text(max_size=3), scalars, max_size=4),
       deleted=st.integers(0, 3))
def test_changed_records_equals_a_record_by_record_diff(engine, old, updates, deleted):
    """Updates in place, deletes and adds that keep the count (records move): always the
    records whose stored values differ, type-strict, and nothing else."""
    engine.init(T)
    new = {k: v for i, (k, v) in enumerate(old.items()) if i >= deleted}
    new.update(updates)
    items_old = {k: [i, v] for i, (k, v) in enumerate(old.items())}
    seq = {k: i for i, k in enumerate(old)}
    items_new = {k: [seq.get(k, 100 + i), v] for i, (k, v) in enumerate(new.items())}
    digests = []
    for items in (items_old, items_new):
        data = encode_bucket(items) if items else None
        if data is not None:
            engine.storage.write_object(T, compute_digest(data), data)
        digests.append(compute_digest(data) if data is not None else None)
    same = lambda a, b: to_json_bytes(a) == to_json_bytes(b)  # noqa: E731
    before = {k: v for k, v in old.items() if k not in new or not same(v, new[k])}
    after = {k: v for k, v in new.items() if k not in old or not same(v, old[k])}
    got = engine.changed_records(T, *digests) if digests != [None, None] else ({}, {})
    assert got == (before, after)
    assert all(same(got[0][k], before[k]) for k in before) and all(same(got[1][k], after[k]) for k in after)
