"""The timeline filter (`/` in the History pane): parse a query and match versions.

Terms combine (AND): `user:alice` (the user, exactly; case-insensitive), `key:K` (versions
whose change set names record K), `path:/a/b` (snapshot entries: versions touching that
JSON Pointer), `>=DATE`, `>DATE`, `<DATE`, `<=DATE` (ISO 8601, local time without an
offset; a date alone means its first instant) and bare words (in the user or the text of
the change summary, case-insensitive). `key:`/`path:` need the engine's
`versions_touching`: the caller passes the digests it returned. Textual-free.

run_filter() answers a query over a whole history from the engine's index columns
(`history_columns`: users, dates and summaries as text, no Version per line) and builds
the Versions of the matches only.
"""

from __future__ import annotations

import datetime as _dt
import operator
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter

from dbengine.queries import parse_when

_OPS: dict[str, Callable[[object, object], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
}


class FilterError(ValueError):
    """A query that cannot be read (the message says why)."""


@dataclass(frozen=True)
class TimelineFilter:
    text: str
    users: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    dates: tuple[tuple[str, _dt.datetime], ...] = ()
    key: str | None = None
    path: str | None = None
    _users_lower: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def needs_index(self) -> bool:
        """True when the versions touching a key or path must be read first."""
        return self.key is not None or self.path is not None

    def matches(self, version, touching: set[str] | frozenset[str] | None = None) -> bool:
        """Whether `version` (a dbengine Version) passes every term; `touching`: the digests
        of the versions touching `key`/`path` (required when needs_index)."""
        if self.needs_index and (touching is None or version.digest not in touching):
            return False
        if self._users_lower and version.user_id.lower() not in self._users_lower:
            return False
        if self.dates:
            when = version.date
            if when is None:
                return False
            for op, bound in self.dates:
                if not _OPS[op](when, bound):
                    return False
        if self.words:
            user = version.user_id.lower()
            summary = str(version.summary).lower() if version.summary is not None else ""
            for word in self.words:
                if word not in user and word not in summary:
                    return False
        return True


def parse_filter(text: str) -> TimelineFilter | None:
    """The filter `text` asks for (None: empty); FilterError when a term cannot be read."""
    try:
        terms = shlex.split(text)
    except ValueError as error:
        raise FilterError(f"cannot read the filter: {error}") from None
    if not terms:
        return None
    users: list[str] = []
    words: list[str] = []
    dates: list[tuple[str, _dt.datetime]] = []
    key = path = None
    for term in terms:
        lowered = term.lower()
        if lowered.startswith("user:"):
            if not term[5:]:
                raise FilterError("user: needs a name (user:alice)")
            users.append(term[5:])
        elif lowered.startswith("key:"):
            if not term[4:] or key is not None:
                raise FilterError("key: needs one record key (key:u01)")
            key = term[4:]
        elif lowered.startswith("path:"):
            value = term[5:]
            if path is not None or not (value == "" or value.startswith("/")):
                raise FilterError("path: needs one JSON Pointer (path:/servers/0)")
            path = value
        elif term[:1] in "<>":
            op = term[:2] if term[1:2] == "=" else term[:1]
            try:
                bound = parse_when(term[len(op):])
            except Exception as error:  # InvalidDateError
                raise FilterError(str(error)) from None
            dates.append((op, bound))
        else:
            words.append(lowered)
    if key is not None and path is not None:
        raise FilterError("give key: or path:, not both")
    if len({u.lower() for u in users}) > 1:
        raise FilterError("a version has one user: give one user: term")
    return TimelineFilter(text.strip(), tuple(users), tuple(words), tuple(dates), key, path,
                          tuple(u.lower() for u in users))


def filter_versions(versions: Iterable, query: TimelineFilter,
                    touching: set[str] | frozenset[str] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> list:
    """The versions (newest first, as given) that match `query`; stops early (returning what
    it has) when `cancelled()` turns true (checked every 4,096 versions)."""
    match = query.matches
    found = []
    for i, version in enumerate(versions):
        if cancelled is not None and not i & 4095 and cancelled():
            break
        if match(version, touching):
            found.append(version)
    return found


def filter_title(query: TimelineFilter, shown: int, total: int) -> str:
    """The History pane's title while a filter is on."""
    return f"History · filter: {query.text} · {shown:,} of {total:,}"


@dataclass(frozen=True)
class FilterResult:
    """What a filter kept: the versions (newest first), the history's length, and for each
    kept version its row in the whole history (newest first: 0 = HEAD)."""

    found: list
    total: int
    rows: dict[str, int]


def run_filter(engine, tenant: str, entry: str, query: TimelineFilter, kind: str | None = None,
               cancelled: Callable[[], bool] | None = None) -> FilterResult | None:
    """The versions of the entry's history up to HEAD that match `query`, from the index
    columns (engine.history_columns) and, for key:/path:, engine.versions_touching; None
    when `cancelled()` turned true. FilterError for key: in a snapshot entry."""
    if query.key is not None and kind == "snapshot":
        raise FilterError("key: is for record entries: use path:/a/b in a snapshot")
    try:
        return _run(engine, tenant, entry, query, engine.history_columns(tenant, entry), cancelled)
    except ValueError:  # a malformed line the quick read let through: read it all, checked (repaired)
        return _run(engine, tenant, entry, query, engine.history_columns(tenant, entry, thorough=True), cancelled)


def _run(engine, tenant: str, entry: str, query: TimelineFilter, columns,
         cancelled: Callable[[], bool] | None) -> FilterResult | None:
    stop = cancelled or (lambda: False)
    count = columns.count
    masks: list[list[bool]] = []  # one per term: which positions pass it
    if query.needs_index:
        mask = [False] * count
        for digest, _certain in engine.versions_touching(tenant, entry, key=query.key, path=query.path):
            at = columns.position(digest)
            if at is not None:
                mask[at] = True
        masks.append(mask)
    users = columns.users
    if query._users_lower:
        wanted = {u for u in set(users) if u.lower() in query._users_lower}
        masks.append(list(map(wanted.__contains__, users)))
    if query.dates and not stop():
        dates = columns.dates()
        zones = set(map(attrgetter("tzinfo"), dates)) if None not in dates else ()
        for op, bound in query.dates:
            test = _OPS[op]
            if None in dates:
                masks.append([d is not None and test(d, bound) for d in dates])
            else:  # the bound in the dates' own zone: datetimes of one tzinfo compare field by field
                bound = bound.astimezone(next(iter(zones))) if len(zones) == 1 else bound
                masks.append(list(map(test, dates, repeat(bound))))
    if query.words and not stop():
        summaries = columns.summary_texts
        shown = {t: str(s).lower() if s is not None else ""
                 for t, s in dict(zip(summaries, columns.summaries(), strict=True)).items()}
        for word in query.words:
            users_with = {u for u in set(users) if word in u.lower()}
            summaries_with = {t for t, low in shown.items() if word in low}
            masks.append(list(map(operator.or_, map(users_with.__contains__, users),
                                  map(summaries_with.__contains__, summaries))))
    if stop():
        return None
    keep = masks[0] if masks else [True] * count
    for mask in masks[1:]:
        keep = list(map(operator.and_, keep, mask))
    positions = list(compress(range(count), keep))[::-1]
    found = columns.versions(positions)
    rows = dict(zip(map(attrgetter("digest"), found), map(operator.sub, repeat(count - 1), positions), strict=True))
    return FilterResult(found, count, rows)
