"""Compare two versions of an entry: key-level changes (DeepDiff) and aligned side-by-side rows.

Snapshot entries diff their stored `__data__`. Record entries ask the engine for the
records that differ (`changed_records`: it skips equal subtrees by digest), match them by
key, and run DeepDiff only on those, so the cost follows the change, not the entry.
Values stay in their stored (JSON) form: nothing is decoded or unpickled here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from dbengine import Version
from dbengine.errors import DbEngineError
from dbengine.serializer import SPECIAL, TAG_DICT
from dbengine.utils import gc_paused, to_json_bytes
from dbengine.versions import version_from_document

from .align import Alignment, DiffRow, Segment, align, header_row, pairs_line_by_line
from .badged import badged, child, has_value, shown_path, value_at
from .dates import local_time
from .keydiff import key_changes
from .lazy_rows import LazyRows
from .lean_import import import_deepdiff
from .pretty import PrettyJson
from .pretty import pretty as _pretty
from .values import DictKey, dict_entries, is_plain_dict

try:
    DeepDiff = import_deepdiff()  # the app may have imported it already, with other options
except ImportError:  # an engine-only install (`mydb diff` without the [tui] extra): keydiff
    DeepDiff = None

__all__ = [
    "Change", "Comparison", "DiffRow", "Segment",
    "compare_versions", "compare_with_parent", "compare_with_head", "compare_with_edit", "in_shown_order",
]

MAX_LINES = 20_000  # lines of pretty JSON kept per side (per record for record entries)
MAX_ROWS = 20_000  # rows of a record comparison before the rest is summarized
ROOT = "(root)"  # the path of a change to a whole snapshot value

_ADDED = ("dictionary_item_added", "iterable_item_added", "attribute_added", "set_item_added")
_REMOVED = ("dictionary_item_removed", "iterable_item_removed", "attribute_removed", "set_item_removed")
_SKIPPED = ("repetition_change", "iterable_item_moved")
_ABSENT = object()
# changes, rows, (added, changed, removed), records through DeepDiff, buckets read
_Result = tuple[list["Change"], Sequence[DiffRow], tuple[int, int, int], int, int]
#: True while a comparison shows tagged values as badges (set by compare_versions, per thread).
_BADGES: ContextVar[bool] = ContextVar("badges", default=False)


@dataclass(frozen=True)
class Change:
    """One key-level change; `row` is where it shows in Comparison.rows (None: not shown)."""

    path: str  # "['servers'][0]['port']"; records: "[alice]['age']"
    kind: str  # "added" | "removed" | "changed"
    old: Any  # stored form, None when added
    new: Any  # stored form, None when removed
    record_key: str | None
    row: int | None


@dataclass
class Comparison:
    """The result of comparing two versions (older left, newer right)."""

    tenant: str
    entry: str
    kind: str  # "snapshot" | "records"
    old: Version | None
    new: Version | None  # None: an unsaved edit (compare_with_edit)
    changes: list[Change]
    rows: Sequence[DiffRow]  # a list, or LazyRows (record entries: built as they are read)
    added: int
    changed: int
    removed: int
    old_meta: dict = field(default_factory=dict)
    new_meta: dict = field(default_factory=dict)
    records_compared: int = 0  # records that went through DeepDiff (record entries)
    buckets_read: int = 0  # unused since record trees (format 0.5): the engine reads only differing nodes

    @property
    def change_rows(self) -> list[int]:
        """Sorted distinct rows that hold a change (for next/previous-change navigation)."""
        return sorted({c.row for c in self.changes if c.row is not None})


# ================================================================== public API
def compare_versions(
    engine: Any, tenant: str, entry: str, old_digest: str | None, new_digest: str, badges: bool = False
) -> Comparison:
    """Compare version `old_digest` (None: an empty left side) with `new_digest`.

    If `old_digest` is the newer of the two, the sides are swapped: older left, newer right.
    With `badges`, tagged values show as the viewer shows them (`⟨py/date · 2026-01-05⟩`, a
    set as `⟨set⟩ [...]`) and a change inside a badge is a change of the whole value.
    """
    token = _BADGES.set(badges)
    try:
        return _compare_versions(engine, tenant, entry, old_digest, new_digest)
    finally:
        _BADGES.reset(token)


def _compare_versions(engine: Any, tenant: str, entry: str, old_digest: str | None, new_digest: str) -> Comparison:
    if old_digest is not None and old_digest != new_digest and _is_ancestor(engine, tenant, entry, new_digest, old_digest):
        old_digest, new_digest = new_digest, old_digest
    new_doc = engine.read_snapshot(tenant, new_digest)
    old_doc = engine.read_snapshot(tenant, old_digest) if old_digest is not None else None
    new_version = _version(engine, tenant, entry, new_digest, new_doc)
    old_version = _version(engine, tenant, entry, old_digest, old_doc) if old_doc is not None else None
    kind = new_doc["__kind__"]
    if kind == "records" and (old_doc is None or old_doc["__kind__"] == "records"):
        with gc_paused():
            result = _compare_records(engine, tenant, old_digest, new_digest)
    else:  # snapshots (or, defensively, versions of different kinds)
        old_data = _data_view(engine, tenant, old_digest, old_doc) if old_doc is not None else _ABSENT
        result = _compare_values(old_data, _data_view(engine, tenant, new_digest, new_doc))
    changes, rows, counts, compared, buckets = result
    return Comparison(
        tenant=tenant, entry=entry, kind=kind, old=old_version, new=new_version,
        changes=changes, rows=rows, added=counts[0], changed=counts[1], removed=counts[2],
        old_meta=_meta(old_version), new_meta=_meta(new_version),
        records_compared=compared, buckets_read=buckets,
    )


def compare_with_edit(
    engine: Any, tenant: str, entry: str, head: str, theirs: Any, mine: Any, user: str, badges: bool = False
) -> Comparison:
    """Compare the value at `head` (`theirs`, left) with an unsaved edit by `user` (`mine`,
    right): what saving the edit over `head` would change. `theirs` is model.conflict's
    MISSING for a record that is not at `head` (an empty left side)."""
    from .conflict import MISSING

    token = _BADGES.set(badges)
    try:
        changes, rows, counts, _, _ = _compare_values(_ABSENT if theirs is MISSING else theirs, mine)
    finally:
        _BADGES.reset(token)
    version = _version(engine, tenant, entry, head)
    mine_meta = {"digest": "unsaved edit", "parents": [head], "user": user, "date": "not saved yet"}
    return Comparison(
        tenant=tenant, entry=entry, kind="snapshot", old=version, new=None,
        changes=changes, rows=rows, added=counts[0], changed=counts[1], removed=counts[2],
        old_meta=_meta(version), new_meta=mine_meta,
    )


def compare_with_parent(engine: Any, tenant: str, entry: str, digest: str) -> Comparison:
    """Compare a version with its parent (the first version: with an empty side)."""
    parent = _version(engine, tenant, entry, digest).parent
    return compare_versions(engine, tenant, entry, parent, digest)


def compare_with_head(engine: Any, tenant: str, entry: str, digest: str) -> Comparison:
    """Compare a version (left) with the entry's HEAD (right)."""
    return compare_versions(engine, tenant, entry, digest, engine.get_digest(tenant, entry))


