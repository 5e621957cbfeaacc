"""All file-system access of the engine: objects, refs, heads, history indexes, locks.

The engine talks to a `Storage` only through the methods below, so another backend
(a shared object store) can stand in for `LocalStorage` without touching the engine.
Writes are atomic (temp file in the same folder, fsync, rename, fsync of the folder)
and durable unless `durable=False`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

from .errors import (
    DigestNotFoundError,
    LockTimeoutError,
    NotInitializedError,
    StorageError,
)
from .names import DIGEST_RE, check_digest, check_tenant

TMP_PREFIX = ".tmp-"
PREFIX_LEN = 24


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
            raise LockTimeoutError(f"timed out after {timeout:.0f}s waiting for {self.path}")
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

    def _acquire_file_lock(self, timeout: float) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _fail("open lock file", self.path, exc) from exc
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeoutError(
                        f"timed out after {timeout:.0f}s waiting for {self.path}"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
            except OSError as exc:
                os.close(fd)
                raise _fail("lock", self.path, exc) from exc


def open_storage(root: str, *, durable: bool = True, lock_timeout: float = 30.0,
                 s3_endpoint: str | None = None):
    """The storage of a root: `s3://bucket/prefix` (needs boto3) or a local folder."""
    if isinstance(root, str) and root.startswith("s3://"):
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

    # ------------------------------------------------------------------ heads
    def read_head(self, tenant: str) -> tuple[bytes, FileToken] | None:
        """The head file's bytes and identity token, or None if the tenant has no head."""
        path = self.head_path(tenant)
        try:
            with open(path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                return handle.read(), FileToken(stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc

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
        with lock.hold(timeout):
            yield

    # ------------------------------------------------------------------ history index
    def read_index(self, tenant: str, entry: str, offset: int = 0) -> tuple[bytes, FileToken] | None:
        """Bytes of an entry's history index from `offset`, and the file's token."""
        path = self.index_path(tenant, entry)
        try:
            with open(path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                if offset:
                    handle.seek(offset)
                return handle.read(), FileToken(stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc

    def read_index_tail(self, tenant: str, entry: str, nbytes: int) -> tuple[bytes, int] | None:
        """The last `nbytes` of an entry's index and the offset they start at (None: no index)."""
        path = self.index_path(tenant, entry)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                start = max(size - nbytes, 0)
                handle.seek(start)
                return handle.read(), start
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc

    def index_token(self, tenant: str, entry: str) -> FileToken | None:
        try:
            stat = os.stat(self.index_path(tenant, entry))
        except FileNotFoundError:
            return None
        return FileToken(stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def append_index(self, tenant: str, entry: str, data: bytes) -> None:
        """Append lines to an index; call only while holding `lock(tenant)`."""
        path = self.index_path(tenant, entry)
        try:
            self._mkdir(os.path.dirname(path))
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _write_all(fd, data)
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _fail("append to", path, exc) from exc

    def write_index(self, tenant: str, entry: str, data: bytes) -> None:
        """Rewrite an index atomically (repair); call only while holding `lock(tenant)`."""
        self._write_with_folder(self.index_path(tenant, entry), data)

    # ------------------------------------------------------------------ low level
    def _read(self, path: str, what: str) -> bytes:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise DigestNotFoundError(f"{what} not found ({path})") from None
        except IsADirectoryError:
            raise DigestNotFoundError(f"{what} not found ({path} is a folder)") from None
        except OSError as exc:
            raise _fail("read", path, exc) from exc

    def _write_content(self, path: str, data: bytes) -> bool:
        if os.path.isfile(path):
            return False
        self._write_with_folder(path, data)
        return True

    def _write_with_folder(self, path: str, data: bytes) -> None:
        try:
            self._mkdir(os.path.dirname(path))
        except OSError as exc:
            raise _fail("create folder for", path, exc) from exc
        self._write_atomic(path, data)

    def _write_atomic(self, path: str, data: bytes) -> None:
        folder = os.path.dirname(path)
        temp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                _write_all(fd, data)
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise _fail("write", path, exc) from exc
        if self.durable:
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
        try:
            os.mkdir(folder)
        except FileExistsError:
            return
        if self.durable:
            self._fsync_dir(parent)

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
