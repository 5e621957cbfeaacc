"""`_TenantLock`: a tenant's writer lock, a thread RLock plus an flock on `{tenant}/head.lock`.

flock is released by the kernel when its holder dies, so a killed writer never blocks the
database; a forked child lets go of the holds it inherited (`forked`) and closes its copy of
every lock file the parent had open (`_LOCK_FDS`): an flock belongs to the open file, so a
copy would keep a lock the parent takes (or took) alive for the child's lifetime.

Between holds the lock file stays open, unlocked (LOCK_UN), for the next hold: flock, then
one lstat checks that the path still names that file (else it is closed and the path opened
afresh), instead of open + fstat + flock + close. At most IDLE_MAX such idle files per
process (the least recently used closed), and a lock dropped closes its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator

from .errors import LockTimeoutError
from .kept_fds import file_id, pid
from .safe_files import _fail, _open_stat_for_writing

# The lock files this process has open, and the guard taken around each open (with its
# registration here) and close: a fork waits for it, so that no fd is ever open but not yet
# listed when a thread forks; the child closes every listed one (`_after_fork_in_child`).
_LOCK_FDS: set[int] = set()
_FORK_GUARD = threading.Lock()
# Locks whose file is open but not locked between holds (`_TenantLock._idle`), least recently
# used first, under _FORK_GUARD: past IDLE_MAX the oldest is closed (a process writing to many
# tenants keeps a bounded number of files open)
IDLE_MAX = 64
_IDLE: OrderedDict[int, weakref.ref] = OrderedDict()
# Kept lock files of locks collected while _FORK_GUARD was taken (a collection runs in any
# thread, maybe the one holding it): still listed in _LOCK_FDS, closed by the guard's next holder
_DEFERRED: list[tuple[int, int]] = []  # (fd, id of the lock collected)


def _close_deferred() -> None:
    """Close the files `_TenantLock.__del__` left to the guard's holder; call holding _FORK_GUARD."""
    while _DEFERRED:
        fd, key = _DEFERRED.pop()
        ref = _IDLE.get(key)
        if ref is not None and ref() is None:
            del _IDLE[key]
        _LOCK_FDS.discard(fd)
        with contextlib.suppress(OSError):
            os.close(fd)


def _open_lock_file(path: str) -> tuple[int, tuple[int, int]]:
    """The lock file opened (never following a symlink nor waiting on a FIFO), listed in
    `_LOCK_FDS`, and its (device, inode)."""
    with _FORK_GUARD:
        _close_deferred()
        fd, info = _open_stat_for_writing(path, os.O_RDWR | os.O_CREAT, "open lock file")
        _LOCK_FDS.add(fd)
    return fd, file_id(info)


def _close_lock_file(fd: int) -> None:
    """Close a lock file (releasing its flock) and unlist it."""
    with _FORK_GUARD:
        _close_deferred()
        _LOCK_FDS.discard(fd)
        os.close(fd)


def _before_fork() -> None:
    _FORK_GUARD.acquire()


def _after_fork_in_parent() -> None:
    _FORK_GUARD.release()


