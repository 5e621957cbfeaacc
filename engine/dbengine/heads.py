"""Heads: each tenant's `{entry: digest}` map, cached while its token is unchanged (on local
disk: the journal's and the head file's identity, the head being the journal's last record's
until a checkpoint), and moved only by compare-and-swap (under the tenant lock on disk; retried, with paced
winners, on S3 where a swap can lose)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from .errors import ConflictError, CorruptObjectError, DbEngineError
from .index_format import _all_hex
from .names import check_tenant
from .objects import ObjectStore
from .storage_protocol import Storage
from .utils import strict_loads, to_json_bytes, to_json_bytes_utf8

RACY_NS = 2_000_000_000
CAS_DEADLINE = 60.0  # seconds of lost races on a head before ConflictError (only without a file lock)
CAS_BASE_DELAY = 0.002
PARSED_MAX_BYTES = 1 << 20  # head bytes kept with their parsed map, at most
CAS_MAX_PACE = 2.0  # longest pause of a winner that others wait behind (one attempt's time)

#: step(current head digest) -> (new digest, what to do once it is the head), or None
Step = Callable[[str | None], tuple[str, Callable[[], None]] | None]


def _nothing() -> None:
    pass


def all_digests(values: list) -> bool:
    """Every item is a digest (64 lowercase hex): checked at C speed, a head of 100,000 entries
    in a few milliseconds."""
    return set(map(type, values)) <= {str} and _all_hex(values)


class Heads:
    """The tenants' head maps of one database: cached reads and compare-and-swap writes."""

    def __init__(self, storage: Storage, objects: ObjectStore):
        self.storage = storage
        self.objects = objects
        self.cache: dict[str, tuple[Any, dict[str, str]]] = {}
        self._guard = threading.RLock()
        _LIVE.add(self)
        # Compare-and-swap fairness on S3 (see note_pace): (tenant, entry) -> last digest this
        # engine wrote, and -> seconds to pause before the next write when others write too.
        self._last_written: dict[tuple[str, str], str] = {}
        self.pace: dict[tuple[str, str], float] = {}
        # tenant -> (head bytes, their map, canonical) last written or parsed here: a commit
        # re-reads the head it wrote before (under the lock) and finds the same bytes, which need
        # no parse; canonical: the bytes are to_json_bytes_utf8 of the map (made here), so that
        # the next swap splices its digest in (`splice_head`) instead of encoding the map whole
        self._parsed: dict[str, tuple[bytes, dict[str, str], bool]] = {}

    def forked(self) -> None:
        """In a forked child: a new guard (a parent thread may have held it: never released here)."""
        self._guard = threading.RLock()

    def head(self, tenant_id: str, fresh: bool = False) -> dict[str, str]:
        """The tenant's head map, re-read only when its token changed (the journal or the head file)."""
        check_tenant(tenant_id)
        if not fresh:
            token = self.storage.head_token(tenant_id)
            cached = self.cache.get(tenant_id)
            if cached is not None and token == cached[0]:
                return cached[1]
        return self.read(tenant_id)[0]

    def read(self, tenant_id: str) -> tuple[dict[str, str], Any]:
        """The head map read now, with the token its compare-and-swap expects (None: no head)."""
        result = self.storage.read_head(tenant_id)
        if result is None:
            self.storage.require_tenant(tenant_id)
            return {}, None
        data, token = result
        parsed = self._parsed.get(tenant_id)
        if parsed is not None and parsed[0] == data:  # bytes checked (or made) here before: the same map
            head = parsed[1]
        else:
            path = getattr(self.storage, "head_source", self.storage.head_path)(tenant_id)  # the journal or the head file
            try:
                head = strict_loads(data)
            except (ValueError, RecursionError):
                raise CorruptObjectError(f"head of tenant {tenant_id!r} is not valid UTF-8 JSON ({path})", path) from None
            if type(head) is not dict or not all_digests(list(head.values())):  # (JSON keys are strings)
                raise CorruptObjectError(f"head of tenant {tenant_id!r} is malformed ({path})", path)
            self._remember(tenant_id, data, head, False)
        # Like git's "racily clean" rule: a file changed within the last seconds may change
        # again without its (inode, size, mtime) changing, so it is not cached yet.
        if time.time_ns() - token.mtime_ns > RACY_NS:
            with self._guard:
                self.cache[tenant_id] = (token, head)
        return head, token

    def _remember(self, tenant_id: str, data: bytes, head: dict[str, str], canonical: bool) -> None:
        """Keep a head map with its bytes (a small head only: a big one's bytes are not doubled in memory)."""
        if len(data) <= PARSED_MAX_BYTES:
            with self._guard:
                if len(self._parsed) >= 4096:  # a cache: forget it rather than grow
                    self._parsed.clear()
                self._parsed[tenant_id] = (data, head, canonical)

    def _new_head_bytes(self, tenant_id: str, head: dict[str, str], new_head: dict[str, str],
                        entry: str, digest: str) -> tuple[bytes, bool]:
        """The bytes of `new_head` (`head` with `entry` set to `digest`) and whether they are
        canonical: spliced into the bytes of `head` when this engine made those (a head of 50
        entries encoded whole costs ~25 µs a save), else encoded whole."""
        parsed = self._parsed.get(tenant_id)
        if parsed is not None and parsed[2] and parsed[1] is head:
            spliced = splice_head(parsed[0], entry, head.get(entry), digest)
            if spliced is not None:
                return spliced, True
        data = to_json_bytes_utf8(new_head)
        return (data, True) if data is not None else (to_json_bytes(new_head), False)

    def swap(self, tenant_id: str, entry: str, step: Step, retry_hint: str) -> tuple[str | None, bool]:
        """Read-modify-write of one entry of the head as a compare-and-swap: (head digest, changed).

        `step(current head digest)` returns the new digest and what to do once it is the
        head, or None to leave the head as it is. It runs under the tenant lock (a file lock
        on local disk, where the swap always succeeds; a no-op on S3, where a writer that
        lost the race re-reads the head and steps again). A swap reported lost may have
        landed (its response was lost, and the retry found the head changed): each attempt
        first looks for the versions of earlier attempts in the head, so that a write is
        reported once and never applied twice.
        """
        tried: list[tuple[str | None, str, Callable[[], None]]] = []  # (based on, digest, after)
        deadline = None  # (set once an attempt is lost)
        attempt = 0
        pace = self.pace.get((tenant_id, entry))
        if pace:  # others write this entry too: give the writers that lost a race a turn first
            time.sleep(random.uniform(pace, 2 * pace))
        while True:
            started = time.monotonic()
            with self.storage.lock(tenant_id):
                head, token = self.read(tenant_id)
                current = head.get(entry)
                landed = self._landed(tenant_id, current, tried)
                if landed is not None:
                    digest, after = landed
                    after()
                    return digest, True
                decided = step(current)
                if decided is None:
                    return current, False
                digest, after = decided
                new_head = dict(head)
                new_head[entry] = digest
                new_bytes, canonical = self._new_head_bytes(tenant_id, head, new_head, entry, digest)
                swapped = self.storage.write_head(tenant_id, new_bytes, expected=token)
                with self._guard:
                    self.cache.pop(tenant_id, None)
                if swapped:
                    self._remember(tenant_id, new_bytes, new_head, canonical)
                    self.note_pace(tenant_id, entry, current, digest, attempt, time.monotonic() - started)
                    after()
                    return digest, True
                tried.append((current, digest, after))
            attempt += 1
            if deadline is None:
                deadline = started + CAS_DEADLINE
            if time.monotonic() >= deadline:
                raise ConflictError(
                    f"entry {entry!r} of tenant {tenant_id!r}: the head kept moving under "
                    f"{attempt} attempts in {CAS_DEADLINE:.0f} s to write it; {retry_hint}"
                )
            # Short, jittered waits that do not grow: a writer that lost often retries as
            # soon as a fresh one, and winners pause (`note_pace`), so every writer progresses.
            time.sleep(random.uniform(0, CAS_BASE_DELAY))

    def note_pace(self, tenant_id: str, entry: str, current: str | None, digest: str,
                  attempt: int, took: float) -> None:
        """After a won swap on a backend without locks: when others wrote the entry since this
        engine's last write (or it lost races for this one), pause about one attempt's time
        before its next write of the entry, so the writers that lost do not lose again to it."""
        if not getattr(self.storage, "swaps_can_lose", False):
            return
        key = (tenant_id, entry)
        with self._guard:
            previous = self._last_written.get(key)
            contended = attempt > 0 or (previous is not None and current != previous)
            if contended:
                self.pace[key] = min(CAS_MAX_PACE, took)
            else:
                self.pace.pop(key, None)
            self._last_written[key] = digest
            if len(self._last_written) > 4096:  # a cache: forget it rather than grow
                self._last_written.clear()
                self.pace.clear()

    def _landed(self, tenant_id: str, current: str | None,
                tried: list[tuple[str | None, str, Callable[[], None]]]) -> tuple[str, Callable[[], None]] | None:
        """An earlier attempt that is in the entry's history after all (its head write landed
        though reported lost): its digest and what is left to do for it, or None. Walks back
        from `current` to the head the first attempt was based on: only the versions written
        meanwhile."""
        if not tried or current is None:
            return None
        for _base, digest, after in tried:
            if current == digest:  # nobody wrote this entry since: finish what the write started
                return digest, after
        ours = {digest for _base, digest, _after in tried}
        stop = tried[0][0]
        cursor: str | None = current
        with contextlib.suppress(DbEngineError):
            for _ in range(100_000):
                if cursor is None or cursor == stop:
                    break
                if cursor in ours:
                    return cursor, _nothing  # landed, and another writer built on it: its index line is theirs to fix
                cursor = self.objects.parent(tenant_id, cursor)
        return None


