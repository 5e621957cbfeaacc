"""Key-level changes between two stored JSON values, with the standard library only.

The comparison model (`compare.py`) uses DeepDiff when the `[tui]` extra is installed; an
engine-only install (`pip install mydbengine`, for `mydb diff`) has no DeepDiff and uses
this instead. It reports what compare.py reads from DeepDiff's tree view, called as
`DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0, verbose_level=2)`, for the
values stored values are made of (dict with str keys, list, str, int, float, bool, None):

- a value of another type (1 vs 1.0, 1 vs true, a dict vs a list): "changed";
- dict keys only in `new` / only in `old`: "added" / "removed", common keys compared deeper;
- lists of scalars: difflib's opcodes (an insertion is one "added", not a shifted tail of
  changes), unless pairing by index gives fewer changes; lists holding a dict or a list:
  paired by index, the longer tail "added" or "removed";
- a list item removed and another added at the same index: that item "changed".

tests/model/test_keydiff.py checks that both give the same changes.
"""

from __future__ import annotations

import difflib
from itertools import zip_longest
from typing import Any

#: (path of keys and indexes, "added" | "removed" | "changed", old or None, new or None)
KeyChange = tuple[tuple, str, Any, Any]

_SCALARS = (str, int, float, bool, type(None))
_MISSING = object()
_MOVED = "moved"  # counted when choosing between two list diffs, never reported


def key_changes(old: Any, new: Any) -> list[KeyChange]:
    """The key-level changes from `old` to `new`, in document order."""
    found: list[KeyChange] = []
    _diff(old, new, (), found)
    return _pair_up([change for change in found if change[1] != _MOVED])


def _pair_up(found: list[KeyChange]) -> list[KeyChange]:
    """A list item removed and another added at the same index: one change of that item."""
    added = {path: new for path, kind, _old, new in found
             if kind == "added" and path and type(path[-1]) is int}
    if not added:
        return found
    removed = {path for path, kind, _old, _new in found if kind == "removed" and path in added}
    paired: list[KeyChange] = []
    for path, kind, before, after in found:
        if path in removed:
            if kind == "removed":
                paired.append((path, "changed", before, added[path]))
            continue
        paired.append((path, kind, before, after))
    return paired


def _diff(old: Any, new: Any, path: tuple, found: list[KeyChange]) -> None:
    if old is new:
        return
    if type(old) is not type(new):
        found.append((path, "changed", old, new))
    elif type(old) is dict:
        _diff_dict(old, new, path, found)
    elif type(old) is list:
        _diff_list(old, new, path, found)
    elif old != new:
        found.append((path, "changed", old, new))


def _diff_dict(old: dict, new: dict, path: tuple, found: list[KeyChange]) -> None:
    found.extend((path + (key,), "added", None, value) for key, value in new.items() if key not in old)
    found.extend((path + (key,), "removed", value, None) for key, value in old.items() if key not in new)
    for key, value in new.items():
        if key in old:
            _diff(old[key], value, path + (key,), found)


def _diff_list(old: list, new: list, path: tuple, found: list[KeyChange]) -> None:
    if not (all(type(item) in _SCALARS for item in old) and all(type(item) in _SCALARS for item in new)):
        _by_index(old, new, path, found, 0, len(old), 0, len(new))
        return
    by_opcodes: list[KeyChange] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace":
            _by_index(old, new, path, by_opcodes, i1, i2, j1, j2)
        elif tag == "delete":
            by_opcodes.extend((path + (i,), "removed", old[i], None) for i in range(i1, i2))
        elif tag == "insert":
            by_opcodes.extend((path + (j,), "added", None, new[j]) for j in range(j1, j2))
    if len(by_opcodes) > 1:
        by_index: list[KeyChange] = []
        _by_index(old, new, path, by_index, 0, len(old), 0, len(new))
        if len(by_opcodes) >= len(by_index):
            by_opcodes = by_index
    found.extend(by_opcodes)


def _by_index(old: list, new: list, path: tuple, found: list[KeyChange],
              i1: int, i2: int, j1: int, j2: int) -> None:
    """Pair old[i1:i2] with new[j1:j2] in order; the longer side's tail is added or removed."""
    for k, (left, right) in enumerate(zip_longest(old[i1:i2], new[j1:j2], fillvalue=_MISSING)):
        i, j = i1 + k, j1 + k
        if right is _MISSING:
            found.append((path + (i,), "removed", left, None))
        elif left is _MISSING:
            found.append((path + (j,), "added", None, right))
        elif i != j and left == right:
            found.append((path + (i,), _MOVED, left, right))
        else:
            _diff(left, right, path + (i,), found)
