"""`records_view` and `record_keys`: for record trees the keys and values are read window by
window; for format-0.4 buckets the keys come from the buckets' line starts and values are
parsed bucket by bucket. The result always equals the full parse of `read_records`."""

from __future__ import annotations

import json
import os
import sys

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine
from dbengine.records import bucket_of, scan_keys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from legacy_layout import write_v04  # noqa: E402

T, E = "t", "rec"
keys = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                      max_leaves=6)


def same_as_full_parse(engine: DbEngine, digest: str) -> None:
    full = DbEngine(engine.root).read_records(T, digest, copy=False)
    for cold in (DbEngine(engine.root), engine):  # from the bytes, and from parsed buckets
        view = cold.records_view(T, digest)
        assert list(view) == list(full) == cold.record_keys(T, digest)
        assert len(view) == len(full)
        assert {k: view[k] for k in view} == full
        assert all(type(view[k]) is type(full[k]) for k in full)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.dictionaries(keys, values, max_size=12), min_size=1, max_size=4),
       deleted=st.lists(keys, max_size=3))
def test_the_view_equals_the_full_parse(make_engine, batches, deleted):
    """Keys with quotes, backslashes, control characters and lone-surrogate-free Unicode;
    deletes and re-adds (insertion order by first put)."""
    engine = make_engine()
    engine.init(T)
    for batch in batches:
        engine.put_many(T, "u", E, batch or {"k": 1})
    for key in deleted:
        if engine.exists(T, E) and key in engine.record_keys(T, engine.get_digest(T, E)):
            engine.delete(T, "u", E, key)
    same_as_full_parse(engine, engine.get_digest(T, E))


def test_keys_are_scanned_without_parsing_values():
    data = b'{"__kind__":"bucket","records":{\n"a":[3,{"x":"\\n\\"b\\":[9,"}],\n"c\\"d":[1,2]\n}}'
    assert json.loads(data)["records"] == {"a": [3, {"x": '\n"b":[9,'}], 'c"d': [1, 2]}
    assert scan_keys(data) is None  # an escaped key: the caller parses this bucket whole
    plain = b'{"__kind__":"bucket","records":{\n"a":[3,{"x":"\\n\\"b\\":[9,"}],\n"c":[10,2]\n}}'
    assert scan_keys(plain) == (["a", "c"], ["3", "10"])
    assert scan_keys(b'{"__kind__":"bucket","records":{"a":[0,1]}}') is None  # compact: other layout


def test_compact_buckets_and_escaped_keys_are_read_whole(engine):
    records = {'q"uote': 1, "back\\slash": 2, "tab\t": 3, "plain": {"v": [1, 2]}}
    (lines,) = write_v04(engine, T, E, [records])
    (compact,) = write_v04(engine, T, "compact", [records], compact=True)  # as format 0.2 wrote them
    same_as_full_parse(engine, lines)
    same_as_full_parse(engine, compact)
    assert DbEngine(engine.root).read_records(T, compact) == records


def test_a_damaged_bucket_fails_only_when_its_values_are_read(engine):
    (head,) = write_v04(engine, T, E, [{f"k{i}": {"n": i} for i in range(300)}])
    buckets = engine.record_buckets(T, head)
    victim = sorted(buckets.values())[0]
    path = engine.storage.object_path(T, victim)
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data.replace(b'{"n":', b'{"N":', 1))
    cold = DbEngine(engine.root)
    with pytest.raises(errors.CorruptObjectError):  # the keys are read from checked bytes too
        cold.records_view(T, head)
    with open(path, "wb") as handle:
        handle.write(data)
    reader = DbEngine(engine.root)
    view = reader.records_view(T, head)
    with open(path, "wb") as handle:  # damaged after the keys were read, before the values
        handle.write(data.replace(b'{"n":', b'{"N":', 1))
    by_bucket = {k for k in view if buckets[bucket_of(k)] == victim}
    first = next(iter(by_bucket))
    assert view[first] == {"n": int(first[1:])}  # parsed from the bytes checked for the keys
    reader._bucket_bytes.clear()  # evicted (an entry bigger than the bytes cache): read again
    reader._objects.clear()
    with pytest.raises(errors.CorruptObjectError):
        view[first]
    other = next(k for k in view if k not in by_bucket)
    assert view[other] == {"n": int(other[1:])}
