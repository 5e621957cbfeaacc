"""`_TenantLock`: a tenant's writer lock, a thread RLock plus an flock on `{tenant}/head.lock`.

flock is released by the kernel when its holder dies, so a killed writer never blocks the
database; a forked child lets go of the holds it inherited (`forked`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator

from .errors import LockTimeoutError
from .safe_files import _fail, _open_for_writing


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