def _after_fork_in_child() -> None:
    """The parent's lock files are not the child's: close its copies (the parent's flocks stay)."""
    global _FORK_GUARD
    for fd in _LOCK_FDS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _LOCK_FDS.clear()
    _IDLE.clear()
    _DEFERRED.clear()  # (listed in _LOCK_FDS: closed above)
    _FORK_GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


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
        self._inode: tuple[int, int] = (0, 0)  # (device, inode) of the file `_fd` was opened on
        # (fd, (device, inode), pid) of the lock file kept open, unlocked, between holds (in `_IDLE`), or None
        self._kept: tuple[int, tuple[int, int], int] | None = None
        self._generation = 0  # bumped in a forked child (`forked`): holds from before are not its own
        self._void = 0  # in a forked child: the parent's holds the child's thread is still inside
        self._ref = weakref.ref(self)  # what `_IDLE` holds of it

    def forked(self) -> None:
        """In a forked child: the parent's holds are not the child's. Its copy of the flock's
        fd is closed by `_after_fork_in_child` with every other lock file (the flock stays the
        parent's: no unlock) and the thread lock is new (a parent thread may have held it)."""
        # (+ the holds of an earlier parent it is still inside: a child's child is inside them too)
        self._void = (self._depth if self._owner == threading.get_ident() else 0) + self._void
        self._thread_lock = threading.RLock()
        self._depth, self._owner, self._fd, self._kept = 0, None, None, None
        self._generation += 1

    def forked_inside(self) -> bool:
        """True in a child forked while its thread held the lock, until it leaves that hold:
        the hold is the parent's, so the child must not write as if it held it (the storage
        refuses its head and index writes) unless it takes the lock anew."""
        return self._void > 0 and self._owner != threading.get_ident()

    def __del__(self):
        """Close the kept lock file under _FORK_GUARD when it is free; else (a collection in a
        thread holding it, or while another does: never waited on) leave it to the guard's
        next holder, still listed, so that a fork meanwhile still closes the child's copy."""
        kept = self._kept
        if kept is None or kept[2] != pid():
            return
        self._kept = None
        _DEFERRED.append((kept[0], id(self)))
        if _FORK_GUARD.acquire(blocking=False):
            try:
                if _IDLE.get(id(self)) is self._ref:  # (its weak reference is alive until __del__ returns)
                    del _IDLE[id(self)]
                _close_deferred()
            finally:
                _FORK_GUARD.release()

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
                            self._release_file_lock(self._fd)
                            self._fd = None
        finally:
            if generation == self._generation:
                thread_lock.release()
            elif self._void > 0:  # a hold of the parent's, left by the child
                self._void -= 1

    def held_here(self) -> bool:
        """True when the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    def _timeout_message(self, timeout: float) -> str:
        if timeout <= 0:
            return f"{self.path} is held by another writer (not waiting)"
        return f"timed out after {timeout:g}s waiting for {self.path}"

    def _acquire_file_lock(self, timeout: float) -> int:
        """The lock file flocked: the one kept from the last hold while its path still names
        it (flock, then one lstat), else opened afresh. Never follows a symlink (a reader
        would create its target) nor waits on a FIFO."""
        deadline = time.monotonic() + timeout
        kept = self._take_idle()
        if kept is not None:
            fd, inode = kept
            self._flock(fd, timeout, deadline)
            try:
                info = os.lstat(self.path)
            except OSError:
                info = None
            if info is not None and stat.S_ISREG(info.st_mode) and file_id(info) == inode:
                self._inode = inode
                return fd
            _close_lock_file(fd)  # another file is named head.lock now (closing releases the flock)
        fd, self._inode = _open_lock_file(self.path)
        self._flock(fd, timeout, deadline)
        return fd

    def _flock(self, fd: int, timeout: float, deadline: float) -> None:
        """flock `fd`, retried until `deadline`; the fd is closed when it fails."""
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    _close_lock_file(fd)
                    raise LockTimeoutError(self._timeout_message(timeout)) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
            except OSError as exc:
                _close_lock_file(fd)
                raise _fail("lock", self.path, exc) from exc

    def _release_file_lock(self, fd: int) -> None:
        """Unlock the file and keep it open for the next hold (closed if the unlock fails:
        closing releases the flock too)."""
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            _close_lock_file(fd)
            return
        closing: list[int] = []
        with _FORK_GUARD:
            _close_deferred()
            if fd not in _LOCK_FDS:  # (a fork's child closed them all: not ours)
                return
            self._kept = (fd, self._inode, pid())
            _IDLE[id(self)] = self._ref
            while len(_IDLE) > IDLE_MAX:
                other = _IDLE.popitem(last=False)[1]()
                if other is not None and other._kept is not None:
                    closing.append(other._kept[0])
                    _LOCK_FDS.discard(other._kept[0])
                    other._kept = None
        for other_fd in closing:
            with contextlib.suppress(OSError):
                os.close(other_fd)

    def _take_idle(self) -> tuple[int, tuple[int, int]] | None:
        """The (fd, (device, inode)) kept open from the last hold, now this hold's; None when none is."""
        with _FORK_GUARD:
            _close_deferred()
            kept, self._kept = self._kept, None
            _IDLE.pop(id(self), None)
        if kept is None or kept[2] != pid():
            return None
        return kept[0], kept[1]
