"""History index maintenance: each entry's index (FORMAT.md section 10) kept in memory,
completed from the lines appended since, checked against the head's object, appended
to after a commit and repaired from the objects when damaged or behind. It is a cache:
a failure to write it is repaired on the next read; the backend stores its bytes only.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from .errors import (
    CorruptObjectError,
    DbEngineError,
    DigestNotFoundError,
    LockTimeoutError,
    StorageError,
)
from .index_format import chain_breaks, encode_commit, encode_lines, parse_index
from .index_state import IndexState
from .names import check_digest
from .objects import ObjectStore
from .storage_protocol import Storage
from .versions import ChangeSummary, Version, same_metadata, version_from_document

#: summary(tenant, parent document or None, document): what a version changed
Summarize = Callable[[str, "dict | None", dict], ChangeSummary]
#: head_of(tenant, entry): the entry's head digest, its object known present
HeadOf = Callable[[str, str], str]


@contextlib.contextmanager
def try_lock(storage: Storage, tenant_id: str) -> Iterator[bool]:
    """Take the tenant lock for a repair if it is free now; otherwise repair in memory only."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(storage.lock(tenant_id, timeout=0))
            held = True
        except (StorageError, LockTimeoutError, OSError):
            held = False
        yield held


class HistoryIndex:
    """The history indexes of one database's entries, validated and repaired."""

    def __init__(self, storage: Storage, objects: ObjectStore, summarize: Summarize, head_of: HeadOf):
        self.storage = storage
        self.objects = objects
        self.summarize = summarize
        self.head_of = head_of
        self.states: dict[tuple[str, str], IndexState] = {}
        # (tenant, entry) -> (head, number of versions, index size) read from the index's end
        self.totals: dict[tuple[str, str], tuple[str, int, int]] = {}
        self.guard = threading.RLock()

    def index(self, tenant_id: str, entry: str, head: str, locked: bool = False) -> IndexState:
        """The entry's index, validated to form a chain that reaches `head`, whose line for
        `head` agrees with the head's object (else it is rebuilt from the objects)."""
        with self.guard:
            state = self.refresh(tenant_id, entry)
            position = state.position(head) if not state.damaged else None
            if position is not None and self.line_agrees(tenant_id, state, head):
                return state
        return self.repair(tenant_id, entry, head, locked, from_scratch=position is not None)

    def start(self, tenant_id: str, entry: str, digest: str | None) -> tuple[IndexState, int]:
        """The index up to the head and the position of `digest` in it (default: the head);
        DigestNotFoundError when `digest` is not a version of the entry."""
        head = self.head_of(tenant_id, entry)
        state = self.index(tenant_id, entry, head)
        if digest is None:
            return state, state.position(head)
        position = state.position(check_digest(digest))
        if position is None and self._chain_has(tenant_id, head, digest):
            self.rebuild(tenant_id, entry)  # the index hid a version of the chain
            state = self.index(tenant_id, entry, head)
            position = state.position(digest)
        if position is None or position > state.position(head):
            raise DigestNotFoundError(f"{digest[:12]} is not a version of entry {entry!r} of tenant {tenant_id!r}")
        return state, position

    def _chain_has(self, tenant_id: str, head: str, digest: str) -> bool:
        """True when `digest` is on the first-parent chain of `head`, walked in the objects
        (only asked when the index does not have it: a cost on misses only)."""
        if not self.storage.has_object(tenant_id, digest):
            return False
        cursor: str | None = head
        with contextlib.suppress(DbEngineError):
            while cursor is not None:
                if cursor == digest:
                    return True
                cursor = self.objects.parent(tenant_id, cursor)
        return False

    def appendable(self, tenant_id: str, entry: str, head: str) -> IndexState | None:
        """The entry's index when it ends at `head`, so that a writer appends its new version;
        None otherwise: a writer never walks the history under the lock."""
        with self.guard:
            state = self.refresh(tenant_id, entry)
        if state.damaged or not state.digests or state.digests[-1] != head:
            return None
        return state if self.line_agrees(tenant_id, state, head) else None

    def line_agrees(self, tenant_id: str, state: IndexState | None, digest: str,
                    version: Version | None = None) -> bool:
        """True when the index's line for `digest` (or `version`) says what its object says.

        Checked once per state and digest: one object read, so that an index rewritten to
        disagree with the objects is not trusted where it is read.
        """
        if state is not None and digest in state.checked:
            return True
        try:
            if version is None:
                if state is None or state.position(digest) is None:
                    return False
                version = state.version(state.position(digest))
            expected = version_from_document(digest, self.objects.version(tenant_id, digest), None)
        except ValueError:
            return False
        agrees = same_metadata(version, expected)
        if agrees and state is not None:
            state.checked.add(digest)
        return agrees

    def rebuild(self, tenant_id: str, entry: str) -> None:
        """Throw away a damaged index and rebuild it from the objects."""
        with self.guard:
            self.states.pop((tenant_id, entry), None)
        head = self.head_of(tenant_id, entry)
        self.repair(tenant_id, entry, head, locked=False, from_scratch=True)

    def refresh(self, tenant_id: str, entry: str) -> IndexState:
        """The cached index, completed with the lines appended to the file since it was read.

        Damaged lines end the scan: the state keeps the intact, chained lines before them
        and is marked `damaged`, so that the next repair rewrites the file.
        """
        key = (tenant_id, entry)
        state = self.states.get(key)
        token = self.storage.index_token(tenant_id, entry)
        if state is not None and token == state.token:
            return state
        if state is None or token is None or state.token is None or token.inode != state.token.inode \
                or getattr(token, "device", 0) != getattr(state.token, "device", 0) \
                or token.size < state.offset or state.damaged:  # (another file: (device, inode); S3 tokens have no device)
            state = IndexState()
        try:
            result = self.storage.read_index(tenant_id, entry, state.offset)
        except CorruptObjectError:  # not a regular file (a FIFO, a symlink): rebuilt, it is a cache
            result, state = None, IndexState()
            state.token, state.damaged = token, True  # the repair replaces it with a regular file
        if result is None:
            self.states[key] = state
            return state
        data, token = result
        chunk = parse_index(data, state.crc)
        start = len(state)
        state.add_chunk(chunk)
        state.token = token
        if chain_breaks(state.digests, state.parents, start):
            state = state.keep(_chained_length(state, start))
            state.token, state.damaged = token, True
        elif not chunk.clean:
            state.damaged = True
        self.states[key] = state
        return state

    def repair(self, tenant_id: str, entry: str, head: str, locked: bool, from_scratch: bool = False) -> IndexState:
        """Rebuild the part of the index the head is ahead of, from the objects.

        The walk reads objects without the tenant lock; the result is written back only
        if the lock is free at once and the file has not changed meanwhile, so that a
        reader never waits on a writer and never holds writers up for a long walk.
        """
        with self.guard:
            state = IndexState() if from_scratch else self.refresh(tenant_id, entry)
            if not from_scratch and not state.damaged and state.position(head) is not None:
                return state
            based_on = self.storage.index_token(tenant_id, entry) if from_scratch else state.token
            missing: list[Version] = []
            cursor: str | None = head
            while cursor is not None and state.position(cursor) is None:
                document = self.objects.version(tenant_id, cursor)
                parent = document["__parent__"][0] if document["__parent__"] else None
                parent_doc = self.objects.version(tenant_id, parent) if parent else None
                missing.append(version_from_document(cursor, document, self.summarize(tenant_id, parent_doc, document)))
                if len(missing) > 10_000_000:
                    raise CorruptObjectError(f"history of {entry!r} does not end", None)
                cursor = parent
            keep = state.position(cursor) + 1 if cursor is not None else 0
            fresh = state.keep(keep)
            missing.reverse()
            fresh.add_versions(missing)
            fresh.checked.add(head)
        written = False
        with contextlib.nullcontext(True) if locked else try_lock(self.storage, tenant_id) as held:
            if held and self.storage.index_token(tenant_id, entry) == based_on:
                # (ValueError: a kept line is damaged; log() rebuilds it all)
                with contextlib.suppress(DbEngineError, OSError, ValueError):
                    appendable = not state.damaged and state.token is not None and state.offset == state.token.size
                    if keep == len(state) and appendable:
                        data, crc = encode_lines(missing, state.crc, keep)
                        self.storage.append_index(tenant_id, entry, data, expected=state.token)
                    else:
                        data, crc = encode_lines(fresh.versions_with_changes(), 0, 0)
                        self.storage.write_index(tenant_id, entry, data)
                    fresh.crc, written = crc, True
        with self.guard:
            token = self.storage.index_token(tenant_id, entry) if written else based_on
            if token is not None:
                # Read-only: keep the repaired view and follow later appends from here.
                fresh.token, fresh.offset = token, token.size
            self.states[(tenant_id, entry)] = fresh
        return fresh

    def append_to(self, tenant_id: str, entry: str, parent: str | None, state: IndexState | None, digest: str,
                  document: dict, summary: ChangeSummary) -> None:
        """Add a version just committed on top of `parent` (under the tenant lock) to the
        index `state` read before (None: not appendable, left to the next reader to repair).
        A cache: a failure here is repaired on read."""
        with contextlib.suppress(DbEngineError, ValueError, OSError):
            if parent is None:  # a new entry: whatever file is there is not its index
                self.storage.write_index(tenant_id, entry, encode_commit(digest, document, summary, 0, 0)[0])
            elif state is None:
                return
            elif state.token is not None and state.offset == state.token.size and not state.damaged:
                line, crc = encode_commit(digest, document, summary, state.crc, len(state))
                appended = self.storage.append_index(tenant_id, entry, line, expected=state.token)
                if appended is not None and appended[0] == state.offset:  # ours follows what it holds
                    with self.guard:  # the next commit finds it current: no read back, no check
                        if self.states.get((tenant_id, entry)) is state and state.offset == appended[0]:
                            # what parse_index(line, state.crc) adds for the one line just encoded
                            state.add_line(digest, parent, line[130:-1].decode("ascii"), len(line), crc)
                            state.token = appended[1]
                            state.checked.add(digest)
            else:  # the file has a torn or damaged tail (or no file): rewrite it whole
                versions = state.versions_with_changes() + [version_from_document(digest, document, summary)]
                self.storage.write_index(tenant_id, entry, encode_lines(versions, 0, 0)[0])


def _chained_length(state: IndexState, start: int) -> int:
    """How many versions of `state` chain from its first one (those from `start` on were just added)."""
    count = start
    previous = state.digests[start - 1] if start else None
    for digest, parent in zip(state.digests[start:], state.parents[start:], strict=True):
        if parent != previous:
            break
        previous, count = digest, count + 1
    return count
