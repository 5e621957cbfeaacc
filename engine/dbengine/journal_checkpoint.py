"""`JournalCheckpoints`: a tenant journal's checkpoint and replay (journal_store.py's commits
append to the journal; this empties it).

A checkpoint writes the head file from the head the journal gives, the files of the
journal's objects that have none (its record-tree nodes as one pack when there are
PACK_MIN or more, packs.py), syncs what the journal covers, then empties the journal
(a damaged one is set aside as journal.damaged). A replay does the same for a journal an
earlier boot left (a power loss may have lost what it covers). Both run under the tenant's
lock; paths, the lock and the atomic file writes are the storage's (`store`), the kept
journal indexes and append fds `KeptJournals`' (`kept`). See docs/FORMAT.md §9.
"""

from __future__ import annotations

import contextlib
import errno
import os
from typing import TYPE_CHECKING

from . import journal, packs
from .errors import DbEngineError, LockTimeoutError, StorageError
from .kept_journals import KeptJournals
from .safe_files import _fail, _fsync_dir, _open_for_writing, _open_regular, _sync_in_place, _syncfs

if TYPE_CHECKING:
    from .storage import LocalStorage

JOURNAL_NAME, DAMAGED_JOURNAL_NAME = "journal", "journal.damaged"


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    """A file's (device, inode, size, mtime): which content of it a process synced."""
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


