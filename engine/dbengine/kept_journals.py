"""`KeptJournals`: what a process keeps of each tenant's journal between calls.

For each tenant, at most JOURNAL_INDEX_MAX of each (least recently used closed first): a
journal index (where the journal holds each object, read backwards from its end on
demand, and the head its last record gives), with the journal kept open for reading; and
the append fd of this process's last commit. All of it under one guard. The journal is
never trusted: an index is rebuilt when the journal was replaced, shrank or no longer ends
where it did, and every object read from it is checked against its digest.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable

from . import journal
from .errors import DbEngineError
from .kept_fds import OwnedFd, file_id, pid
from .safe_files import _fail, _kind, _lstat_mode, _open_regular, _open_stat_for_writing

# journal indexes a process keeps (each holds its journal open and ~300 bytes per object:
# ~0.2 MB for a full 512 kB journal); the least recently used is closed past this, so that a
# process reading thousands of tenants neither runs out of file descriptors nor memory
JOURNAL_INDEX_MAX = 32


class _JournalIndex(OwnedFd):
    """Where a tenant's journal holds each object: digest -> (offset, length), for the
    valid frames from `low` to `end` of the journal file `inode` (device, inode); `tail` is the checksum of
    the frame ending at `end` (a journal emptied and refilled past `end` is then noticed)."""

    __slots__ = ("inode", "fd", "seen", "low", "end", "tail", "where", "damage", "window", "tip")

    def __init__(self, inode: tuple[int, int], fd: int = -1):
        self.inode = inode
        self.fd = fd  # the journal kept open for reading (-1: none); closed with the index
        self.seen: tuple[int, int] | None = None  # (size, mtime_ns) when last brought up to date
        self.reset()

    def reset(self) -> None:
        """Forget every frame (the file is kept open)."""
        self.low = self.end = 0
        self.window = 8 * 1024  # bytes read per step backwards: doubled each step (the last commits first)
        self.tail: bytes | None = None
        self.where: dict[str, tuple[int, int]] = {}
        self.damage: str | None = None  # what ends the valid records (known after a scan from the start)
        # (journal size, checksum of the frame ending there, the head it gives): `read_head`'s cache
        self.tip: tuple[int, bytes | None, journal.Tip] | None = None


class _KeptFd(OwnedFd):
    """A journal's append fd kept for the next commit: closed when dropped, so that an engine
    let go (one per request, say) leaves no open file behind. `pid`: the process that opened it."""

    __slots__ = ("inode", "fd", "pid")

    def __init__(self, inode: tuple[int, int], fd: int):
        self.inode, self.fd, self.pid = inode, fd, pid()

    def take(self) -> int:
        """The fd, now the caller's to close or keep again."""
        fd, self.fd = self.fd, -1
        return fd


