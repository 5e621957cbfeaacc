"""Decoding data the engine does not trust runs no code of the classes it names."""

from __future__ import annotations

import enum
import gc
import importlib.util
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbengine.dbengine import DbEngine
from dbengine.errors import DeserializationError
from dbengine.serializer import Serializer

MARKS: list[str] = []


class Evil:
    def __hash__(self) -> int:
        MARKS.append("hash")
        return 1

    def __eq__(self, other: object) -> bool:
        MARKS.append("eq")
        return False


class Color(enum.Enum):
    RED = 1

    @classmethod
    def _missing_(cls, value: object) -> Color:
        MARKS.append("missing")
        return cls.RED


def _obj(cls: type) -> dict:
    return {"__special__": "py/object", "class": f"{__name__}:{cls.__qualname__}", "state": {}}


HOSTILE = {
    "set item": {"__special__": "py/set", "items": [_obj(Evil)]},
    "frozenset item": {"__special__": "py/frozenset", "items": [_obj(Evil)]},
    "dict key in a tuple": {
        "__special__": "py/dict",
        "items": [[{"__special__": "py/tuple", "items": [1, _obj(Evil)]}, "v"]],
    },
    "enum value with _missing_": {"__special__": "py/enum", "class": f"{__name__}:Color", "value": 99},
}


@pytest.fixture(autouse=True)
def _clear_marks() -> None:
    MARKS.clear()


@pytest.mark.parametrize("stored", HOSTILE.values(), ids=HOSTILE.keys())
def test_untrusted_decode_refuses_and_runs_nothing(stored: dict) -> None:
    with pytest.raises(DeserializationError):
        Serializer(trust_pickle=False).decode(stored)
    assert MARKS == []


def test_trusted_decode_does_run_them_so_the_hostile_cases_are_real() -> None:
    trusted = Serializer(trust_pickle=True)
    trusted.decode(HOSTILE["set item"])
    assert trusted.decode(HOSTILE["enum value with _missing_"]) is Color.RED
    assert "hash" in MARKS and "missing" in MARKS


def test_untrusted_decode_keeps_plain_sets_keys_and_enum_members(tmp_path: Path) -> None:
    untrusted = Serializer(trust_pickle=False)
    assert untrusted.decode({"__special__": "py/enum", "class": f"{__name__}:Color", "value": 1}) is Color.RED
    value = {"__special__": "py/set", "items": [1, "a", {"__special__": "py/tuple", "items": [1, 2]}]}
    assert untrusted.decode(value) == {1, "a", (1, 2)}
    keys = {"__special__": "py/dict", "items": [[1, "one"], [{"__special__": "py/tuple", "items": [2]}, "two"]]}
    assert untrusted.decode(keys) == {1: "one", (2,): "two"}


# ---------------------------------------------------------------- classes of a real module
# Untrusted decoding runs no code of the class it builds: not its __init__, __new__,
# __setstate__, property setters, descriptors, __set_name__, __init_subclass__, __del__,
# __setattr__/__getattribute__ overrides, nor its metaclass (nor a module __getattr__).
# Each hook below leaves a marker file when it runs; the module is a real file, imported
# and left in sys.modules, so `module:Class` resolves the way it does for a loaded class.

