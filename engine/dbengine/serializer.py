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
            # Untrusted: a plain lookup, so no `_missing_` or `__new__` of the enum runs.
            member = cls._value2member_map_.get(self._hashable(value))
            if member is None:
                raise DeserializationError(f"{value!r} is not a value of {stored['class']!r}")
            return member
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
        if not self.trust_pickle:
            hook = _implicit_code(cls)
            if hook:
                raise DeserializationError(
                    f"class {stored['class']!r} defines {hook}, which would run on data it does not "
                    "trust: refused (trust_pickle=False)"
                )
        state = stored["state"]
        if type(state) is not dict:
            raise DeserializationError("object state must be a JSON object")
        instance = cls.__new__(cls)
        values = {name: self._decode(value) for name, value in state.items()}
        target = getattr(instance, "__dict__", None)
        for name, value in values.items():
            if target is not None and not _is_slot(cls, name):
                target[name] = value
            else:
                object.__setattr__(instance, name, value)
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


def _implicit_code(cls: type) -> str | None:
    """The Python-level hook that rebuilding or dropping an instance of `cls` would run, if any.

    Decoding calls `cls.__new__(cls)`, and the instance's `__del__` runs when it is dropped:
    with a crafted state either can act on the file system (tempfile's closer unlinks).
    """
    for klass in cls.__mro__[:-1]:
        for name in ("__del__", "__new__"):
            hook = klass.__dict__.get(name)
            if hook is not None and not isinstance(hook, (types.BuiltinFunctionType, types.WrapperDescriptorType)):
                return f"{klass.__qualname__}.{name}"
    return None


_SAFE_HASHABLE = (str, int, float, bool, bytes, type(None))


def _hash_hook(value: Any) -> str | None:
    """The Python-level `__hash__`/`__eq__` that putting `value` in a set or dict would run."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _SAFE_HASHABLE:
            continue
        if kind is tuple or kind is frozenset:
            stack.extend(item)
            continue
        for klass in kind.__mro__[:-1]:
            for name in ("__hash__", "__eq__"):
                if isinstance(klass.__dict__.get(name), types.FunctionType):
                    return f"{klass.__qualname__}.{name}"
    return None


def resolve_class(path: Any, may_import: bool = True) -> type:
    """The class named `module:qualname`; anything but a class is refused.

    With `may_import=False` (untrusted data) only modules already imported are used:
    importing a module named by stored data would run its top-level code.
    """
    if not isinstance(path, str) or not CLASS_PATH_RE.fullmatch(path):
        raise DeserializationError(f"invalid class path {path!r}")
    module_name, qualname = path.split(":", 1)
    if not may_import and module_name not in sys.modules:
        raise DeserializationError(
            f"class {path!r}: module {module_name!r} is not loaded and an untrusted engine "
            "(trust_pickle=False) does not import modules named by stored data"
        )
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise DeserializationError(f"cannot find class {path!r}: {exc}") from None
    if not isinstance(target, type):
        raise DeserializationError(f"{path!r} names a {type(target).__name__}, not a class: refused")
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
