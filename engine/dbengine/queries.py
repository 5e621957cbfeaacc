"""History questions: the history of one record or path, blame, search, as-of dates.

Each walks an entry's history index, newest first, and reads only the versions whose
change set (`ChangeSummary.keys`) names the record or path asked about; a version whose
change set is unknown (an index line written before change sets) is compared with its
parent instead. Values are returned in stored form: nothing is decoded or unpickled.
"""

from __future__ import annotations

import datetime as _dt
import json
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import (
    DbEngineError,
    InvalidDateError,
    InvalidPathError,
    PatternMismatchError,
    RecordNotFoundError,
)
from .index_columns import IndexColumns, columns_of_versions, parse_columns
from .names import check_key
from .pointer import (
    ABSENT,
    changed_leaves,
    format_pointer,
    is_leaf,
    leaves,
    parse_pointer,
    related,
    same_value,
    value_at,
)
from .versions import Version, is_seed_layout

if TYPE_CHECKING:
    from .dbengine import DbEngine

ADDED, CHANGED, REMOVED = "added", "changed", "removed"
_SNIPPET = 60


@dataclass(frozen=True)
class KeyChange:
    """One version where a record or a path changed: its metadata, how, and the stored values
    before and after (None on the side where it was absent)."""

    version: Version
    kind: str
    old: Any
    new: Any
    key: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class SearchHit:
    """A version where `text` was found: in record `key` or at `path` (a JSON Pointer).

    `before`/`after` count the occurrences in the stored JSON of the parent's and this
    version's value (pickaxe hits are where they differ); `snippet` shows the match."""

    entry: str
    version: Version
    key: str | None
    path: str | None
    before: int
    after: int
    snippet: str


class _EntryReader:
    """Stored values of one entry's versions: the few engine reads the questions need."""

    def __init__(self, engine: DbEngine, tenant_id: str, entry: str):
        self.engine, self.tenant, self.entry = engine, tenant_id, entry

    def doc(self, digest: str) -> dict:
        return self.engine._snapshot_doc(self.tenant, digest)

    def is_records(self, doc: dict) -> bool:
        """A record version, or a seed-layout version whose value is an object (its records)."""
        data = doc.get("__data__")
        return doc["__kind__"] == "records" or (
            is_seed_layout(doc) and type(data) is dict and "__special__" not in data)

    def record(self, digest: str | None, key: str) -> Any:
        """Record `key`'s stored value at `digest`, or ABSENT."""
        if digest is None:
            return ABSENT
        doc = self.doc(digest)
        if doc["__kind__"] != "records":
            data = doc["__data__"]
            return data.get(key, ABSENT) if type(data) is dict else ABSENT
        return self.engine._record_or_absent(self.tenant, doc, key, ABSENT)

    def records(self, digest: str) -> dict[str, Any]:
        doc = self.doc(digest)
        if doc["__kind__"] != "records":
            return dict(doc["__data__"])
        return self.engine.read_records(self.tenant, digest, copy=False)

    def record_diff(self, old: str | None, new: str) -> dict[str, tuple[Any, Any]]:
        """Every record that differs between two versions: key -> (old, new), ABSENT where absent."""
        new_doc = self.doc(new)
        old_doc = self.doc(old) if old is not None else None
        if new_doc["__kind__"] == "records" and (old_doc is None or old_doc["__kind__"] == "records"):
            return self.engine._record_diff(self.tenant, old, new, ABSENT)
        before = self.records(old) if old is not None else {}
        after = self.records(new)
        out = {}
        for key in before.keys() | after.keys():
            a, b = before.get(key, ABSENT), after.get(key, ABSENT)
            if not same_value(a, b):
                out[key] = (a, b)
        return out

    def value(self, digest: str | None) -> Any:
        """A snapshot version's stored value (ABSENT before the first version)."""
        return ABSENT if digest is None else self.doc(digest)["__data__"]


def _change_sets(engine: DbEngine, tenant_id: str, entry: str, digest: str | None = None
                 ) -> tuple[Any, int, list[tuple[str, ...] | None]]:
    """(index state, position of the head or `digest`, the change set of every position up
    to it: None when unknown), from the history index only (rebuilt once if damaged)."""
    for attempt in (1, 2):
        state, start = engine._history_start(tenant_id, entry, digest)
        try:
            return state, start, state.changes_upto(start + 1)
        except ValueError:  # a damaged line: the index is a cache, rebuilt from the objects
            if attempt == 2:
                raise
            engine._rebuild_index(tenant_id, entry)
    raise AssertionError("unreachable")


