"""Python values <-> the stored JSON form, with handlers, refs and full type fidelity.

The stored form is plain JSON. A JSON object is a tagged value when it has the key
`__special__`; every other object is a dict with string keys. The engine's own tags
start with `py/` (see docs/FORMAT.md); user handlers own every other tag.
"""

from __future__ import annotations

import base64
import enum
import importlib
import math
import pickle
import re
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from .errors import (
    DbEngineError,
    DeserializationError,
    SerializationError,
    UnknownTagError,
    UntrustedPickleError,
)
from .handlers import BaseInlineHandler, BaseRefHandler, HandlerRegistry, handlers
from .names import DIGEST_RE
from .utils import canonical_key

SPECIAL = "__special__"
DIGEST = "__digest__"

TAG_TUPLE = "py/tuple"
TAG_SET = "py/set"
TAG_FROZENSET = "py/frozenset"
TAG_BYTES = "py/bytes"
TAG_FLOAT = "py/float"
TAG_DICT = "py/dict"
TAG_OBJECT = "py/object"
TAG_ENUM = "py/enum"
TAG_PICKLE = "py/pickle"
TAG_INT = "py/int"
BUILTIN_TAGS = frozenset(
    {TAG_TUPLE, TAG_SET, TAG_FROZENSET, TAG_BYTES, TAG_FLOAT, TAG_DICT, TAG_OBJECT, TAG_ENUM, TAG_PICKLE,
     TAG_INT}
)
#: Integers longer than this are stored as hex text: Python's JSON refuses ints over 4300 digits.
BIG_INT_BITS = 12_000
CLASS_PATH_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")

RefWriter = Callable[[bytes], str]
RefReader = Callable[[str], bytes]


