"""The serializer: stored forms, tags, escaping, handlers and their registry."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from fractions import Fraction

import pytest
from dbengine import errors
from dbengine.handlers import BaseInlineHandler, BaseRefHandler, HandlerRegistry, handlers
from dbengine.serializer import Serializer, validate_stored
from dbengine.utils import compute_digest, to_json_bytes


class MemoryRefs:
    """A dict standing in for refs/ (the serializer only needs write/read callables)."""

    def __init__(self):
        self.data: dict[str, bytes] = {}

    def write(self, data: bytes) -> str:
        digest = compute_digest(data)
        self.data[digest] = data
        return digest

    def read(self, digest: str) -> bytes:
        return self.data[digest]


@pytest.fixture
def refs() -> MemoryRefs:
    return MemoryRefs()


@pytest.fixture
def registry() -> HandlerRegistry:
    return HandlerRegistry()


@pytest.fixture
def ser(refs, registry) -> Serializer:
    return Serializer(refs.write, refs.read, registry=registry)


def roundtrip(ser: Serializer, value):
    """Encode, go through JSON bytes as the engine does, decode."""
    stored = json.loads(to_json_bytes(ser.encode(value)))
    return ser.decode(stored)


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b=None):
        self.a = a
        if b is not None:
            self.b = b

    def __eq__(self, other):
        return type(other) is Slotted and all(
            getattr(self, n, "<unset>") == getattr(other, n, "<unset>") for n in self.__slots__
        )


class SlottedChild(Slotted):
    __slots__ = ("c",)

    def __init__(self, a, b, c):
        super().__init__(a, b)
        self.c = c

    def __eq__(self, other):
        return type(other) is SlottedChild and (self.a, self.b, self.c) == (other.a, other.b, other.c)


class Outer:
    class Inner:
        def __init__(self, v):
            self.v = v

        def __eq__(self, other):
            return type(other) is Outer.Inner and self.v == other.v


class WithRefs:
    def __init__(self, meta, blob):
        self.meta = meta
        self.blob = blob

    @staticmethod
    def use_refs():
        return {"blob"}

    def __eq__(self, other):
        return type(other) is WithRefs and vars(self) == vars(other)


# ---------------------------------------------------------------- stored forms
def test_primitives_are_stored_as_they_are(ser):
    for value in (None, True, False, 0, -7, 10**40, 1.5, "text", "", [1, "a", None]):
        assert ser.encode(value) == value
        assert type(roundtrip(ser, value)) is type(value)


def test_tagged_forms(ser):
    assert ser.encode((1, 2)) == {"__special__": "py/tuple", "items": [1, 2]}
    assert ser.encode({3, 1, 2}) == {"__special__": "py/set", "items": [1, 2, 3]}
    assert ser.encode(frozenset({"b", "a"})) == {"__special__": "py/frozenset", "items": ["a", "b"]}
    assert ser.encode(b"hi") == {"__special__": "py/bytes", "base64": "aGk="}
    assert ser.encode(math.inf) == {"__special__": "py/float", "value": "inf"}
    assert ser.encode(-math.inf) == {"__special__": "py/float", "value": "-inf"}
    assert ser.encode(math.nan) == {"__special__": "py/float", "value": "nan"}
    assert ser.encode({1: "a"}) == {"__special__": "py/dict", "items": [[1, "a"]]}
    assert ser.encode(Color.RED) == {"__special__": "py/enum", "class": f"{__name__}:Color", "value": "red"}
    assert ser.encode(Point(1, 2)) == {
        "__special__": "py/object", "class": f"{__name__}:Point", "state": {"x": 1, "y": 2}
    }


def test_sets_are_encoded_deterministically(ser):
    a = ser.encode({"x", 1, None, (1, 2), b"z"})
    b = ser.encode({b"z", (1, 2), None, 1, "x"})
    assert to_json_bytes(a) == to_json_bytes(b)


def test_a_dict_that_looks_tagged_is_escaped(ser):
    tricky = {"__special__": "py/tuple", "items": [1, 2]}
    stored = ser.encode(tricky)
    assert stored["__special__"] == "py/dict"
    assert roundtrip(ser, tricky) == tricky
    nested = {"a": [{"__special__": "Date", "__digest__": "0" * 64}], "__parent__": [None]}
    assert roundtrip(ser, nested) == nested
    assert roundtrip(ser, {"__digest__": "x", "__user_id__": 1, "__data__": 2}) == {
        "__digest__": "x", "__user_id__": 1, "__data__": 2}


def test_special_floats_and_negative_zero(ser):
    assert math.isnan(roundtrip(ser, math.nan))
    assert roundtrip(ser, math.inf) == math.inf
    zero = roundtrip(ser, -0.0)
    assert zero == 0.0 and math.copysign(1, zero) == -1
    assert roundtrip(ser, 1e308) == 1e308
    assert roundtrip(ser, 5e-324) == 5e-324


def test_huge_integers(ser):
    for value in (2**64, -(2**200), 10**5000, -(10**20000)):
        back = roundtrip(ser, value)
        assert back == value and type(back) is int
    assert ser.encode(10**5000)["__special__"] == "py/int"  # JSON parsers refuse such long numbers
    assert ser.encode(2**64) == 2**64
    with pytest.raises(errors.DeserializationError):
        ser.decode({"__special__": "py/int", "hex": "12"})


def test_strings_with_surrogates_and_controls(ser):
    for text in ("\ud800", "a\udfffb", "\x00\x1f", "é🎉", "\u2028"):
        assert roundtrip(ser, text) == text
        assert roundtrip(ser, {text: text}) == {text: text}


def test_containers_keep_types_and_order(ser):
    value = {"t": (1, [2, (3,)]), "s": {1, 2}, "f": frozenset({(1, 2)}), "b": b"\x00\xff",
             (1, "a"): None, 2: {frozenset({1}): b""}, None: True, 1.5: "x", b"k": 1}
    back = roundtrip(ser, value)
    assert back == value
    assert list(back) == list(value)
    assert type(back["t"]) is tuple and type(back["t"][1]) is list and type(back["t"][1][1]) is tuple
    assert type(back["f"]) is frozenset and type(back["s"]) is set


def test_objects_with_dict_slots_and_nesting(ser):
    assert roundtrip(ser, Point(1, Point("a", (2, 3)))) == Point(1, Point("a", (2, 3)))
    assert roundtrip(ser, Slotted(1, [2])) == Slotted(1, [2])
    partial = roundtrip(ser, Slotted(1))
    assert partial.a == 1 and not hasattr(partial, "b")
    assert roundtrip(ser, SlottedChild(1, 2, {3: 4})) == SlottedChild(1, 2, {3: 4})
    assert roundtrip(ser, Outer.Inner(5)) == Outer.Inner(5)
    assert roundtrip(ser, [Color.RED, Color.BLUE]) == [Color.RED, Color.BLUE]


def test_use_refs_fields_are_pickled_into_refs(ser, refs):
    value = WithRefs({"name": "dataset_1"}, Fraction(1, 3))
    stored = ser.encode(value)
    pointer = stored["state"]["blob"]
    assert pointer["__special__"] == "py/pickle" and pointer["__digest__"] in refs.data
    assert stored["state"]["meta"] == {"name": "dataset_1"}
    assert roundtrip(ser, value) == value


def test_untrusted_pickles_are_refused(refs, registry):
    writer = Serializer(refs.write, refs.read, registry=registry)
    stored = writer.encode(WithRefs({}, [1, 2]))
    reader = Serializer(refs.write, refs.read, registry=registry, trust_pickle=False)
    with pytest.raises(errors.UntrustedPickleError):
        reader.decode(stored)


def test_values_that_cannot_be_stored_raise(ser):
    class Local:
        pass

    class MyDict(dict):
        pass

    with pytest.raises(errors.SerializationError):
        ser.encode(Local())
    with pytest.raises(errors.SerializationError):
        ser.encode(MyDict(a=1))
    with pytest.raises(errors.SerializationError):
        ser.encode(object())
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    with pytest.raises(errors.SerializationError):
        ser.encode(nested)


def test_bad_stored_values_raise_deserialization_errors(ser):
    bad = [
        {"__special__": "py/tuple"},
        {"__special__": "py/tuple", "items": 3},
        {"__special__": "py/bytes", "base64": "!!"},
        {"__special__": "py/float", "value": "1.0"},
        {"__special__": "py/object", "class": "os:system", "state": {}},
        {"__special__": "py/object", "class": "no_such_module_xyz:K", "state": {}},
        {"__special__": "py/object", "class": "not a path", "state": {}},
        {"__special__": "py/pickle", "__digest__": "../x"},
        {"__special__": 7},
    ]
    for stored in bad:
        with pytest.raises(errors.DeserializationError):
            ser.decode(stored)
    with pytest.raises(errors.UnknownTagError, match="Nope"):
        ser.decode({"__special__": "Nope"})


# ---------------------------------------------------------------- handlers
class DateHandler(BaseInlineHandler):
    def is_eligible_for(self, obj):
        return isinstance(obj, dt.date)

    def tag(self):
        return "Date"

    def serialize(self, obj):
        return {"__special__": self.tag(), "year": obj.year, "month": obj.month, "day": obj.day}

    def deserialize(self, data):
        return dt.date(year=data["year"], month=data["month"], day=data["day"])


class FractionHandler(BaseRefHandler):
    def is_eligible_for(self, obj):
        return isinstance(obj, Fraction)

    def tag(self):
        return "Fraction"

    def serialize_to_bytes(self, obj):
        return f"{obj.numerator}/{obj.denominator}".encode()

    def deserialize_from_bytes(self, data):
        return Fraction(data.decode())


def test_inline_handler(ser, registry):
    registry.register_handler(DateHandler())
    stored = ser.encode({"when": dt.date(2026, 11, 26)})
    assert stored == {"when": {"__special__": "Date", "year": 2026, "month": 11, "day": 26}}
    assert roundtrip(ser, [dt.date(2026, 1, 2), (dt.date(1, 1, 1),)]) == [dt.date(2026, 1, 2), (dt.date(1, 1, 1),)]


def test_ref_handler(ser, refs, registry):
    registry.register_handler(FractionHandler())
    stored = ser.encode({"f": Fraction(2, 7)})
    digest = stored["f"]["__digest__"]
    assert stored == {"f": {"__special__": "Fraction", "__digest__": digest}}
    assert refs.data[digest] == b"2/7"
    assert roundtrip(ser, {"f": Fraction(2, 7)}) == {"f": Fraction(2, 7)}


def test_handlers_take_precedence_over_builtin_encodings(ser, registry):
    class TupleHandler(BaseInlineHandler):
        def is_eligible_for(self, obj):
            return type(obj) is tuple and len(obj) == 2

        def tag(self):
            return "Pair"

        def serialize(self, obj):
            return {"__special__": "Pair", "l": obj[0], "r": obj[1]}

        def deserialize(self, data):
            return (data["l"], data["r"])

    registry.register_handler(TupleHandler())
    assert ser.encode((1, 2))["__special__"] == "Pair"
    assert roundtrip(ser, (1, (2, 3))) == (1, (2, 3))


def test_registering_a_tag_twice_raises(registry):
    registry.register_handler(DateHandler())
    with pytest.raises(errors.HandlerAlreadyRegisteredError, match="Date"):
        registry.register_handler(DateHandler())
    assert registry.tags() == ["Date"]
    assert registry.unregister_handler("Date") is True
    assert registry.unregister_handler("Date") is False
    registry.register_handler(DateHandler())


def test_the_global_registry_refuses_a_second_registration(handler_tags):
    handlers.register_handler(DateHandler())
    handler_tags.append("Date")
    with pytest.raises(errors.HandlerAlreadyRegisteredError):
        handlers.register_handler(DateHandler())


def test_engine_tags_are_reserved(registry):
    class Sneaky(DateHandler):
        def tag(self):
            return "py/tuple"

    with pytest.raises(errors.HandlerAlreadyRegisteredError):
        registry.register_handler(Sneaky())


def test_an_inline_handler_must_write_its_tag(ser, registry):
    class Wrong(DateHandler):
        def serialize(self, obj):
            return {"year": obj.year}

    registry.register_handler(Wrong())
    with pytest.raises(errors.SerializationError):
        ser.encode(dt.date(2026, 1, 1))


# ---------------------------------------------------------------- validation of stored documents
def test_validate_stored(refs):
    digest = refs.write(b"bytes")
    has_ref = refs.data.__contains__
    assert validate_stored({"a": [1, {"__special__": "py/tuple", "items": []}]}, has_ref) == []
    assert validate_stored({"__special__": "Custom", "__digest__": digest}, has_ref) == []
    assert validate_stored({"__special__": "Custom", "__digest__": "a" * 64}, has_ref)
    assert validate_stored({"__special__": "py/pickle", "__digest__": "nothex"}, has_ref)
    assert validate_stored({"__special__": "py/bytes", "base64": "%%"}, has_ref)
    assert validate_stored({"__special__": "py/nonsense"}, has_ref)
    assert validate_stored({"__special__": "py/int", "hex": "0x1f"}, has_ref) == []
    assert validate_stored({"__special__": "py/int", "hex": "1f"}, has_ref)
    assert validate_stored({"__special__": ""}, has_ref)
    assert validate_stored({"__special__": "py/dict", "items": [[1]]}, has_ref)
    assert validate_stored({"__special__": "py/object", "class": "x", "state": {}}, has_ref)
    assert validate_stored([float("nan")], has_ref)