class JournalCheckpoints:
    """Checkpoint and replay of one `LocalStorage`'s tenant journals, and what they keep:
    the tenants needing no replay (`recovered`) and the head files this process synced."""

    def __init__(self, store: LocalStorage, kept: KeptJournals):
        self.store = store
        self.files = store.files
        self.kept = kept
        self.recovered: set[str] = set()  # tenants whose journal needs no replay (or had it)
        self._synced_heads: dict[str, tuple[int, int, int, int]] = {}  # tenant -> head file this process synced

    def checkpoint(self, tenant: str) -> None:
        """Under the tenant's lock: make everything the journal covers durable in place, then empty it."""
        self._checkpoint(tenant)

    def head_synced(self, tenant: str, info: os.stat_result) -> bool:
        """True when this process synced the head file of `info` (that very content) with all it names."""
        return self._synced_heads.get(tenant) == _identity(info)

    def replay_if_needed(self, tenant: str) -> None:
        """Under the tenant's lock, once per tenant: replay a journal of an earlier boot."""
        if tenant not in self.recovered:
            if self._needs_replay(tenant):
                self._replay(tenant)
            self.recovered.add(tenant)

    def _needs_replay(self, tenant: str) -> bool:
        """True when the journal holds records of an earlier boot (a crash of the machine may
        have lost what they cover) or of an unknown one; in this boot, every write a record
        covers is in the page cache, visible to all."""
        path = self.store.journal_path(tenant)
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

    def recover(self, tenant: str) -> None:
        """Before a read, once per tenant: a reader's replay, only if the tenant lock is free
        now (a writer holding it replays before it writes); one that cannot write is not retried."""
        if tenant in self.recovered:
            return
        if not self._needs_replay(tenant):
            self.recovered.add(tenant)
            return
        try:
            with self.store.lock(tenant, timeout=0):
                pass  # lock() replays
        except LockTimeoutError:
            return
        except (DbEngineError, OSError):
            self.recovered.add(tenant)

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
        """Under the lock: a checkpoint of a journal left by an earlier boot, which also rewrites
        every ref of its valid records (a crash of the machine may have lost their files)."""
        self._empty_journal(tenant, "replay", refs=True)

    def _put_head_file(self, tenant: str, head: bytes | None) -> None:
        """Write the head the journal gives into the head file (no fsync: the sync of the
        checkpoint or replay follows), unless it holds those bytes already."""
        if head is not None and not self.files.holds(self.store.head_path(tenant), head):
            self.files.write_atomic(self.store.head_path(tenant), head, durable=False)

    def _set_aside(self, tenant: str, path: str) -> None:
        """Rename a damaged journal to journal.damaged (after its head and objects are in place)."""
        self.kept.drop_append_fd(tenant)
        os.replace(path, os.path.join(self.store.tenant_dir(tenant), DAMAGED_JOURNAL_NAME))
        _fsync_dir(self.store.tenant_dir(tenant))

    def _checkpoint(self, tenant: str) -> None:
        """Under the lock: make everything the journal covers durable in place, then empty it."""
        self._empty_journal(tenant, "checkpoint", refs=False)

    def _empty_journal(self, tenant: str, why: str, refs: bool) -> None:
        """Under the lock: write the head file from the head the journal gives, then the
        files of the journal's objects (and, `refs`, its refs) that have none, sync what the
        journal covers, then empty it. A crash anywhere in between leaves the same head (the
        journal, still whole, gives the head the file now holds) and loses nothing. A damaged
        journal is set aside as journal.damaged instead of emptied (the records after the
        damage are kept for inspection; their objects get files: they were acknowledged)."""
        path = self.store.journal_path(tenant)
        fd = self._open_journal(path, why)
        if fd is None:
            return
        try:
            size = os.fstat(fd).st_size
            if size:
                self._put_head_file(tenant, journal.journal_head(fd, size).head)
                written: set[str] = set()
                nodes: dict[str, bytes] = {}  # record-tree nodes with no file: one pack if PACK_MIN or more
                # past damage too: the valid records after it were acknowledged, their objects are kept
                result = journal.scan_all(fd, size, lambda record: self._materialise(tenant, record, written, refs, nodes))
                self._sync_all(tenant, fd, size, self._write_nodes(tenant, nodes))
                self.note_synced_head(tenant)
                if result.damage:
                    self._set_aside(tenant, path)
                else:
                    os.ftruncate(fd, 0)
                    os.fsync(fd)
        except OSError as exc:
            raise _fail(f"{why} journal", path, exc) from exc
        finally:
            os.close(fd)
            self.kept.forget(tenant)

    def _materialise(self, tenant: str, record: journal.Record, written: set[str], refs: bool = False,
                     nodes: dict[str, bytes] | None = None) -> None:
        """Give a journal record's objects (and, `refs`, its refs) their files where they have
        none (or a file holding other bytes), without fsync (the sync follows); `written`:
        digests done (an object journaled twice is written once). `nodes`, when given, takes
        the record-tree nodes that have no file (`_write_nodes` writes them, as one pack when
        there are PACK_MIN or more). One record at a time: memory stays one frame (plus the
        nodes, at most the journal's size). Each object file as a commit's are
        (RootFiles.write_new: mkdir, open, write, close, rename; no lookups first). One
        thread: 4 measured no faster (the creations in one `objects/` folder wait on each
        other in the kernel)."""
        for digest, data in record.objects:
            if digest not in written:
                written.add(digest)
                path = self.store.object_path(tenant, digest)
                if nodes is not None and packs.is_node_bytes(data) and not os.path.lexists(path):
                    nodes[digest] = data  # a file there (even a damaged one) is rewritten below, never hidden
                else:
                    self.files.write_new(path, data)
        if refs:
            for digest, data in record.refs:
                self.files.write_content(self.store.ref_path(digest), data, durable=False)

    def _write_nodes(self, tenant: str, nodes: dict[str, bytes]) -> list[str]:
        """Write the nodes `_materialise` set aside: one pack (no fsync: the checkpoint's sync
        follows; then its small packs merged) when there are PACK_MIN or more, else a file
        each. Returns the pack's path for `_sync_all` (none: empty)."""
        if len(nodes) < packs.PACK_MIN:
            for digest, data in nodes.items():
                self.files.write_new(self.store.object_path(tenant, digest), data)
            return []
        path = self.store.packs.write(tenant, nodes, durable=False)
        with contextlib.suppress(DbEngineError, OSError):  # the pack is in: merging can wait
            self.store.packs.merge(tenant)
        return [path]

    def _sync_all(self, tenant: str, fd: int, size: int, extra: list[str] | None = None) -> None:
        """Make durable every file and folder the journal's records name, and the head:
        one syncfs of the file system where there is one, else an fsync of each, and of
        the `extra` files (a pack) with their folders."""
        if _syncfs(fd):
            return
        paths = [self.store.head_path(tenant), *(extra or [])]

        def collect(record: journal.Record) -> None:
            paths.extend(self.store.object_path(tenant, digest) for digest, _data in record.objects)
            paths.extend(self.store.ref_path(digest) for digest, _data in record.refs)

        journal.scan_all(fd, size, collect)
        _sync_in_place(paths)

    def note_synced_head(self, tenant: str, info: os.stat_result | None = None) -> None:
        """Remember the head file as durable (just synced with all it names), by its identity."""
        if info is None:
            try:
                info = os.lstat(self.store.head_path(tenant))
            except OSError:
                return
        if len(self._synced_heads) >= 4096:  # a cache: forget it rather than grow
            self._synced_heads.clear()
        self._synced_heads[tenant] = _identity(info)
