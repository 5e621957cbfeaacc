"""All file-system access of the engine: objects, refs, heads, history indexes, locks.

The engine talks to a `Storage` only through the methods below, so another backend
(a shared object store) can stand in for `LocalStorage` without touching the engine.
Writes are atomic (temp file in the same folder, fsync, rename, fsync of the folder)
and durable unless `durable=False`.

Files that are not what they seem: every read opens without blocking and without
following a final symlink, checks that it got a regular file and reads no more than its
size (a head at most HEAD_LIMIT bytes), so a FIFO, a socket, a device or a symlink in
place of a file is reported as damage naming it, never waited on or read forever. Writes
never go through a symlink out of the root: files are created with O_NOFOLLOW, and the
folders written into must resolve inside the root. A content-addressed file that exists
but does not hold the expected bytes is replaced (an acknowledged write is readable).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

from .errors import (
    CorruptObjectError,
    DbEngineError,
    DigestNotFoundError,
    LockTimeoutError,
    NotInitializedError,
    StorageError,
)
from .names import DIGEST_RE, check_digest, check_tenant

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


class FileToken(NamedTuple):
    """Identity of a file's current content, for caches and change watching."""

    inode: int
    size: int
    mtime_ns: int


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
    try:
        fd = os.open(path, flags | _SAFE, 0o644)
    except OSError as exc:
        mode = _lstat_mode(path) if exc.errno in _NOT_REGULAR_ERRNOS else None
        if mode is not None and not stat.S_ISREG(mode):
            raise _refused(action, path, mode) from None
        raise _fail(action, path, exc) from exc
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise _fail(action, path, exc) from exc
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _refused(action, path, mode)
    return fd


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
        self._fd: int | None = None

    @contextlib.contextmanager
    def hold(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the lock; `timeout` overrides the default wait (0: try once, never wait)."""
        timeout = self.timeout if timeout is None else timeout
        acquired = self._thread_lock.acquire(timeout=timeout) if timeout > 0 else self._thread_lock.acquire(blocking=False)
        if not acquired:
            raise LockTimeoutError(self._timeout_message(timeout))
        try:
            if self._depth == 0:
                self._fd = self._acquire_file_lock(timeout)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)  # closing releases the flock
                    self._fd = None
        finally:
            self._thread_lock.release()

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
    """A database in a folder on the local file system (the layout of the spec)."""

    def __init__(self, root: str, durable: bool = True, lock_timeout: float = 30.0):
        self.root = os.path.abspath(os.fspath(root))
        self.durable = durable
        self.lock_timeout = lock_timeout
        self._locks: dict[str, _TenantLock] = {}
        self._locks_guard = threading.Lock()
        self._root_prefix = os.path.join(self.root, "")
        self._inside: set[str] = set()  # folders known to lie inside the root (no symlink out)

    # ------------------------------------------------------------------ paths
    def tenant_dir(self, tenant: str) -> str:
        return os.path.join(self.root, check_tenant(tenant))

    def object_path(self, tenant: str, digest: str) -> str:
        check_digest(digest)
        return os.path.join(self.tenant_dir(tenant), "objects", digest[:PREFIX_LEN], digest)

    def ref_path(self, digest: str) -> str:
        check_digest(digest)
        return os.path.join(self.root, "refs", digest[:PREFIX_LEN], digest)

    def head_path(self, tenant: str) -> str:
        return os.path.join(self.tenant_dir(tenant), "head")

    def index_path(self, tenant: str, entry: str) -> str:
        name = hashlib.sha256(entry.encode("utf-8")).hexdigest()
        return os.path.join(self.tenant_dir(tenant), "index", name)

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
                        self.write_head(tenant, b"{}")
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
        return self._read(self.object_path(tenant, digest), f"object {digest} of tenant {tenant!r}")

    def has_object(self, tenant: str, digest: str) -> bool:
        return os.path.isfile(self.object_path(tenant, digest))

    def write_object(self, tenant: str, digest: str, data: bytes) -> bool:
        """Store an object; False when it already existed (content addressing)."""
        return self._write_content(self.object_path(tenant, digest), data)

    def iter_objects(self, tenant: str) -> Iterator[str]:
        yield from self._iter_digests(os.path.join(self.tenant_dir(tenant), "objects"))

    def read_ref(self, digest: str) -> bytes:
        return self._read(self.ref_path(digest), f"ref {digest}")

    def has_ref(self, digest: str) -> bool:
        return os.path.isfile(self.ref_path(digest))

    def ref_size(self, digest: str) -> int:
        try:
            return os.stat(self.ref_path(digest)).st_size
        except FileNotFoundError:
            raise DigestNotFoundError(f"ref {digest} not found in {self.root}/refs") from None

    def write_ref(self, digest: str, data: bytes) -> bool:
        return self._write_content(self.ref_path(digest), data)

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
    def read_head(self, tenant: str) -> tuple[bytes, FileToken] | None:
        """The head file's bytes and identity token, or None if the tenant has no head."""
        path = self.head_path(tenant)
        try:
            data, info, _offset = _read_regular(path, f"head of tenant {tenant!r}", limit=HEAD_LIMIT)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc
        return data, FileToken(info.st_ino, info.st_size, info.st_mtime_ns)

    def head_token(self, tenant: str) -> FileToken | None:
        try:
            stat = os.stat(self.head_path(tenant))
        except FileNotFoundError:
            return None
        return FileToken(stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def write_head(self, tenant: str, data: bytes, expected: object = ...) -> bool:
        """Replace the head atomically; call only while holding `lock(tenant)`.

        `expected` (the token read with the head) makes it a compare-and-swap for backends
        without locks; under the file lock nobody else can have moved it, so always True.
        """
        self._write_atomic(self.head_path(tenant), data)
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

    def read_index_range(self, tenant: str, entry: str, offset: int, nbytes: int) -> tuple[bytes, int] | None:
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

    def append_index(self, tenant: str, entry: str, data: bytes) -> None:
        """Append lines to an index; call only while holding `lock(tenant)`.

        Never fsynced: the index is a cache checked against the head, and lines lost or
        torn by a crash are rebuilt from the objects on the next read.
        """
        path = self.index_path(tenant, entry)
        try:
            self._mkdir(os.path.dirname(path))
            self._check_inside(os.path.dirname(path))
            fd = _open_for_writing(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "append to")
            try:
                _write_all(fd, data)
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

    def _write_content(self, path: str, data: bytes) -> bool:
        """Store content-addressed bytes; False when the file already holds exactly them.

        An existing file of another size or other bytes (truncated, damaged), or one that is
        not a regular file or cannot be read, is replaced atomically like a new one: an
        acknowledged write is always readable. Comparing the bytes costs about what
        hashing them did, and only when the sizes match.
        """
        if self._holds(path, data):
            return False
        self._write_with_folder(path, data)
        return True

    @staticmethod
    def _holds(path: str, data: bytes) -> bool:
        try:
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
            self._mkdir(os.path.dirname(path))
        except StorageError:
            raise
        except OSError as exc:
            raise _fail("create folder for", path, exc) from exc
        self._write_atomic(path, data, durable)

    def _write_atomic(self, path: str, data: bytes, durable: bool | None = None) -> None:
        durable = self.durable if durable is None else durable
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
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise _fail("write", path, exc) from exc
        if durable:
            try:
                self._fsync_dir(folder)
            except OSError as exc:
                raise _fail("sync folder of", path, exc) from exc

    def _mkdir(self, folder: str) -> None:
        if os.path.isdir(folder):
            return
        parent = os.path.dirname(folder)
        if parent and parent != folder and not os.path.isdir(parent):
            self._mkdir(parent)
        inside = folder.startswith(self._root_prefix)
        if inside:  # never create a folder through a symlink out of the root
            self._check_inside(parent)
        try:
            os.mkdir(folder)
        except FileExistsError:
            return
        if inside:
            self._remember_inside(folder)  # made here, in a folder inside: no symlink
        if self.durable:
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
