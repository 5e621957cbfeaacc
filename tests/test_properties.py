"""Property tests: load(save(x)) == x, with the same types, for any nested value."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from dbengine.dbengine import DbEngine
from dbengine.serializer import Serializer
from dbengine.utils import compute_digest, to_json_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MARKER_KEYS = ["__special__", "__parent__", "__digest__", "__data__", "__kind__", "__user_id__",
               "__date__", "__restored_from__", "__buckets__", "items", "state", "class", "base64"]
MARKER_VALUES = ["py/tuple", "py/dict", "py/pickle", "py/object", "py/float", "py/int", "Date",
                 "DataFrame", "0" * 64]


class Node:
    """A plain object rebuilt from its __dict__."""

    def __init__(self, left, right):
        self.left = left
        self.right = right


class Slotted:
    """A plain object rebuilt from its __slots__."""

    __slots__ = ("value", "other")

    def __init__(self, value):
        self.value = value


# ---------------------------------------------------------------- canonical comparison
def canon(value):
    """A comparable picture of a value: exact types, dict order, nan == nan, -0.0 != 0.0."""
    kind = type(value)
    if kind is float:
        return ("float", repr(value))
    if kind is int:
        return ("int", hex(value))  # repr() refuses ints over 4300 digits
    if kind in (list, tuple):
        return (kind.__name__, [canon(item) for item in value])
    if kind in (set, frozenset):
        return (kind.__name__, sorted(repr(canon(item)) for item in value))
    if kind is dict:
        return ("dict", [(canon(k), canon(v)) for k, v in value.items()])
    if kind is Node:
        return ("Node", canon(vars(value)))
    if kind is Slotted:
        return ("Slotted", [(n, canon(getattr(value, n))) for n in Slotted.__slots__ if hasattr(value, n)])
    assert kind in (type(None), bool, int, str, bytes), kind
    return (kind.__name__, value)


def same(a, b) -> bool:
    return canon(a) == canon(b)


def test_the_comparison_can_fail():
    assert not same(1, True) and not same(1, 1.0) and not same((1,), [1]) and not same(0.0, -0.0)
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1}) and not same({1}, frozenset({1}))
    assert same(math.nan, float("nan")) and same({"n": [math.nan]}, {"n": [math.nan]})


# ---------------------------------------------------------------- strategies
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)  # surrogates too
huge_ints = st.builds(lambda n, sign: sign * (10**n + 7), st.integers(4200, 6000), st.sampled_from([1, -1]))
any_ints = st.integers() | st.sampled_from([2**63, -(2**64) - 1]) | huge_ints
any_floats = st.floats(allow_nan=True, allow_infinity=True)
keys_text = st.sampled_from(MARKER_KEYS) | texts
atoms = st.none() | st.booleans() | any_ints | any_floats | texts | st.binary(max_size=20) | st.sampled_from(MARKER_VALUES)

hashables = st.recursive(
    atoms,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple),
    max_leaves=6,
)


def _with_attrs(node: Node, extra: dict) -> Node:
    vars(node).update(extra)
    return node


def _slotted(value, other, set_other: bool) -> Slotted:
    obj = Slotted(value)
    if set_other:
        obj.other = other
    return obj


def containers(inner):
    return (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=4)
        | st.dictionaries(keys_text, inner, max_size=4)
        | st.dictionaries(any_ints, inner, max_size=3)
        | st.dictionaries(hashables, inner, max_size=3)
        | st.fixed_dictionaries({"__special__": st.sampled_from(MARKER_VALUES) | texts},
                                optional={"__digest__": st.sampled_from(MARKER_VALUES), "items": inner})
        | st.builds(_with_attrs, st.builds(Node, inner, inner),
                    st.dictionaries(st.sampled_from(MARKER_KEYS), inner, max_size=2))
        | st.builds(_slotted, inner, inner, st.booleans())
    )


values = st.recursive(atoms, containers, max_leaves=25)
record_keys = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10) | st.sampled_from(MARKER_KEYS)


# ---------------------------------------------------------------- serializer alone
class _Refs(dict):
    def write(self, data: bytes) -> str:
        digest = compute_digest(data)
        self[digest] = data
        return digest


@settings(max_examples=400, deadline=None)
@given(values)
def test_serializer_roundtrip(value):
    refs = _Refs()
    ser = Serializer(refs.write, refs.__getitem__)
    stored = ser.encode(value)
    data = to_json_bytes(stored)
    assert json.loads(data) == stored  # plain JSON: no NaN literals, nothing lost
    assert same(ser.decode(json.loads(data)), value)
    assert to_json_bytes(ser.encode(value)) == data  # deterministic


# ---------------------------------------------------------------- through the engine
@pytest.fixture(scope="module")
def prop_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("props") / "db")
    engine = DbEngine(root, durable=False)
    engine.init("t")
    return root


_names = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=values)
def test_save_load_roundtrip(prop_root, value):
    engine = DbEngine(prop_root, durable=False)
    entry = f"e{next(_names)}"
    digest = engine.save("t", "u", entry, value)
    assert same(engine.load("t", entry), value)
    cold = DbEngine(prop_root, durable=False)  # empty cache: decoded from the bytes on disk
    assert same(cold.load("t", entry, digest=digest), value)
    assert engine.save("t", "u", entry, value) == digest  # unchanged: same version
    assert engine.history("t", entry) == [digest]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.dictionaries(record_keys, values, min_size=1, max_size=6),
       key=record_keys, value=values)
def test_put_get_roundtrip(prop_root, items, key, value):
    engine = DbEngine(prop_root, durable=False)
    entry = f"r{next(_names)}"
    engine.put_many("t", "u", entry, items)
    engine.put("t", "u", entry, key, value)
    expected = dict(items)
    expected[key] = value
    cold = DbEngine(prop_root, durable=False)
    for eng in (engine, cold):
        assert same(eng.get("t", entry, key=key), value)
        assert same(eng.get("t", entry), list(expected.values()))  # insertion order
        for k, v in items.items():
            if k != key:
                assert same(eng.get("t", entry, key=k), v)
    assert len(engine.history("t", entry)) in (1, 2)
    assert engine.read_snapshot("t", engine.get_digest("t", entry))["__count__"] == len(expected)