def _history(engine: DbEngine, tenant_id: str, entry: str, digest: str | None = None
             ) -> Iterator[tuple[Version, tuple[str, ...] | None]]:
    """(version, change set or None when unknown), newest first, from the head (or `digest`)."""
    state, start, changes = _change_sets(engine, tenant_id, entry, digest)
    versions = state.versions_between(0, start + 1)
    for i in range(start, -1, -1):
        yield versions[i], changes[i]


def _touching(engine: DbEngine, tenant_id: str, entry: str, key: str | None, path: str | None
              ) -> list[tuple[Version, bool]]:
    """The versions whose change set names record `key` (or touches `path`), newest first,
    with True, and those whose change set is unknown, with False (compare to know)."""
    found = engine.versions_touching(tenant_id, entry, key=key, path=None if key is not None else path)
    if not found:
        return []
    state, start = engine._history_start(tenant_id, entry, None)
    out = []
    for digest, certain in found:
        position = state.position(digest)
        out.append((state.versions_between(position, position + 1)[0], certain))
    return out


def _parent(version: Version) -> str | None:
    return version.parents[0] if version.parents else None


def _kind(old: Any, new: Any) -> str:
    return ADDED if old is ABSENT else REMOVED if new is ABSENT else CHANGED


def _plain(value: Any) -> Any:
    return None if value is ABSENT else value


def _place(reader: _EntryReader, head: str, entry: str, key: str | None, path: str | None
           ) -> tuple[bool, str | None, list[str]]:
    """(is a record entry, record key, tokens of the path inside the record or value): in a
    record entry a path alone starts with the record key."""
    tokens = [] if path is None else parse_pointer(path)
    records = reader.is_records(reader.doc(head))
    if records and key is None:
        if not tokens:
            raise InvalidPathError("a record entry's path starts with the record key: /KEY/...")
        key, tokens = tokens[0], tokens[1:]
    if not records and key is not None:
        raise PatternMismatchError(f"entry {entry!r} is a snapshot entry: give a path, not a record key")
    if key is not None:
        check_key(key)
    return records, key, tokens


# ================================================================== key_history
def key_history(engine: DbEngine, tenant_id: str, entry: str, key: str | None = None,
                path: str | None = None, max_items: int | None = None) -> list[KeyChange]:
    """The versions where record `key` (and/or the value at `path`) changed, newest first."""
    if key is None and path is None:
        raise InvalidPathError("key_history needs a record key, a path, or both")
    reader = _EntryReader(engine, tenant_id, entry)
    records, key, tokens = _place(reader, engine.get_digest(tenant_id, entry), entry, key, path)
    out: list[KeyChange] = []
    for version, _certain in _touching(engine, tenant_id, entry, key if records else None, path):
        parent = _parent(version)
        if records:
            old, new = reader.record(parent, key), reader.record(version.digest, key)
        else:
            old, new = reader.value(parent), reader.value(version.digest)
        if tokens:
            old = value_at(old, tokens) if old is not ABSENT else ABSENT
            new = value_at(new, tokens) if new is not ABSENT else ABSENT
        if same_value(old, new):
            continue
        out.append(KeyChange(version, _kind(old, new), _plain(old), _plain(new), key, path))
        if max_items is not None and len(out) >= max_items:
            break
    return out


