"""All file-system access of the engine: objects, refs, heads, history indexes, locks.

The engine talks to a `Storage` only through the methods below, so another backend
(a shared object store) can stand in for `LocalStorage` without touching the engine.
Writes are atomic (temp file in the same folder, rename). With `durable=True` (the
default) a commit is made durable by one append + fdatasync of the tenant's journal (see
journal.py and docs/RELIABILITY.md): ref files are written without fsync, the commit's
objects and its head get no file (readers take them from the journal: the head from its
last record, `read_head`), and a checkpoint (the journal's head and objects given their
files, syncfs, then an empty journal) runs when the journal passes JOURNAL_LIMIT. A
journal left by an earlier boot is replayed before the tenant is read or written.
`durable=False` syncs nothing (and checkpoints a journal holding records before it
replaces the head file).

Files that are not what they seem: every read opens without blocking and without
following a final symlink, checks that it got a regular file and reads no more than its
size (a head at most HEAD_LIMIT bytes), so a FIFO, a socket, a device or a symlink in
place of a file is reported as damage naming it, never waited on or read forever. Writes
never go through a symlink out of the root: files are created with O_NOFOLLOW, and the
folders written into must resolve inside the root. A content-addressed file that exists
but does not hold the expected bytes is replaced (an acknowledged write is readable).
"""

from __future__ import annotations

import _thread
import contextlib
import errno
import fcntl
import hashlib
import os
import queue
import stat
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

from . import journal
from .errors import (
    CorruptObjectError,
    DbEngineError,
    DigestNotFoundError,
    LockTimeoutError,
    NotInitializedError,
    StorageError,
)
from .names import DIGEST_RE, check_digest, check_tenant
from .pool import daemon_map

TMP_PREFIX = ".tmp-"
PREFIX_LEN = 24
HEAD_LIMIT = 256 * 1024 * 1024  # a larger head is damage, not read
READ_SLACK = 64 * 1024  # read at most this much past fstat's size (a file appended to meanwhile)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SAFE = getattr(os, "O_NONBLOCK", 0) | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | _SAFE
# errnos of opening something that is not a regular file: a symlink under O_NOFOLLOW
# (ELOOP; EMLINK on BSD), a socket or a FIFO without reader (ENXIO), a device (ENODEV)
_NOT_REGULAR_ERRNOS = {errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP}
_FOLDER_CACHE_MAX = 10_000
JOURNAL_NAME, DAMAGED_JOURNAL_NAME = "journal", "journal.damaged"
# A checkpoint empties the journal once it is larger. It creates the files of the journal's
# objects in the commit that crosses the limit: ~370 for 1 KB saves at 512 KB, a 40-70 ms
# pause on a calm disk against 200-320 ms at 2 MB, for the same total time (bench/RESULTS-durable.md)
JOURNAL_LIMIT = 512 * 1024
OBJECT_JOURNAL_LIMIT = 1024 * 1024  # a larger object is fsynced in place, not journaled
PENDING_LIMIT = 8 * 1024 * 1024  # journaled bytes waiting for a head write; more are fsynced in place
# journal indexes a process keeps (each holds its journal open and ~300 bytes per object:
# ~0.8 MB for a full 2 MB journal); the least recently used is closed past this, so that a
# process reading thousands of tenants neither runs out of file descriptors nor memory
JOURNAL_INDEX_MAX = 32
WRITE_WORKERS = 1  # threads writing a commit's new object files; 2 measured no faster on 2 busy cores (see bench/RESULTS-records.md)


class _JournalIndex:
    """Where a tenant's journal holds each object: digest -> (offset, length), for the
    valid frames from `low` to `end` of the journal file `inode`; `tail` is the checksum of
    the frame ending at `end` (a journal emptied and refilled past `end` is then noticed)."""

    __slots__ = ("inode", "fd", "seen", "low", "end", "tail", "where", "damage", "window", "tip")

    def __init__(self, inode: int, fd: int = -1):
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

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def __del__(self):
        self.close()


class _KeptFd:
    """A journal's append fd kept for the next commit: closed when dropped, so that an engine
    let go (one per request, say) leaves no open file behind. `pid`: the process that opened it."""

    __slots__ = ("inode", "fd", "pid")

    def __init__(self, inode: int, fd: int):
        self.inode, self.fd, self.pid = inode, fd, os.getpid()

    def take(self) -> int:
        """The fd, now the caller's to close or keep again."""
        fd, self.fd = self.fd, -1
        return fd

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def __del__(self):
        self.close()


class FileToken(NamedTuple):
    """Identity of a file's current content, for caches and change watching."""

    inode: int
    size: int
    mtime_ns: int


class HeadToken(NamedTuple):
    """Identity of a tenant's head: its journal's (inode, size) (zeros: none) and its head
    file's, with the later mtime of the two (for heads.py's racy-read rule). A durable commit
    grows the journal, a checkpoint empties it after replacing the head file: every change
    of the head changes it."""

    journal_inode: int
    journal_size: int
    inode: int
    size: int
    mtime_ns: int


def _head_token(journal_info: os.stat_result | None, head_info: os.stat_result | None) -> HeadToken:
    journal_mtime = journal_info.st_mtime_ns if journal_info is not None else 0
    return HeadToken(journal_info.st_ino if journal_info is not None else 0,
                     journal_info.st_size if journal_info is not None else 0,
                     head_info.st_ino if head_info is not None else 0,
                     head_info.st_size if head_info is not None else 0,
                     max(journal_mtime, head_info.st_mtime_ns if head_info is not None else 0))


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    """A file's (device, inode, size, mtime): which content of it a process synced."""
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _fail(action: str, path: str, exc: OSError) -> StorageError:
    reason = exc.strerror or str(exc)
    error = StorageError(f"cannot {action} {path}: {reason}")
    error.errno = exc.errno
    return error


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a special file"


def _lstat_mode(path: str) -> int | None:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def _not_regular(what: str, path: str, mode: int) -> CorruptObjectError:
    return CorruptObjectError(f"{what} is {_kind(mode)}, not a regular file ({path})", path)


def _open_regular(path: str, what: str) -> tuple[int, os.stat_result]:
    """Open a regular file for reading: never blocks (a FIFO), never follows a final symlink.

    Raises FileNotFoundError or IsADirectoryError (the caller decides what they mean),
    CorruptObjectError naming the path for anything else that is not a regular file, and
    other OSErrors as they come.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        mode = _lstat_mode(path) if exc.errno in _NOT_REGULAR_ERRNOS else None
        if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise _not_regular(what, path, mode) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            raise _not_regular(what, path, info.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _read_fd(fd: int, most: int) -> bytes:
    """Up to `most` bytes from `fd`'s position to its end."""
    chunks = []
    while most > 0:
        chunk = os.read(fd, most)
        if not chunk:
            break
        chunks.append(chunk)
        most -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_regular(path: str, what: str, *, offset: int = 0, tail: int | None = None,
                  limit: int | None = None) -> tuple[bytes, os.stat_result, int]:
    """The bytes of a regular file (from `offset`, or its last `tail` bytes), its stat and
    the offset read from; at most its size + READ_SLACK bytes, and more than `limit` is
    damage. Errors as `_open_regular`."""
    fd, info = _open_regular(path, what)
    try:
        if limit is not None and info.st_size > limit:
            raise CorruptObjectError(f"{what} is larger than {limit} bytes ({path})", path)
        if tail is not None:
            offset = max(info.st_size - tail, 0)
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        most = max(info.st_size - offset, 0) + READ_SLACK
        data = _read_fd(fd, most if limit is None else min(most, limit + 1))
        if limit is not None and len(data) > limit:
            raise CorruptObjectError(f"{what} is larger than {limit} bytes ({path})", path)
        return data, info, offset
    finally:
        os.close(fd)


def _open_for_writing(path: str, flags: int, action: str) -> int:
    """Open (or create) a file the engine writes in place: the lock file, an index.

    O_NOFOLLOW: a symlink there is refused (and its target never created); O_NONBLOCK: a
    FIFO is refused, not waited on; anything but a regular file is a StorageError.
    """
    return _open_stat_for_writing(path, flags, action)[0]


