"""`LocalStorage`: a database in a folder: paths, tenants, heads, tenant locks and caches, composing
its parts (dulwich-style): the object and ref files (`LocalObjects`, local_objects.py), the
history index files (`LocalIndex`, local_index.py), the journals (journal_store.py), the packs
(packs.py) and its atomic file writes (root_files.py).

The engine talks to a `Storage` only through the methods below, so another backend
(a shared object store) can stand in for `LocalStorage` without touching the engine.
Writes are atomic (temp file in the same folder, rename). With `durable=True` (the
default) a commit is made durable by one append + fdatasync of the tenant's journal
(`TenantJournals` in journal_store.py, which the storage holds and delegates to, its
checkpoints and replays in journal_checkpoint.py; see docs/RELIABILITY.md): ref files are written without fsync, the commit's objects and its
head get no file (readers take them from the journal: the head from its last record,
`read_head`), and a checkpoint runs when the journal passes JOURNAL_LIMIT. A journal left
by an earlier boot is replayed before the tenant is read or written. `durable=False`
syncs nothing (and checkpoints a journal holding records before it replaces the head file).
A commit's (or a checkpoint's) record-tree nodes, when there are PACK_MIN or more, go into one
pack file per commit (`Packs` in packs.py, which the storage holds and delegates to).

Files that are not what they seem: every read goes through safe_files.py (no blocking, no
final symlink followed, a regular file read up to its size), so a FIFO, a socket, a device
or a symlink in place of a file is reported as damage naming it. Writes never go through a
symlink out of the root: files are created with O_NOFOLLOW, and the folders written into
must resolve inside the root. A content-addressed file that exists but does not hold the
expected bytes is replaced (an acknowledged write is readable). Tenant locks: tenant_lock.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import weakref
from collections.abc import Iterator
from typing import NamedTuple

from . import journal
from .errors import (
    DbEngineError,
    DigestNotFoundError,
    NotInitializedError,
    StorageError,
)
from .journal_checkpoint import JOURNAL_NAME
from .journal_store import TenantJournals
from .kept_fds import FileToken
from .local_index import LocalIndex
from .local_objects import PREFIX_LEN, LocalObjects
from .names import check_digest, check_tenant
from .packs import Packs
from .root_files import _FOLDER_CACHE_MAX, TMP_PREFIX, RootFiles
from .safe_files import (
    HEAD_LIMIT,
    _fail,
    _kind,
    _read_if_there,
)
from .tenant_lock import _TenantLock


class HeadToken(NamedTuple):
    """Identity of a tenant's head: its journal's (inode, size) (zeros: none) and its head
    file's, with the later mtime of the two (for heads.py's racy-read rule). A durable commit
    grows the journal, a checkpoint empties it after replacing the head file: every change
    of the head changes it. `device`: the head file's (st_dev), so that a file of another file
    system with the same inode, size and mtime is another head (as kept_fds.FileToken)."""

    journal_inode: int
    journal_size: int
    inode: int
    size: int
    mtime_ns: int
    device: int = 0


def _head_token(journal_info: os.stat_result | None, head_info: os.stat_result | None) -> HeadToken:
    journal_mtime = journal_info.st_mtime_ns if journal_info is not None else 0
    return HeadToken(journal_info.st_ino if journal_info is not None else 0,
                     journal_info.st_size if journal_info is not None else 0,
                     head_info.st_ino if head_info is not None else 0,
                     head_info.st_size if head_info is not None else 0,
                     max(journal_mtime, head_info.st_mtime_ns if head_info is not None else 0),
                     head_info.st_dev if head_info is not None else 0)


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
        self.files = RootFiles(self.root, durable)  # the atomic writes, confined to the root
        self.lock_timeout = lock_timeout
        self._locks: dict[str, _TenantLock] = {}
        self._locks_guard = threading.Lock()
        self._tenant_dirs: dict[str, str] = {}
        self._paths: dict[tuple, str] = {}  # (tenant, file name) or (tenant, entry, "index") -> path
        self.packs = Packs(self.files, self.tenant_dir)  # the tenants' pack files (packs.py)
        self.journals = TenantJournals(self)  # the tenants' journals: durable commits, replay, checkpoint
        self.objects = LocalObjects(self)  # object and ref files, the journal and packs consulted on reads
        self.index = LocalIndex(self.files, self.index_path, self._refuse_if_forked_inside)  # history index files
        # tenant -> (token, journal lstat) of the head `read_head` read while this process held
        # the tenant's lock, forgotten when the hold ends: a `write_head` expecting that very
        # token within the same hold needs no second look (every writer takes the lock)
        self._held_reads: dict[str, tuple[HeadToken, os.stat_result | None]] = {}
        _LIVE.add(self)

    @property
    def durable(self) -> bool:
        """True: a commit is durable when it returns (journal append + fdatasync)."""
        return self.files.durable

    @durable.setter
    def durable(self, value: bool) -> None:
        self.files.durable = value

    def _forked(self) -> None:
        """In a forked child: new guards (a parent thread may have held one: the child would
        wait on it forever) and the tenant locks let go (`_TenantLock.forked`)."""
        self._locks_guard = threading.Lock()
        self._held_reads.clear()
        self.files.forked()
        self.journals.forked()
        self.index.forked()
        self.packs.forked()
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
                self.files.mkdir(folder)
            if not os.path.exists(self.head_path(tenant)):
                with self.lock(tenant):
                    if not os.path.exists(self.head_path(tenant)):
                        self.files.write_atomic(self.head_path(tenant), b"{}")  # fsynced itself: no journal yet
            # objects/ marks the tenant as initialized: created last, so an init that fails
            # half-way never leaves a tenant without its head.
            self.files.mkdir(os.path.join(base, "objects"))
        except StorageError:
            raise
        except OSError as exc:
            raise _fail("initialize tenant in", base, exc) from exc

    def require_tenant(self, tenant: str) -> None:
        if not self.tenant_exists(tenant):
            raise NotInitializedError(f"tenant {tenant!r} is not initialized in {self.root} (call init())")

    # ------------------------------------------------------------------ objects and refs (local_objects.py)
    def read_object(self, tenant: str, digest: str) -> bytes:
        return self.objects.read_object(tenant, digest)

    def has_object(self, tenant: str, digest: str) -> bool:
        return self.objects.has_object(tenant, digest)

    def write_object(self, tenant: str, digest: str, data: bytes) -> bool:
        """Store an object (journaled with this thread's next `write_head` when durable)."""
        return self.objects.write_object(tenant, digest, data)

    def iter_objects(self, tenant: str) -> Iterator[str]:
        return self.objects.iter_objects(tenant)

    def pack_contents(self, tenant: str) -> Iterator:
        """Everything in the tenant's packs/, read afresh (for verify): problems and the objects
        of sound packs with their place (`packs.PackItem`). Not in the Storage protocol: only a
        local database has packs."""
        return self.packs.check(tenant)

    def journal_objects(self, tenant: str) -> Iterator[tuple[str, str, bytes]]:
        """Every object of the tenant's journal's valid records, read afresh (for verify):
        (where: the journal path and offset, digest, bytes). Not in the Storage protocol:
        only a local database has a journal."""
        return self.journals.objects(tenant)

    def read_ref(self, digest: str) -> bytes:
        return self.objects.read_ref(digest)

    def has_ref(self, digest: str) -> bool:
        return self.objects.has_ref(digest)

    def ref_size(self, digest: str) -> int:
        return self.objects.ref_size(digest)

    def write_ref(self, digest: str, data: bytes) -> bool:
        return self.objects.write_ref(digest, data)

    def iter_refs(self) -> Iterator[str]:
        return self.objects.iter_refs()

    def scan_objects(self, tenant: str) -> Iterator[tuple[str, str | None]]:
        return self.objects.scan_objects(tenant)

    def scan_refs(self) -> Iterator[tuple[str, str | None]]:
        return self.objects.scan_refs()

    def read_path(self, path: str) -> bytes:
        """Raw bytes of a file found by a scan (for verification)."""
        return self.files.read(path, path)

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
        self.journals.recover(tenant)
        for _attempt in range(16):
            journal_info = self.journals.stat(tenant)
            if journal_info is not None and journal_info.st_size:
                try:
                    tip = self.journals.kept.tip(tenant, journal_info)
                except journal.JournalShrank:
                    continue  # a checkpoint emptied it meanwhile: the head file holds its head now
                if tip is not None and tip.head is not None:
                    return self._read_now(tenant, tip.head, _head_token(journal_info, self._stat_head(tenant)), journal_info)
            read = _read_if_there(path, f"head of tenant {tenant!r}", limit=HEAD_LIMIT)
            return None if read is None else self._read_now(tenant, read[0], _head_token(journal_info, read[1]), journal_info)
        raise StorageError(f"cannot read the head of tenant {tenant!r}: its journal kept being emptied while read")

    def _read_now(self, tenant: str, data: bytes, token: HeadToken,
                  journal_info: os.stat_result | None) -> tuple[bytes, HeadToken]:
        """`read_head`'s answer, remembered for a `write_head` in the same hold of the lock."""
        lock = self._locks.get(tenant)
        if lock is not None and lock.held_here():
            self._held_reads[tenant] = (token, journal_info)
        return data, token

    def head_token(self, tenant: str) -> HeadToken | None:
        return self._head_token_now(tenant)[0]

    def _head_token_now(self, tenant: str) -> tuple[HeadToken | None, os.stat_result | None]:
        """The head's token now, and the journal's lstat it was made from (None: absent or not a file)."""
        self.journals.recover(tenant)
        journal_info, head_info = self.journals.stat(tenant), self._stat_head(tenant)
        if head_info is None and (journal_info is None or not journal_info.st_size):
            return None, journal_info
        return _head_token(journal_info, head_info), journal_info

    def head_source(self, tenant: str) -> str:
        """The file the tenant's head is read from now: its journal or its head file (for messages)."""
        info = self.journals.stat(tenant)
        if info is not None and info.st_size:
            with contextlib.suppress(journal.JournalError, DbEngineError, OSError):
                tip = self.journals.kept.tip(tenant, info)
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
        self._refuse_if_forked_inside(tenant, "write the head of")
        journal_info: os.stat_result | None | object = ...
        held = self._held_reads.pop(tenant, None)
        checked = False
        if expected is not ... and expected is not None:
            if held is not None and held[0] is expected and self._locks[tenant].held_here():
                # read by `read_head` in this very hold of the lock: no writer (each takes the
                # lock) can have moved it since, and the journal's end was checked then
                journal_info, checked = held[1], True
            else:
                token, journal_info = self._head_token_now(tenant)
                if token != expected:
                    return False
        # (the journal's lstat, taken under the lock, is not taken again)
        self.journals.write_head(tenant, data, journal_info, tip_checked=checked)
        return True

    def _refuse_if_forked_inside(self, tenant: str, action: str) -> None:
        """StorageError in a child forked while its thread held the tenant's lock: that hold
        is the parent's (which goes on writing), not the child's."""
        lock = self._locks.get(tenant)
        if lock is not None and lock.forked_inside():
            raise StorageError(f"cannot {action} tenant {tenant!r}: this process was forked while holding "
                               "its lock, which stays the parent's (take the lock anew in the child)")

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
        self.files.hold_begins()  # (a folder may have been swapped for a symlink since the last hold)
        try:
            self.files.check_inside(self.tenant_dir(tenant))
            with lock.hold(timeout):
                try:
                    self.journals.replay_if_needed(tenant)
                    yield
                finally:
                    self._held_reads.pop(tenant, None)  # a read of this hold is not trusted after it
        finally:
            self.files.hold_ends()  # (writes between holds check their folders afresh, each time)

    # ------------------------------------------------------------------ journal (durable commits)
    def checkpoint(self, tenant: str) -> None:
        """Make everything the tenant's journal covers durable in place, then empty it
        (also done when the journal passes JOURNAL_LIMIT)."""
        with self.lock(tenant):
            self.journals.checkpoint(tenant)

    def journal_problems(self, tenant: str) -> list[tuple[str, str, str, bool]]:
        """What is wrong with the tenant's journal, read only: (path, kind, message, damage);
        damage False is harmless (a frame cut short by a crash, ignored). For verify."""
        return self.journals.problems(tenant)

    # ------------------------------------------------------------------ history index (local_index.py)
    def read_index(self, tenant: str, entry: str, offset: int = 0) -> tuple[bytes, FileToken] | None:
        return self.index.read(tenant, entry, offset)

    def read_index_tail(self, tenant: str, entry: str, nbytes: int) -> tuple[bytes, int] | None:
        return self.index.read_tail(tenant, entry, nbytes)

    def read_index_range(self, tenant: str, entry: str, offset: int, nbytes: int) -> tuple[bytes, int, int] | None:
        return self.index.read_range(tenant, entry, offset, nbytes)

    def index_token(self, tenant: str, entry: str) -> FileToken | None:
        return self.index.token(tenant, entry)

    def append_index(self, tenant: str, entry: str, data: bytes, expected: object = None) -> tuple[int, FileToken]:
        """Append lines to an index; call only while holding `lock(tenant)` (`LocalIndex.append`)."""
        return self.index.append(tenant, entry, data, expected)

    def write_index(self, tenant: str, entry: str, data: bytes) -> None:
        """Rewrite an index atomically (repair); call only while holding `lock(tenant)`."""
        self.index.write(tenant, entry, data)

    # ------------------------------------------------------------------ caches
    def cache_path(self, tenant: str, name: str) -> str:
        return os.path.join(self.tenant_dir(tenant), "index", name)

    def read_cache(self, tenant: str, name: str) -> bytes | None:
        """A tenant-level cache file (`{tenant}/index/{name}`), None when there is none."""
        path = self.cache_path(tenant, name)
        try:
            return self.files.read(path, f"cache {name} of tenant {tenant!r}")
        except DigestNotFoundError:
            return None

    def write_cache(self, tenant: str, name: str, data: bytes) -> None:
        """Replace a tenant-level cache file atomically; not fsynced (rebuilt when lost)."""
        self.files.write_with_folder(self.cache_path(tenant, name), data, durable=False)


_LIVE: weakref.WeakSet[LocalStorage] = weakref.WeakSet()  # storages a forked child must reset


def _after_fork_in_child() -> None:
    for storage in list(_LIVE):
        storage._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