# ================================================================== blame
def blame(engine: DbEngine, tenant_id: str, entry: str, digest: str | None = None,
          keys: list[str] | None = None) -> dict[str, Version]:
    """Record key (or, in a snapshot entry, leaf JSON Pointer) -> the version that last
    changed it, as of `digest` (default HEAD), in the records' order (or the leaves', or the
    order of `keys`). Removed records are not listed."""
    reader = _EntryReader(engine, tenant_id, entry)
    start = digest or engine.get_digest(tenant_id, entry)
    records = reader.is_records(reader.doc(start))
    if records:
        if keys is None:
            names = list(reader.records(start))
        else:
            names = list(dict.fromkeys(k for k in map(check_key, keys) if reader.record(start, k) is not ABSENT))
        places: dict[str, tuple[str, ...]] = {}
    else:
        value = reader.value(start)
        places = {format_pointer(tokens): tokens for tokens, _leaf in leaves(value)} if keys is None else {
            p: tuple(parse_pointer(p)) for p in keys if value_at(value, parse_pointer(p)) is not ABSENT}
        names = list(places)
    blamed: dict[str, int] = {}  # name -> chain position of the version that last changed it
    remaining = set(names)
    state, start, change_sets = _change_sets(engine, tenant_id, entry, digest)
    for i in range(start, -1, -1):  # newest first
        if not remaining:
            break
        known, parent, here = change_sets[i], state.parents[i], state.digests[i]
        if not records:
            touched = set(_blamed_places(reader, here, parent, known, {n: places[n] for n in remaining}))
        elif known is not None:  # a record change set names only records whose value changed
            touched = remaining.intersection(known)
        elif parent is None:
            touched = set(remaining)
        else:
            touched = remaining.intersection(reader.record_diff(parent, here))
        if touched:
            blamed.update(dict.fromkeys(touched, i))
            remaining -= touched
    versions = _versions_of(state, set(blamed.values()))
    if len(blamed) == len(names):  # (every name found: the usual case) mapped in C
        return dict(zip(names, map(versions.__getitem__, map(blamed.__getitem__, names)), strict=True))
    return {name: versions[blamed[name]] for name in names if name in blamed}


def _versions_of(state: Any, positions: set[int]) -> dict[int, Version]:
    """The Versions at `positions` of an index state: many are built in one go (a Version per
    line of the span between them costs less than one call per version)."""
    if len(positions) > 64:
        lo, hi = min(positions), max(positions) + 1
        span = state.versions_between(lo, hi)
        return {i: span[i - lo] for i in positions}
    return {i: state.versions_between(i, i + 1)[0] for i in positions}


def _blamed_places(reader: _EntryReader, digest: str, parent: str | None,
                   known: tuple[str, ...] | None, remaining: dict[str, tuple[str, ...]]) -> list[str]:
    if parent is None:
        return list(remaining)
    if known is not None:
        candidates = [tuple(parse_pointer(k)) for k in known]
        names = [n for n, place in remaining.items() if any(related(place, c) for c in candidates)]
        if not names:
            return []
    else:
        names = list(remaining)
    old, new = reader.value(parent), reader.value(digest)
    return [n for n in names if not same_value(value_at(old, list(remaining[n])), value_at(new, list(remaining[n])))]


# ================================================================== search
def search(engine: DbEngine, tenant_id: str, entry: str | None, text: str, *, pickaxe: bool = False,
           user: str | None = None, since: _dt.datetime | None = None, until: _dt.datetime | None = None,
           cancelled: Callable[[], bool] | None = None,
           progress: Callable[[int, int], None] | None = None) -> Iterator[SearchHit]:
    """Hits for `text` in the stored JSON of records or snapshot values, version by version,
    newest first; `pickaxe` keeps the places whose number of occurrences changed against
    the parent (git log -S), plain mode those where a value holding the text was written."""
    if type(text) is not str or not text:
        raise InvalidPathError("search needs a non-empty text")
    since, until = _aware(since), _aware(until)
    if entry is not None:
        entries = [entry]
        total = None
    else:
        infos = engine.entry_infos(tenant_id)
        entries = sorted(name for name, info in infos.items() if not isinstance(info, DbEngineError))
        total = sum(info.versions for info in infos.values() if not isinstance(info, DbEngineError))
    scanned = 0
    for name in entries:
        versions = list(_history(engine, tenant_id, name))
        if total is None:
            total = len(versions)
        reader = _EntryReader(engine, tenant_id, name)
        for version, known in versions:
            if cancelled is not None and cancelled():
                return
            scanned += 1
            if progress is not None:
                progress(scanned, total)
            if user is not None and version.user_id != user:
                continue
            if (since is not None or until is not None) and version.date is None:
                continue
            if since is not None and version.date < since or until is not None and version.date > until:
                continue
            yield from _version_hits(reader, version, known, text, pickaxe)


def _version_hits(reader: _EntryReader, version: Version, known: tuple[str, ...] | None, text: str,
                  pickaxe: bool) -> Iterator[SearchHit]:
    parent = _parent(version)
    doc = reader.doc(version.digest)
    if reader.is_records(doc):
        if known is not None:
            pairs = ((k, reader.record(parent, k), reader.record(version.digest, k)) for k in sorted(known))
        else:
            pairs = ((k, a, b) for k, (a, b) in sorted(reader.record_diff(parent, version.digest).items()))
        places = ((k, None, a, b) for k, a, b in pairs)
    else:
        old, new = reader.value(parent), reader.value(version.digest)
        places = ((None, format_pointer(tokens), a, b) for tokens, a, b in _changed_leaf_values(old, new))
    for key, path, a, b in places:
        before, after = _count(a, text), _count(b, text)
        if (before != after) if pickaxe else (after and not same_value(a, b)):
            source = _json(b) if after else _json(a)
            yield SearchHit(reader.entry, version, key, path, before, after, _snippet(source, text))


