"""Stored values as the compare shows them: tagged values (`__special__`) as badges.

The viewer shows a date, bytes or a Money value as one badge (`⟨py/date · 2026-01-05⟩`)
and a set or an object as its kind with its items; the compare shows them the same way
(its raw view keeps the stored JSON). `badged()` turns a stored value into one that
`pretty()` writes that way, `shown_path()` turns a DeepDiff path into the stored value
into the path of the line that shows it, and `inline()` is the one-line form of the
change list. Nothing here decodes a value or does I/O.
"""

from __future__ import annotations

import json
from typing import Any

from dbengine.serializer import SPECIAL, TAG_DICT, TAG_FROZENSET, TAG_OBJECT, TAG_SET, TAG_TUPLE

from .pretty import Badge, LabelledDict, LabelledList
from .values import describe_special, dict_entries

#: Tags shown as their items (a list), like the viewer's tree opens them.
COLLECTIONS = {TAG_TUPLE: "tuple", TAG_SET: "set", TAG_FROZENSET: "frozenset"}
_ABSENT = object()


def _class_label(stored: dict) -> str:
    path = stored.get("class")
    return path.split(":", 1)[-1] if isinstance(path, str) else "object"


def _badge(stored: dict) -> Badge:
    try:
        return Badge(describe_special(None, stored))
    except Exception:  # a malformed tag still shows, as its name
        return Badge(f"⟨{stored.get(SPECIAL)!s}⟩")


def badged(value: Any) -> Any:
    """`value` with every tagged value replaced by a Badge, or by a labelled dict/list of its
    items (collections, py/dict, py/object); the value itself when it holds no tag."""
    try:
        return _badged(value)
    except RecursionError:  # too deep to walk: shown raw
        return value


def _badged(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        items = [_badged(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if kind is not dict:
        return value
    if SPECIAL not in value:
        fields = {key: _badged(item) for key, item in value.items()}
        return value if all(fields[k] is v for k, v in value.items()) else fields
    tag = value.get(SPECIAL)
    items = value.get("items")
    if tag in COLLECTIONS and type(items) is list:
        return LabelledList(COLLECTIONS[tag], [_badged(item) for item in items])
    if tag == TAG_DICT:
        entries = dict_entries(value)
        if entries is not None:
            return LabelledDict("dict", ((name, _badged(item)) for name, item in entries))
    if tag == TAG_OBJECT and type(value.get("state")) is dict:
        return LabelledDict(_class_label(value), ((k, _badged(v)) for k, v in value["state"].items()))
    return _badge(value)


def shown_path(root: Any, path: tuple) -> tuple[tuple, int]:
    """(the path of `path`'s line in `badged(root)`, how many steps of `path` it covers).

    Inside a badge the path stops at the badge (covering fewer steps than `path` has):
    a change to a date's text is a change of the date."""
    shown: list = []
    node, i = root, 0
    while i < len(path):
        step = path[i]
        if type(node) is dict and SPECIAL in node:
            tag = node.get(SPECIAL)
            nxt = path[i + 1] if i + 1 < len(path) else None
            items = node.get("items")
            if tag in COLLECTIONS and type(items) is list and step == "items" and type(nxt) is int:
                shown.append(nxt)
                node = items[nxt] if -len(items) <= nxt < len(items) else _ABSENT
                i += 2
                continue
            entries = dict_entries(node) if tag == TAG_DICT else None
            if entries is not None and step == "items" and type(nxt) is int and 0 <= nxt < len(entries):
                name, value = entries[nxt]
                shown.append(name)
                if i + 2 == len(path):
                    return tuple(shown), i + 2
                if path[i + 2] != 1:  # the key itself changed: the whole entry did
                    return tuple(shown), i + 2
                node, i = value, i + 3
                continue
            if tag == TAG_OBJECT and type(node.get("state")) is dict and step == "state" and nxt is not None:
                shown.append(nxt)
                node = node["state"].get(nxt, _ABSENT)
                i += 2
                continue
            return tuple(shown), i  # inside a badge: the badge
        shown.append(step)
        node = child(node, step)
        i += 1
    return tuple(shown), i


def value_at(root: Any, path: tuple) -> Any:
    """The stored value at `path` in `root` (None when it is not there)."""
    node = _follow(root, path)
    return None if node is _ABSENT else node


def has_value(root: Any, path: tuple) -> bool:
    """True when `path` leads to a value in `root`."""
    return _follow(root, path) is not _ABSENT


def _follow(node: Any, path: tuple) -> Any:
    for step in path:
        node = child(node, step)
        if node is _ABSENT:
            break
    return node


def child(node: Any, step: Any) -> Any:
    """`node[step]` for a dict key or a list index in range; a private marker when there is none."""
    if type(node) is dict and type(step) is str:
        return node.get(step, _ABSENT)
    if type(node) is list and type(step) is int and -len(node) <= step < len(node):
        return node[step]
    return _ABSENT


def inline(value: Any, limit: int) -> str:
    """One line of a stored value, tagged values as badges, cut to `limit` characters with "…"."""
    pieces: list[str] = []
    size = 0

    def put(text: str) -> bool:
        nonlocal size
        pieces.append(text)
        size += len(text)
        return size <= limit

    def walk(item: Any, depth: int) -> bool:
        kind = type(item)
        if kind is Badge:
            return put(str.__str__(item))
        if depth > 100:
            return put("…")
        if kind is LabelledDict or kind is LabelledList:
            if not put(f"⟨{item.label}⟩ "):
                return False
        if isinstance(item, dict):
            if not put("{"):
                return False
            for n, (key, child) in enumerate(item.items()):
                if (n and not put(", ")) or not put(_json(str(key)) + ": ") or not walk(child, depth + 1):
                    return False
            return put("}")
        if isinstance(item, list):
            if not put("["):
                return False
            for n, child in enumerate(item):
                if (n and not put(", ")) or not walk(child, depth + 1):
                    return False
            return put("]")
        return put(_json(item))

    walk(badged(value), 0)
    text = "".join(pieces)
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