def in_shown_order(comparison: Comparison) -> Comparison:
    """`comparison` with its changes in the order they show, by row (then path). DeepDiff
    lists a record's changes in an order that follows string hashing, which changes from
    one run to the next; a list the user steps through with n/p must not."""
    end = len(comparison.rows)
    comparison.changes.sort(key=lambda c: (c.row if c.row is not None else end, c.path))
    return comparison


def pretty(value: Any, limit: int | None = None) -> PrettyJson:
    """Pretty JSON of a stored value as this comparison shows it (tagged values as badges
    when the comparison asks for them)."""
    return _pretty(badged(value) if _BADGES.get() else value, limit)


# ================================================================== snapshots
def _compare_values(old: Any, new: Any) -> _Result:
    """Changes and aligned rows of two whole stored values (old may be _ABSENT)."""
    left = pretty(old, MAX_LINES) if old is not _ABSENT else _EmptyPretty()
    right = pretty(new, MAX_LINES)
    alignment = align(left.lines, right.lines)
    rows = alignment.rows
    hidden = max(left.truncated, right.truncated)
    if hidden:
        rows.append(header_row(f"… {hidden} more lines not shown"))
    if old is _ABSENT:
        raw = _all_added(new)
    else:
        raw = _deep_changes(old, new)
    changes = []
    names: dict = {}  # py/dict entries met while naming paths
    for path, kind, before, after in raw:
        row = _row_of(path, kind, left, right, alignment)
        if row is None and hidden:
            row = len(rows) - 1
        side = old if kind == "removed" else new
        changes.append(Change(_render(path, side, names) or ROOT, kind, before, after, None, row))
    changes.sort(key=lambda c: (c.row if c.row is not None else len(rows)))
    return changes, rows, _top_level_counts(raw), 0, 0


class _EmptyPretty:
    """The left side of a comparison with no older version."""

    lines: list[str] = []
    lines_of: dict = {}
    truncated = 0


