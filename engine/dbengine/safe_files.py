"""Opening, reading and writing files without trusting what is on disk; the journal's syncs.

Every read opens without blocking and without following a final symlink, checks that it
got a regular file and reads no more than its size (plus READ_SLACK), so a FIFO, a socket,
a device or a symlink in place of a file is reported as damage naming it, never waited on
or read forever. Files written in place are opened with O_NOFOLLOW and O_NONBLOCK and
refused when they are not regular files. Also here: `_write_all`, the folder fsync, the
fdatasync and syncfs of a durable commit, and the daemon thread that runs that fdatasync
while the committing thread writes files (restarted in a forked child).
"""

from __future__ import annotations

import _thread
import contextlib
import errno
import os
import queue
import stat
import threading
from collections.abc import Callable

from .errors import CorruptObjectError, DbEngineError, StorageError

HEAD_LIMIT = 256 * 1024 * 1024  # a larger head is damage, not read
READ_SLACK = 64 * 1024  # read at most this much past fstat's size (a file appended to meanwhile)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SAFE = getattr(os, "O_NONBLOCK", 0) | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | _SAFE
# errnos of opening something that is not a regular file: a symlink under O_NOFOLLOW
# (ELOOP; EMLINK on BSD), a socket or a FIFO without reader (ENXIO), a device (ENODEV)
_NOT_REGULAR_ERRNOS = {errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP}

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


def _read_if_there(path: str, what: str, **options) -> tuple[bytes, os.stat_result, int] | None:
    """`_read_regular` of a file that may be missing (None); other OS errors name the path."""
    try:
        return _read_regular(path, what, **options)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _fail("read", path, exc) from exc


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


def _write_all(fd: int, data: bytes) -> None:
    """Write all of `data` (os.write may write less)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(folder: str) -> None:
    """fsync a folder (its new and renamed names); a file system that refuses it is let be."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # some file systems refuse dir fsync
            raise
    finally:
        os.close(fd)


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


class _SyncJob:
    """One fdatasync handed to the sync thread; `wait()` raises its OSError. `sync`: the
    function run (the caller's `_datasync`, so that a test patching it there reaches this one too)."""

    __slots__ = ("fd", "sync", "done", "error")

    def __init__(self, fd: int, sync: Callable[[int], None]):
        self.fd, self.sync = fd, sync
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

    def start(self, fd: int, sync: Callable[[int], None] = _datasync) -> _SyncJob:
        """Run `sync(fd)` on the thread (started if none runs); wait on the job returned."""
        job = _SyncJob(fd, sync)
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
                job.sync(job.fd)
            except OSError as exc:
                job.error = exc
            finally:
                job.done.release()


_SYNCER = _SyncThread()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SYNCER.reset)


def _sync_in_place(paths: list[str]) -> None:
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
            _fsync_dir(folder)
        except OSError as exc:
            raise _fail("sync folder", folder, exc) from exc