PROBE = "mydb_untrusted_probe"
PROBE_SOURCE = '''
import dataclasses
import enum
import io
import os

MARKS = {marks!r}


def mark(what):
    open(os.path.join(MARKS, what), "w").close()


def __getattr__(name):  # PEP 562: a lazy module would import code here
    if name.startswith("Lazy"):
        mark("module.__getattr__")
    raise AttributeError(name)


# -- plain classes: untrusted decoding must still build them
@dataclasses.dataclass
class Record:
    name: str
    size: int = 0  # a class-level default: instance state shadows it

    def __post_init__(self):
        mark("Record.__post_init__")

    def __setstate__(self, state):
        mark("Record.__setstate__")

    def describe(self):
        return f"{{self.name}}:{{self.size}}"


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        mark("Slotted.__init__")


class SlottedChild(Slotted):
    __slots__ = ("c",)


# -- hooks that rebuilding never needs: built, none of them runs
class MarkingMeta(type):
    def __call__(cls, *args, **kwargs):
        mark("MarkingMeta.__call__")
        return super().__call__(*args, **kwargs)

    def __getattribute__(cls, name):
        mark("MarkingMeta.__getattribute__")
        return super().__getattribute__(name)

    def __getattr__(cls, name):
        mark("MarkingMeta.__getattr__")
        raise AttributeError(name)

    def __setattr__(cls, name, value):
        mark("MarkingMeta.__setattr__")
        super().__setattr__(name, value)


class Named:  # a non-data descriptor-like helper with __set_name__
    def __set_name__(self, owner, name):
        mark("Named.__set_name__")


class GuardedBase:
    def __init_subclass__(cls, **kwargs):
        mark("GuardedBase.__init_subclass__")
        super().__init_subclass__(**kwargs)


class Guarded(GuardedBase, metaclass=MarkingMeta):
    helper = Named()

    def __init__(self):
        mark("Guarded.__init__")

    def __setstate__(self, state):
        mark("Guarded.__setstate__")

    def __setattr__(self, name, value):
        mark("Guarded.__setattr__")

    def __getattribute__(self, name):
        mark("Guarded.__getattribute__")
        return object.__getattribute__(self, name)

    def __getattr__(self, name):
        mark("Guarded.__getattr__")
        raise AttributeError(name)

    def __eq__(self, other):
        mark("Guarded.__eq__")
        return False

    def __hash__(self):
        mark("Guarded.__hash__")
        return 0

    def __reduce_ex__(self, protocol):
        mark("Guarded.__reduce_ex__")
        return object.__reduce_ex__(self, protocol)


class GuardedSlots(GuardedBase, metaclass=MarkingMeta):
    __slots__ = ("a", "b")

    def __init__(self):
        mark("GuardedSlots.__init__")

    def __setattr__(self, name, value):
        mark("GuardedSlots.__setattr__")

    def __getattribute__(self, name):
        mark("GuardedSlots.__getattribute__")
        return object.__getattribute__(self, name)


# -- classes an untrusted engine must refuse (building them would run their code)
class SlotProperty:  # like textual.cache.LRUCache and its maxsize
    __slots__ = ("_size",)

    @property
    def size(self):
        mark("SlotProperty.size.getter")
        return self._size

    @size.setter
    def size(self, value):
        mark("SlotProperty.size.setter")
        self._size = value


class DictProperty:
    @property
    def size(self):
        mark("DictProperty.size.getter")
        return 0

    @size.setter
    def size(self, value):
        mark("DictProperty.size.setter")


class Descriptor:
    def __set_name__(self, owner, name):
        mark("Descriptor.__set_name__")

    def __get__(self, instance, owner=None):
        mark("Descriptor.__get__")
        return self

    def __set__(self, instance, value):
        mark("Descriptor.__set__")

    def __delete__(self, instance):
        mark("Descriptor.__delete__")


class SlotDescriptor:
    __slots__ = ()
    field = Descriptor()


class DictDescriptor:
    field = Descriptor()


class Finalizer:
    def __del__(self):
        mark("Finalizer.__del__")


class CustomNew:
    def __new__(cls, *args, **kwargs):
        mark("CustomNew.__new__")
        return super().__new__(cls)


class IOCloser(io.RawIOBase):  # io's C finalizer calls close() when the object is dropped
    def close(self):
        mark("IOCloser.close")


class Proxy:  # not a class, but isinstance(proxy, type) would ask its __class__
    @property
    def __class__(self):
        mark("Proxy.__class__")
        return type

    def __getattr__(self, name):
        mark("Proxy.__getattr__")
        raise AttributeError(name)


proxy = Proxy()


# -- enums: the member lookup runs nothing of the enum, its metaclass or its values
class Key:
    def __hash__(self):
        return hash(7)

    def __eq__(self, other):
        mark("Key.__eq__")
        return other is self


class KeyEnum(enum.Enum):
    A = Key()


class PlainEnum(enum.Enum):
    A = 1


class Shown:  # a value whose repr would run its code (in an error message, say)
    def __repr__(self):
        mark("Shown.__repr__")
        return "Shown()"

    def __str__(self):
        mark("Shown.__str__")
        return "Shown()"

    def __format__(self, spec):
        mark("Shown.__format__")
        return "Shown()"


class LoudEnumType(enum.EnumType):
    def __getattribute__(cls, name):
        if name == "_value2member_map_":
            mark("LoudEnumType.__getattribute__")
        return super().__getattribute__(name)


class LoudEnum(enum.Enum, metaclass=LoudEnumType):
    A = 1
    B = "b"
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.ModuleType]:
    base = tmp_path_factory.mktemp("probe")
    marks = base / "marks"
    marks.mkdir()
    path = base / f"{PROBE}.py"
    path.write_text(PROBE_SOURCE.format(marks=str(marks)))
    spec = importlib.util.spec_from_file_location(PROBE, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PROBE] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(PROBE, None)


@pytest.fixture
def marks(probe: types.ModuleType) -> Path:
    """The marker folder, emptied of what importing the module left (__set_name__, ...)."""
    folder = Path(probe.MARKS)
    for marker in folder.iterdir():
        marker.unlink()
    return folder


def ran(marks: Path) -> list[str]:
    gc.collect()  # finalizers of anything decoded run now
    return sorted(p.name for p in marks.iterdir())


def obj(name: str, state: dict, module: str = PROBE) -> dict:
    return {"__special__": "py/object", "class": f"{module}:{name}", "state": state}


def enum_value(name: str, value: object) -> dict:
    return {"__special__": "py/enum", "class": f"{PROBE}:{name}", "value": value}


#: Stored values an untrusted reader must refuse, and a word its error must contain.
REFUSED = {
    "slot property setter": (obj("SlotProperty", {"size": 5}), "size"),
    "dict property setter": (obj("DictProperty", {"size": 5}), "size"),
    "slot data descriptor": (obj("SlotDescriptor", {"field": 1}), "field"),
    "dict data descriptor": (obj("DictDescriptor", {"field": 1}), "field"),
    "python __del__": (obj("Finalizer", {"x": 1}), "__del__"),
    "python __new__": (obj("CustomNew", {"x": 1}), "__new__"),
    "C finalizer calling close()": (obj("IOCloser", {}), "__del__"),
    "not a class, __class__ property": (obj("proxy", {}), "not a class"),
    "module __getattr__": (obj("LazyThing", {}), "LazyThing"),
    "state name __class__": (obj("Record", {"__class__": "x"}), "__class__"),
    "state name __dict__": (obj("Record", {"__dict__": {"name": "x"}}), "__dict__"),
    "state name not an identifier": (obj("Record", {"a b": 1}), "'a b'"),
    "state name empty": (obj("Record", {"": 1}), "''"),
    "state name not a slot": (obj("Slotted", {"z": 1}), "'z'"),
    "enum value equal-hashed to a member with __eq__": (enum_value("KeyEnum", 7), "KeyEnum"),
    "enum value an object with __repr__": (enum_value("PlainEnum", obj("Shown", {})), "Shown"),
}


def commit(root: Path, entry: str, stored: object) -> None:
    writer = DbEngine(str(root), durable=False)
    if not writer.is_initialized("t"):
        writer.init("t")
    writer.commit_document("t", "u", entry, {"__data__": stored})


@pytest.mark.parametrize("stored,word", REFUSED.values(), ids=REFUSED.keys())
def test_untrusted_decode_refuses_classes_whose_code_would_run(
    probe: types.ModuleType, marks: Path, tmp_path: Path, stored: dict, word: str
) -> None:
    with pytest.raises(DeserializationError, match=re.escape(word)):
        Serializer(trust_pickle=False).decode(stored)
    assert ran(marks) == []
    commit(tmp_path / "db", "value", stored)
    reader = DbEngine(str(tmp_path / "db"), durable=False, trust_pickle=False)
    with pytest.raises(DeserializationError, match=re.escape(word)):
        reader.load("t", "value")
    with pytest.raises(DeserializationError):  # the same value nested in a container
        reader.decode({"list": [stored]})
    assert ran(marks) == []


def test_the_refused_cases_are_real_a_trusted_decode_runs_them(probe: types.ModuleType, marks: Path) -> None:
    trusted = Serializer(trust_pickle=True)
    trusted.decode(REFUSED["slot property setter"][0])
    trusted.decode(REFUSED["slot data descriptor"][0])
    trusted.decode(obj("IOCloser", {}))
    assert ran(marks) == ["Descriptor.__set__", "IOCloser.close", "SlotProperty.size.setter"]


def _fields(value: object) -> dict:
    """The instance's __dict__ and slots, read without any of its class's hooks."""
    cls = type(value)
    has_dict = type.__dict__["__dictoffset__"].__get__(cls)
    fields = dict(object.__getattribute__(value, "__dict__")) if has_dict else {}
    for klass in type.__dict__["__mro__"].__get__(cls):
        namespace = type.__dict__["__dict__"].__get__(klass)
        for name in namespace.get("__slots__", ()):
            try:
                fields[name] = types.MemberDescriptorType.__get__(namespace[name], value)
            except AttributeError:  # an unset slot
                pass
    return fields


#: Stored values an untrusted reader builds, the class they name and the fields they get.
BUILT = {
    "dataclass": (obj("Record", {"name": "n", "size": 3}), "Record", {"name": "n", "size": 3}),
    "dataclass, default left to the class": (obj("Record", {"name": "n"}), "Record", {"name": "n"}),
    "slots": (obj("Slotted", {"a": 1, "b": [2]}), "Slotted", {"a": 1, "b": [2]}),
    "slots, one unset": (obj("Slotted", {"a": 1}), "Slotted", {"a": 1}),
    "inherited slots": (obj("SlottedChild", {"a": 1, "b": None, "c": {"k": (3,)}}), "SlottedChild",
                        {"a": 1, "b": None, "c": {"k": (3,)}}),
    "hooks and a metaclass never reached": (obj("Guarded", {"x": 1, "helper": "h"}), "Guarded",
                                            {"x": 1, "helper": "h"}),
    "slots, hooks and a metaclass never reached": (obj("GuardedSlots", {"a": 1, "b": 2}), "GuardedSlots",
                                                   {"a": 1, "b": 2}),
    "the private slot behind a property": (obj("SlotProperty", {"_size": 5}), "SlotProperty", {"_size": 5}),
}


def _tuple_state(stored: dict) -> dict:
    """The stored form of BUILT's values: tuples as py/tuple."""
    return Serializer().encode(stored["state"])


@pytest.mark.parametrize("stored,name,fields", BUILT.values(), ids=BUILT.keys())
def test_untrusted_decode_builds_plain_objects_without_running_their_code(
    probe: types.ModuleType, marks: Path, tmp_path: Path, stored: dict, name: str, fields: dict
) -> None:
    stored = {**stored, "state": _tuple_state(stored)}
    value = Serializer(trust_pickle=False).decode(stored)
    assert type(value) is getattr(probe, name)
    assert _fields(value) == fields
    commit(tmp_path / "db", "value", stored)
    loaded = DbEngine(str(tmp_path / "db"), durable=False, trust_pickle=False).load("t", "value")
    assert type(loaded) is getattr(probe, name)
    assert _fields(loaded) == fields
    del value, loaded
    assert ran(marks) == []


def test_untrusted_objects_behave_like_trusted_ones(probe: types.ModuleType, marks: Path) -> None:
    record = Serializer(trust_pickle=False).decode(obj("Record", {"name": "n"}))
    assert record.describe() == "n:0" and record.size == 0  # the class default still shows
    sized = Serializer(trust_pickle=False).decode(obj("SlotProperty", {"_size": 5}))
    assert sized._size == 5
    assert ran(marks) == []
    assert sized.size == 5  # the getter is the caller's own call (and it does run)
    assert ran(marks) == ["SlotProperty.size.getter"]


@pytest.mark.parametrize("name,value,member", [("LoudEnum", 1, "A"), ("LoudEnum", "b", "B")])
def test_untrusted_enum_lookup_runs_nothing_of_the_enum(
    probe: types.ModuleType, marks: Path, tmp_path: Path, name: str, value: object, member: str
) -> None:
    expected = getattr(probe, name).__dict__[member]
    assert ran(marks) == []  # (reading the class's own __dict__ runs nothing)
    assert Serializer(trust_pickle=False).decode(enum_value(name, value)) is expected
    commit(tmp_path / "db", "value", enum_value(name, value))
    assert DbEngine(str(tmp_path / "db"), durable=False, trust_pickle=False).load("t", "value") is expected
    assert ran(marks) == []


def test_textual_lru_cache_maxsize_is_refused() -> None:
    """The issue's repro: a slotted class whose property setter ran on untrusted state."""
    cache = pytest.importorskip("textual.cache")
    untrusted = Serializer(trust_pickle=False)
    with pytest.raises(DeserializationError, match="maxsize"):
        untrusted.decode(obj("LRUCache", {"maxsize": 5}, module="textual.cache"))
    state = {"_maxsize": 5, "_cache": {}, "_full": False, "_head": [], "hits": 0, "misses": 0}
    built = untrusted.decode(obj("LRUCache", state, module="textual.cache"))
    assert type(built) is cache.LRUCache and built.maxsize == 5 and len(built) == 0
