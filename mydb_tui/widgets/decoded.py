"""One-line text of a decoded value that never runs code of the value's own classes.

A database the user does not trust can name any loaded class in a `py/object` or
`py/enum` tag; calling `repr()` on such an instance would run its `__repr__` (or a
property it reads). `safe_repr()` formats builtin and well-known standard library
values itself and shows any other instance as its class path with the fields of its
`__dict__` and slots, read through the C-level descriptors only.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import fractions
import pathlib
import types
import uuid
from typing import Any

MAX_ITEMS = 20
MAX_DEPTH = 6
MAX_STRING = 300
MAX_BYTES = 32

#: Types whose repr is the standard library's own (exact types only: a subclass may override it).
_STDLIB_REPR = (
    int, float, complex, bool, type(None), decimal.Decimal, fractions.Fraction, uuid.UUID,
    dt.datetime, dt.date, dt.time, dt.timedelta, dt.timezone,
    pathlib.PurePosixPath, pathlib.PureWindowsPath, pathlib.PosixPath, pathlib.WindowsPath,
)


def class_path(cls: type) -> str:
    """`module.Qualname` of a class, read without the class's (or its metaclass's) hooks."""
    module = type.__getattribute__(cls, "__module__")
    qualname = type.__getattribute__(cls, "__qualname__")
    module = module if type(module) is str else "?"
    return f"{module}.{qualname}" if module != "builtins" else qualname


def _descriptor(cls: type, name: str) -> Any:
    for klass in type.__getattribute__(cls, "__mro__"):
        found = type.__getattribute__(klass, "__dict__").get(name)
        if found is not None:
            return found
    return None


def instance_fields(value: Any) -> dict[str, Any]:
    """The `__dict__` and slot values of an instance, without running any of its methods.

    Only the interpreter's own descriptors are used (a `__dict__` getset descriptor,
    slot member descriptors); anything a class defined in Python is left alone.
    """
    cls = type(value)
    fields: dict[str, Any] = {}
    for klass in type.__getattribute__(cls, "__mro__"):
        slots = type.__getattribute__(klass, "__dict__").get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if not isinstance(name, str) or name in ("__dict__", "__weakref__") or name in fields:
                continue
            member = _descriptor(cls, name)
            if isinstance(member, types.MemberDescriptorType):
                try:
                    fields[name] = member.__get__(value, cls)
                except AttributeError:  # an unset slot
                    continue
    getter = _descriptor(cls, "__dict__")
    if isinstance(getter, types.GetSetDescriptorType):
        attrs = getter.__get__(value, cls)
        if type(attrs) is dict:
            fields.update(attrs)
    return fields


def _string(value: str | bytes | bytearray) -> str:
    if type(value) is not str and len(value) > MAX_BYTES:
        return f"{value[:MAX_BYTES]!r}… ({len(value):,} bytes)"
    if len(value) > MAX_STRING:
        return repr(value[:MAX_STRING])[:-1] + "…" + repr(value[:1])[-1]
    return repr(value)


def safe_repr(value: Any, depth: int = 0) -> str:
    """A repr-like line for `value` that calls no method of a user-defined class."""
    kind = type(value)
    if kind in (str, bytes, bytearray):
        return _string(value)
    if kind in _STDLIB_REPR:
        tz = value.tzinfo if kind in (dt.datetime, dt.time) else None
        if tz is not None and type(tz) is not dt.timezone:  # a tzinfo class's own repr/utcoffset
            return f"{safe_repr(value.replace(tzinfo=None), depth)} tzinfo={safe_repr(tz, depth + 1)}"
        try:
            return repr(value)
        except ValueError:  # an int too large for repr()
            return f"<int of {value.bit_length():,} bits>"
    if issubclass(kind, type):
        return f"<class {class_path(value)}>"
    if depth >= MAX_DEPTH:
        return "…"
    if kind in (list, tuple, set, frozenset):
        items = [safe_repr(item, depth + 1) for item in _first(value)]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS:,} more")
        body = ", ".join(items)
        if kind is list:
            return f"[{body}]"
        if kind is tuple:
            return f"({body}{',' if len(value) == 1 else ''})"
        if not value:
            return f"{kind.__name__}()"
        return f"{{{body}}}" if kind is set else f"frozenset({{{body}}})"
    if kind is dict:
        items = [f"{safe_repr(k, depth + 1)}: {safe_repr(v, depth + 1)}" for k, v in _first(value.items())]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS:,} more")
        return "{" + ", ".join(items) + "}"
    cls_name = class_path(kind)
    if issubclass(kind, enum.Enum):
        name = instance_fields(value).get("_name_")
        return f"{cls_name}.{name}" if isinstance(name, str) else f"<{cls_name} member>"
    fields = instance_fields(value)
    shown = [f"{name}={safe_repr(field, depth + 1)}" for name, field in _first(fields.items())]
    if len(fields) > MAX_ITEMS:
        shown.append(f"… {len(fields) - MAX_ITEMS:,} more")
    return f"{cls_name}({', '.join(shown)})"


def _first(items: Any) -> list:
    result = []
    for item in items:
        if len(result) == MAX_ITEMS:
            break
        result.append(item)
    return result
