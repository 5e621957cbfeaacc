"""`LocalIndex`: a local database's history index files (`{tenant}/index/{sha256(entry)}`):
their bytes read whole, from an offset, as a tail or a window, their tokens, appends through
an fd kept open between commits (`KeptFds`), atomic rewrites. Bytes only: the line format
is the engine's (index_format.py); `LocalStorage` holds one and delegates to it."""

from __future__ import annotations

import os
from collections.abc import Callable

from .errors import StorageError
from .kept_fds import FileToken, KeptFds, file_id
from .root_files import RootFiles
from .safe_files import _fail, _open_regular, _open_stat_for_writing, _read_if_there, _write_all


class LocalIndex:
    """The history index files of one root; `index_path` names an entry's file and
    `refuse_if_forked_inside(tenant, action)` stops a write by a child forked inside a hold."""

    def __init__(self, files: RootFiles, index_path: Callable[[str, str], str],
                 refuse_if_forked_inside: Callable[[str, str], None]):
        self.files = files
        self.path = index_path
        self._refuse_if_forked_inside = refuse_if_forked_inside
        self.fds = KeptFds()  # (tenant, entry) -> its history index's append fd, kept open

    def forked(self) -> None:
        """In a forked child: the parent's kept fds are not used (`KeptFds.forked`)."""
        self.fds.forked()

    def read(self, tenant: str, entry: str, offset: int = 0) -> tuple[bytes, FileToken] | None:
        """Bytes of an entry's history index from `offset`, and the file's token."""
        path = self.path(tenant, entry)
        read = _read_if_there(path, f"history index of {entry!r}", offset=offset)
        if read is None:
            return None
        data, info, _offset = read
        return data, FileToken.of(info)

    def read_tail(self, tenant: str, entry: str, nbytes: int) -> tuple[bytes, int] | None:
        """The last `nbytes` of an entry's index and the offset they start at (None: no index)."""
        path = self.path(tenant, entry)
        read = _read_if_there(path, f"history index of {entry!r}", tail=nbytes)
        return None if read is None else (read[0], read[2])

    def read_range(self, tenant: str, entry: str, offset: int, nbytes: int) -> tuple[bytes, int, int] | None:
        """Up to `nbytes` of an entry's index from `offset` (a negative offset counts from the
        end): (the bytes, the offset they start at, the file's size); None when there is no index."""
        path = self.path(tenant, entry)
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

    def token(self, tenant: str, entry: str) -> FileToken | None:
        """The index file's token (lstat: a symbolic link in its place has a token of its own,
        never its target's: `append` trusts a token naming the file it keeps open)."""
        try:
            stat = os.lstat(self.path(tenant, entry))
        except FileNotFoundError:
            return None
        return FileToken.of(stat)

    def append(self, tenant: str, entry: str, data: bytes, expected: object = None) -> tuple[int, FileToken]:
        """Append lines to an index; call only while holding the tenant's lock (so the index
        is still the `expected` one the caller read: no check needed here). Returns the
        file's size before the append and its token after it, so that a caller holding the
        index up to that size adds the lines without reading them back. The file is kept
        open for the entry's next append, used while the path names it: as `expected` (a
        `token` taken under this lock) says, else as an lstat says (`KeptFds.take`).

        Never fsynced: the index is a cache checked against the head, and lines lost or
        torn by a crash are rebuilt from the objects on the next read.
        """
        self._refuse_if_forked_inside(tenant, "append to an index of")
        path = self.path(tenant, entry)
        key = (tenant, entry)
        try:
            folder = os.path.dirname(path)
            if not self.files.known_inside(folder):  # (checked once a hold: the kept fd's file may have left the root)
                self.files.check_inside(folder)
                if not self.files.known_inside(folder):  # absent (or no hold: made if missing, checked again)
                    self.files.mkdir(folder)
                    self.files.check_inside(folder)
            kept = self.fds.take(key, path, expected if isinstance(expected, FileToken) else None)
            if kept is None:
                fd, info = _open_stat_for_writing(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "append to")
                kept = fd, info.st_size
            fd, before = kept
            try:
                _write_all(fd, data)
                info = os.fstat(fd)
            except BaseException:
                os.close(fd)
                raise
            self.fds.keep(key, fd, file_id(info))
            return before, FileToken.of(info)
        except StorageError:
            raise
        except OSError as exc:
            raise _fail("append to", path, exc) from exc

    def write(self, tenant: str, entry: str, data: bytes) -> None:
        """Rewrite an index atomically (repair); call only while holding the tenant's lock.
        Not fsynced, like `append`: a cache."""
        self._refuse_if_forked_inside(tenant, "write an index of")
        self.fds.drop((tenant, entry))  # the file it appends to is replaced
        self.files.write_with_folder(self.path(tenant, entry), data, durable=False)