def class_path(cls: type) -> str:
    """`module:qualname`, the path a stored object uses to name its class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _float_text(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


class Serializer:
    """Encodes values to the stored form and decodes them back.

    `write_ref` stores bytes in `refs/` and returns their digest; `read_ref` fetches
    them. Pickled refs are only unpickled when `trust_pickle` is true.
    """

    def __init__(
        self,
        write_ref: RefWriter | None = None,
        read_ref: RefReader | None = None,
        registry: HandlerRegistry = handlers,
        trust_pickle: bool = True,
    ):
        self._write_ref = write_ref
        self._read_ref = read_ref
        self.registry = registry
        self.trust_pickle = trust_pickle

    # ------------------------------------------------------------------ encode
    def encode(self, obj: Any) -> Any:
        """The stored (JSON-ready) form of `obj`."""
        try:
            return self._encode(obj)
        except RecursionError:
            raise SerializationError("value is nested too deeply to be stored") from None

    def _encode(self, obj: Any) -> Any:
        kind = type(obj)
        if obj is None or kind is bool or kind is str:
            return obj
        if kind is int:
            if obj.bit_length() <= BIG_INT_BITS:
                return obj
            return {SPECIAL: TAG_INT, "hex": hex(obj)}
        if kind is float:
            if math.isfinite(obj):
                return obj
            return {SPECIAL: TAG_FLOAT, "value": _float_text(obj)}
        if self.registry:
            handler = self.registry.get_handler(obj)
            if handler is not None:
                return self._encode_with_handler(handler, obj)
        if kind is dict:
            return self._encode_dict(obj)
        if kind is list:
            return [self._encode(item) for item in obj]
        if kind is tuple:
            return {SPECIAL: TAG_TUPLE, "items": [self._encode(item) for item in obj]}
        if kind is set or kind is frozenset:
            items = sorted((self._encode(item) for item in obj), key=canonical_key)
            return {SPECIAL: TAG_SET if kind is set else TAG_FROZENSET, "items": items}
        if kind is bytes:
            return {SPECIAL: TAG_BYTES, "base64": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, enum.Enum):
            return {SPECIAL: TAG_ENUM, "class": class_path(kind), "value": self._encode(obj.value)}
        if isinstance(obj, (dict, list, tuple, set, frozenset, bytes, int, float, str, bytearray)):
            raise SerializationError(
                f"cannot store a {kind.__module__}.{kind.__qualname__} (subclass of a built-in type): "
                "register a handler for it"
            )
        return self._encode_object(obj)

    def _encode_dict(self, obj: dict) -> Any:
        if SPECIAL not in obj and all(type(key) is str for key in obj):
            return {key: self._encode(value) for key, value in obj.items()}
        return {SPECIAL: TAG_DICT, "items": [[self._encode(k), self._encode(v)] for k, v in obj.items()]}

    def _encode_with_handler(self, handler: Any, obj: Any) -> dict:
        tag = handler.tag()
        if isinstance(handler, BaseRefHandler):
            data = handler.serialize_to_bytes(obj)
            if not isinstance(data, (bytes, bytearray)):
                raise SerializationError(f"handler {tag!r} returned {type(data).__name__}, not bytes")
            return {SPECIAL: tag, DIGEST: self._store_ref(bytes(data))}
        stored = handler.serialize(obj)
        if not isinstance(stored, dict) or stored.get(SPECIAL) != tag:
            raise SerializationError(f"inline handler {tag!r} must return a dict with '{SPECIAL}': {tag!r}")
        return {key: self._encode(value) if key != SPECIAL else value for key, value in stored.items()}

    def _encode_object(self, obj: Any) -> dict:
        cls = type(obj)
        if not hasattr(cls, "__module__") or "<locals>" in cls.__qualname__:
            raise SerializationError(f"cannot store an instance of local class {cls.__qualname__}")
        state = _object_state(obj)
        if state is None:
            raise SerializationError(
                f"cannot store a {cls.__module__}.{cls.__qualname__}: it has no __dict__ or __slots__; "
                "register a handler for it"
            )
        ref_fields = set()
        use_refs = getattr(obj, "use_refs", None)
        if callable(use_refs):
            ref_fields = set(use_refs() or ())
        encoded = {}
        for name, value in state.items():
            if name in ref_fields:
                data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
                encoded[name] = {SPECIAL: TAG_PICKLE, DIGEST: self._store_ref(data)}
            else:
                encoded[name] = self._encode(value)
        return {SPECIAL: TAG_OBJECT, "class": class_path(cls), "state": encoded}

    def _store_ref(self, data: bytes) -> str:
        if self._write_ref is None:
            raise SerializationError("this serializer cannot write refs")
        return self._write_ref(data)

    # ------------------------------------------------------------------ decode
    def decode(self, stored: Any) -> Any:
        """The Python value of a stored form; bad data raises DeserializationError."""
        try:
            return self._decode(stored)
        except DbEngineError:
            raise
        except RecursionError:
            raise DeserializationError("stored value is nested too deeply") from None
        except Exception as exc:  # malformed stored data, or a failing user handler
            raise DeserializationError(f"cannot decode stored value: {type(exc).__name__}: {exc}") from exc

    def _decode(self, stored: Any) -> Any:
        kind = type(stored)
        if kind is dict:
            if SPECIAL in stored:
                return self._decode_tagged(stored)
            return {key: self._decode(value) for key, value in stored.items()}
        if kind is list:
            return [self._decode(item) for item in stored]
        return stored

    def _decode_tagged(self, stored: dict) -> Any:
        tag = stored[SPECIAL]
        if tag == TAG_TUPLE:
            return tuple(self._decode(item) for item in _items(stored))
        if tag == TAG_SET:
            return {self._hashable(self._decode(item)) for item in _items(stored)}
        if tag == TAG_FROZENSET:
            return frozenset(self._hashable(self._decode(item)) for item in _items(stored))
        if tag == TAG_DICT:
            return {self._hashable(self._decode(k)): self._decode(v) for k, v in _items(stored)}
        if tag == TAG_BYTES:
            return base64.b64decode(stored["base64"], validate=True)
        if tag == TAG_INT:
            return _int_from_hex(stored["hex"])
        if tag == TAG_FLOAT:
            return float({"nan": "nan", "inf": "inf", "-inf": "-inf"}[stored["value"]])
        if tag == TAG_ENUM:
            cls = resolve_class(stored["class"], self.trust_pickle)
            if not issubclass(cls, enum.Enum):  # any other class would be *called* with the value
                raise DeserializationError(f"{stored['class']!r} is not an Enum class: refused")
            value = self._decode(stored["value"])
            if self.trust_pickle:
                return cls(value)
            return _enum_member(cls, self._hashable(value), stored["class"])
        if tag == TAG_OBJECT:
            return self._decode_object(stored)
        if tag == TAG_PICKLE:
            return self._unpickle(stored[DIGEST])
        if not isinstance(tag, str):
            raise DeserializationError(f"'{SPECIAL}' tag must be a string, got {tag!r}")
        handler = self.registry.get_handler_by_tag(tag)
        if handler is None:
            raise UnknownTagError(f"no handler registered for tag {tag!r}")
        if isinstance(handler, BaseRefHandler):
            return handler.deserialize_from_bytes(self._load_ref(stored[DIGEST]))
        assert isinstance(handler, BaseInlineHandler)
        fields = {key: value if key == SPECIAL else self._decode(value) for key, value in stored.items()}
        return handler.deserialize(fields)

    def _decode_object(self, stored: dict) -> Any:
        cls = resolve_class(stored["class"], self.trust_pickle)
        state = stored["state"]
        if type(state) is not dict:
            raise DeserializationError("object state must be a JSON object")
        if not self.trust_pickle:
            return self._build_untrusted(cls, stored["class"], state)
        instance = cls.__new__(cls)
        values = {name: self._decode(value) for name, value in state.items()}
        target = getattr(instance, "__dict__", None)
        for name, value in values.items():
            if target is not None and not _is_slot(cls, name):
                target[name] = value
            else:
                object.__setattr__(instance, name, value)
        return instance

    def _build_untrusted(self, cls: type, path: str, state: dict) -> Any:
        """An instance of `cls` with `state`, built by C code only (see `_untrusted_plan`)."""
        new, setters = _untrusted_plan(cls, path, state)
        values = [(name, self._decode(value)) for name, value in state.items()]
        instance = new(cls)
        for name, value in values:
            setters[name](instance, name, value)
        return instance

    def _hashable(self, value: Any) -> Any:
        """`value`, once it is sure that hashing it runs no code of a stored class (untrusted)."""
        if not self.trust_pickle:
            hook = _hash_hook(value)
            if hook:
                raise DeserializationError(
                    f"a set item or dict key would run {hook} on data the engine does not trust: "
                    "refused (trust_pickle=False)"
                )
        return value

    def _unpickle(self, digest: str) -> Any:
        if not self.trust_pickle:
            raise UntrustedPickleError(
                f"ref {digest[:12]} is a pickle; unpickling is disabled (start with --trust-pickle "
                "only for databases you trust)"
            )
        return pickle.loads(self._load_ref(digest))

    def _load_ref(self, digest: Any) -> bytes:
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            raise DeserializationError(f"invalid ref digest {digest!r}")
        if self._read_ref is None:
            raise DeserializationError("this serializer cannot read refs")
        return self._read_ref(digest)


def _int_from_hex(text: Any) -> int:
    if type(text) is not str or not re.fullmatch(r"-?0x[0-9a-f]+", text):
        raise DeserializationError(f"a {TAG_INT} needs 'hex' like '0x1f' or '-0x1f', got {text!r}")
    return int(text, 16)


def _items(stored: dict) -> list:
    items = stored["items"]
    if type(items) is not list:
        raise DeserializationError(f"'items' of a {stored[SPECIAL]} must be a list")
    return items


def _all_slots(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        names.extend(s for s in slots if s not in ("__dict__", "__weakref__") and s not in names)
    return names


def _is_slot(cls: type, name: str) -> bool:
    return name in _all_slots(cls)


def _object_state(obj: Any) -> dict | None:
    state: dict | None = None
    slots = _all_slots(type(obj))
    if slots:
        state = {}
        for name in slots:
            if hasattr(obj, name):
                state[name] = getattr(obj, name)
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        state = {**(state or {}), **attrs}
    return state


# ---------------------------------------------------------------- untrusted rebuilding
# An untrusted reader (trust_pickle=False) runs no code of a class named by stored data:
# no __init__, __new__, __setstate__, property, descriptor, __setattr__, __getattribute__,
# metaclass hook or finalizer. It reads classes only through `type`'s own C descriptors
# (so neither the class nor its metaclass can intercept the reads) and builds an instance
# only with C code: a C `__new__` (object's or a builtin base's), a `__slots__` member
# descriptor's C `__set__`, or object's C `__setattr__` into the instance `__dict__`.
# Anything that would need Python code, now or when the value is read or dropped, is refused.

_type_mro = type.__dict__["__mro__"].__get__  # C getters: no metaclass is consulted
_type_dict = type.__dict__["__dict__"].__get__
_type_flags = type.__dict__["__flags__"].__get__
_type_dictoffset = type.__dict__["__dictoffset__"].__get__
_type_qualname = type.__dict__["__qualname__"].__get__
_module_dict = types.ModuleType.__dict__["__dict__"].__get__
_set_slot = types.MemberDescriptorType.__set__
_set_in_dict = object.__setattr__  # object's generic setattr: used only where no descriptor intercepts
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement (slots included)
_ABSTRACT = 1 << 20  # Py_TPFLAGS_IS_ABSTRACT
#: ids of the types of the callables C types put in their class dicts (`__new__`, `__eq__`...).
#: Types are compared by id: `in` on a set of types would hash or compare a class, which a
#: metaclass can define in Python.
_C_CALLABLES = frozenset(map(id, (
    types.BuiltinFunctionType, types.WrapperDescriptorType, types.MethodDescriptorType,
    types.ClassMethodDescriptorType, types.MethodWrapperType,
)))
_MISSING = object()


def _is_class(value: Any) -> bool:
    """Whether `value` is a class, asked without its `__class__` (isinstance would ask it)."""
    return issubclass(type(value), type)


def _class_attr(cls: type, name: str) -> tuple[type | None, Any]:
    """(owner, value) of `name` the way attribute lookup finds it in `cls`'s MRO, running nothing."""
    for klass in _type_mro(cls):
        namespace = _type_dict(klass)
        if name in namespace:
            return klass, namespace[name]
    return None, _MISSING


