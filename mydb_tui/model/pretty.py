"""Pretty JSON (indent 2) built without recursion, remembering the line of every path.

`json.dumps(indent=2)` recurses (the pure-Python encoder), so very deep values could
raise RecursionError; this walker uses an explicit stack and can stop after a limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Path = tuple  # keys (str) and list indices (int) from the root


class Badge(str):
    """A tagged value shown as one line (`⟨py/date · 2026-01-05⟩`): written without quotes."""

    __slots__ = ()


class LabelledDict(dict):
    """An object shown with its kind before the brace (`⟨Point⟩ {`): a py/object's fields."""

    def __init__(self, label: str, items: Any = ()) -> None:
        super().__init__(items)
        self.label = label


class LabelledList(list):
    """A collection shown with its kind before the bracket (`⟨set⟩ [`): a tuple, set or frozenset."""

    def __init__(self, label: str, items: Any = ()) -> None:
        super().__init__(items)
        self.label = label


@dataclass
class PrettyJson:
    """Lines of a pretty-printed value; `lines_of[path]` is the 0-based line where it starts."""

    lines: list[str] = field(default_factory=list)
    lines_of: dict[Path, int] = field(default_factory=dict)
    total: int = 0  # all lines, including those past the limit (not kept)

    @property
    def truncated(self) -> int:
        return self.total - len(self.lines)


_encode_str = json.encoder.encode_basestring  # C speedup of json.dumps(str, ensure_ascii=False)


def _scalar(value: Any) -> str:
    """JSON text of a scalar, exactly as json.dumps writes it (fast paths for common types)."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is Badge:
        return str.__str__(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return _encode_str(repr(value))


def _key(key: Any) -> str:
    """JSON text of a dict key; a non-string key (a decoded value) as its Python form in ⟨⟩,
    never as the text of an equal-looking string key."""
    if isinstance(key, str):  # str, or a model.values.DictKey name
        return _encode_str(key)
    try:
        text = repr(key)
    except Exception:
        text = type(key).__name__
    return _encode_str(f"⟨{text[:200]}⟩")


def pretty(value: Any, limit: int | None = None, indent: int = 2) -> PrettyJson:
    """Pretty JSON of a stored value, keeping at most `limit` lines (all counted).

    A Badge is written as it is (no quotes); a LabelledDict or LabelledList opens with its label."""
    flat = _flat_pretty(value, limit, indent)
    return flat if flat is not None else _walk(value, limit, indent)


_CONTAINERS = (dict, list, LabelledDict, LabelledList)


def _flat_pretty(value: Any, limit: int | None, indent: int) -> PrettyJson | None:
    """`pretty` of a dict of scalars (most records) in one pass; None for any other value."""
    if type(value) is not dict or not value or (limit is not None and len(value) + 2 > limit):
        return None
    pad = " " * indent
    lines = ["{"]
    lines_of: dict[Path, int] = {(): 0}
    for line, (key, item) in enumerate(value.items(), 1):
        if type(item) in _CONTAINERS:
            return None
        lines_of[(key,)] = line
        lines.append(f"{pad}{_key(key)}: {_scalar(item)},")
    lines[-1] = lines[-1][:-1]
    lines.append("}")
    return PrettyJson(lines, lines_of, len(lines))


def _walk(value: Any, limit: int | None, indent: int) -> PrettyJson:
    """`pretty` of any value, with an explicit stack."""
    out = PrettyJson()
    lines, lines_of = out.lines, out.lines_of
    keep = limit if limit is not None else float("inf")
    # Frames: (path, value, prefix, suffix, depth) to open a value, or (None, text) to close one.
    stack: list[tuple] = [((), value, "", "", 0)]
    total = 0
    while stack:
        frame = stack.pop()
        if frame[0] is None:
            if total < keep:
                lines.append(frame[1])
            total += 1
            continue
        path, item, prefix, suffix, depth = frame
        pad = " " * (indent * depth)
        kind = type(item)
        if kind is LabelledDict or kind is LabelledList:
            prefix = f"{prefix}⟨{item.label}⟩ "
            kind = dict if kind is LabelledDict else list
        if total < keep:
            lines_of[path] = total
        if kind is dict and item:
            if total < keep:
                lines.append(f"{pad}{prefix}{{")
            total += 1
            stack.append((None, f"{pad}}}{suffix}"))
            last = len(item) - 1
            children = [
                (path + (k,), v, _key(k) + ": ", "" if i == last else ",", depth + 1)
                for i, (k, v) in enumerate(item.items())
            ]
            stack.extend(reversed(children))
        elif kind is list and item:
            if total < keep:
                lines.append(f"{pad}{prefix}[")
            total += 1
            stack.append((None, f"{pad}]{suffix}"))
            last = len(item) - 1
            stack.extend(
                (path + (i,), item[i], "", "" if i == last else ",", depth + 1)
                for i in range(last, -1, -1)
            )
        else:
            if total < keep:
                text = "{}" if kind is dict else "[]" if kind is list else _scalar(item)
                lines.append(f"{pad}{prefix}{text}{suffix}")
            total += 1
    out.total = total
    return out


def pretty_text(value: Any) -> str:
    """Pretty JSON (indent 2, ensure_ascii=False) of a stored value, as one string."""
    return "\n".join(pretty(value).lines)
