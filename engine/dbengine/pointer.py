"""JSON Pointers (RFC 6901) into stored values, and the leaves two stored values differ at.

Used by the history questions (`key_history`, `blame`, `search`) to name a place inside a
snapshot or a record. A tagged value (`{"__special__": ...}`) is one leaf: its inside is the
serializer's business, not a place a user edits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import InvalidPathError
from .utils import to_json_bytes

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT", "__slots__": ()})()
_MAX_DEPTH = 400


def parse_pointer(pointer: str) -> list[str]:
    """The reference tokens of a JSON Pointer ("" is the whole value)."""
    if type(pointer) is not str:
        raise InvalidPathError(f"a JSON Pointer is a string, not {type(pointer).__name__}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise InvalidPathError(f"{pointer!r} is not a JSON Pointer: it must start with '/' (RFC 6901)")
    tokens = pointer[1:].split("/")
    for token in tokens:
        rest = token.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise InvalidPathError(f"{pointer!r}: '~' must be followed by 0 or 1 (RFC 6901)")
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def escape(token: str) -> str:
    """One reference token of a JSON Pointer (RFC 6901: `~` -> `~0`, `/` -> `~1`)."""
    return token.replace("~", "~0").replace("/", "~1")


def format_pointer(tokens: list[str] | tuple[str, ...]) -> str:
    """The JSON Pointer of a list of keys (list indexes given as strings)."""
    return "".join("/" + escape(str(token)) for token in tokens)


def value_at(value: Any, tokens: list[str]) -> Any:
    """The part of a stored value at `tokens`, or ABSENT when there is none."""
    for token in tokens:
        if is_leaf(value):
            return ABSENT
        if type(value) is dict:
            if token not in value:
                return ABSENT
            value = value[token]
        else:  # a list
            if not token.isdigit() or (len(token) > 1 and token[0] == "0") or int(token) >= len(value):
                return ABSENT
            value = value[int(token)]
    return value


def is_leaf(value: Any) -> bool:
    """True for a value with no inner places: scalars, tagged values, empty containers."""
    if type(value) is dict:
        return not value or "__special__" in value
    if type(value) is list:
        return not value
    return True


def leaves(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(tokens, leaf value) of every leaf of a stored value, in document order."""
    stack = [(prefix, value)]
    while stack:
        tokens, current = stack.pop()
        if is_leaf(current) or len(tokens) >= _MAX_DEPTH:
            yield tokens, current
        elif type(current) is dict:
            stack.extend((tokens + (key,), current[key]) for key in reversed(list(current)))
        else:
            stack.extend((tokens + (str(i),), current[i]) for i in reversed(range(len(current))))


def changed_leaves(old: Any, new: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The places where two stored values differ, as token tuples: the deepest place where
    both sides are containers of the same type, else the place itself (a subtree added,
    removed or replaced is one place). Type-strict: 1, 1.0 and true differ."""
    out: list[tuple[str, ...]] = []
    stack = [(prefix, old, new)]
    while stack:
        tokens, a, b = stack.pop()
        if a is b:
            continue
        if type(a) is not type(b) or is_leaf(a) or is_leaf(b) or len(tokens) >= _MAX_DEPTH:
            if not same_value(a, b):
                out.append(tokens)
        elif type(a) is dict:
            for key in a.keys() | b.keys():
                stack.append((tokens + (key,), a.get(key, ABSENT), b.get(key, ABSENT)))
        else:
            for i in range(max(len(a), len(b))):
                stack.append((tokens + (str(i),), a[i] if i < len(a) else ABSENT, b[i] if i < len(b) else ABSENT))
    out.sort()
    return out


def same_value(a: Any, b: Any) -> bool:
    """Equal stored values, type-strict (1, 1.0 and true differ; ABSENT only equals itself)."""
    if a is ABSENT or b is ABSENT:
        return a is b
    return a is b or (a == b and to_json_bytes(a) == to_json_bytes(b))


def related(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """True when one place contains the other (or they are the same)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]
