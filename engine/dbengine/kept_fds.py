"""`KeptFds`: files a storage keeps open for appending between calls (the history indexes'
append fds), so that a commit's append costs one lstat (is the path still that file?)
instead of an open, fstat and close. Bounded (the least recently used closed first),
closed with the storage (an engine let go leaves no open file), never used by a forked
child (it opens its own), and never trusted blindly: `take` hands an fd out only while
the path names the very file it was opened on, a regular file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import NamedTuple

KEPT_MAX = 32  # append fds kept per storage
_PID = os.getpid()  # this process's id, kept (os.getpid is a system call), set anew in a forked child


def pid() -> int:
    """This process's id, without a system call (updated after a fork)."""
    return _PID


def _after_fork_in_child() -> None:
    global _PID
    _PID = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def file_id(info: os.stat_result) -> tuple[int, int]:
    """A file's identity: (device, inode); an inode number alone repeats across file systems."""
    return info.st_dev, info.st_ino


class FileToken(NamedTuple):
    """Identity of a file's current content, for caches and change watching (`device`: its
    file system's, so that the same inode number on another one is another file)."""

    inode: int
    size: int
    mtime_ns: int
    device: int = 0

    @classmethod
    def of(cls, info: os.stat_result) -> FileToken:
        """The token of a stat."""
        return cls(info.st_ino, info.st_size, info.st_mtime_ns, info.st_dev)


class OwnedFd:
    """An fd this object owns (-1: none): closed with it, so a dropped index, kept journal,
    kept append file or pack leaves no open file behind. Subclasses declare `fd` in their slots."""

    __slots__ = ()
    fd: int

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def __del__(self):
        self.close()


class _Kept(OwnedFd):
    """An fd owned (closed when dropped), the file it was opened on (`file_id`), the process that opened it."""

    __slots__ = ("fd", "identity", "pid")

    def __init__(self, fd: int, identity: tuple[int, int]):
        self.fd, self.identity, self.pid = fd, identity, _PID


class KeptFds:
    """Append fds by key, at most `limit` (least recently used closed first); thread-safe."""

    def __init__(self, limit: int = KEPT_MAX):
        self.limit = limit
        self.guard = threading.Lock()
        self._fds: OrderedDict[Hashable, _Kept] = OrderedDict()

    def forked(self) -> None:
        """In a forked child: a new guard (the parent's fds: `take` closes its copies, never uses them)."""
        self.guard = threading.Lock()

    def take(self, key: Hashable, path: str, known: FileToken | None = None) -> tuple[int, int] | None:
        """The fd kept for `key`, now the caller's (`keep` it again or close it), with the file's
        size, while `path` names its file: the same (device, inode), a regular file, as an lstat of it says
        (`known`: the token of one the caller took under the lock that keeps the file
        as it is); None: none kept, or the path names another file now (the kept fd is closed)."""
        with self.guard:
            kept = self._fds.pop(key, None)
        if kept is None:
            return None
        if kept.pid == _PID:  # (a forked child closes its copy and opens its own)
            if known is None:
                try:
                    info = os.lstat(path)
                except OSError:
                    info = None
                if info is not None and stat.S_ISREG(info.st_mode):  # (a link's own inode is never the file's)
                    known = FileToken.of(info)
            if known is not None and (known.device, known.inode) == kept.identity:
                fd, kept.fd = kept.fd, -1
                return fd, known.size
        kept.close()
        return None

    def keep(self, key: Hashable, fd: int, identity: tuple[int, int]) -> None:
        """Keep `fd` (opened on the file `identity`, see `file_id`) for the next `take` of `key`."""
        closing = []
        with self.guard:
            old = self._fds.pop(key, None)
            if old is not None:
                closing.append(old)
            self._fds[key] = _Kept(fd, identity)
            while len(self._fds) > self.limit:
                closing.append(self._fds.popitem(last=False)[1])
        for kept in closing:
            kept.close()

    def drop(self, key: Hashable) -> None:
        """Close the fd kept for `key`, if any."""
        with self.guard:
            kept = self._fds.pop(key, None)
        if kept is not None:
            kept.close()
