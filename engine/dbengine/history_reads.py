"""Reads of an entry's history through its index: whole (log, history), windowed (a few
lines of a long index, its end for the newest), lazy (log_view) and by change set
(versions_touching). Damage found on the way is repaired as a whole read repairs it."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from .changesets import path_touched
from .errors import AmbiguousDigestError, ConflictError, CorruptObjectError, DigestNotFoundError
from .history_index import HistoryIndex
from .index_format import build_versions
from .index_state import IndexState
from .index_window import Lines, LogView, WindowDamaged, find_lines, newest, window
from .names import check_digest, check_key
from .versions import Version

_REV_RE = re.compile(r"HEAD(?:~(\d+))?")
_PREFIX_RE = re.compile(r"[0-9a-f]{4,64}")
LOCATED_KEEP = 1024  # versions found by a scan, remembered while their entry's head stays

WINDOW_MAX = 5000  # versions a windowed read serves; more are read with the whole index
LINE_GUESS = 200  # bytes of an index line, to place a first window read


@dataclass(frozen=True)
class LogWindow:
    """Part of an entry's history: `versions`, newest first, the first `start` versions
    below `head` (0: the head itself), of `total` versions in all."""

    head: str
    total: int
    start: int
    versions: list[Version]


class HistoryReader:
    """The history questions answered from the index (see DbEngine's methods of the same names)."""

    def __init__(self, index: HistoryIndex):
        self.index = index
        # (tenant, entry, digest) -> (head, position, Version): versions found by find_lines
        self._located: dict[tuple[str, str, str], tuple[str, int, Version]] = {}
        # (tenant, entry, digest) -> (head, position): first parents of located versions
        self._positions: dict[tuple[str, str, str], tuple[str, int]] = {}

    def _retried(self, tenant_id: str, entry: str, read: Callable[[], list]) -> list:
        """`read()`, again after a rebuild of the index when a line turns out malformed."""
        try:
            return read()
        except ValueError:
            self.index.rebuild(tenant_id, entry)
        return read()

    def digests(self, tenant_id: str, entry: str, digest: str | None, max_items: int | None) -> list[str]:
        """Digests of the entry's versions, newest first, from the head (or `digest`)."""
        if digest is None and max_items is not None and 0 < max_items <= WINDOW_MAX \
                and (tenant_id, entry) not in self.index.states:
            return [v.digest for v in self.window(tenant_id, entry, 0, max_items).versions]
        state, start = self.index.start(tenant_id, entry, digest)
        first = max(start + 1 - max_items, 0) if max_items is not None else 0
        return state.digests[first : start + 1][::-1]

    def log(self, tenant_id: str, entry: str, digest: str | None, max_items: int | None) -> list[Version]:
        """The entry's versions, newest first, from the head (or `digest`)."""
        if digest is None and max_items is not None and 0 < max_items <= WINDOW_MAX \
                and (tenant_id, entry) not in self.index.states:
            return self.window(tenant_id, entry, 0, max_items).versions

        def read() -> list[Version]:
            state, start = self.index.start(tenant_id, entry, digest)
            first = max(start + 1 - max_items, 0) if max_items is not None else 0
            return state.versions_between(first, start + 1)[::-1]

        return self._retried(tenant_id, entry, read)

    def window(self, tenant_id: str, entry: str, start: int = 0, count: int = 100) -> LogWindow:
        """Versions `start` .. `start + count - 1` below the head (0: the head), newest first,
        and the number of versions: only those lines of a long index are read."""
        if type(start) is not int or type(count) is not int or start < 0 or count < 0:
            raise ValueError("start and count must be integers >= 0")
        head = self.index.head_of(tenant_id, entry)
        total, tail = self.total(tenant_id, entry, head, min(count, WINDOW_MAX) if start == 0 else 1)
        lo, hi = max(total - start - count, 0), max(total - start, 0)
        return LogWindow(head, total, start, self.versions_at(tenant_id, entry, head, total, lo, hi, tail)[::-1])

    def view(self, tenant_id: str, entry: str, page: int = 256) -> LogView:
        """The entry's history as a lazy sequence of Versions, newest first, as of the head now."""
        head = self.index.head_of(tenant_id, entry)
        total, _tail = self.total(tenant_id, entry, head, 1)
        return LogView(lambda lo, hi: self.versions_at(tenant_id, entry, head, total, lo, hi), head, total, page)

    def touching(self, tenant_id: str, entry: str, key: str | None, path: str | None,
                 digest: str | None) -> list[tuple[str, bool]]:
        """Versions whose change set names record `key` or touches JSON Pointer `path` (True),
        or whose change set is unknown (False), newest first: a scan of the index only."""
        if (key is None) == (path is None):
            raise ValueError("give a record key or a JSON Pointer path")
        if path is not None and not (type(path) is str and (path == "" or path.startswith("/"))):
            raise ValueError(f"{path!r} is not a JSON Pointer (RFC 6901): it must be empty or start with '/'")
        if digest is not None:
            check_digest(digest)  # (a bad digest is the caller's error, not the index's damage)
        if key is not None:
            check_key(key)
            needle: str | None = json.dumps(key, ensure_ascii=True)

            def match(changes: tuple[str, ...]) -> bool:
                return key in changes
        else:
            needle = None

            def match(changes: tuple[str, ...]) -> bool:
                return path_touched(changes, path)

        def read() -> list[tuple[str, bool]]:
            state, position = self.index.start(tenant_id, entry, digest)
            return [(state.digests[i], certain) for i, certain in state.touching(position + 1, match, needle)]

        return self._retried(tenant_id, entry, read)

    def version(self, tenant_id: str, entry: str, digest: str) -> Version:
        """One version of the entry, its index line checked against its object: found by a
        scan of the index file when it is not in memory, else (or on anything odd) by the
        whole, repairing read."""
        located = self.locate(tenant_id, entry, check_digest(digest))
        if located is not None:
            return located[1]
        version = self.log(tenant_id, entry, digest, max_items=1)[0]
        if not self.index.line_agrees(tenant_id, self.index.states.get((tenant_id, entry)), digest, version):
            self.index.rebuild(tenant_id, entry)
            version = self.log(tenant_id, entry, digest, max_items=1)[0]
        return version

    def position(self, tenant_id: str, entry: str, digest: str) -> int:
        """The chain position of version `digest` of the entry (0: its first version);
        DigestNotFoundError when it is not one."""
        located = self.locate(tenant_id, entry, check_digest(digest))
        if located is not None:
            return located[0]
        return self.index.start(tenant_id, entry, digest)[1]

    def is_ancestor(self, tenant_id: str, entry: str, older: str, newer: str) -> bool:
        """True when `older` is in the history of `newer` (itself included), both versions of
        the entry's first-parent chain: the index is that chain, so positions answer it.
        DigestNotFoundError when `newer` is not a version of the entry."""
        new_position = self.position(tenant_id, entry, newer)
        located = self.locate(tenant_id, entry, check_digest(older))
        if located is not None:
            return located[0] <= new_position
        state, _head = self.index.start(tenant_id, entry, None)  # (no walk of the objects for a stranger)
        old_position = state.position(older)
        return old_position is not None and old_position <= new_position

    def locate(self, tenant_id: str, entry: str, digest: str) -> tuple[int, Version] | None:
        """(position, Version) of `digest` read from its line alone: the line is found by a bytes
        scan of the index file (find_lines), read as a checked window at the position it names
        (its CRC continues from the line before, the line after checks it, the lines chain)
        and checked against the version's object. None when the index is in memory already
        (it answers at once) or cannot answer this way (the whole read then repairs it)."""
        key = (tenant_id, entry)
        if key in self.index.states:
            return None
        head = self.index.head_of(tenant_id, entry)
        known = self._located.get((tenant_id, entry, digest))
        if known is not None and known[0] == head:
            return known[1], known[2]
        total, tail = self.total(tenant_id, entry, head, 1)
        if key in self.index.states:
            return None
        known_position = self._positions.get((tenant_id, entry, digest))
        if digest == head:
            position = total - 1
        elif known_position is not None and known_position[0] == head:
            position = known_position[1]
        else:
            try:
                found = find_lines(self._read_range(tenant_id, entry), digest, first_only=True)
            except CorruptObjectError:
                return None
            if not found or found[0][0] != digest:
                return None
            position = found[0][1]
        checked = self._checked_at(tenant_id, entry, head, total, position, tail)
        if checked is None or checked.digest != digest \
                or not self.index.line_agrees(tenant_id, None, digest, checked):
            return None
        if len(self._located) >= LOCATED_KEEP:
            self._located.clear()
            self._positions.clear()
        self._located[(tenant_id, entry, digest)] = (head, position, checked)
        if position:  # the window checked that this line's first parent is the line before's digest
            self._positions[(tenant_id, entry, checked.parents[0])] = (head, position - 1)
        return position, checked

    def _checked_at(self, tenant_id: str, entry: str, head: str, total: int, position: int,
                    tail: Lines | None = None) -> Version | None:
        """The Version at chain `position` from a checked window (None: out of range, or the
        index went into memory on the way, a repair: the caller reads it the whole way)."""
        if not 0 <= position < total:
            return None
        try:
            versions = self.versions_at(tenant_id, entry, head, total, position, position + 1, tail)
        except (ValueError, ConflictError):
            return None
        if (tenant_id, entry) in self.index.states or len(versions) != 1:
            return None
        return versions[0]

    def resolve(self, tenant_id: str, entry: str, rev: str) -> str:
        """A full digest for `rev`: a digest, a unique prefix (4+ hex), HEAD or HEAD~N. HEAD~N is
        a window read at its position; a prefix, one scan of the index file for line starts
        (each candidate then read as a checked window); the whole index only when it is in
        memory already or these reads cannot answer."""
        head = self.index.head_of(tenant_id, entry)
        match = _REV_RE.fullmatch(rev) if type(rev) is str else None
        if not match and not (type(rev) is str and _PREFIX_RE.fullmatch(rev)):
            raise DigestNotFoundError(f"{rev!r} is not a revision: use a digest (4+ hex), HEAD or HEAD~N")
        key = (tenant_id, entry)
        if key not in self.index.states:
            total, tail = self.total(tenant_id, entry, head, 1)
            if key not in self.index.states:
                answer = self._resolve_by_reads(tenant_id, entry, head, total, tail, rev, match)
                if answer is not None:
                    return answer
        state = self.index.index(tenant_id, entry, head)
        if match:
            digits = match.group(1) or "0"
            position = state.position(head) - int(digits) if len(digits) <= 18 else -1
            if position < 0:
                raise DigestNotFoundError(f"{rev}: entry {entry!r} has only {state.position(head) + 1} versions")
            return state.digests[position]
        candidates = [d for d in state.digests[: state.position(head) + 1] if d.startswith(rev)]
        return _one_candidate(rev, entry, tenant_id, candidates)

    def _resolve_by_reads(self, tenant_id: str, entry: str, head: str, total: int, tail: Lines | None,
                          rev: str, match: re.Match | None) -> str | None:
        """resolve() from windows and a scan of the index file (None: read it whole instead)."""
        if match:
            digits = match.group(1) or "0"
            position = total - 1 - int(digits) if len(digits) <= 18 else -1
            if position < 0:
                raise DigestNotFoundError(f"{rev}: entry {entry!r} has only {total} versions")
            checked = self._checked_at(tenant_id, entry, head, total, position, tail)
            return checked.digest if checked is not None else None
        try:
            found = find_lines(self._read_range(tenant_id, entry), rev)
        except CorruptObjectError:
            return None
        if not found:  # (not found, or not scannable: the whole read decides, repairing)
            return None
        candidates = []
        for digest, position in found:
            if position >= total:  # appended after the head was read
                continue
            checked = self._checked_at(tenant_id, entry, head, total, position, tail)
            if checked is None or checked.digest != digest:
                return None
            candidates.append(digest)
        return _one_candidate(rev, entry, tenant_id, candidates[::-1]) if candidates else None

    def total(self, tenant_id: str, entry: str, head: str, want: int) -> tuple[int, Lines | None]:
        """The number of versions up to `head` and, when read from the index's end, its newest
        `want` lines (or fewer). An index already in memory answers at once; otherwise one
        small read of the file's end, whose last line must be the head's and agree with its
        object; anything else goes to the whole, repairing read."""
        total, lines, _version = self._total(tenant_id, entry, head, want)
        return total, lines

    def head_line(self, tenant_id: str, entry: str, head: str) -> tuple[int, Version]:
        """The number of versions up to `head` and its Version, its line checked against its
        object: window(0, 1) for a head already known, with the Version total() built kept
        rather than built again (an entry listing asks this of every entry)."""
        total, tail, version = self._total(tenant_id, entry, head, 1)
        if version is None:
            version = self.versions_at(tenant_id, entry, head, total, total - 1, total, tail)[0]
        return total, version

    def _total(self, tenant_id: str, entry: str, head: str, want: int) -> tuple[int, Lines | None, Version | None]:
        """total(), with the head's Version when it was built (and checked) on the way."""
        key = (tenant_id, entry)
        index = self.index
        if key not in index.states:
            known = index.totals.get(key)
            if known is not None and known[0] == head and want <= 1:
                return known[1], None, None
            try:
                got = newest(self._read_range(tenant_id, entry), max(want, 1))
            except WindowDamaged:
                index.rebuild(tenant_id, entry)
                got = None
            except CorruptObjectError:  # not a regular file: the whole read rebuilds it
                got = None
            if got is not None and got[0].digests[-1] == head:
                lines, total, size = got
                try:
                    version = build_versions(lines.digests[-1:], lines.parents[-1:], lines.tails[-1:], total - 1)[0]
                except ValueError:
                    version = None
                if version is not None and index.line_agrees(tenant_id, None, head, version):
                    index.totals[key] = (head, total, size)
                    return total, lines, version
        state = index.index(tenant_id, entry, head)
        return state.position(head) + 1, None, None

    def _read_range(self, tenant_id: str, entry: str) -> Callable[[int, int], tuple[bytes, int, int] | None]:
        storage = self.index.storage
        return lambda offset, nbytes: storage.read_index_range(tenant_id, entry, offset, nbytes)

    def versions_at(self, tenant_id: str, entry: str, head: str, total: int, lo: int, hi: int,
                    tail: Lines | None = None) -> list[Version]:
        """Versions at chain positions lo..hi-1 (oldest first) of the history of `head`, which
        has `total` versions: from the index in memory, from `tail` (the newest lines, just
        read), or from a window of the file; damage is repaired as a whole read repairs it."""
        if hi <= lo:
            return []
        key = (tenant_id, entry)
        index = self.index
        if key not in index.states and hi - lo <= WINDOW_MAX:
            lines = tail if tail is not None and tail.first <= lo and hi == total else None
            if lines is None:
                size = index.totals.get(key, (head, total, total * LINE_GUESS))[2]
                try:
                    lines = window(self._read_range(tenant_id, entry), lo, hi, total, size)
                except WindowDamaged:
                    index.rebuild(tenant_id, entry)
                except CorruptObjectError:
                    pass
            if lines is not None:
                skip = lo - lines.first
                with contextlib.suppress(ValueError):  # a malformed field: the whole read repairs it
                    return build_versions(lines.digests[skip:skip + hi - lo], lines.parents[skip:skip + hi - lo],
                                          lines.tails[skip:skip + hi - lo], lo)
                index.rebuild(tenant_id, entry)

        def read() -> list[Version]:
            state: IndexState = index.index(tenant_id, entry, head)
            if state.position(head) + 1 != total:
                raise ConflictError(f"the history of {entry!r} up to {head[:12]} changed while it was read")
            return state.versions_between(lo, hi)

        return self._retried(tenant_id, entry, read)


def _one_candidate(rev: str, entry: str, tenant_id: str, candidates: list[str]) -> str:
    """The one digest starting with `rev` (oldest first in the error when there are more)."""
    if not candidates:
        raise DigestNotFoundError(f"no version {rev} in entry {entry!r} of tenant {tenant_id!r}")
    if len(candidates) > 1:
        raise AmbiguousDigestError(f"{rev} is ambiguous: {', '.join(c[:12] for c in candidates)}", candidates)
    return candidates[0]