def _open_stat_for_writing(path: str, flags: int, action: str) -> tuple[int, os.stat_result]:
    """`_open_for_writing`, with the file's stat taken when it was opened."""
    try:
        fd = os.open(path, flags | _SAFE, 0o644)
    except OSError as exc:
        mode = _lstat_mode(path) if exc.errno in _NOT_REGULAR_ERRNOS else None
        if mode is not None and not stat.S_ISREG(mode):
            raise _refused(action, path, mode) from None
        raise _fail(action, path, exc) from exc
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise _fail(action, path, exc) from exc
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _refused(action, path, info.st_mode)
    return fd, info


def _refused(action: str, path: str, mode: int) -> StorageError:
    return StorageError(f"cannot {action} {path}: it is {_kind(mode)}, not a regular file")


class _TenantLock:
    """A per-tenant lock: a thread RLock plus an exclusive flock on `{tenant}/head.lock`.

    flock is released by the kernel when its holder dies, so a killed writer never
    blocks the database.
    """

    def __init__(self, path: str, timeout: float):
        self.path = path
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread holding it
        self._fd: int | None = None
        self._generation = 0  # bumped in a forked child (`forked`): holds from before are not its own

    def forked(self) -> None:
        """In a forked child: the parent's holds are not the child's. Its copy of the flock's
        fd is closed (the flock stays the parent's: no unlock, and the child no longer keeps it
        for its lifetime) and the thread lock is new (a parent thread may have held it)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._thread_lock = threading.RLock()
        self._depth, self._owner, self._fd = 0, None, None
        self._generation += 1

    @contextlib.contextmanager
    def hold(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the lock; `timeout` overrides the default wait (0: try once, never wait)."""
        timeout = self.timeout if timeout is None else timeout
        thread_lock, generation = self._thread_lock, self._generation
        acquired = thread_lock.acquire(timeout=timeout) if timeout > 0 else thread_lock.acquire(blocking=False)
        if not acquired:
            raise LockTimeoutError(self._timeout_message(timeout))
        try:
            if self._depth == 0:
                self._fd = self._acquire_file_lock(timeout)
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield
            finally:
                if generation == self._generation:  # (else forked while held: `forked` let it go)
                    self._depth -= 1
                    if self._depth == 0:
                        self._owner = None
                        if self._fd is not None:
                            os.close(self._fd)  # closing releases the flock
                            self._fd = None
        finally:
            if generation == self._generation:
                thread_lock.release()

    def held_here(self) -> bool:
        """True when the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    def _timeout_message(self, timeout: float) -> str:
        if timeout <= 0:
            return f"{self.path} is held by another writer (not waiting)"
        return f"timed out after {timeout:g}s waiting for {self.path}"

    def _acquire_file_lock(self, timeout: float) -> int:
        # Never follows a symlink (a reader would create its target) nor waits on a FIFO.
        fd = _open_for_writing(self.path, os.O_RDWR | os.O_CREAT, "open lock file")
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeoutError(self._timeout_message(timeout)) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
            except OSError as exc:
                os.close(fd)
                raise _fail("lock", self.path, exc) from exc


def open_storage(root: str, *, durable: bool = True, lock_timeout: float = 30.0,
                 s3_endpoint: str | None = None):
    """The storage of a root: `s3://bucket/prefix` (needs boto3) or a local folder."""
    if isinstance(root, str) and root[:5].lower() == "s3://":  # S3://bucket/x too
        from .s3storage import S3Storage

        return S3Storage(root, endpoint_url=s3_endpoint, lock_timeout=lock_timeout)
    return LocalStorage(root, durable=durable, lock_timeout=lock_timeout)


class LocalStorage:
    """A database in a folder on the local file system (the layout of the spec); see
    storage_protocol.Storage for the interface."""

    concurrent_reads = 1  # a read is a system call: nothing to gain from threads
    swaps_can_lose = False  # writers take the tenant's file lock

    def __init__(self, root: str, durable: bool = True, lock_timeout: float = 30.0):
        self.root = os.path.abspath(os.fspath(root))
        self.durable = durable
        self.lock_timeout = lock_timeout
        self._locks: dict[str, _TenantLock] = {}
        self._locks_guard = threading.Lock()
        self._root_prefix = os.path.join(self.root, "")
        self._inside: set[str] = set()  # folders known to lie inside the root (no symlink out)
        self._tenant_dirs: dict[str, str] = {}
        self._paths: dict[tuple, str] = {}  # (tenant, file name) or (tenant, entry, "index") -> path
        self._journal_ends: dict[str, tuple[int, int]] = {}  # tenant -> (inode, size) after our append
        self._synced_heads: dict[str, tuple[int, int, int, int]] = {}  # tenant -> head file this process synced
        self._recovered: set[str] = set()  # tenants whose journal needs no replay (or had it)
        self._pending = threading.local()  # journaled writes of this thread waiting for a head write
        # tenant -> where its journal holds objects, least recently used first (JOURNAL_INDEX_MAX)
        self._journal_index: OrderedDict[str, _JournalIndex] = OrderedDict()
        # tenant -> its journal kept open for appending (JOURNAL_INDEX_MAX; closed when dropped)
        self._append_fds: OrderedDict[str, _KeptFd] = OrderedDict()
        self._journal_guard = threading.Lock()
        _LIVE.add(self)

    def _forked(self) -> None:
        """In a forked child: new guards (a parent thread may have held one: the child would
        wait on it forever) and the tenant locks let go (`_TenantLock.forked`)."""
        self._locks_guard = threading.Lock()
        self._journal_guard = threading.Lock()
        for lock in list(self._locks.values()):
            lock.forked()

    # ------------------------------------------------------------------ paths
    def tenant_dir(self, tenant: str) -> str:
        folder = self._tenant_dirs.get(tenant) if type(tenant) is str else None
        if folder is None:
            folder = os.path.join(self.root, check_tenant(tenant))
            if len(self._tenant_dirs) < _FOLDER_CACHE_MAX:
                self._tenant_dirs[tenant] = folder
        return folder

    def object_path(self, tenant: str, digest: str) -> str:
        check_digest(digest)
        return f"{self._file_path(tenant, 'objects')}{os.sep}{digest[:PREFIX_LEN]}{os.sep}{digest}"

    def ref_path(self, digest: str) -> str:
        check_digest(digest)
        return os.path.join(self.root, "refs", digest[:PREFIX_LEN], digest)

    def head_path(self, tenant: str) -> str:
        return self._file_path(tenant, "head")

    def journal_path(self, tenant: str) -> str:
        return self._file_path(tenant, JOURNAL_NAME)

    def index_path(self, tenant: str, entry: str) -> str:
        key = (tenant, entry, "index")
        path = self._paths.get(key) if type(tenant) is str and type(entry) is str else None
        if path is None:
            name = hashlib.sha256(entry.encode("utf-8")).hexdigest()
            path = self._remember_path(key, os.path.join(self.tenant_dir(tenant), "index", name))
        return path

    def _file_path(self, tenant: str, name: str) -> str:
        """`{tenant}/{name}`, joined once per tenant (a commit asks for it several times)."""
        path = self._paths.get((tenant, name)) if type(tenant) is str else None
        return path if path is not None else self._remember_path((tenant, name), os.path.join(self.tenant_dir(tenant), name))

    def _remember_path(self, key: tuple, path: str) -> str:
        if all(type(part) is str for part in key):
            if len(self._paths) >= _FOLDER_CACHE_MAX:
                self._paths.clear()
            self._paths[key] = path
        return path

    def describe(self) -> str:
        return self.root

    # ------------------------------------------------------------------ database and tenants
    def is_database(self) -> bool:
        """True when the root holds refs/ or at least one tenant."""
        if not os.path.isdir(self.root):
            return False
        return os.path.isdir(os.path.join(self.root, "refs")) or bool(self.list_tenants())

    def list_tenants(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise _fail("list", self.root, exc) from exc
        tenants = []
        for name in names:
            if name.startswith(".") or name == "refs":
                continue
            folder = os.path.join(self.root, name)
            # objects/ marks a tenant; a head next to our index or lock file marks a damaged one.
            if os.path.isdir(os.path.join(folder, "objects")) or (
                os.path.isfile(os.path.join(folder, "head"))
                and (os.path.isdir(os.path.join(folder, "index")) or os.path.isfile(os.path.join(folder, "head.lock")))
            ):
                tenants.append(name)
        return sorted(tenants)

    def tenant_exists(self, tenant: str) -> bool:
        return os.path.isdir(os.path.join(self.tenant_dir(tenant), "objects"))

    def init_tenant(self, tenant: str) -> None:
        base = self.tenant_dir(tenant)
        try:
            for folder in (self.root, os.path.join(self.root, "refs"), base, os.path.join(base, "index")):
                self._mkdir(folder)
            if not os.path.exists(self.head_path(tenant)):
                with self.lock(tenant):
                    if not os.path.exists(self.head_path(tenant)):
                        self._write_atomic(self.head_path(tenant), b"{}")  # fsynced itself: no journal yet
            # objects/ marks the tenant as initialized: created last, so an init that fails
            # half-way never leaves a tenant without its head.
            self._mkdir(os.path.join(base, "objects"))
        except StorageError:
            raise
        except OSError as exc:
            raise _fail("initialize tenant in", base, exc) from exc

    def require_tenant(self, tenant: str) -> None:
        if not self.tenant_exists(tenant):
            raise NotInitializedError(f"tenant {tenant!r} is not initialized in {self.root} (call init())")

    # ------------------------------------------------------------------ objects and refs
    def read_object(self, tenant: str, digest: str) -> bytes:
        """An object's bytes: this thread's unwritten ones, its file, else the tenant's journal
        (a durable commit's objects stay there until a checkpoint), else its file again (a
        checkpoint wrote it meanwhile). Bytes from the journal are checked against `digest`."""
        path = self.object_path(tenant, digest)
        unwritten = self._unwritten(path)
        if unwritten is not None:
            return unwritten
        what = f"object {digest} of tenant {tenant!r}"
        try:
            return self._read(path, what)
        except DigestNotFoundError:
            pass
        data = self._journal_object(tenant, digest)
        if data is not None:
            return data
        try:
            return self._read(path, what)
        except DigestNotFoundError:
            damage = self._journal_damage(tenant)
            if damage is None:
                raise
        journal_path = self.journal_path(tenant)
        raise CorruptObjectError(f"{what} not found ({path}), and the journal {journal_path} is not whole: "
                                 f"{damage}", journal_path)

    def has_object(self, tenant: str, digest: str) -> bool:
        """True when the object has a file or is in a valid record of the tenant's journal (or,
        as `read_object`, has a file after all: a checkpoint wrote it, then emptied the journal)."""
        path = self.object_path(tenant, digest)
        return (self._unwritten(path) is not None or os.path.isfile(path) or self._journal_has(tenant, digest)
                or os.path.isfile(path))

    def write_object(self, tenant: str, digest: str, data: bytes) -> bool:
        """Store an object; False when it already existed (content addressing), except for
        an object of a commit (written under the tenant's lock): not looked for, True.

        Durable storage journals it with the next head write of this thread (see
        `write_head`); an object larger than OBJECT_JOURNAL_LIMIT is fsynced in place.
        """
        return self._write_journaled(b"o", tenant, digest, self.object_path(tenant, digest), data)

    def iter_objects(self, tenant: str) -> Iterator[str]:
        """The digests of the tenant's objects: those with a file, then those only in its journal
        (the journal read first: a checkpoint meanwhile gives its objects files, never hides them)."""
        with self._journal_guard:
            index = self._index_journal(tenant, whole=True)
            journaled = set(index.where) if index is not None else set()
        for digest in self._iter_digests(os.path.join(self.tenant_dir(tenant), "objects")):
            journaled.discard(digest)
            yield digest
        yield from sorted(journaled)

    def journal_objects(self, tenant: str) -> Iterator[tuple[str, str, bytes]]:
        """Every object of the tenant's journal's valid records, read afresh (for verify):
        (where: the journal path and offset, digest, bytes). Not in the Storage protocol:
        only a local database has a journal."""
        path = self.journal_path(tenant)
        try:
            fd, info = _open_regular(path, "journal")
        except (OSError, DbEngineError):  # absent, or not a file (journal_problems and verify say so)
            return
        found: list[tuple[str, str, bytes]] = []

        def collect(record: journal.Record) -> None:
            for (digest, data), offset in zip(record.objects, record.object_offsets, strict=True):
                found.append((f"{path} (offset {offset})", digest, data))

        try:
            journal.scan(fd, info.st_size, collect)
        except OSError:
            return
        finally:
            os.close(fd)
        yield from found

    def read_ref(self, digest: str) -> bytes:
        path = self.ref_path(digest)
        unwritten = self._unwritten(path)
        return unwritten if unwritten is not None else self._read(path, f"ref {digest}")

    def has_ref(self, digest: str) -> bool:
        path = self.ref_path(digest)
        return self._unwritten(path) is not None or os.path.isfile(path)

    def ref_size(self, digest: str) -> int:
        unwritten = self._unwritten(self.ref_path(digest))
        if unwritten is not None:
            return len(unwritten)
        try:
            return os.stat(self.ref_path(digest)).st_size
        except FileNotFoundError:
            raise DigestNotFoundError(f"ref {digest} not found in {self.root}/refs") from None

    def write_ref(self, digest: str, data: bytes) -> bool:
        """Store a ref (shared by all tenants); journaled like `write_object`."""
        return self._write_journaled(b"r", None, digest, self.ref_path(digest), data)

    def iter_refs(self) -> Iterator[str]:
        yield from self._iter_digests(os.path.join(self.root, "refs"))

    def scan_objects(self, tenant: str) -> Iterator[tuple[str, str | None]]:
        """Every file under the tenant's objects/: (path, digest), digest None if misnamed."""
        yield from self._scan(os.path.join(self.tenant_dir(tenant), "objects"))

    def scan_refs(self) -> Iterator[tuple[str, str | None]]:
        """Every file under refs/: (path, digest), digest None if misnamed."""
        yield from self._scan(os.path.join(self.root, "refs"))

    @staticmethod
    def _scan(base: str) -> Iterator[tuple[str, str | None]]:
        # os.walk lists without opening files and does not descend into symlinked folders.
        for folder, _dirs, files in os.walk(base):
            for name in sorted(files):
                if name.startswith(TMP_PREFIX):
                    continue
                well_named = DIGEST_RE.fullmatch(name) and os.path.basename(folder) == name[:PREFIX_LEN]
                yield os.path.join(folder, name), (name if well_named else None)

    def read_path(self, path: str) -> bytes:
        """Raw bytes of a file found by a scan (for verification)."""
        return self._read(path, path)

    def temp_files(self) -> list[str]:
        """Temp files left by interrupted writes (harmless; reported by verify)."""
        found = []
        for folder, _dirs, files in os.walk(self.root):
            found.extend(os.path.join(folder, f) for f in files if f.startswith(TMP_PREFIX))
        return found

    def strange_files(self, tenant: str | None = None) -> list[tuple[str, str, str]]:
        """Symlinks that lead out of the root and special files (FIFOs, sockets, devices)
        under the root, or under one tenant's folder: (path, kind, message), for verify.

        Nothing is opened and no symlinked folder is entered; the file types come from the
        directory listing.
        """
        real_root = os.path.realpath(self.root)
        top = self.root if tenant is None else self.tenant_dir(tenant)
        found: list[tuple[str, str, str]] = []

        def outside_link(path: str) -> bool:
            real = os.path.realpath(path)
            if real == real_root or real.startswith(os.path.join(real_root, "")):
                return False
            found.append((path, "outside-link", f"symbolic link to {real}, outside the database root "
                                                "(the engine never writes through it)"))
            return True

        if tenant is not None and os.path.islink(top) and outside_link(top):
            return found
        folders = [top]
        while folders:
            folder = folders.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError:
                continue
            for item in entries:
                try:
                    if item.is_dir(follow_symlinks=False):
                        folders.append(item.path)
                    elif item.is_symlink():
                        outside_link(item.path)
                    elif not item.is_file(follow_symlinks=False):
                        mode = item.stat(follow_symlinks=False).st_mode
                        found.append((item.path, "special-file", f"{_kind(mode)}, not a regular file: "
                                                                 "the engine refuses to read it"))
                except OSError:
                    continue
        return sorted(found)

    # ------------------------------------------------------------------ heads
    def read_head(self, tenant: str) -> tuple[bytes, HeadToken] | None:
        """The tenant's head bytes and token, or None if it has no head: the head its journal
        gives while it gives one (a durable commit writes no head file; `journal.journal_head`),
        else the head file's."""
        path = self.head_path(tenant)
        if tenant not in self._recovered:
            self._recover(tenant)
        for _attempt in range(16):
            journal_info = self._journal_stat(tenant)
            if journal_info is not None and journal_info.st_size:
                try:
                    tip = self._journal_tip(tenant, journal_info)
                except journal.JournalShrank:
                    continue  # a checkpoint emptied it meanwhile: the head file holds its head now
                if tip is not None and tip.head is not None:
                    return tip.head, _head_token(journal_info, self._stat_head(tenant))
            try:
                data, info, _offset = _read_regular(path, f"head of tenant {tenant!r}", limit=HEAD_LIMIT)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise _fail("read", path, exc) from exc
            return data, _head_token(journal_info, info)
        raise StorageError(f"cannot read the head of tenant {tenant!r}: its journal kept being emptied while read")

    def head_token(self, tenant: str) -> HeadToken | None:
        if tenant not in self._recovered:
            self._recover(tenant)
        journal_info, head_info = self._journal_stat(tenant), self._stat_head(tenant)
        if head_info is None and (journal_info is None or not journal_info.st_size):
            return None
        return _head_token(journal_info, head_info)

    def head_source(self, tenant: str) -> str:
        """The file the tenant's head is read from now: its journal or its head file (for messages)."""
        info = self._journal_stat(tenant)
        if info is not None and info.st_size:
            with contextlib.suppress(journal.JournalError, DbEngineError, OSError):
                tip = self._journal_tip(tenant, info)
                if tip is not None and tip.head is not None:
                    return self.journal_path(tenant)
        return self.head_path(tenant)

    def _stat_head(self, tenant: str) -> os.stat_result | None:
        try:
            return os.stat(self.head_path(tenant))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", self.head_path(tenant), exc) from exc

    def _journal_stat(self, tenant: str) -> os.stat_result | None:
        """lstat of the tenant's journal; None when it is absent or not a regular file (never read)."""
        path = self.journal_path(tenant)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc
        return info if stat.S_ISREG(info.st_mode) else None

    def _journal_tip(self, tenant: str, info: os.stat_result) -> journal.Tip | None:
        """The head the journal of `info` gives (`journal.journal_head`), kept with the
        journal index while the journal ends with the same frame (a commit of this process
        notes its own); None: no journal to read. JournalShrank: emptied or replaced meanwhile."""
        with self._journal_guard:
            index = self._index_journal(tenant, info=info)
            if index is None:
                return None
            if index.inode != info.st_ino:
                raise journal.JournalShrank("the journal was replaced while read")
            size = info.st_size
            try:
                tail = index.tail if index.end == size else journal.checksum_before(index.fd, size)
                if index.tip is not None and index.tip[0] == size and index.tip[1] == tail:
                    return index.tip[2]
                found = journal.journal_head(index.fd, size)
            except OSError as exc:
                self._drop_journal_index(tenant)
                raise _fail("read", self.journal_path(tenant), exc) from exc
            index.tip = (size, tail, found)
            return found

    def write_head(self, tenant: str, data: bytes, expected: object = ...) -> bool:
        """Replace the head; call only while holding `lock(tenant)`.

        Durable: one journal record (this thread's pending objects and refs, and `data`) is
        appended and fdatasynced; that record is the head (no head file is written until a
        checkpoint). Not durable: a journal holding records is checkpointed first (its head
        goes to the head file, so that no head is written behind the journal's back), then
        the head file is replaced. `expected` (the token read with the head: it covers the
        journal) makes it a compare-and-swap: False, nothing written, when the head's token is
        another now (under the file lock only a writer ignoring the lock can have moved it).
        """
        if expected is not ... and expected is not None and self.head_token(tenant) != expected:
            return False
        if self.durable:
            self._commit_journaled(tenant, data)
        else:
            items = self._take_pending(tenant)
            try:
                self._write_files(items)  # the objects the head names are in place before it
                if self._journal_size(tenant):  # keep the journal's heads a chain: no head behind its back
                    self._checkpoint(tenant)
                self._write_atomic(self.head_path(tenant), data)
            except BaseException:
                self._give_back(items)
                raise
        return True

    @contextlib.contextmanager
    def lock(self, tenant: str, timeout: float | None = None) -> Iterator[None]:
        """Exclusive lock of a tenant's head, across threads and processes; `timeout`
        overrides `lock_timeout` (0: take it only if it is free now)."""
        with self._locks_guard:
            lock = self._locks.get(tenant)
            if lock is None:
                lock = self._locks[tenant] = _TenantLock(
                    os.path.join(self.tenant_dir(tenant), "head.lock"), self.lock_timeout
                )
        self._check_inside(self.tenant_dir(tenant))
        with lock.hold(timeout):
            if tenant not in self._recovered:
                if self._needs_replay(tenant):
                    self._replay(tenant)
                self._recovered.add(tenant)
            yield

    # ------------------------------------------------------------------ history index
    def read_index(self, tenant: str, entry: str, offset: int = 0) -> tuple[bytes, FileToken] | None:
        """Bytes of an entry's history index from `offset`, and the file's token."""
        path = self.index_path(tenant, entry)
        try:
            data, info, _offset = _read_regular(path, f"history index of {entry!r}", offset=offset)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc
        return data, FileToken(info.st_ino, info.st_size, info.st_mtime_ns)

    def read_index_tail(self, tenant: str, entry: str, nbytes: int) -> tuple[bytes, int] | None:
        """The last `nbytes` of an entry's index and the offset they start at (None: no index)."""
        path = self.index_path(tenant, entry)
        try:
            data, _info, start = _read_regular(path, f"history index of {entry!r}", tail=nbytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc
        return data, start

    def read_index_range(self, tenant: str, entry: str, offset: int, nbytes: int) -> tuple[bytes, int, int] | None:
        """Up to `nbytes` of an entry's index from `offset` (a negative offset counts from the
        end): (the bytes, the offset they start at, the file's size); None when there is no index."""
        path = self.index_path(tenant, entry)
        try:
            fd, info = _open_regular(path, f"history index of {entry!r}")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc
        try:
            size = info.st_size
            start = max(size + offset, 0) if offset < 0 else min(offset, size)
            data = os.pread(fd, max(min(nbytes, size - start), 0), start) if size > start else b""
        except OSError as exc:
            raise _fail("read", path, exc) from exc
        finally:
            os.close(fd)
        return data, start, size

    def index_token(self, tenant: str, entry: str) -> FileToken | None:
        try:
            stat = os.stat(self.index_path(tenant, entry))
        except FileNotFoundError:
            return None
        return FileToken(stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def append_index(self, tenant: str, entry: str, data: bytes, expected: object = None) -> tuple[int, FileToken]:
        """Append lines to an index; call only while holding `lock(tenant)` (so the index
        is still the `expected` one the caller read: no check needed here). Returns the
        file's size before the append and its token after it, so that a caller holding the
        index up to that size adds the lines without reading them back.

        Never fsynced: the index is a cache checked against the head, and lines lost or
        torn by a crash are rebuilt from the objects on the next read.
        """
        path = self.index_path(tenant, entry)
        try:
            folder = os.path.dirname(path)
            if folder not in self._inside:
                self._mkdir(folder)
                self._check_inside(folder)
            fd, info = _open_stat_for_writing(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "append to")
            try:
                before = info.st_size
                _write_all(fd, data)
                info = os.fstat(fd)
                return before, FileToken(info.st_ino, info.st_size, info.st_mtime_ns)
            finally:
                os.close(fd)
        except StorageError:
            raise
        except OSError as exc:
            raise _fail("append to", path, exc) from exc

    def write_index(self, tenant: str, entry: str, data: bytes) -> None:
        """Rewrite an index atomically (repair); call only while holding `lock(tenant)`.
        Not fsynced, like `append_index`: a cache."""
        self._write_with_folder(self.index_path(tenant, entry), data, durable=False)

    def cache_path(self, tenant: str, name: str) -> str:
        return os.path.join(self.tenant_dir(tenant), "index", name)

    def read_cache(self, tenant: str, name: str) -> bytes | None:
        """A tenant-level cache file (`{tenant}/index/{name}`), None when there is none."""
        path = self.cache_path(tenant, name)
        try:
            return self._read(path, f"cache {name} of tenant {tenant!r}")
        except DigestNotFoundError:
            return None

    def write_cache(self, tenant: str, name: str, data: bytes) -> None:
        """Replace a tenant-level cache file atomically; not fsynced (rebuilt when lost)."""
        self._write_with_folder(self.cache_path(tenant, name), data, durable=False)

    # ------------------------------------------------------------------ low level
    def _read(self, path: str, what: str) -> bytes:
        try:
            return _read_regular(path, what)[0]
        except FileNotFoundError:
            raise DigestNotFoundError(f"{what} not found ({path})") from None
        except IsADirectoryError:
            raise DigestNotFoundError(f"{what} not found ({path} is a folder)") from None
        except OSError as exc:
            raise _fail("read", path, exc) from exc

    def _write_content(self, path: str, data: bytes, durable: bool | None = None) -> bool:
        """Store content-addressed bytes; False when the file already holds exactly them.

        An existing file of another size or other bytes (truncated, damaged), or one that is
        not a regular file or cannot be read, is replaced atomically like a new one: an
        acknowledged write is always readable. Comparing the bytes costs about what
        hashing them did, and only when the sizes match.
        """
        if self._holds(path, data):
            return False
        self._write_with_folder(path, data, durable)
        return True

    @staticmethod
    def _holds(path: str, data: bytes) -> bool:
        try:
            if os.lstat(path).st_size != len(data):  # absent (most writes) or another size: no open
                return False
            fd, info = _open_regular(path, path)
        except (OSError, DbEngineError):  # absent, a folder, a FIFO, a symlink, unreadable
            return False
        try:
            return info.st_size == len(data) and _read_fd(fd, len(data) + 1) == data
        except OSError:
            return False
        finally:
            os.close(fd)

    def _write_with_folder(self, path: str, data: bytes, durable: bool | None = None) -> None:
        try:
            self._mkdir(os.path.dirname(path), durable)
        except StorageError:
            raise
        except OSError as exc:
            raise _fail("create folder for", path, exc) from exc
        self._write_atomic(path, data, durable)

    def _write_atomic(self, path: str, data: bytes, durable: bool | None = None) -> None:
        durable = self.durable if durable is None else durable
        folder = os.path.dirname(path)
        self._install(self._write_temp(path, data, durable), path)
        if durable:
            try:
                self._fsync_dir(folder)
            except OSError as exc:
                raise _fail("sync folder of", path, exc) from exc

    def _write_temp(self, path: str, data: bytes, durable: bool = False) -> str:
        """A temp file beside `path` holding `data` (fsynced if `durable`), for `_install`."""
        folder = os.path.dirname(path)
        self._check_inside(folder)
        temp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
            try:
                _write_all(fd, data)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise _fail("write", path, exc) from exc
        return temp

    @staticmethod
    def _install(temp: str, path: str) -> None:
        """Rename a temp file of `_write_temp` over `path` (removing it if that fails)."""
        try:
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise _fail("write", path, exc) from exc

    def _mkdir(self, folder: str, durable: bool | None = None) -> None:
        if os.path.isdir(folder):
            return
        parent = os.path.dirname(folder)
        if parent and parent != folder and not os.path.isdir(parent):
            self._mkdir(parent, durable)
        inside = folder.startswith(self._root_prefix)
        if inside:  # never create a folder through a symlink out of the root
            self._check_inside(parent)
        try:
            os.mkdir(folder)
        except FileExistsError:
            return
        if inside:
            self._remember_inside(folder)  # made here, in a folder inside: no symlink
        if self.durable if durable is None else durable:
            self._fsync_dir(parent)

    def _check_inside(self, folder: str) -> None:
        """Refuse (StorageError) to write into a folder that resolves outside the root.

        Known folders cost a set lookup; a new one one lstat per level not seen yet (a real
        folder inside a folder inside the root is inside), and a realpath when it is a
        symlink. The root itself may be a symlink: everything is compared with its realpath.
        """
        if folder in self._inside or folder == self.root:
            return
        if not folder.startswith(self._root_prefix):
            raise StorageError(f"cannot write in {folder}: it is not inside the database root {self.root}")
        self._check_inside(os.path.dirname(folder))
        mode = _lstat_mode(folder)
        if mode is None:
            return  # absent: the write itself fails and says so
        if stat.S_ISLNK(mode):
            real, real_root = os.path.realpath(folder), os.path.realpath(self.root)
            if real != real_root and not real.startswith(os.path.join(real_root, "")):
                raise StorageError(
                    f"cannot write in {folder}: it is a symbolic link to {real}, outside the database root {self.root}"
                )
        elif not stat.S_ISDIR(mode):
            raise StorageError(f"cannot write in {folder}: it is {_kind(mode)}, not a folder")
        self._remember_inside(folder)

    def _remember_inside(self, folder: str) -> None:
        if len(self._inside) >= _FOLDER_CACHE_MAX:  # one folder per object: keep it bounded
            self._inside.clear()
        self._inside.add(folder)

    @staticmethod
    def _fsync_dir(folder: str) -> None:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # some file systems refuse dir fsync
                raise
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ journal (durable commits)
    def checkpoint(self, tenant: str) -> None:
        """Make everything the tenant's journal covers durable in place, then empty it
        (also done when the journal passes JOURNAL_LIMIT)."""
        with self.lock(tenant):
            self._checkpoint(tenant)

    def journal_problems(self, tenant: str) -> list[tuple[str, str, str, bool]]:
        """What is wrong with the tenant's journal, read only: (path, kind, message, damage);
        damage False is harmless (a frame cut short by a crash, ignored). For verify."""
        found: list[tuple[str, str, str, bool]] = []
        damaged = os.path.join(self.tenant_dir(tenant), DAMAGED_JOURNAL_NAME)
        if os.path.lexists(damaged):
            found.append((damaged, "journal-damaged", "a journal that failed its checks, set aside by a replay "
                                                      "(records after the damage were not applied); inspect, then delete it", True))
        path = self.journal_path(tenant)
        try:
            fd, info = _open_regular(path, "journal")
        except (OSError, DbEngineError):  # absent, or not a regular file
            not_a_file = self._journal_not_a_file(tenant)
            if not_a_file is not None:
                found.append((path, "journal-not-a-file", not_a_file, True))
            return found
        try:
            result = journal.scan(fd, info.st_size)
        except OSError as exc:
            return [*found, (path, "journal-unreadable", str(exc), True)]
        finally:
            os.close(fd)
        if result.damage:
            found.append((path, "journal-damaged", f"{result.damage}: not trusted from there on", True))
        elif result.torn:
            found.append((path, "journal-torn", "ends with a record cut short by a crash; ignored", False))
        return found

    # ---- objects that live in the journal (durable commits, until a checkpoint)
    def _index_journal(self, tenant: str, *, want: str | None = None, whole: bool = False,
                       rebuild: bool = False, info: os.stat_result | None = None) -> _JournalIndex | None:
        """Under `_journal_guard`: the tenant's journal index (the journal kept open), extended
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
            self._drop_journal_index(tenant)
            return None
        fresh = rebuild
        if index is None or index.inode != info.st_ino or index.fd < 0:
            self._drop_journal_index(tenant)
            fd, opened = self._open_journal_reading(tenant)
            if fd < 0:
                return None
            index = self._journal_index[tenant] = _JournalIndex(opened.st_ino, fd)
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
            self._drop_journal_index(tenant)
            raise _fail("read", path, exc) from exc

    def _cached_index(self, tenant: str) -> _JournalIndex | None:
        """Under `_journal_guard`: the tenant's journal index if kept, marked recently used."""
        index = self._journal_index.get(tenant)
        if index is not None:
            self._journal_index.move_to_end(tenant)
        return index

    def _drop_journal_index(self, tenant: str) -> None:
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

    def _journal_object(self, tenant: str, digest: str) -> bytes | None:
        """The bytes of an object from the tenant's journal, checked against `digest`; None
        when the journal (as it is now) holds no valid copy."""
        with self._journal_guard:
            for rebuild in (False, True):  # an offset that no longer holds the object: index again
                index = self._cached_index(tenant)
                place = index.where.get(digest) if index is not None and not rebuild else None
                if place is None:
                    index = self._index_journal(tenant, want=digest, rebuild=rebuild)
                    place = index.where.get(digest) if index is not None else None
                    if place is None:
                        return None
                try:
                    data = journal.read_at(index.fd, place[1], place[0])
                except OSError as exc:
                    self._drop_journal_index(tenant)
                    raise _fail("read", self.journal_path(tenant), exc) from exc
                if len(data) == place[1] and hashlib.sha256(data).hexdigest() == digest:
                    return data
        return None

    def _journal_has(self, tenant: str, digest: str) -> bool:
        """True when a valid record of the tenant's journal holds the object."""
        with self._journal_guard:
            index = self._cached_index(tenant)
            if index is not None and digest in index.where:
                return True
            index = self._index_journal(tenant, want=digest)
            return index is not None and digest in index.where

    def _journal_damage(self, tenant: str) -> str | None:
        """What makes the tenant's journal invalid from some frame on, or unreadable as a
        whole (None: it is whole, ends with a torn frame, or is absent): read from its start
        by `journal.scan`."""
        with self._journal_guard:  # asked only when an object was found nowhere: rare
            index = self._index_journal(tenant, rebuild=True)
            return index.damage if index is not None else self._journal_not_a_file(tenant)

    def _journal_not_a_file(self, tenant: str) -> str | None:
        """Why the tenant's journal cannot be read when something that is not a regular file
        is in its place (a folder, a symbolic link, a FIFO); None when it is absent or a file."""
        mode = _lstat_mode(self.journal_path(tenant))
        if mode is None or stat.S_ISREG(mode):
            return None
        return f"it is {_kind(mode)}, not a regular file: the objects of durable commits in it cannot be read"

    def _note_journaled(self, tenant: str, inode: int, start: int, frame: bytes, record: journal.Record) -> None:
        """After our append at `start`: the index learns the record's objects without reading
        them back (when it covered the journal up to `start`; else the next miss reads on)."""
        with self._journal_guard:
            index = self._cached_index(tenant)
            if index is None or index.inode != inode or index.end != start or index.fd < 0:
                return  # the next miss reads on
            for (digest, data), offset in zip(record.objects, journal.object_offsets(record), strict=True):
                index.where[digest] = (start + offset, len(data))
            index.end, index.tail = start + len(frame), journal.frame_checksum(frame)
            if record.head is not None:  # its base is the head before it: linked, readers take it
                index.tip = (index.end, index.tail,
                             journal.Tip(record.head, journal.head_digest(frame, record.head), index.end, True))

    def _forget_journal(self, tenant: str) -> None:
        """The journal was emptied or set aside (checkpoint, replay): its objects all have files now."""
        with self._journal_guard:
            self._drop_journal_index(tenant)

    def _write_journaled(self, kind: bytes, tenant: str | None, digest: str, path: str, data: bytes) -> bool:
        """Store content-addressed bytes. Durable: journal them with the next head write of
        this thread; an object written under its tenant's lock (a commit) is written to its
        file during that head write's fdatasync (this thread's reads see it meanwhile); a
        big one is written and fsynced at once. Not durable: an object written under its
        tenant's lock waits for the head write too (then a commit's objects are written in
        one batch, see `_write_files`); anything else is written at once. An object of a
        commit is not looked for now (reported written): its file is skipped when found
        holding exactly its bytes (`_write_new`)."""
        lock = self._locks.get(tenant) if tenant is not None else None
        if not self.durable:
            if lock is None or not lock.held_here():
                return not self._journal_holds(kind, tenant, digest, path) and self._write_content(path, data)
        elif len(data) > OBJECT_JOURNAL_LIMIT:
            return self._write_content(path, data, durable=True)
        if lock is not None and lock.held_here():
            # durable or not, no look now: most are new, and the file write finds one present (`_write_new`)
            present = False
            self._pending_items()
            self._pending.unwritten[path] = data
        else:
            present = self._journal_holds(kind, tenant, digest, path) or not self._write_content(path, data, durable=False)
        pending = self._pending_items()
        pending.append((kind, tenant, digest, path, data, not present))  # present: its file may not be synced
        self._pending.size += len(data)
        if self._pending.size > PENDING_LIMIT:  # a big import: write (and sync) in place instead
            self._write_files(pending)
            if self.durable:
                self._sync_in_place([item[3] for item in pending])
            pending.clear()
            self._pending.size = 0
        return not present

    def _journal_holds(self, kind: bytes, tenant: str | None, digest: str, path: str) -> bool:
        """True when an object with no file is in the tenant's journal, its bytes checked
        (an import's "have I got it": then no file is written for it)."""
        return kind == b"o" and tenant is not None and not os.path.lexists(path) and self._journal_object(tenant, digest) is not None

    def _pending_items(self) -> list[tuple[bytes, str | None, str, str, bytes, bool]]:
        pending = getattr(self._pending, "items", None)
        if pending is None:
            pending = self._pending.items = []
            self._pending.size = 0
            self._pending.unwritten = {}
        return pending

    def _unwritten(self, path: str) -> bytes | None:
        """The bytes of this thread's journaled write of `path` whose file is not written yet."""
        unwritten = getattr(self._pending, "unwritten", None)
        return unwritten.get(path) if unwritten else None

    def _take_pending(self, tenant: str) -> list[tuple[bytes, str | None, str, str, bytes, bool]]:
        """This thread's journaled writes a head of `tenant` depends on: its objects, all refs."""
        pending = self._pending_items()
        taken = [item for item in pending if item[1] is None or item[1] == tenant]
        if taken:
            pending[:] = [item for item in pending if not (item[1] is None or item[1] == tenant)]
            self._pending.size = sum(len(item[4]) for item in pending)
        return taken

    def _give_back(self, items: list[tuple[bytes, str | None, str, str, bytes, bool]]) -> None:
        self._pending_items().extend(items)
        self._pending.size += sum(len(item[4]) for item in items)

    def _write_files(self, items: list[tuple[bytes, str | None, str, str, bytes, bool]]) -> None:
        """Write the files of deferred items not written yet, no fsync (durable: the journal
        has them); a big batch (a put_many's nodes) on WRITE_WORKERS threads, since file
        creation waits in the kernel with the GIL released."""
        self._pending_items()
        unwritten = self._pending.unwritten
        todo = [item for item in items if item[5] and item[3] in unwritten]
        if not todo:
            return
        written: list[str] = []

        def write(item: tuple) -> None:
            self._write_new(item[3], item[4])
            written.append(item[3])

        try:
            daemon_map(write, todo, WRITE_WORKERS if len(todo) >= 4 * WRITE_WORKERS else 1, name="mydb-write")
        finally:  # a file not written stays this thread's to write (a retry gives it back)
            for path in written:
                unwritten.pop(path, None)

    def _write_new(self, path: str, data: bytes) -> None:
        """Write a content-addressed file not known to be there: its folder is made first and,
        when that succeeds, is new (no lookups before: most objects have a folder of their
        own); when the folder exists, a file already holding exactly `data` is kept.

        In a folder made here the temp file is named without a random part (no other file
        can be there but another writer's, whose name holds its own process and thread) and
        written with no further check: mkdir, open, write, close, rename, nothing else."""
        folder = os.path.dirname(path)
        parent = os.path.dirname(folder)
        if parent not in self._inside:
            self._check_inside(parent)
        try:
            os.mkdir(folder)
        except FileExistsError:  # the object itself (then skipped), another of its prefix, or damage (replaced)
            if self._holds(path, data):
                return
        except FileNotFoundError:
            self._write_with_folder(path, data, durable=False)  # parent folders missing
            return
        except OSError as exc:
            raise _fail("create folder for", path, exc) from exc
        else:
            self._remember_inside(folder)  # made here, in a folder inside: no symlink
            temp = f"{folder}{os.sep}{TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-new"
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
                try:
                    written = os.write(fd, data)
                    if written != len(data):  # a short write: the rest
                        _write_all(fd, data[written:])
                finally:
                    os.close(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise _fail("write", path, exc) from exc
            self._install(temp, path)
            return
        self._install(self._write_temp(path, data), path)

    def _commit_journaled(self, tenant: str, head: bytes) -> None:
        """One journal append + fdatasync making `head` and what it needs durable. The head
        lives in the record (no head file: readers take it from the journal, `read_head`)
        and so do the record's objects, until a checkpoint writes their files; the ref files
        the record covers are written while the sync runs. A failure before the sync
        returned takes the record back."""
        items = self._take_pending(tenant)
        # refs (shared by all tenants) keep their files, and so does an object whose file is
        # there already (one lstat: rewritten unless it holds exactly its bytes, so that a
        # damaged file never hides the journal's good copy)
        files = [item for item in items if item[0] != b"o" or os.path.lexists(item[3])]
        record = journal.Record(boot=journal.boot_id(), head=head,
                                objects=[(item[2], item[4]) for item in items if item[0] == b"o"],
                                refs=[(item[2], item[4]) for item in items if item[0] == b"r"])
        path = self.journal_path(tenant)
        fd, size, end, done = -1, 0, 0, False
        try:
            self._check_inside(self.tenant_dir(tenant))
            fd, info = self._append_fd(tenant, path)
            size = info.st_size
            tip = self._tip_for_append(tenant, fd, info) if size else None
            if tip is not None and not tip.linked:
                # a torn tail (a writer died mid-append), damage or records of another program:
                # the journal's head came from a scan; make it the head file, start afresh
                os.close(fd)
                fd = -1
                self._checkpoint(tenant)
                fd, info = _open_stat_for_writing(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, "append to")
                size = info.st_size
                tip = self._tip_for_append(tenant, fd, info) if size else None
            # the base links the record to the head it replaces (readers trust a last record so linked)
            record.base = self._durable_base(tenant) if tip is None else tip.sha
            frame = journal.encode(record)
            _write_all(fd, frame)
            end = size + len(frame)
            overlap = OVERLAP_SYNC and any(item[5] for item in files)  # ref files to write meanwhile (a
            # thread handoff costs more than a sync in this thread otherwise: measured, bench/RESULTS-durable.md)
            sync = _SYNCER.start(fd) if overlap else None
            if sync is None:
                _datasync(fd)
            try:
                self._write_files(files)
            finally:
                if sync is not None:
                    sync.wait()  # raises the fdatasync's error
            self._journal_ends[tenant] = (info.st_ino, end)
            done = True
        except BaseException as exc:
            if fd >= 0 and end:  # the record is in but not acknowledged: take it back
                self._journal_ends.pop(tenant, None)
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                    _datasync(fd)
            elif fd >= 0:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)  # a short write
            self._give_back(items)
            if isinstance(exc, OSError) and not isinstance(exc, DbEngineError):
                raise _fail("append to", path, exc) from exc
            raise
        finally:
            if fd >= 0:
                if done:
                    self._keep_append_fd(tenant, fd, info.st_ino)
                else:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        self._note_journaled(tenant, info.st_ino, size, frame, record)
        unwritten = self._pending.unwritten
        for item in items:
            if item[0] == b"o":
                unwritten.pop(item[3], None)  # read from its file or the journal from now on
        if end > JOURNAL_LIMIT:
            with contextlib.suppress(DbEngineError, OSError):  # the commit is durable already
                self._checkpoint(tenant)

    def _append_fd(self, tenant: str, path: str) -> tuple[int, os.stat_result]:
        """The journal opened for appending, with its stat: the fd this process kept from its
        last commit to the tenant while the path still names that file (one lstat instead of
        open + fstat + close), else a new one. The caller owns it (`_keep_append_fd` or close)."""
        with self._journal_guard:
            kept = self._append_fds.pop(tenant, None)
        if kept is not None:
            if kept.pid == os.getpid():  # (a forked child opens its own)
                try:
                    info = os.lstat(path)
                except OSError:
                    info = None
                if info is not None and stat.S_ISREG(info.st_mode) and info.st_ino == kept.inode:
                    return kept.take(), info
            kept.close()
        return _open_stat_for_writing(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, "append to")

    def _keep_append_fd(self, tenant: str, fd: int, inode: int) -> None:
        """Keep a journal's append fd for the tenant's next commit (at most JOURNAL_INDEX_MAX:
        the least recently used is closed; one in use is never in the table, never closed)."""
        with self._journal_guard:
            old = self._append_fds.pop(tenant, None)
            self._append_fds[tenant] = _KeptFd(inode, fd)
            closing = [old] if old is not None else []
            while len(self._append_fds) > JOURNAL_INDEX_MAX:
                closing.append(self._append_fds.popitem(last=False)[1])
        for other in closing:
            other.close()

    def _drop_append_fd(self, tenant: str) -> None:
        """Close the kept append fd of a journal that was set aside (renamed)."""
        with self._journal_guard:
            kept = self._append_fds.pop(tenant, None)
        if kept is not None:
            kept.close()

    def _tip_for_append(self, tenant: str, fd: int, info: os.stat_result) -> journal.Tip:
        """The head the journal of `fd` gives now (its sha256 is the new record's base): the
        one `read_head` found under this lock (or this process's last commit noted), else
        read from the journal."""
        size = info.st_size
        with self._journal_guard:
            index = self._cached_index(tenant)
            if index is not None and index.inode == info.st_ino and index.tip is not None and index.tip[0] == size:
                # read again, never index.tail: another process may have emptied and refilled it
                if journal.checksum_before(fd, size) == index.tip[1]:
                    return index.tip[2]
        return journal.journal_head(fd, size)

    def _durable_base(self, tenant: str) -> bytes | None:
        """Before the first record of an empty journal: make the head it starts from durable
        and return its sha256 (None: no head). A head file this process's checkpoint synced
        needs nothing; any other may be a `durable=False` writer's, whose objects were written
        without sync too: one syncfs then (an fsync of the head and its folder where there is
        none), so that a power loss never takes the versions an acknowledged commit builds on."""
        path = self.head_path(tenant)
        try:
            fd, info = _open_regular(path, f"head of tenant {tenant!r}")
        except (FileNotFoundError, DbEngineError):
            return None
        try:
            data = _read_fd(fd, HEAD_LIMIT + 1)
            if self._synced_heads.get(tenant) != _identity(info):
                if not _syncfs(fd):
                    os.fsync(fd)
                    self._fsync_dir(self.tenant_dir(tenant))
                self._note_synced_head(tenant, info)
        finally:
            os.close(fd)
        return hashlib.sha256(data).digest()

    def _note_synced_head(self, tenant: str, info: os.stat_result | None = None) -> None:
        """Remember the head file as durable (just synced with all it names), by its identity."""
        if info is None:
            try:
                info = os.lstat(self.head_path(tenant))
            except OSError:
                return
        if len(self._synced_heads) >= 4096:  # a cache: forget it rather than grow
            self._synced_heads.clear()
        self._synced_heads[tenant] = _identity(info)

    def _journal_size(self, tenant: str) -> int:
        try:
            info = os.lstat(self.journal_path(tenant))
        except OSError:
            return 0
        return info.st_size if stat.S_ISREG(info.st_mode) else 0

    def _needs_replay(self, tenant: str) -> bool:
        """True when the journal holds records of an earlier boot (a crash of the machine may
        have lost what they cover) or of an unknown one; in this boot, every write a record
        covers is in the page cache, visible to all."""
        path = self.journal_path(tenant)
        try:
            fd, info = _open_regular(path, "journal")
        except (FileNotFoundError, IsADirectoryError, DbEngineError):  # none, or not a file (verify says so)
            return False
        except OSError as exc:  # cannot tell whether the tenant needs a replay: say so
            raise _fail("read", path, exc) from exc
        try:
            if info.st_size == 0:
                return False
            boot, now = journal.first_boot(fd), journal.boot_id()
            if now == journal.NO_BOOT or boot == now:
                return now == journal.NO_BOOT
            # another boot, or a first frame too damaged to say: its last frame decides, so
            # that a flipped byte in the first frame never makes a reader replay (and set
            # aside) a journal this boot wrote (its objects would be lost with it)
            return journal.last_boot(fd, info.st_size) != now
        finally:
            os.close(fd)

    def _recover(self, tenant: str) -> None:
        """A reader's replay: only if the tenant lock is free now (a writer holding it
        replays before it writes); a replay that cannot write is not retried."""
        if not self._needs_replay(tenant):
            self._recovered.add(tenant)
            return
        try:
            with self.lock(tenant, timeout=0):
                pass  # lock() replays
        except LockTimeoutError:
            return
        except (DbEngineError, OSError):
            self._recovered.add(tenant)

    @staticmethod
    def _open_journal(path: str, why: str) -> int | None:
        """The journal at `path` opened for reading and writing; None when there is none."""
        try:
            return _open_for_writing(path, os.O_RDWR, why)
        except StorageError as exc:
            if getattr(exc, "errno", None) == errno.ENOENT:
                return None
            raise

    def _replay(self, tenant: str) -> None:
        """Under the lock: rewrite every object and ref of the journal's valid records (each
        checked against its digest), write the head file from the head the journal gives
        (`journal.journal_head`: what readers saw), sync it all, and empty the journal (a
        damaged one is set aside as journal.damaged for verify)."""
        path = self.journal_path(tenant)
        fd = self._open_journal(path, "replay")
        if fd is None:
            return
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                return

            def apply(record: journal.Record) -> None:
                for digest, data in record.objects:
                    self._write_content(self.object_path(tenant, digest), data, durable=False)
                for digest, data in record.refs:
                    self._write_content(self.ref_path(digest), data, durable=False)

            try:
                tip = journal.journal_head(fd, size)
                # past damage too, as a checkpoint: the valid records after it were acknowledged
                # (their objects are read from the journal until then), whether or not one gives the head
                result = journal.scan_all(fd, size, apply)
                self._put_head_file(tenant, tip.head)
                self._sync_all(tenant, fd, size)
                self._note_synced_head(tenant)
                if result.damage:
                    self._set_aside(tenant, path)
                else:
                    os.ftruncate(fd, 0)
                    os.fsync(fd)
            except OSError as exc:
                raise _fail("replay journal", path, exc) from exc
        finally:
            os.close(fd)
            self._journal_ends.pop(tenant, None)
            self._forget_journal(tenant)

    def _put_head_file(self, tenant: str, head: bytes | None) -> None:
        """Write the head the journal gives into the head file (no fsync: the sync of the
        checkpoint or replay follows), unless it holds those bytes already."""
        if head is not None and not self._holds(self.head_path(tenant), head):
            self._write_atomic(self.head_path(tenant), head, durable=False)

    def _set_aside(self, tenant: str, path: str) -> None:
        """Rename a damaged journal to journal.damaged (after its head and objects are in place)."""
        self._journal_ends.pop(tenant, None)
        self._drop_append_fd(tenant)
        os.replace(path, os.path.join(self.tenant_dir(tenant), DAMAGED_JOURNAL_NAME))
        self._fsync_dir(self.tenant_dir(tenant))

    def _checkpoint(self, tenant: str) -> None:
        """Under the lock: write the head file from the head the journal gives, then the
        files of the journal's objects that have none, sync what the journal covers, then
        empty it. A crash anywhere in between leaves the same head (the journal, still whole,
        gives the head the file now holds) and loses nothing. A damaged journal is set aside
        as journal.damaged instead of emptied (the records after the damage are kept for
        inspection; their objects get files: they were acknowledged)."""
        path = self.journal_path(tenant)
        fd = self._open_journal(path, "checkpoint")
        if fd is None:
            return
        try:
            info = os.fstat(fd)
            if info.st_size:
                self._put_head_file(tenant, journal.journal_head(fd, info.st_size).head)
                written: set[str] = set()
                # past damage too: the valid records after it were acknowledged, their objects are kept
                result = journal.scan_all(fd, info.st_size, lambda record: self._materialise(tenant, record, written))
                self._sync_all(tenant, fd, info.st_size)
                self._note_synced_head(tenant)
                if result.damage:
                    self._set_aside(tenant, path)
                    self._forget_journal(tenant)
                    return
                os.ftruncate(fd, 0)
                os.fsync(fd)
            self._journal_ends[tenant] = (info.st_ino, 0)
            self._forget_journal(tenant)
        except OSError as exc:
            raise _fail("checkpoint journal", path, exc) from exc
        finally:
            os.close(fd)

    def _materialise(self, tenant: str, record: journal.Record, written: set[str]) -> None:
        """Give a journal record's objects their files where they have none (or a file holding
        other bytes), without fsync (the checkpoint's sync follows); `written`: digests done
        (an object journaled twice is written once). One record at a time: memory stays one
        frame. One thread: 4 measured no faster (the creations in one `objects/` folder wait
        on each other in the kernel)."""
        for digest, data in record.objects:
            if digest not in written:
                written.add(digest)
                self._write_content(self.object_path(tenant, digest), data, durable=False)

    def _sync_all(self, tenant: str, fd: int, size: int) -> None:
        """Make durable every file and folder the journal's records name, and the head:
        one syncfs of the file system where there is one, else an fsync of each."""
        if _syncfs(fd):
            return
        paths = [self.head_path(tenant)]

        def collect(record: journal.Record) -> None:
            paths.extend(self.object_path(tenant, digest) for digest, _data in record.objects)
            paths.extend(self.ref_path(digest) for digest, _data in record.refs)

        journal.scan_all(fd, size, collect)
        self._sync_in_place(paths)

    def _sync_in_place(self, paths: list[str]) -> None:
        """fsync these files, their folders and their folders' folders (new prefix folders)."""
        folders: set[str] = set()
        for path in dict.fromkeys(paths):
            try:
                fd, _info = _open_regular(path, path)
            except FileNotFoundError:
                continue  # a record of a writer that died before writing it
            except (OSError, DbEngineError) as exc:
                raise StorageError(f"cannot sync {path}: {exc}") from exc
            try:
                os.fsync(fd)
            except OSError as exc:
                raise _fail("sync", path, exc) from exc
            finally:
                os.close(fd)
            folders.add(os.path.dirname(path))
        for folder in sorted(folders | {os.path.dirname(f) for f in folders}, key=len, reverse=True):
            try:
                self._fsync_dir(folder)
            except OSError as exc:
                raise _fail("sync folder", folder, exc) from exc

    @staticmethod
    def _iter_digests(folder: str) -> Iterator[str]:
        try:
            prefixes = sorted(os.listdir(folder))
        except FileNotFoundError:
            return
        for prefix in prefixes:
            sub = os.path.join(folder, prefix)
            if not os.path.isdir(sub):
                continue
            for name in sorted(os.listdir(sub)):
                if DIGEST_RE.fullmatch(name):
                    yield name


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _SyncJob:
    """One fdatasync handed to the sync thread; `wait()` raises its OSError."""

    __slots__ = ("fd", "done", "error")

    def __init__(self, fd: int):
        self.fd = fd
        self.done = _thread.allocate_lock()  # held until the sync ran (lighter than an Event; waited on once)
        self.done.acquire()
        self.error: OSError | None = None

    def wait(self) -> None:
        self.done.acquire()
        if self.error is not None:
            raise self.error


class _SyncThread:
    """A daemon thread running journal fdatasyncs, so that a committing thread writes the
    files its record covers meanwhile (they must be in place before the head is renamed
    in, not before the sync); one for the process, restarted after a fork."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def reset(self) -> None:
        """In a forked child: the parent's thread and lock are not ours."""
        self._guard = threading.Lock()
        self._thread = None

    def start(self, fd: int) -> _SyncJob:
        job = _SyncJob(fd)
        with self._guard:
            if self._thread is None or not self._thread.is_alive():
                self._queue = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._run, args=(self._queue,), name="mydb-sync", daemon=True)
                self._thread.start()
            self._queue.put(job)
        return job

    @staticmethod
    def _run(jobs: queue.SimpleQueue) -> None:
        while True:
            job = jobs.get()
            try:
                _datasync(job.fd)
            except OSError as exc:
                job.error = exc
            finally:
                job.done.release()


_SYNCER = _SyncThread()
_LIVE: weakref.WeakSet[LocalStorage] = weakref.WeakSet()  # storages a forked child must reset


def _after_fork_in_child() -> None:
    _SYNCER.reset()
    for storage in list(_LIVE):
        storage._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
OVERLAP_SYNC = True  # False: the journal's fdatasync runs in the committing thread, before the file writes


def _datasync(fd: int) -> None:
    """fdatasync where there is one (the size of an append is synced with the data)."""
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:
        os.fsync(fd)


_SYNCFS: list = []


def _syncfs(fd: int) -> bool:
    """syncfs(2) of the file system holding `fd` (Linux); False when there is none."""
    if not _SYNCFS:
        function = None
        with contextlib.suppress(OSError, AttributeError, ImportError):
            import ctypes

            function = ctypes.CDLL(None, use_errno=True).syncfs
            function.argtypes = [ctypes.c_int]
        _SYNCFS.append(function)
    function = _SYNCFS[0]
    if function is None:
        return False
    if function(fd) != 0:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return True
