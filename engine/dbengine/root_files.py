"""`RootFiles`: the atomic file writes under a database root, never out of it.

A file is written as a temp file in its folder, then renamed over its path (fsynced, with
its folder, when durable); a content-addressed file already holding exactly its bytes is
kept, one holding other bytes is replaced (an acknowledged write is readable). Files are
created with O_NOFOLLOW and every folder written into must resolve inside the root (a
symlink out of it is refused, StorageError); a folder checked is trusted, by a thread inside a
tenant lock hold only, until the next hold begins or ends anywhere (`hold_begins`, `hold_ends`):
a write outside any hold (an import, an object of a `durable=False` writer) checks its folders
each time. Reads: `read`, a regular file or DigestNotFoundError (safe_files.py).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading

from .errors import DbEngineError, DigestNotFoundError, StorageError
from .safe_files import (
    _NOFOLLOW,
    _fail,
    _fsync_dir,
    _kind,
    _lstat_mode,
    _open_regular,
    _read_fd,
    _read_regular,
    _write_all,
)

TMP_PREFIX = ".tmp-"
_FOLDER_CACHE_MAX = 10_000


class RootFiles:
    """Writes and reads of files under `root`; `durable` is the default of every write
    (a durable write fsyncs the file and its folder)."""

    def __init__(self, root: str, durable: bool):
        self.root = root
        self.durable = durable
        self._root_prefix = os.path.join(self.root, "")
        self.inside: set[str] = set()  # folders checked to lie inside the root since `recheck`
        self._holds = threading.local()  # .depth: the tenant lock holds the calling thread is in

    def read(self, path: str, what: str) -> bytes:
        """A regular file's bytes; DigestNotFoundError (naming `what`) when absent or a folder."""
        try:
            return _read_regular(path, what)[0]
        except FileNotFoundError:
            raise DigestNotFoundError(f"{what} not found ({path})") from None
        except IsADirectoryError:
            raise DigestNotFoundError(f"{what} not found ({path} is a folder)") from None
        except OSError as exc:
            raise _fail("read", path, exc) from exc

    def write_content(self, path: str, data: bytes, durable: bool | None = None) -> bool:
        """Store content-addressed bytes; False when the file already holds exactly them.

        An existing file of another size or other bytes (truncated, damaged), or one that is
        not a regular file or cannot be read, is replaced atomically like a new one: an
        acknowledged write is always readable. Comparing the bytes costs about what
        hashing them did, and only when the sizes match.
        """
        if self.holds(path, data):
            return False
        self.write_with_folder(path, data, durable)
        return True

    @staticmethod
    def holds(path: str, data: bytes) -> bool:
        """True when `path` is a regular file holding exactly `data` (read only when the sizes match)."""
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

    def write_with_folder(self, path: str, data: bytes, durable: bool | None = None) -> None:
        """`write_atomic`, its folder (and theirs) made first when missing."""
        try:
            self.mkdir(os.path.dirname(path), durable)
        except StorageError:
            raise
        except OSError as exc:
            raise _fail("create folder for", path, exc) from exc
        self.write_atomic(path, data, durable)

    def write_atomic(self, path: str, data: bytes, durable: bool | None = None) -> None:
        """Replace `path` by a temp file holding `data` (durable: the file and its folder fsynced)."""
        durable = self.durable if durable is None else durable
        folder = os.path.dirname(path)
        self.install(self.write_temp(path, data, durable), path)
        if durable:
            try:
                _fsync_dir(folder)
            except OSError as exc:
                raise _fail("sync folder of", path, exc) from exc

    def write_temp(self, path: str, data: bytes, durable: bool = False) -> str:
        """A temp file beside `path` holding `data` (fsynced if `durable`), for `install`."""
        folder = os.path.dirname(path)
        self.check_inside(folder)
        temp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}")
        return _create_temp(temp, path, data, durable)

    @staticmethod
    def install(temp: str, path: str) -> None:
        """Rename a temp file of `write_temp` over `path` (removing it if that fails)."""
        try:
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise _fail("write", path, exc) from exc

    def mkdir(self, folder: str, durable: bool | None = None) -> None:
        """Make a folder and missing parents, never through a symlink out of the root."""
        if os.path.isdir(folder):
            return
        parent = os.path.dirname(folder)
        if parent and parent != folder and not os.path.isdir(parent):
            self.mkdir(parent, durable)
        inside = folder.startswith(self._root_prefix)
        if inside:  # never create a folder through a symlink out of the root
            self.check_inside(parent)
        try:
            os.mkdir(folder)
        except FileExistsError:
            return
        if inside:
            self.remember_inside(folder)  # made here, in a folder inside: no symlink
        if self.durable if durable is None else durable:
            _fsync_dir(parent)

    def check_inside(self, folder: str) -> None:
        """Refuse (StorageError) to write into a folder that resolves outside the root.

        Folders checked since `recheck` cost a set lookup in a hold; others one lstat per level not seen yet (a real
        folder inside a folder inside the root is inside), and a realpath when it is a
        symlink. The root itself may be a symlink: everything is compared with its realpath.
        """
        if folder == self.root or self.known_inside(folder):
            return
        if not folder.startswith(self._root_prefix):
            raise StorageError(f"cannot write in {folder}: it is not inside the database root {self.root}")
        self.check_inside(os.path.dirname(folder))
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
        self.remember_inside(folder)

    def recheck(self) -> None:
        """Forget the folders checked: each is checked again (one lstat) before the next write
        into it. Called as a tenant lock is taken and let go, so that a folder swapped for a
        symlink out of the root meanwhile (the tenant's, its `index/`, `objects/<prefix>/`,
        `packs/`) is never written through, by a new file or a kept fd."""
        self.inside.clear()

    def hold_begins(self) -> None:
        """The calling thread enters a tenant lock hold: every folder is checked afresh (`recheck`),
        then trusted by the threads in a hold until the next hold begins or ends."""
        self.recheck()
        self._holds.depth = self._depth() + 1

    def hold_ends(self) -> None:
        """The calling thread leaves a hold (`hold_begins`): the folders are checked afresh."""
        self._holds.depth = max(0, self._depth() - 1)
        self.recheck()

    def forked(self) -> None:
        """In a forked child: the holds of the forking thread were the parent's; nothing is trusted."""
        self._holds = threading.local()
        self.recheck()

    def _depth(self) -> int:
        return getattr(self._holds, "depth", 0)

    def known_inside(self, folder: str) -> bool:
        """True when `folder` was checked since the last `recheck` and the calling thread is in
        a hold (outside one, a folder may be swapped between two writes with no hold between)."""
        return folder in self.inside and self._depth() > 0

    def remember_inside(self, folder: str) -> None:
        """Note a folder known to lie inside the root (a bounded set)."""
        if len(self.inside) >= _FOLDER_CACHE_MAX:  # one folder per object: keep it bounded
            self.inside.clear()
        self.inside.add(folder)

    def write_new(self, path: str, data: bytes) -> None:
        """Write a content-addressed file not known to be there: its folder is made first and,
        when that succeeds, is new (no lookups before: most objects have a folder of their
        own); when the folder exists, a file already holding exactly `data` is kept.

        In a folder made here the temp file is named without a random part (no other file
        can be there but another writer's, whose name holds its own process and thread) and
        written with no further check: mkdir, open, write, close, rename, nothing else."""
        folder = os.path.dirname(path)
        parent = os.path.dirname(folder)
        if not self.known_inside(parent):
            self.check_inside(parent)
        try:
            os.mkdir(folder)
        except FileExistsError:  # the object itself (then skipped), another of its prefix, or damage (replaced)
            if self.holds(path, data):
                return
        except FileNotFoundError:
            self.write_with_folder(path, data, durable=False)  # parent folders missing
            return
        except OSError as exc:
            raise _fail("create folder for", path, exc) from exc
        else:
            self.remember_inside(folder)  # made here, in a folder inside: no symlink
            temp = f"{folder}{os.sep}{TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-new"
            self.install(_create_temp(temp, path, data, durable=False), path)
            return
        self.install(self.write_temp(path, data), path)


def _create_temp(temp: str, path: str, data: bytes, durable: bool) -> str:
    """Create `temp` (never an existing file or a symlink), write `data` (fsynced if
    `durable`) and return it; on failure it is removed and the error names `path`."""
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
