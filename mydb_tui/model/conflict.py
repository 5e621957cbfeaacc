"""An edit whose entry moved on: what the other writers did, and the edit re-applied on top.

The editor saves with `expected_head` (the HEAD when editing started); when another
writer saved first the engine refuses with ConflictError and nothing is written. This
module reads what happened since (the versions, their value) and merges the edit onto
the new HEAD three ways: a field only the user changed takes the user's value, a field
only the others changed keeps theirs, and a field both changed differently is an
overlap, where the user's value is kept and the user is told. Lists and tagged values
are merged whole. No Textual here: the editor and its dialog only show the result.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from dbengine import Version
from dbengine.errors import RecordNotFoundError

from .dates import local_time
from .values import is_special

#: A value that is not there: a record deleted (or not yet added) on one side, a missing key.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()
ROOT = "(the whole value)"


@dataclass
class Conflict:
    """The HEAD moved from `base_head` to `head` while `mine` was being edited."""

    tenant: str
    entry: str
    key: str | None  # the record edited (None: a snapshot's data)
    base_head: str
    head: str
    versions: list[Version]  # theirs, newest first: from `head` back to `base_head` (excluded)
    base: Any  # the value at `base_head` (MISSING: the record was not there)
    theirs: Any  # the value at `head` (MISSING: the record was deleted)
    mine: Any
    merged: Any = None  # `mine` re-applied on `theirs`
    overlaps: list[str] = field(default_factory=list)  # paths both changed differently
    theirs_changed: list[str] = field(default_factory=list)  # paths the others changed

    @property
    def users(self) -> list[str]:
        """Who wrote the versions since, newest first, each once."""
        return list(dict.fromkeys(v.user_id for v in self.versions))

    @property
    def clean(self) -> bool:
        """True when re-applying changes nothing the others changed (no overlap)."""
        return not self.overlaps


def read_conflict(engine: Any, tenant: str, entry: str, key: str | None, base_head: str, mine: Any) -> Conflict:
    """What happened since `base_head` (does I/O: call it in a worker) and `mine` merged onto it."""
    head = engine.get_digest(tenant, entry)
    versions: list[Version] = []
    for version in engine.log(tenant, entry, max_items=None):
        if version.digest == base_head:
            break
        versions.append(version)
    base = _value(engine, tenant, entry, key, base_head)
    theirs = _value(engine, tenant, entry, key, head)
    merged, overlaps = three_way(base, mine, theirs)
    return Conflict(tenant, entry, key, base_head, head, versions, base, theirs, mine, merged, overlaps,
                    changed_paths(base, theirs))


def _value(engine: Any, tenant: str, entry: str, key: str | None, digest: str) -> Any:
    if key is None:
        return engine.read_snapshot(tenant, digest)["__data__"]
    try:
        return engine.read_record(tenant, entry, key, digest=digest)
    except RecordNotFoundError:
        return MISSING


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values (1, 1.0 and true differ; key order does not matter)."""
    if a is MISSING or b is MISSING:
        return a is b
    try:
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return False


def _plain(value: Any) -> bool:
    return type(value) is dict and not is_special(value)


def three_way(base: Any, mine: Any, theirs: Any) -> tuple[Any, list[str]]:
    """(`mine`'s changes from `base` applied to `theirs`, the paths both changed differently).

    At an overlap `mine` wins; the caller shows the overlaps before anything is saved."""
    overlaps: list[str] = []
    merged = _merge(base, mine, theirs, (), overlaps)
    return merged, overlaps


def _merge(base: Any, mine: Any, theirs: Any, path: tuple, overlaps: list[str]) -> Any:
    if same(mine, base):
        return theirs
    if same(theirs, base) or same(mine, theirs):
        return mine
    if _plain(mine) and _plain(theirs) and (_plain(base) or base is MISSING):
        old = base if _plain(base) else {}
        result: dict = {}
        for name in [*theirs, *(k for k in mine if k not in theirs)]:
            value = _merge(old.get(name, MISSING), mine.get(name, MISSING), theirs.get(name, MISSING),
                           (*path, name), overlaps)
            if value is not MISSING:
                result[name] = value
        return result
    overlaps.append(render_path(path))
    return mine


def changed_paths(old: Any, new: Any, path: tuple = (), limit: int = 50) -> list[str]:
    """The paths where `new` differs from `old` (fields of plain objects; lists and tagged values whole)."""
    found: list[str] = []
    _changed(old, new, path, found, limit)
    return found


def _changed(old: Any, new: Any, path: tuple, found: list[str], limit: int) -> None:
    if len(found) >= limit or same(old, new):
        return
    if _plain(old) and _plain(new):
        for name in [*old, *(k for k in new if k not in old)]:
            _changed(old.get(name, MISSING), new.get(name, MISSING), (*path, name), found, limit)
        return
    found.append(render_path(path))


def render_path(path: tuple) -> str:
    """`['servers']['port']`; the empty path as ROOT."""
    return "".join(f"[{step!r}]" for step in path) or ROOT


def age(moment: dt.datetime | None, now: dt.datetime) -> str:
    """`2 s ago`, `5 min ago`, `3 h ago`, or the date when it is older than a day."""
    if moment is None:
        return "at an unknown time"
    seconds = (now - moment).total_seconds()
    if seconds < 1:
        return "just now"
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h ago"
    return f"at {local_time(moment, seconds=False)}"


def names(users: list[str]) -> str:
    """`alice`, `alice and bob`, `alice, bob and 2 others`."""
    if len(users) <= 1:
        return users[0] if users else "someone"
    if len(users) == 2:
        return f"{users[0]} and {users[1]}"
    return f"{users[0]}, {users[1]} and {len(users) - 2} other{'s' if len(users) > 3 else ''}"


def saved_text(entry: str, versions: list[Version], now: dt.datetime | None = None) -> str:
    """`alice saved app-config 2 s ago`, `alice and bob saved app-config 3 times, last 2 s ago`;
    without `now`, when as a local time (`at 2026-06-25 04:08 +0100`)."""
    who = names(list(dict.fromkeys(v.user_id for v in versions)))
    moment = versions[0].date if versions else None
    when = age(moment, now) if now is not None else f"at {local_time(moment, seconds=False)}"
    if len(versions) == 1:
        return f"{who} saved {entry} {when}"
    return f"{who} saved {entry} {len(versions):,} times, last {when}"