def _python_code(value: Any) -> bool:
    """Whether a class-dict entry is something other than a C function (or None)."""
    return value is not None and id(type(value)) not in _C_CALLABLES


def _is_data_descriptor(value: Any) -> bool:
    """Whether `value` intercepts attribute writes and reads (property, `__set__`/`__delete__`)."""
    kind = type(value)
    return _class_attr(kind, "__set__")[0] is not None or _class_attr(kind, "__delete__")[0] is not None


def _untrusted_plan(cls: type, path: str, state: dict) -> tuple[Callable, dict[str, Callable]]:
    """The C `__new__` to call and, per state name, the C setter to use; or DeserializationError.

    The rule: an instance is built only when allocating it and setting every stored
    attribute is C code, and dropping it runs nothing: no finalizer (`__del__` of any
    class in the MRO, Python or C: a C finalizer may call Python methods, as io's calls
    `close()`), no Python `__new__`, a C `__new__` found first in the MRO, not abstract;
    each state name a plain identifier (no dunder) that is either a genuine `__slots__`
    slot (a member descriptor the class statement made) or an instance `__dict__` entry
    with no data descriptor (a property...) of that name on the class, which would run on
    the write and intercept every later read. `__init__`, `__setstate__`, `__setattr__`,
    `__getattribute__` and the metaclass are never called, so they need no rule.
    """

    def refuse(reason: str) -> DeserializationError:
        return DeserializationError(
            f"class {path!r} {reason}: refused, an untrusted engine (trust_pickle=False) runs no "
            "code of a class named by stored data"
        )

    mro = _type_mro(cls)
    for klass in mro[:-1]:  # object's own hooks are C
        namespace = _type_dict(klass)
        if "__del__" in namespace:
            raise refuse(f"has a finalizer ({_type_qualname(klass)}.__del__), which runs when it is dropped")
        if "__new__" in namespace and _python_code(namespace["__new__"]):
            raise refuse(f"defines {_type_qualname(klass)}.__new__ in Python")
    if _type_flags(cls) & _ABSTRACT:
        raise refuse("is abstract")
    new = _class_attr(cls, "__new__")[1]
    if id(type(new)) not in _C_CALLABLES:
        raise refuse("has no C __new__")
    has_dict = _type_dictoffset(cls) != 0
    setters: dict[str, Callable] = {}
    for name in state:
        if not _plain_name(name):
            raise refuse(f"cannot take state {name!r}: an attribute name must be a plain identifier, no dunder")
        owner, attr = _class_attr(cls, name)
        if (type(attr) is types.MemberDescriptorType and owner is not None
                and _type_flags(owner) & _HEAPTYPE and attr.__objclass__ is owner):
            setters[name] = lambda instance, _name, value, slot=attr: _set_slot(slot, instance, value)
            continue
        if owner is not None and _is_data_descriptor(attr):
            raise refuse(
                f"has a data descriptor {name!r} (the {_type_qualname(type(attr))} "
                f"{_type_qualname(owner)}.{name}): it would run on setting the stored value and intercept "
                "every read of it"
            )
        if not has_dict:
            raise refuse(f"has no slot {name!r} and no instance __dict__")
        setters[name] = _set_in_dict
    return new, setters