_quoted = json.encoder.encode_basestring  # a str's JSON as to_json_bytes_utf8 writes it


def splice_head(data: bytes, entry: str, old: str | None, digest: str) -> bytes | None:
    """to_json_bytes_utf8 of a head map with `entry` set to `digest`, made from `data`, that
    map's to_json_bytes_utf8 bytes, in which `entry` maps to `old` (None: absent, added last):
    its one `{"entry":"old"` or `,"entry":"old"` replaced. No string of the map holds an
    unescaped quote, so that text starts a key there and nowhere else. None: no splice (a
    key that is not plain UTF-8, or not found)."""
    try:
        key = _quoted(entry).encode("utf-8")
    except UnicodeEncodeError:
        return None
    new = b"".join((key, b':"', digest.encode("ascii"), b'"'))
    if old is None:
        if data == b"{}":
            return b"{" + new + b"}"
        return b"".join((data[:-1], b",", new, b"}")) if data[-1:] == b"}" else None
    item = b"".join((key, b':"', old.encode("ascii"), b'"'))
    if data.startswith(b"{" + item):
        at = 1
    else:
        at = data.find(b"," + item) + 1
        if not at:
            return None
    return b"".join((data[:at], new, data[at + len(item):]))


_LIVE: weakref.WeakSet[Heads] = weakref.WeakSet()  # head caches a forked child must reset


def _after_fork_in_child() -> None:
    for heads in list(_LIVE):
        heads.forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