def _changed_leaf_values(old: Any, new: Any) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """(place, old, new) of every leaf that differs between two snapshot values: a subtree
    added, removed or replaced is split into its leaves, so a hit names the exact value."""
    for tokens in changed_leaves(old if old is not ABSENT else {}, new):
        a = value_at(old, list(tokens)) if old is not ABSENT else ABSENT
        b = value_at(new, list(tokens))
        if (a is ABSENT or is_leaf(a)) and (b is ABSENT or is_leaf(b)):
            yield tokens, a, b
            continue
        before = dict(leaves(a, tokens)) if a is not ABSENT else {}
        after = dict(leaves(b, tokens)) if b is not ABSENT else {}
        for place in sorted(before.keys() | after.keys()):
            x, y = before.get(place, ABSENT), after.get(place, ABSENT)
            if not same_value(x, y):
                yield place, x, y


def _json(value: Any) -> str:
    if value is ABSENT:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _count(value: Any, text: str) -> int:
    return _json(value).count(text) if value is not ABSENT else 0


def _snippet(source: str, text: str) -> str:
    at = source.find(text)
    if at < 0:
        return source[:_SNIPPET]
    start = max(0, at - (_SNIPPET - len(text)) // 2)
    return source[start: start + max(_SNIPPET, len(text))]


# ================================================================== as_of
def as_of(engine: DbEngine, tenant_id: str, entry: str, when: _dt.datetime) -> Version | None:
    """The version that was HEAD at `when` (naive: local time): the newest version in
    history order dated at or before it. An interpolation search on the dates over the
    windowed index (a few pages of lines, not the whole file): dates are taken as
    non-decreasing along the history; an invalid date counts as its older neighbour's."""
    when = _aware(when)
    view = engine.log_view(tenant_id, entry, page=_AS_OF_PAGE)
    count = len(view)
    if count == 0:
        return None

    def date(i: int) -> _dt.datetime | None:
        for j in range(i, min(count, i + _AS_OF_PAGE)):
            if view[j].date is not None:
                return view[j].date
        return None

    newest, oldest = date(0), date(count - 1)
    if newest is None or newest <= when:
        return view[0]
    if oldest is None or oldest > when:
        return None
    lo, hi = 0, count - 1  # date(lo) > when >= date(hi); the answer is hi once they touch
    lo_date, hi_date = newest, oldest
    step = 0
    while hi - lo > 1:
        span = (lo_date - hi_date).total_seconds()
        if step % 2 == 0 and span > 0:  # interpolate; every other step bisects (log n at worst)
            guess = lo + int((lo_date - when).total_seconds() / span * (hi - lo))
            mid = min(max(guess, lo + 1), hi - 1)
        else:
            mid = (lo + hi) // 2
        step += 1
        found = date(mid)
        if found is not None and found > when:
            lo, lo_date = mid, found
        else:
            hi, hi_date = mid, found if found is not None else hi_date
    return view[hi]


_AS_OF_PAGE = 64


def parse_when(text: str) -> _dt.datetime:
    """An ISO 8601 date or date-time (`2026-03-01`, `2026-03-01T12:00`, `...+02:00`, `...Z`);
    without an offset, local time; a date alone means its first instant."""
    try:
        when = _dt.datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise InvalidDateError(f"{text!r} is not an ISO 8601 date or date-time (e.g. 2026-03-01 or "
                               "2026-03-01T14:30)") from None
    return _aware(when)


def _aware(when: _dt.datetime | None) -> _dt.datetime | None:
    if when is None:
        return None
    if not isinstance(when, _dt.datetime):
        raise TypeError(f"a date is a datetime, not {type(when).__name__}")
    return when if when.tzinfo is not None else when.astimezone()


# ================================================================== index columns
#: The columns read last, per engine, kept for the next question about the same entry while
#: its head and index file are unchanged (the activity strip reads them when an entry opens,
#: the timeline filter asks next): only for histories of up to this many versions (memory).
KEEP_COLUMNS_UPTO = 200_000
_KEPT_COLUMNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def history_columns(engine: DbEngine, tenant_id: str, entry: str, thorough: bool = False) -> IndexColumns:
    """The user, date and summary columns of the entry's history up to HEAD, oldest first,
    from one read of its index (no Version built per line); an index that is damaged, of an
    older format or behind the head is read the usual way (repaired) and turned into columns.
    `thorough`: always the usual way, every line built and checked (for a caller that met a
    malformed field the quick read let through: only what it uses is checked)."""
    head = engine.get_digest(tenant_id, entry)
    token = engine.storage.index_token(tenant_id, entry)
    kept = _KEPT_COLUMNS.get(engine)
    if not thorough and kept is not None and kept[0] == (tenant_id, entry, head, token):
        return kept[1]
    got = None if thorough else engine.storage.read_index(tenant_id, entry, 0)
    columns = parse_columns(got[0]) if got is not None else None
    if columns is not None:
        at = columns.position(head)
        if at is not None:
            columns = columns.upto(at + 1)
            try:
                version = columns.versions([columns.count - 1])[0]
            except ValueError:
                version = None
            if version is not None and engine.index.line_agrees(tenant_id, None, head, version):
                if columns.count <= KEEP_COLUMNS_UPTO and token is not None and token == got[1]:
                    _KEPT_COLUMNS[engine] = ((tenant_id, entry, head, token), columns)
                return columns
    for attempt in (1, 2):
        state, start = engine._history_start(tenant_id, entry, None)
        try:
            return columns_of_versions(state.versions_with_changes()[: start + 1])
        except ValueError:  # a damaged line: the index is a cache, rebuilt from the objects
            if attempt == 2:
                raise
            engine._rebuild_index(tenant_id, entry)
    raise AssertionError("unreachable")


# ================================================================== restore of one place
@dataclass(frozen=True)
class RestorePlan:
    """What restoring one record or value writes: record upserts/deletes, or a new snapshot
    value; `place` names it for messages."""

    records: bool
    place: str
    upserts: dict
    deletes: tuple
    value: Any = None


def restored_part(engine: DbEngine, tenant_id: str, entry: str, digest: str, head: str,
                  key: str | None, path: str | None) -> RestorePlan:
    """The change that brings record `key` (and/or the value at `path`) back to what it was at
    `digest`, on top of `head`; absent then means removed now."""
    reader = _EntryReader(engine, tenant_id, entry)
    records, key, tokens = _place(reader, head, entry, key, path)
    if records:
        old, now = reader.record(digest, key), reader.record(head, key)
        place = f"record {key!r}" + (f" at {path}" if tokens else "")
        if tokens:
            if now is ABSENT:
                raise RecordNotFoundError(f"record {key!r} is not in HEAD: restore the whole record "
                                          f"(key only) to bring it back")
            new = _with_value(now, tokens, value_at(old, tokens) if old is not ABSENT else ABSENT, path)
            return RestorePlan(True, place, {key: new}, ())
        if old is ABSENT:
            return RestorePlan(True, place, {}, (key,) if now is not ABSENT else ())
        return RestorePlan(True, place, {key: old}, ())
    if not tokens:
        raise InvalidPathError("restore a whole snapshot without a path (restore the version)")
    old = value_at(reader.value(digest), tokens)
    return RestorePlan(False, f"the value at {path}", {}, (), _with_value(reader.value(head), tokens, old, path))


def _with_value(container: Any, tokens: list[str], value: Any, path: str | None) -> Any:
    """A copy of a stored value with the place at `tokens` set to `value` (ABSENT: removed)."""
    root = json.loads(json.dumps(container))  # a fresh copy: the engine's values are cached
    parent = value_at(root, tokens[:-1])
    last = tokens[-1]
    if parent is ABSENT or type(parent) not in (dict, list) or (type(parent) is dict and "__special__" in parent):
        raise InvalidPathError(f"{path}: its parent is not an object or array at HEAD; restore the parent instead")
    if type(parent) is dict:
        if value is ABSENT:
            parent.pop(last, None)
        else:
            parent[last] = value
        return root
    if not last.isdigit() or int(last) > len(parent):
        raise InvalidPathError(f"{path}: no such array position at HEAD; restore the array instead")
    index = int(last)
    if value is ABSENT:
        if index < len(parent):
            del parent[index]
    elif index == len(parent):
        parent.append(value)
    else:
        parent[index] = value
    return root