class KeptJournals:
    """The journal indexes and append fds a storage keeps, by tenant; `journal_path` names a
    tenant's journal. Every method takes `guard` itself except the `_`-prefixed ones and
    `index` (callers hold it)."""

    def __init__(self, journal_path: Callable[[str], str]):
        self.journal_path = journal_path
        self.guard = threading.Lock()  # the indexes and the append fds
        # tenant -> where its journal holds objects, least recently used first (JOURNAL_INDEX_MAX)
        self._journal_index: OrderedDict[str, _JournalIndex] = OrderedDict()
        # tenant -> its journal kept open for appending (JOURNAL_INDEX_MAX; closed when dropped)
        self._append_fds: OrderedDict[str, _KeptFd] = OrderedDict()

    def forked(self) -> None:
        """In a forked child: a new guard (a parent thread may have held it: the child would
        wait on it forever)."""
        self.guard = threading.Lock()

    def digests(self, tenant: str) -> set[str]:
        """The digests of the objects in the tenant's journal's valid records."""
        with self.guard:
            index = self.index(tenant, whole=True)
            return set(index.where) if index is not None else set()

    def tip(self, tenant: str, info: os.stat_result) -> journal.Tip | None:
        """The head the journal of `info` gives (`journal.journal_head`), kept with the
        journal index while the journal ends with the same frame (a commit of this process
        notes its own); None: no journal to read. JournalShrank: emptied or replaced meanwhile."""
        with self.guard:
            index = self.index(tenant, info=info)
            if index is None:
                return None
            if index.inode != file_id(info):
                raise journal.JournalShrank("the journal was replaced while read")
            size = info.st_size
            try:
                tail = index.tail if index.end == size else journal.checksum_before(index.fd, size)
                if index.tip is not None and index.tip[0] == size and index.tip[1] == tail:
                    return index.tip[2]
                found = journal.journal_head(index.fd, size)
            except OSError as exc:
                self._drop_index(tenant)
                raise _fail("read", self.journal_path(tenant), exc) from exc
            index.tip = (size, tail, found)
            return found

    def index(self, tenant: str, *, want: str | None = None, whole: bool = False,
              rebuild: bool = False, info: os.stat_result | None = None) -> _JournalIndex | None:
        """Under `guard`: the tenant's journal index (the journal kept open), extended
        by the frames appended since (read forwards), and read backwards from its first frame
        until it knows `want` (`whole`: down to the start), so that an object of the last
        commits costs a frame or two, not the whole journal. Started over when the journal
        was replaced, shrank, or no longer ends a frame where it did; `rebuild` (or a frame
        that fails its checks on the way back): one `journal.scan` from the start, which
        stops at the first invalid frame. None: no journal (or not a regular file)."""
        path = self.journal_path(tenant)
        index = self._cached_index(tenant)
        if info is None:
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                info = None
            except OSError as exc:
                raise _fail("read", path, exc) from exc
        if info is None or not stat.S_ISREG(info.st_mode):
            self._drop_index(tenant)
            return None
        fresh = rebuild
        if index is None or index.inode != file_id(info) or index.fd < 0:
            self._drop_index(tenant)
            fd, opened = self._open_journal_reading(tenant)
            if fd < 0:
                return None
            index = self._journal_index[tenant] = _JournalIndex(file_id(opened), fd)
            while len(self._journal_index) > JOURNAL_INDEX_MAX:  # close the least recently used
                self._journal_index.popitem(last=False)[1].close()
            info, fresh = opened, True
        try:
            fd, size, seen = index.fd, info.st_size, (info.st_size, info.st_mtime_ns)
            # emptied (and refilled) by a checkpoint, or a record taken back: checked even when
            # (size, mtime) is as seen, since a refill within one mtime tick (coarse timestamps)
            # can restore both (one 32-byte read)
            if not fresh and (size < index.end or (index.end and journal.checksum_before(fd, index.end) != index.tail)):
                fresh = True
            if fresh:
                index.reset()
                index.seen = seen
                if rebuild:
                    return self._scan_journal(fd, index, size)
                index.low = index.end = size  # read backwards on demand (a torn tail: scanned below)
                index.tail = journal.checksum_before(fd, size)
            where = index.where
            if seen != index.seen:
                index.seen = seen
                while index.end < size:  # frames appended since: forwards (stops at a torn or bad one)
                    found = journal.frame_at(fd, index.end, size)
                    if found is None:
                        break
                    for digest, offset, length in found[1]:
                        where[digest] = (offset, length)
                    index.end = found[0]
                    index.tail = journal.checksum_before(fd, index.end)
            while index.low > 0 and (whole or (want is not None and want not in where)):
                back = journal.frames_before(fd, index.low, index.window)
                index.window = min(index.window * 2, 1 << 20)
                if back is None:  # damage on the way back: the journal's own reading decides
                    index.reset()
                    return self._scan_journal(fd, index, size)
                for digest, offset, length in back[1]:
                    where.setdefault(digest, (offset, length))  # a later copy is as good
                index.low = back[0]
            return index
        except OSError as exc:
            self._drop_index(tenant)
            raise _fail("read", path, exc) from exc

    def _cached_index(self, tenant: str) -> _JournalIndex | None:
        """Under `guard`: the tenant's journal index if kept, marked recently used."""
        index = self._journal_index.get(tenant)
        if index is not None:
            self._journal_index.move_to_end(tenant)
        return index

    def _drop_index(self, tenant: str) -> None:
        index = self._journal_index.pop(tenant, None)
        if index is not None:
            index.close()

    @staticmethod
    def _scan_journal(fd: int, index: _JournalIndex, size: int) -> _JournalIndex:
        """Index the journal from its start with `journal.scan` (trusting nothing: it stops at
        the first frame that is not a valid record and says whether that is damage), then the
        valid records after a damaged one, read back from the end (`journal.scan_all`)."""
        where = index.where

        def add(record: journal.Record) -> None:
            for (digest, data), offset in zip(record.objects, record.object_offsets, strict=True):
                where[digest] = (offset, len(data))

        result = journal.scan_all(fd, size, add)  # past damage too: a checkpoint keeps them, readers read them
        index.low, index.damage = 0, result.damage
        index.end = size if result.salvaged else result.end
        index.tail = journal.checksum_before(fd, index.end)
        return index

    def _open_journal_reading(self, tenant: str) -> tuple[int, os.stat_result | None]:
        """The tenant's journal opened for reading; fd -1 when there is none, or it is not a
        regular file (never trusted: verify reports it); StorageError when it cannot be read."""
        path = self.journal_path(tenant)
        try:
            return _open_regular(path, "journal")
        except (FileNotFoundError, IsADirectoryError, DbEngineError):
            return -1, None
        except OSError as exc:
            raise _fail("read", path, exc) from exc

    def read_object(self, tenant: str, digest: str) -> bytes | None:
        """The bytes of an object from the tenant's journal, checked against `digest`; None
        when the journal (as it is now) holds no valid copy."""
        with self.guard:
            return self._read_checked(tenant, digest, current=False)

    def has_object(self, tenant: str, digest: str) -> bool:
        """True when the tenant's journal, the file in place now, holds the object in a valid
        record: its index checked against that file (inode, size, the checksum of the frame it
        ends at) and the bytes read and hashed. Never from the index alone: an import's
        have-check would skip (lose) an object the index only remembers."""
        with self.guard:
            return self._read_checked(tenant, digest, current=True) is not None

    def _read_checked(self, tenant: str, digest: str, *, current: bool) -> bytes | None:
        """Under `guard`: the object's bytes from the journal, hashed against `digest` (None:
        no valid copy). `current`: the index is first brought up to date against the file
        at the journal's path (else a kept index is used as it is: any bytes hashing to the
        digest are the object, wherever read)."""
        for rebuild in (False, True):  # an offset that no longer holds the object: index again
            index = self._cached_index(tenant) if not (current or rebuild) else None
            place = index.where.get(digest) if index is not None else None
            if place is None:
                index = self.index(tenant, want=digest, rebuild=rebuild)
                place = index.where.get(digest) if index is not None else None
                if place is None:
                    return None
            try:
                data = journal.read_at(index.fd, place[1], place[0])
            except OSError as exc:
                self._drop_index(tenant)
                raise _fail("read", self.journal_path(tenant), exc) from exc
            if len(data) == place[1] and hashlib.sha256(data).hexdigest() == digest:
                return data
        return None

    def damage(self, tenant: str) -> str | None:
        """What makes the tenant's journal invalid from some frame on, or unreadable as a
        whole (None: it is whole, ends with a torn frame, or is absent): read from its start
        by `journal.scan`."""
        with self.guard:  # asked only when an object was found nowhere: rare
            index = self.index(tenant, rebuild=True)
            return index.damage if index is not None else self.not_a_file(tenant)

    def not_a_file(self, tenant: str) -> str | None:
        """Why the tenant's journal cannot be read when something that is not a regular file
        is in its place (a folder, a symbolic link, a FIFO); None when it is absent or a file."""
        mode = _lstat_mode(self.journal_path(tenant))
        if mode is None or stat.S_ISREG(mode):
            return None
        return f"it is {_kind(mode)}, not a regular file: the objects of durable commits in it cannot be read"

    def note_journaled(self, tenant: str, inode: tuple[int, int], start: int, frame: bytes, record: journal.Record) -> None:
        """After our append at `start`: the index learns the record's objects without reading
        them back (when it covered the journal up to `start`; else the next miss reads on)."""
        with self.guard:
            index = self._cached_index(tenant)
            if index is None or index.inode != inode or index.end != start or index.fd < 0:
                return  # the next miss reads on
            for (digest, data), offset in zip(record.objects, journal.object_offsets(record), strict=True):
                index.where[digest] = (start + offset, len(data))
            index.end, index.tail = start + len(frame), journal.frame_checksum(frame)
            if record.head is not None:  # its base is the head before it: linked, readers take it
                index.tip = (index.end, index.tail,
                             journal.Tip(record.head, journal.head_digest(frame, record.head), index.end, True))

    def forget(self, tenant: str) -> None:
        """The journal was emptied or set aside (checkpoint, replay): its objects all have files now."""
        with self.guard:
            self._drop_index(tenant)

    def append_fd(self, tenant: str, path: str, info: os.stat_result | None | object = ...) -> tuple[int, os.stat_result]:
        """The journal opened for appending, with its stat: the fd this process kept from its
        last commit to the tenant while the path still names that file (one lstat instead of
        open + fstat + close; `info`: that lstat, taken by the caller under the tenant lock,
        None when the path names no file), else a new one. The caller owns it (`keep_append_fd` or close)."""
        with self.guard:
            kept = self._append_fds.pop(tenant, None)
        if kept is not None:
            if kept.pid == pid():  # (a forked child opens its own)
                if info is ...:
                    try:
                        info = os.lstat(path)
                    except OSError:
                        info = None
                if info is not None and stat.S_ISREG(info.st_mode) and file_id(info) == kept.inode:
                    return kept.take(), info
            kept.close()
        return _open_stat_for_writing(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, "append to")

    def keep_append_fd(self, tenant: str, fd: int, inode: tuple[int, int]) -> None:
        """Keep a journal's append fd for the tenant's next commit (at most JOURNAL_INDEX_MAX:
        the least recently used is closed; one in use is never in the table, never closed)."""
        with self.guard:
            old = self._append_fds.pop(tenant, None)
            self._append_fds[tenant] = _KeptFd(inode, fd)
            closing = [old] if old is not None else []
            while len(self._append_fds) > JOURNAL_INDEX_MAX:
                closing.append(self._append_fds.popitem(last=False)[1])
        for other in closing:
            other.close()

    def drop_append_fd(self, tenant: str) -> None:
        """Close the kept append fd of a journal that was set aside (renamed)."""
        with self.guard:
            kept = self._append_fds.pop(tenant, None)
        if kept is not None:
            kept.close()

    def tip_for_append(self, tenant: str, fd: int, info: os.stat_result, checked: bool = False) -> journal.Tip:
        """The head the journal of `fd` gives now (its sha256 is the new record's base): the
        one `read_head` found under this lock (or this process's last commit noted), else
        read from the journal. `checked`: `read_head` read it in this hold of the lock, and
        `info` is the lstat it was read with (no second look at the frame's checksum)."""
        size = info.st_size
        with self.guard:
            index = self._cached_index(tenant)
            if index is not None and index.inode == file_id(info) and index.tip is not None and index.tip[0] == size:
                # read again, never index.tail: another process may have emptied and refilled it
                # (unless read in this hold of the lock, which every writer takes)
                if checked or journal.checksum_before(fd, size) == index.tip[1]:
                    return index.tip[2]
        return journal.journal_head(fd, size)