def _all_added(new: Any) -> list[tuple]:
    if is_plain_dict(new):
        return [((key,), "added", None, value) for key, value in new.items()]
    return [((), "added", None, new)]


# ================================================================== records
def _compare_records(engine: Any, tenant: str, old_digest: str | None, new_digest: str) -> _Result:
    # The engine diffs the two versions' record trees, skipping equal subtrees by digest.
    before, after = engine.changed_records(tenant, old_digest, new_digest)
    differing: list[tuple[str, Any, Any]] = []  # (key, old stored | _ABSENT, new stored | _ABSENT)
    differing.extend((key, before.get(key, _ABSENT), value) for key, value in after.items())
    differing.extend((key, value, _ABSENT) for key, value in before.items() if key not in after)
    differing.sort(key=lambda item: _natural_key(item[0]))
    raw_changes = _deep_changes_many(
        [(key, before, after) for key, before, after in differing if before is not _ABSENT and after is not _ABSENT]
    )

    changes: list[Change] = []
    rows = LazyRows()
    compared = 0
    hidden_records = 0
    names: dict = {}  # py/dict entries met while naming paths
    for key, before, after in differing:
        show = len(rows) < MAX_ROWS
        if not show:
            hidden_records += 1
        header = len(rows) if show else None
        if before is _ABSENT or after is _ABSENT:
            kind = "added" if before is _ABSENT else "removed"
            if show:
                rows.append(header_row(key, left=before is not _ABSENT, right=after is not _ABSENT))
                left = pretty(before, MAX_LINES) if before is not _ABSENT else _EmptyPretty()
                right = pretty(after, MAX_LINES) if after is not _ABSENT else _EmptyPretty()
                rows.extend(align(left.lines, right.lines, len(rows)).rows)
                _note_hidden(rows, max(left.truncated, right.truncated))
            changes.append(Change(f"[{key}]", kind, None if before is _ABSENT else before,
                                  None if after is _ABSENT else after, key, header))
            continue
        compared += 1
        raw = raw_changes[key]
        if not show:
            changes.extend(Change(f"[{key}]{_render(p, before if k == 'removed' else after, names)}", k, o, n, key, None)
                           for p, k, o, n in raw)
            continue
        rows.append(header_row(key))
        left, right = pretty(before, MAX_LINES), pretty(after, MAX_LINES)
        if pairs_line_by_line(left.lines, right.lines):  # row k is line k: built when shown
            places = range(len(rows), len(rows) + len(left.lines))
            alignment = Alignment([], places, places)  # type: ignore[arg-type]
            rows.defer(left.lines, right.lines)
        else:
            alignment = align(left.lines, right.lines, len(rows))
            rows.extend(alignment.rows)
        fallback = len(rows) - 1 if _note_hidden(rows, max(left.truncated, right.truncated)) else header
        for path, kind, old, new in raw:
            row = _row_of(path, kind, left, right, alignment)
            shown = _render(path, before if kind == "removed" else after, names)
            changes.append(Change(f"[{key}]{shown}", kind, old, new, key, fallback if row is None else row))
    if hidden_records:
        rows.append(header_row(f"… {hidden_records} more changed records not shown"))
        last = len(rows) - 1
        changes = [c if c.row is not None else _with_row(c, last) for c in changes]
    added = sum(1 for _k, before, _a in differing if before is _ABSENT)
    removed = sum(1 for _k, _b, after in differing if after is _ABSENT)
    counts = (added, len(differing) - added - removed, removed)
    return changes, rows, counts, compared, 0



def _note_hidden(rows: list[DiffRow], hidden: int) -> bool:
    """Append a "… N more lines" row when lines were cut; True if it did."""
    if hidden:
        rows.append(header_row(f"… {hidden} more lines not shown"))
    return bool(hidden)


def _with_row(change: Change, row: int) -> Change:
    return Change(change.path, change.kind, change.old, change.new, change.record_key, row)


# ================================================================== DeepDiff
def _deep_changes(old: Any, new: Any) -> list[tuple[tuple, str, Any, Any]]:
    """Key-level changes (path list, kind, old, new); a value too deep for DeepDiff is one change."""
    if _identical(old, new):
        return []
    left, right = _differing_fields(old, new)
    try:
        found = _key_changes(left, right)
    except Exception:  # RecursionError on very deep values, or DeepDiff failing on odd data
        return [((), "changed", old, new)]
    return _as_shown(old, new, found) or [((), "changed", old, new)]