def _plain_name(name: Any) -> bool:
    """A state name an untrusted reader sets: an identifier, not `__dunder__` (`__class__`...)."""
    return type(name) is str and name.isidentifier() and not (name.startswith("__") and name.endswith("__"))


def _enum_member(cls: type, value: Any, path: str) -> Any:
    """The member of Enum `cls` whose value is `value`, found without running any code.

    `cls(value)` would run `_missing_`/`__new__`, `cls._value2member_map_` a metaclass's
    `__getattribute__`, and a dict lookup the `__eq__` of a member value of equal hash:
    the class's own map is read raw and compared only with values whose `__eq__` is C.
    """
    members = _type_dict(cls).get("_value2member_map_")
    if type(members) is dict:
        for member_value, member in members.items():
            if _hash_hook(member_value) is None and member_value == value:
                return member
    raise DeserializationError(f"{_shown(value)} is not a value of {path!r}")


def _shown(value: Any) -> str:
    """`repr(value)` if only builtin scalars, tuples and frozensets make it up, else its class.

    The repr of a decoded instance would run its class's `__repr__`.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is tuple or kind is frozenset:
            stack.extend(item)
        elif id(kind) not in _SAFE_HASHABLE:
            return f"an instance of {_type_qualname(kind)}"
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


_SAFE_HASHABLE = frozenset(map(id, (str, int, float, bool, bytes, type(None))))  # ids, as above


def _hash_hook(value: Any) -> str | None:
    """The Python-level `__hash__`/`__eq__` that putting `value` in a set or dict would run."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if id(kind) in _SAFE_HASHABLE:
            continue
        if kind is tuple or kind is frozenset:
            stack.extend(item)
            continue
        for klass in _type_mro(kind)[:-1]:
            namespace = _type_dict(klass)
            for name in ("__hash__", "__eq__"):
                if _python_code(namespace.get(name)):
                    return f"{_type_qualname(klass)}.{name}"
    return None


