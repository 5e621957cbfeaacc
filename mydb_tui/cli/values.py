"""The loaded-value view of `show`: stored form -> plain JSON, nothing unpickled unless trusted.

Values JSON can hold stay as they are; tuples and sets become lists; in a dict with
non-string keys, those keys show as their Python form in ⟨⟩ (`⟨1⟩`, `⟨None⟩`, `⟨(1, 2)⟩`,
never equal to a string key: see model.values.unique_names); objects become their fields
plus a "__class__" key;
everything else (bytes, NaN, enums, refs of user handlers, pickles) becomes a one-line
badge string such as "⟨pickle 1a2b3c4 · 8.0 MB · numpy.ndarray⟩".
"""

from __future__ import annotations

import math
from typing import Any

from dbengine import serializer as tags
from dbengine.errors import DbEngineError

_LISTS = (tags.TAG_TUPLE, tags.TAG_SET, tags.TAG_FROZENSET)
MAX_INT_BITS = 10_000  # bigger ints (stored as hex) are shown as badges: JSON text limits


def value_view(engine: Any, stored: Any, trust_pickle: bool = False) -> Any:
    """The JSON rendering of a stored value (see the module docstring)."""
    kind = type(stored)
    if kind is dict:
        if tags.SPECIAL in stored:
            return _tagged(engine, stored, trust_pickle)
        return {key: value_view(engine, value, trust_pickle) for key, value in stored.items()}
    if kind is list:
        return [value_view(engine, item, trust_pickle) for item in stored]
    if kind is float and not math.isfinite(stored):  # bare NaN in a forged object: not JSON
        return f"⟨float {stored!r}⟩"
    return stored


def _tagged(engine: Any, stored: dict, trust: bool) -> Any:
    tag = stored[tags.SPECIAL]
    items = stored.get("items")
    if tag in _LISTS and type(items) is list:
        return [value_view(engine, item, trust) for item in items]
    if tag == tags.TAG_DICT:
        from mydb_tui.model.values import dict_entries

        entries = dict_entries(stored)
        if entries is not None:
            return {name: value_view(engine, value, trust) for name, value in entries}
    if tag == tags.TAG_INT:
        text = stored.get("hex")
        try:
            value = int(text, 16)
        except (TypeError, ValueError):
            return _badge(engine, stored)
        return value if value.bit_length() <= MAX_INT_BITS else f"⟨int · {value.bit_length()} bits⟩"
    if tag == tags.TAG_OBJECT and type(stored.get("state")) is dict:
        state = {name: value_view(engine, value, trust) for name, value in stored["state"].items()}
        return {"__class__": stored.get("class"), **state}
    if tag == tags.TAG_PICKLE and trust:
        try:
            return python_view(engine.decode(stored))
        except DbEngineError as exc:
            return f"{_badge(engine, stored)[:-1]} · cannot unpickle: {exc}⟩"
    return _badge(engine, stored)


def _badge(engine: Any, stored: dict) -> str:
    from mydb_tui.model.values import describe_special

    return describe_special(engine, stored)


def python_view(value: Any, depth: int = 0) -> Any:
    """A decoded (unpickled) Python value as JSON: containers walked, other objects by repr."""
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if depth > 200:
        return "⟨…⟩"
    if isinstance(value, dict):
        from mydb_tui.model.values import unique_names

        names = unique_names(list(value), lambda key: f"⟨{_short_repr(key)}⟩")
        return {name: python_view(v, depth + 1) for name, v in zip(names, value.values(), strict=True)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [python_view(v, depth + 1) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        try:
            return python_view(tolist(), depth + 1)
        except Exception:
            pass
    return _short_repr(value, 2000)


def _short_repr(value: Any, width: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a decoded object's own __repr__ (trusted pickles only)
        text = f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"