def _deep_changes_many(pairs: list[tuple[str, Any, Any]]) -> dict[str, list[tuple[tuple, str, Any, Any]]]:
    """`_deep_changes` of many records (key, old, new) in one DeepDiff call, by record key.

    One call instead of one per record: DeepDiff's set-up costs more than a small record's diff.
    """
    results: dict[str, list] = {}
    left: dict[str, Any] = {}
    right: dict[str, Any] = {}
    found: dict[str, list] = {}
    for key, old, new in pairs:
        if _identical(old, new):
            results[key] = []
            continue
        before, after = _differing_fields(old, new)
        if before is not old:  # two plain dicts: scalar fields need no DeepDiff
            found[key], before, after = _scalar_field_changes(before, after)
            if not before and not after:
                continue
        left[key], right[key] = before, after
    try:
        if left:
            for path, kind, before, after in _key_changes(left, right):
                found.setdefault(path[0], []).append((path[1:], kind, before, after))
    except Exception:  # one record too deep or odd for DeepDiff: diff them one by one
        return {key: _deep_changes(old, new) for key, old, new in pairs}
    for key, old, new in pairs:
        if key not in results:
            results[key] = _as_shown(old, new, found.get(key, [])) or [((), "changed", old, new)]
    return results


_SCALARS = (str, int, float, bool, type(None))


def _scalar_field_changes(old: dict, new: dict) -> tuple[list[tuple[tuple, str, Any, Any]], dict, dict]:
    """The changes DeepDiff reports for the differing top-level fields `old`/`new` of two
    records where its answer is known without it (a field added or removed, a scalar changed,
    a value whose type changed: one change at the field), and the fields left for DeepDiff
    (two dicts, two lists, or equal-looking scalars such as 0.0 and -0.0)."""
    changes: list[tuple[tuple, str, Any, Any]] = []
    rest_old: dict = {}
    rest_new: dict = {}
    for name, before in old.items():
        if name not in new:
            changes.append(((name,), "removed", before, None))
            continue
        after = new[name]
        kind_a, kind_b = type(before), type(after)
        if kind_a is not kind_b or (kind_a in _SCALARS and before != after):
            changes.append(((name,), "changed", before, after))
        else:
            rest_old[name], rest_new[name] = before, after
    changes.extend(((name,), "added", None, after) for name, after in new.items() if name not in old)
    return changes, rest_old, rest_new


def _as_shown(old: Any, new: Any, changes: list[tuple[tuple, str, Any, Any]]) -> list[tuple[tuple, str, Any, Any]]:
    """With badges on, `changes` at the paths of the lines that show them: a change inside a
    badge becomes one change of the whole tagged value (once), a set's item is its item."""
    if not _BADGES.get():
        return changes
    shown: list[tuple[tuple, str, Any, Any]] = []
    seen: set[tuple] = set()
    for path, kind, before, after in changes:
        place, covered = shown_path(old if kind == "removed" else new, path)
        if covered < len(path):  # inside a badge: the whole value changed
            cut = path[:covered]
            kind = "added" if not has_value(old, cut) else "removed" if not has_value(new, cut) else "changed"
            before, after = value_at(old, cut), value_at(new, cut)
            if kind == "added":
                before = None
            elif kind == "removed":
                after = None
        if (place, kind) in seen:
            continue
        seen.add((place, kind))
        shown.append((place, kind, before, after))
    return shown


def _differing_fields(old: Any, new: Any) -> tuple[Any, Any]:
    """Identical top-level fields of two records cannot hold a change: DeepDiff gets only the others."""
    if not (is_plain_dict(old) and is_plain_dict(new)):
        return old, new
    left = {k: v for k, v in old.items() if k not in new or not _identical(new[k], v)}
    right = {k: v for k, v in new.items() if k not in old or not _identical(old[k], v)}
    return left, right


def _key_changes(left: Any, right: Any) -> list[tuple[tuple, str, Any, Any]]:
    """DeepDiff's changes; keydiff's (the same changes) when DeepDiff is not installed."""
    if DeepDiff is None:
        return key_changes(left, right)
    return _tree_changes(DeepDiff(left, right, view="tree", threshold_to_diff_deeper=0, verbose_level=2))


def _tree_changes(tree: Any) -> list[tuple[tuple, str, Any, Any]]:
    """(path, kind, old, new) of every change in a DeepDiff tree view."""
    found = []
    for category, levels in tree.items():
        if category in _SKIPPED:
            continue
        kind = "added" if category in _ADDED else "removed" if category in _REMOVED else "changed"
        for level in levels:
            path = tuple(level.path(output_format="list"))
            before = None if kind == "added" else level.t1
            after = None if kind == "removed" else level.t2
            found.append((path, kind, before, after))
    return found