def resolve_class(path: Any, may_import: bool = True) -> type:
    """The class named `module:qualname`; anything but a class is refused.

    With `may_import=False` (untrusted data) only modules already imported are used:
    importing a module named by stored data would run its top-level code.
    """
    if not isinstance(path, str) or not CLASS_PATH_RE.fullmatch(path):
        raise DeserializationError(f"invalid class path {path!r}")
    module_name, qualname = path.split(":", 1)
    if not may_import:
        return _loaded_class(path, module_name, qualname)
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise DeserializationError(f"cannot find class {path!r}: {exc}") from None
    if not isinstance(target, type):
        raise DeserializationError(f"{path!r} names a {type(target).__name__}, not a class: refused")
    return target


def _loaded_class(path: str, module_name: str, qualname: str) -> type:
    """`resolve_class` for untrusted data: plain dict lookups in a loaded module, nothing run.

    `getattr` would run a module's `__getattr__` (PEP 562: lazy modules import code there),
    a metaclass's `__getattribute__` for a nested name, and `isinstance(x, type)` the
    `__class__` of whatever object the path names.
    """
    module = sys.modules.get(module_name)
    if module is None:
        raise DeserializationError(
            f"class {path!r}: module {module_name!r} is not loaded and an untrusted engine "
            "(trust_pickle=False) does not import modules named by stored data"
        )
    if not issubclass(type(module), types.ModuleType):
        raise DeserializationError(f"class {path!r}: sys.modules[{module_name!r}] is no module: refused")
    namespace: Any = _module_dict(module)
    if type(namespace) is not dict:
        raise DeserializationError(f"class {path!r}: module {module_name!r} has no namespace: refused")
    target: Any = module
    for part in qualname.split("."):
        if namespace is None:
            kind = _type_qualname(type(target))
            raise DeserializationError(f"{path!r} looks inside a {kind}, not a class: refused")
        target = namespace.get(part, _MISSING)
        if target is _MISSING:
            raise DeserializationError(f"cannot find class {path!r}: no {part!r} in it")
        namespace = _type_dict(target) if _is_class(target) else None
    if namespace is None:
        kind = _type_qualname(type(target))
        raise DeserializationError(f"{path!r} names a {kind}, not a class: refused")
    return target


