"""Change sets: what one version changed, as the history index stores it (FORMAT.md §10).

A snapshot version's change set lists the JSON Pointers (RFC 6901) of the values that
were added, changed or removed against its parent: leaves when at most LEAF_CAP of them
changed, else the changed top-level keys (when at most LEAF_CAP), else the root pointer
`""` (anything may have changed). A pointer means "this value, or something inside it".
A record version's change set lists the changed record keys. Questions such as "which
versions changed record K / path P" then scan the index and read only those versions.
"""

from __future__ import annotations

from typing import Any

from .pointer import escape, same_value

LEAF_CAP = 64
ROOT = ""


class _TooMany(Exception):
    pass


def _special(value: Any) -> bool:
    return type(value) is dict and "__special__" in value


def _walk(a: Any, b: Any, pointer: str, out: list[str]) -> None:
    """Append the pointers of what differs between two stored values (a and b differ)."""
    if len(out) > LEAF_CAP:
        raise _TooMany
    ta, tb = type(a), type(b)
    if ta is dict and tb is dict and "__special__" not in a and "__special__" not in b:
        for key in a:
            if key not in b:
                out.append(pointer + "/" + (escape(key) if "~" in key or "/" in key else key))
        for key, value in b.items():
            if key not in a:
                out.append(pointer + "/" + (escape(key) if "~" in key or "/" in key else key))
                continue
            was = a[key]
            if was is not value and (was != value or type(was) is not type(value)):
                _walk(was, value, pointer + "/" + (escape(key) if "~" in key or "/" in key else key), out)
        return
    if ta is list and tb is list and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x is not y and (x != y or type(x) is not type(y)):
                _walk(x, y, f"{pointer}/{i}", out)
        return
    out.append(pointer)
    if len(out) > LEAF_CAP:
        raise _TooMany


def _pointer(key: str) -> str:
    """The JSON Pointer of a top-level key (escape() only when the key needs it)."""
    return "/" + (escape(key) if "~" in key or "/" in key else key)


def flat_changes(old: dict, new: dict) -> tuple[int, int, int, tuple[str, ...]] | None:
    """(added, changed, removed, change set) of two plain stored objects (no `__special__`) in
    one pass over their keys, when no changed value needs walking into (two objects, or two
    lists of one length) and the walk would not give up (LEAF_CAP); None otherwise. The
    counts are summaries.snapshot_summary's (`changed`: by `!=`), the change set
    snapshot_changes's: removed keys, then added or changed ones in `new`'s order."""
    out = [_pointer(key) for key in old if key not in new]
    removed = len(out)
    added = changed = 0
    for key, value in new.items():
        if key not in old:
            added += 1
            out.append(_pointer(key))
            continue
        was = old[key]
        differs = was != value
        if differs:
            changed += 1
        if was is value or not (differs or type(was) is not type(value)):
            continue
        kind = type(value)
        if kind is type(was) and (kind is dict or (kind is list and len(was) == len(value))):
            return None  # the walk goes inside
        if len(out) >= LEAF_CAP:
            return None  # the walk gives up here: the top-level keys
        out.append(_pointer(key))
    if not out:
        return None  # equal by value: the general path says how
    return added, changed, removed, tuple(out)


def snapshot_changes(old: Any, new: Any, first: bool = False) -> tuple[str, ...]:
    """The change set of a snapshot version whose stored data went from `old` to `new`
    (`first`: there is no parent; everything was added: the root pointer)."""
    if first:
        return (ROOT,)
    out: list[str] = []
    try:
        _walk(old, new, ROOT, out)
    except _TooMany:
        out = _top_level(old, new)
    except RecursionError:  # nested too deeply to walk: the top-level keys say enough
        out = _top_level(old, new)
    if not out:  # equal by ==, different bytes (1 vs true deep inside): say where coarsely
        out = _top_level(old, new, strict=True) or [ROOT]
    return tuple(dict.fromkeys(out))


def _top_level(old: Any, new: Any, strict: bool = False) -> list[str]:
    """Pointers of the changed top-level keys (the root when there are too many, or when a
    side is not a plain object)."""
    if type(old) is not dict or type(new) is not dict or _special(old) or _special(new):
        return [ROOT]
    try:
        keys = [k for k in old if k not in new] + [
            k for k, v in new.items()
            if k not in old or (not same_value(old[k], v) if strict else old[k] != v)
        ]
    except RecursionError:
        return [ROOT]
    return [f"/{escape(k)}" for k in keys] if len(keys) <= LEAF_CAP else [ROOT]


def path_touched(changes: tuple[str, ...], path: str) -> bool:
    """True when a change set names `path` (a JSON Pointer), something inside it, or a
    value that contains it."""
    for pointer in changes:
        if pointer == path or path.startswith(pointer + "/") or pointer.startswith(path + "/") \
                or pointer == ROOT or path == ROOT:
            return True
    return False