def _identical(a: Any, b: Any) -> bool:
    """Equal as JSON: unlike ==, 1, 1.0 and true differ (too deep to compare: not identical)."""
    try:
        if a != b:
            return False
        if type(a) is type(b) and type(a) in (str, int, bool, type(None)):  # equal: the same JSON
            return True
        return to_json_bytes(a) == to_json_bytes(b)
    except (ValueError, TypeError, RecursionError):
        return False


def _render(path: tuple, root: Any = _ABSENT, cache: dict | None = None) -> str:
    """`['servers'][0]['port']` for a path list into the stored value `root`.

    Inside a dict with non-string keys (stored as a `py/dict` list of [key, value] pairs)
    the pair's place shows as its key, as `show` and the value tree name it: `[⟨1⟩]` for
    the int 1, `['1']` for the string "1" (not `['items'][0][1]`).
    """
    parts: list[str] = []
    node, i = root, 0
    while i < len(path):
        step = path[i]
        if step == "items" and i + 1 < len(path) and type(path[i + 1]) is int:
            entries = _dict_entries(node, {} if cache is None else cache)
            place = path[i + 1]
            if entries is not None and 0 <= place < len(entries):
                name, value = entries[place]
                if i + 2 == len(path) or path[i + 2] == 1:
                    parts.append(f"[{name}]" if type(name) is DictKey else f"[{name!r}]")
                    node = value if i + 2 < len(path) else _ABSENT
                    i += 3
                    continue
        parts.append(f"[{step}]" if type(step) in (int, DictKey) else f"[{step!r}]")
        node = child(node, step)
        i += 1
    return "".join(parts)


def _dict_entries(node: Any, cache: dict[int, tuple[Any, list | None]]) -> list | None:
    """`dict_entries` of a py/dict, computed once per comparison (`cache`: id -> (node, entries))."""
    if type(node) is not dict or node.get(SPECIAL) != TAG_DICT:
        return None
    cached = cache.get(id(node))
    if cached is None or cached[0] is not node:
        cached = cache[id(node)] = (node, dict_entries(node))
    return cached[1]


def _row_of(path: tuple, kind: str, left: Any, right: Any, alignment: Any) -> int | None:
    """The row where a change shows: its line on the side that has it, else its nearest parent."""
    side, rows_of = (left, alignment.left_row) if kind == "removed" else (right, alignment.right_row)
    if path not in side.lines_of and side.truncated:
        return None  # past the shown lines: the caller points it at the "more lines" note
    for cut in range(len(path), -1, -1):
        line = side.lines_of.get(path[:cut])
        if line is not None and line < len(rows_of):
            return rows_of[line]
    return None


# ================================================================== helpers
def _top_level_counts(raw: list[tuple]) -> tuple[int, int, int]:
    """(added, changed, removed) top-level keys, as the engine's change summary counts them."""
    kinds: dict[Any, str] = {}
    for path, kind, _old, _new in raw:
        unit = path[0] if path else ROOT
        if unit not in kinds:
            kinds[unit] = kind if len(path) <= 1 else "changed"
        elif kinds[unit] != kind or len(path) > 1:
            kinds[unit] = "changed"
    values = list(kinds.values())
    return values.count("added"), values.count("changed"), values.count("removed")


def _natural_key(key: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", key) if part]


def _data_view(engine: Any, tenant: str, digest: str, document: dict) -> Any:
    """The stored data of a version: `__data__`, or the records as one dict."""
    if document["__kind__"] == "snapshot":
        return document["__data__"]
    return engine.read_records(tenant, digest, copy=False)


def _is_ancestor(engine: Any, tenant: str, entry: str, older: str, newer: str) -> bool:
    """True when `older` is in the history of `newer` (so the two are in the wrong order):
    the engine compares their chain positions, without reading a long history whole."""
    try:
        return engine.is_ancestor(tenant, entry, older, newer)
    except DbEngineError:
        return False


def _version(engine: Any, tenant: str, entry: str, digest: str, document: dict | None = None) -> Version:
    try:
        return engine.version(tenant, entry, digest)
    except DbEngineError:
        document = document if document is not None else engine.read_snapshot(tenant, digest)
        return version_from_document(digest, document, None)


def _meta(version: Version | None) -> dict:
    if version is None:
        return {}
    return {
        "digest": version.digest,
        "parents": list(version.parents),
        "user": version.user_id,
        "date": local_time(version.date, offset=False),
        "restored_from": version.restored_from,
        "damage": getattr(version, "damage", None),
    }