# ---------------------------------------------------------------- stored-form walking
def iter_ref_digests(stored: Any) -> Iterator[tuple[str, Any]]:
    """Yield (tag, digest) for every ref a stored value points to (no decoding)."""
    stack = [stored]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            if SPECIAL in value and DIGEST in value:
                yield value[SPECIAL], value[DIGEST]
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)


def validate_stored(stored: Any, has_ref: Callable[[str], bool]) -> list[str]:
    """Problems that make `stored` unfit to be committed: malformed tags, missing refs."""
    problems: list[str] = []
    stack: list[tuple[str, Any]] = [("$", stored)]
    while stack:
        path, value = stack.pop()
        kind = type(value)
        if kind is float and not math.isfinite(value):
            problems.append(f"{path}: non-finite number (use {{'{SPECIAL}': '{TAG_FLOAT}'}})")
        if kind is list:
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
            continue
        if kind is not dict:
            continue
        if SPECIAL in value:
            problems.extend(_tag_problems(path, value, has_ref))
        for key, item in value.items():
            if key not in (SPECIAL, DIGEST):
                stack.append((f"{path}.{key}", item))
    return problems


def _tag_problems(path: str, value: dict, has_ref: Callable[[str], bool]) -> list[str]:
    tag = value[SPECIAL]
    if not isinstance(tag, str) or not tag:
        return [f"{path}: '{SPECIAL}' must be a non-empty string"]
    required = {
        TAG_TUPLE: ("items", list), TAG_SET: ("items", list), TAG_FROZENSET: ("items", list),
        TAG_DICT: ("items", list), TAG_BYTES: ("base64", str), TAG_FLOAT: ("value", str),
        TAG_OBJECT: ("state", dict), TAG_ENUM: ("value", object), TAG_INT: ("hex", str),
    }
    problems = []
    if tag in required:
        field, expected = required[tag]
        if field not in value or not isinstance(value[field], expected):
            problems.append(f"{path}: a {tag} needs a '{field}' of type {expected.__name__}")
        if tag == TAG_DICT and isinstance(value.get("items"), list):
            if any(not (isinstance(p, list) and len(p) == 2) for p in value["items"]):
                problems.append(f"{path}: a {tag} needs 'items' as [key, value] pairs")
        if tag in (TAG_OBJECT, TAG_ENUM) and not (isinstance(value.get("class"), str) and CLASS_PATH_RE.fullmatch(value["class"])):
            problems.append(f"{path}: a {tag} needs a 'class' of the form module:QualName")
        if tag == TAG_BYTES and isinstance(value.get("base64"), str):
            try:
                base64.b64decode(value["base64"], validate=True)
            except ValueError:
                problems.append(f"{path}: 'base64' is not valid base64")
        if tag == TAG_INT and isinstance(value.get("hex"), str) and not re.fullmatch(r"-?0x[0-9a-f]+", value["hex"]):
            problems.append(f"{path}: a {tag} 'hex' must look like '0x1f' or '-0x1f'")
        if tag == TAG_FLOAT and value.get("value") not in ("nan", "inf", "-inf"):
            problems.append(f"{path}: a {tag} value must be 'nan', 'inf' or '-inf'")
    elif tag.startswith("py/") and tag != TAG_PICKLE:
        problems.append(f"{path}: unknown engine tag {tag!r}")
    if DIGEST in value or tag == TAG_PICKLE:
        digest = value.get(DIGEST)
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            problems.append(f"{path}: '{DIGEST}' must be 64 lowercase hex characters")
        elif not has_ref(digest):
            problems.append(f"{path}: ref {digest} does not exist in refs/")
    return problems
