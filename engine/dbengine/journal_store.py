"""`TenantJournals`: everything about the tenants' journals of a `LocalStorage`.

A durable commit is one append + fdatasync of the tenant's journal (journal.py holds the
frame format; docs/RELIABILITY.md): the record holds the head and the commit's objects,
which stay there (readers find them through a journal index, and the head from the
journal's last record) until a checkpoint gives them files, syncs, and empties the journal
(when it passes JOURNAL_LIMIT). Here: the writes waiting for a head write (this thread's
pending objects and refs), the journaled commit, and what verify asks of a journal. The
checkpoint and the replay of a journal left by an earlier boot are journal_checkpoint.py's
(`checkpoints`), what a process keeps open of each journal between calls (its index, its
append fd) kept_journals.py's. The storage holds one `TenantJournals` and delegates to
it; paths, the tenant lock and the atomic file writes stay the storage's (`store`): a
class of its own rather than a mixin, since it calls back into the storage for only those.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import journal, packs
from .errors import DbEngineError
from .journal_checkpoint import DAMAGED_JOURNAL_NAME, JournalCheckpoints
from .kept_fds import file_id
from .kept_journals import KeptJournals
from .pool import daemon_map
from .safe_files import (
    _SYNCER,
    HEAD_LIMIT,
    _datasync,
    _fail,
    _fsync_dir,
    _open_regular,
    _open_stat_for_writing,
    _read_fd,
    _sync_in_place,
    _syncfs,
    _write_all,
)

if TYPE_CHECKING:
    from .storage import LocalStorage

# A checkpoint empties the journal once it is larger. It creates the files of the journal's
# objects in the commit that crosses the limit: ~370 for 1 KB saves at 512 KB, a 40-70 ms
# pause on a calm disk against 200-320 ms at 2 MB, for the same total time (bench/RESULTS-durable.md)
JOURNAL_LIMIT = 512 * 1024
OBJECT_JOURNAL_LIMIT = 1024 * 1024  # a larger object is fsynced in place, not journaled
PENDING_LIMIT = 8 * 1024 * 1024  # journaled bytes waiting for a head write; more are fsynced in place
WRITE_WORKERS = 1  # threads writing a commit's new object files; 2 measured no faster on 2 busy cores (see bench/RESULTS-records.md)
OVERLAP_SYNC = True  # False: the journal's fdatasync runs in the committing thread, before the file writes


def _lexists(path: str) -> bool:
    """os.path.lexists without raising and catching FileNotFoundError (~1.4 µs less a call)."""
    return os.access(path, os.F_OK, follow_symlinks=False)


if os.access not in os.supports_follow_symlinks:  # (no faccessat here)
    _lexists = os.path.lexists  # noqa: F811


class TenantJournals:
    """The journals of one `LocalStorage`'s tenants: journaled writes and commits; `checkpoints`:
    checkpoint and replay; `kept`: the journal indexes and append fds kept open. `store`
    gives the paths, the tenant locks and the atomic file writes (`files`: its `RootFiles`)."""

    def __init__(self, store: LocalStorage):
        self.store = store
        self.files = store.files
        self._pending = threading.local()  # journaled writes of this thread waiting for a head write
        # tenant -> journal size before which no automatic checkpoint is tried again: one that
        # failed (a full disk) waits for another JOURNAL_LIMIT of journal, not the next commit
        self._retry_at: dict[str, int] = {}
        self.kept = KeptJournals(store.journal_path)  # the journal indexes and append fds kept open
        self.checkpoints = JournalCheckpoints(store, self.kept)  # checkpoint and replay

    def forked(self) -> None:
        """In a forked child: the kept journals get a new guard (`KeptJournals.forked`)."""
        self.kept.forked()

    def unwritten(self, path: str) -> bytes | None:
        """The bytes of this thread's journaled write of `path` whose file is not written yet."""
        unwritten = getattr(self._pending, "unwritten", None)
        return unwritten.get(path) if unwritten else None

    def stat(self, tenant: str) -> os.stat_result | None:
        """lstat of the tenant's journal; None when it is absent or not a regular file (never read)."""
        path = self.store.journal_path(tenant)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail("read", path, exc) from exc
        return info if stat.S_ISREG(info.st_mode) else None

    def write_head(self, tenant: str, data: bytes, journal_info: os.stat_result | None | object = ...,
                   tip_checked: bool = False) -> None:
        """Make `data` the head (under the tenant's lock). Durable: one journal record (this
        thread's pending objects and refs, and `data`) appended and fdatasynced. Not durable:
        the pending files written, a journal holding records checkpointed (so that no head is
        written behind its back), then the head file replaced. `journal_info`: the journal's
        lstat (`stat`) taken under this hold of the lock, if the caller has one (... : none);
        `tip_checked`: the journal's last frame was read and checked under this hold too."""
        if self.store.durable:
            self._commit_journaled(tenant, data, journal_info, tip_checked)
        else:
            items = self._take_pending(tenant)
            try:
                self._write_files(items, pack=True)  # the objects the head names are in place before it
                if self._journal_size(tenant):  # keep the journal's heads a chain: no head behind its back
                    self.checkpoints.checkpoint(tenant)
                self.files.write_atomic(self.store.head_path(tenant), data)
            except BaseException:
                self._give_back(items)
                raise

    def objects(self, tenant: str) -> Iterator[tuple[str, str, bytes]]:
        """Every object of the tenant's journal's valid records, read afresh (for verify), those
        after damage too, as readers and a checkpoint see them: (where: the journal path and
        offset, digest, bytes)."""
        path = self.store.journal_path(tenant)
        try:
            fd, info = _open_regular(path, "journal")
        except (OSError, DbEngineError):  # absent, or not a file (journal_problems and verify say so)
            return
        found: list[tuple[str, str, bytes]] = []

        def collect(record: journal.Record) -> None:
            for (digest, data), offset in zip(record.objects, record.object_offsets, strict=True):
                found.append((f"{path} (offset {offset})", digest, data))

        try:  # past damage too (`scan_all`): readers read those records' objects, a checkpoint keeps them
            journal.scan_all(fd, info.st_size, collect)
        except OSError:
            return
        finally:
            os.close(fd)
        yield from found

    def checkpoint(self, tenant: str) -> None:
        """Under the tenant's lock: make everything the journal covers durable in place, then empty it."""
        self.checkpoints.checkpoint(tenant)

    def replay_if_needed(self, tenant: str) -> None:
        """Under the tenant's lock, once per tenant: replay a journal of an earlier boot."""
        self.checkpoints.replay_if_needed(tenant)

    def recover(self, tenant: str) -> None:
        """Before a read, once per tenant: a reader's replay (`JournalCheckpoints.recover`)."""
        self.checkpoints.recover(tenant)

    def problems(self, tenant: str) -> list[tuple[str, str, str, bool]]:
        """What is wrong with the tenant's journal, read only: (path, kind, message, damage);
        damage False is harmless (a frame cut short by a crash, ignored). For verify."""
        found: list[tuple[str, str, str, bool]] = []
        damaged = os.path.join(self.store.tenant_dir(tenant), DAMAGED_JOURNAL_NAME)
        if os.path.lexists(damaged):
            found.append((damaged, "journal-damaged", "a journal that failed its checks, set aside by a replay "
                                                      "(records after the damage were not applied); inspect, then delete it", True))
        path = self.store.journal_path(tenant)
        try:
            fd, info = _open_regular(path, "journal")
        except (OSError, DbEngineError):  # absent, or not a regular file
            not_a_file = self.kept.not_a_file(tenant)
            if not_a_file is not None:
                found.append((path, "journal-not-a-file", not_a_file, True))
            return found
        try:
            result = journal.scan(fd, info.st_size)
        except OSError as exc:
            return [*found, (path, "journal-unreadable", str(exc), True)]
        finally:
            os.close(fd)
        if result.damage:
            found.append((path, "journal-damaged", f"{result.damage}: not trusted from there on", True))
        elif result.torn:
            found.append((path, "journal-torn", "ends with a record cut short by a crash; ignored", False))
        return found

    def write(self, kind: bytes, tenant: str | None, digest: str, path: str, data: bytes) -> bool:
        """Store content-addressed bytes. Durable: journal them with the next head write of
        this thread; an object written under its tenant's lock (a commit) is written to its
        file during that head write's fdatasync (this thread's reads see it meanwhile); a
        big one is written and fsynced at once. Not durable: an object written under its
        tenant's lock waits for the head write too (then a commit's objects are written in
        one batch, see `_write_files`); anything else is written at once. An object of a
        commit is not looked for now (reported written): its file is skipped when found
        holding exactly its bytes (`_write_new`)."""
        lock = self.store._locks.get(tenant) if tenant is not None else None
        if not self.store.durable:
            if lock is None or not lock.held_here():
                # found in the journal: reported present, but given its file all the same (no
                # fsync, as here always): that record may be another writer's whose fdatasync
                # has not returned, taken back if it fails, and nothing journals it for us
                held = self._journal_holds(kind, tenant, digest, path)
                if not held and self._pack_holds(kind, tenant, digest, path):
                    return False
                return self.files.write_content(path, data) and not held
        elif len(data) > OBJECT_JOURNAL_LIMIT:
            return self.files.write_content(path, data, durable=True)
        if lock is not None and lock.held_here():
            # durable or not, no look now: most are new, and the file write finds one present (`_write_new`)
            present = False
            self._pending_items()
            self._pending.unwritten[path] = data
        else:
            present = (self._journal_holds(kind, tenant, digest, path) or self._pack_holds(kind, tenant, digest, path)
                       or not self.files.write_content(path, data, durable=False))
        pending = self._pending_items()
        pending.append((kind, tenant, digest, path, data, not present))  # present: its file may not be synced
        self._pending.size += len(data)
        if self._pending.size > PENDING_LIMIT:  # a big import: write (and sync) in place instead
            self._write_files(pending, pack=True, durable=self.store.durable)
            if self.store.durable:
                for item in pending:  # found only in the journal: no record of ours will hold it now,
                    # and that one may be another writer's whose fdatasync fails (taken back)
                    if not item[5] and item[0] == b"o" and not os.path.lexists(item[3]):
                        self.files.write_content(item[3], item[4], durable=False)
                _sync_in_place([item[3] for item in pending])
            pending.clear()
            self._pending.size = 0
        return not present

    def _journal_holds(self, kind: bytes, tenant: str | None, digest: str, path: str) -> bool:
        """True when an object with no file is in the tenant's journal in place now, its bytes
        checked (an import's "have I got it": then a durable write gives it no file now, its
        thread's next record journals it again; a `durable=False` one still writes its file)."""
        return kind == b"o" and tenant is not None and not os.path.lexists(path) and self.kept.has_object(tenant, digest)

    def _pack_holds(self, kind: bytes, tenant: str | None, digest: str, path: str) -> bool:
        """True when an object with no file is in one of the tenant's packs, its bytes read and
        checked (an import's "have I got it"; a damaged copy is not having it: a file is written)."""
        if kind != b"o" or tenant is None or os.path.lexists(path):
            return False
        try:
            return self.store.packs.read(tenant, digest) is not None
        except DbEngineError:
            return False

    def _pending_items(self) -> list[tuple[bytes, str | None, str, str, bytes, bool]]:
        pending = getattr(self._pending, "items", None)
        if pending is None:
            pending = self._pending.items = []
            self._pending.size = 0
            self._pending.unwritten = {}
        return pending

    def _take_pending(self, tenant: str) -> list[tuple[bytes, str | None, str, str, bytes, bool]]:
        """This thread's journaled writes a head of `tenant` depends on: its objects, all refs."""
        pending = self._pending_items()
        taken = [item for item in pending if item[1] is None or item[1] == tenant]
        if len(taken) == len(pending):  # (the usual: all of them, nothing left to count)
            pending.clear()
            self._pending.size = 0
        elif taken:
            pending[:] = [item for item in pending if not (item[1] is None or item[1] == tenant)]
            self._pending.size = sum(len(item[4]) for item in pending)
        return taken

    def _give_back(self, items: list[tuple[bytes, str | None, str, str, bytes, bool]]) -> None:
        self._pending_items().extend(items)
        self._pending.size += sum(len(item[4]) for item in items)

    def _write_files(self, items: list[tuple[bytes, str | None, str, str, bytes, bool]], pack: bool = False,
                     durable: bool = False) -> None:
        """Write the files of deferred items not written yet, no fsync (durable: the journal
        has them); a big batch (a put_many's nodes) on WRITE_WORKERS threads, since file
        creation waits in the kernel with the GIL released. `pack`: a tenant's record-tree
        nodes, when there are PACK_MIN or more, go into one pack instead (`_write_packs`;
        `durable`: fsynced with its folder)."""
        self._pending_items()
        unwritten = self._pending.unwritten
        todo = [item for item in items if item[5] and item[3] in unwritten]
        if pack and len(todo) >= packs.PACK_MIN:
            todo = self._write_packs(todo, durable)
        if not todo:
            return
        written: list[str] = []

        def write(item: tuple) -> None:
            self.files.write_new(item[3], item[4])
            written.append(item[3])

        try:
            daemon_map(write, todo, WRITE_WORKERS if len(todo) >= 4 * WRITE_WORKERS else 1, name="mydb-write")
        finally:  # a file not written stays this thread's to write (a retry gives it back)
            for path in written:
                unwritten.pop(path, None)

    def _write_packs(self, todo: list[tuple[bytes, str | None, str, str, bytes, bool]],
                     durable: bool) -> list[tuple[bytes, str | None, str, str, bytes, bool]]:
        """Write each tenant's record-tree nodes among `todo` as one pack when there are
        PACK_MIN or more (then merge its small packs when this thread holds the tenant's
        lock: a failed merge is left for the next one); returns the items still to write."""
        nodes: dict[str, dict[str, bytes]] = {}
        for item in todo:
            if item[0] == b"o" and packs.is_node_bytes(item[4]):
                nodes.setdefault(item[1], {})[item[2]] = item[4]
        packed = {tenant for tenant, objects in nodes.items() if len(objects) >= packs.PACK_MIN}
        if not packed:
            return todo
        unwritten = self._pending.unwritten
        for tenant in sorted(packed):
            self.store.packs.write(tenant, nodes[tenant], durable)
            for item in todo:
                if item[1] == tenant and item[2] in nodes[tenant]:
                    unwritten.pop(item[3], None)  # read from the pack from now on
            lock = self.store._locks.get(tenant)
            if lock is not None and lock.held_here():
                with contextlib.suppress(DbEngineError, OSError):  # the pack is in: merging can wait
                    self.store.packs.merge(tenant)
        return [item for item in todo if not (item[1] in packed and item[2] in nodes[item[1]])]

    def _commit_journaled(self, tenant: str, head: bytes, journal_info: os.stat_result | None | object = ...,
                          tip_checked: bool = False) -> None:
        """One journal append + fdatasync making `head` and what it needs durable. The head
        lives in the record (no head file: readers take it from the journal, `read_head`)
        and so do the record's objects, until a checkpoint writes their files; the ref files
        the record covers are written while the sync runs. A failure before the sync
        returned takes the record back."""
        items = self._take_pending(tenant)
        # refs (shared by all tenants) keep their files, and so does an object whose file is
        # there already (one lstat: rewritten unless it holds exactly its bytes, so that a
        # damaged file never hides the journal's good copy)
        files = [item for item in items if item[0] != b"o" or _lexists(item[3])]
        record = journal.Record(boot=journal.boot_id(), head=head,
                                objects=[(item[2], item[4]) for item in items if item[0] == b"o"],
                                refs=[(item[2], item[4]) for item in items if item[0] == b"r"])
        path = self.store.journal_path(tenant)
        fd, size, end, done = -1, 0, 0, False
        try:
            self.files.check_inside(self.store.tenant_dir(tenant))
            fd, info = self.kept.append_fd(tenant, path, journal_info)
            size = info.st_size
            tip = self.kept.tip_for_append(tenant, fd, info, tip_checked) if size else None
            if tip is not None and not tip.linked:
                # a torn tail (a writer died mid-append), damage or records of another program:
                # the journal's head came from a scan; make it the head file, start afresh
                os.close(fd)
                fd = -1
                self.checkpoints.checkpoint(tenant)
                fd, info = _open_stat_for_writing(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, "append to")
                size = info.st_size
                tip = self.kept.tip_for_append(tenant, fd, info) if size else None
            # the base links the record to the head it replaces (readers trust a last record so linked)
            record.base = self._durable_base(tenant) if tip is None else tip.sha
            frame = journal.encode(record)
            _write_all(fd, frame)
            end = size + len(frame)
            overlap = OVERLAP_SYNC and any(item[5] for item in files)  # ref files to write meanwhile (a
            # thread handoff costs more than a sync in this thread otherwise: measured, bench/RESULTS-durable.md)
            sync = _SYNCER.start(fd, _datasync) if overlap else None
            if sync is None:
                _datasync(fd)
            try:
                self._write_files(files)
            finally:
                if sync is not None:
                    sync.wait()  # raises the fdatasync's error
            done = True
        except BaseException as exc:
            if fd >= 0 and end:  # the record is in but not acknowledged: take it back
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                    _datasync(fd)
            elif fd >= 0:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)  # a short write
            self._give_back(items)
            if isinstance(exc, OSError) and not isinstance(exc, DbEngineError):
                raise _fail("append to", path, exc) from exc
            raise
        finally:
            if fd >= 0:
                if done:
                    self.kept.keep_append_fd(tenant, fd, file_id(info))
                else:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        self.kept.note_journaled(tenant, file_id(info), size, frame, record)
        unwritten = self._pending.unwritten
        for item in items:
            if item[0] == b"o":
                unwritten.pop(item[3], None)  # read from its file or the journal from now on
        if end > JOURNAL_LIMIT and end >= self._retry_at.get(tenant, 0):
            try:
                self.checkpoints.checkpoint(tenant)
            except (DbEngineError, OSError):  # the commit is durable already
                self._retry_at[tenant] = end + JOURNAL_LIMIT
            else:
                self._retry_at.pop(tenant, None)

    def _durable_base(self, tenant: str) -> bytes | None:
        """Before the first record of an empty journal: make the head it starts from durable
        and return its sha256 (None: no head). A head file this process's checkpoint synced
        needs nothing; any other may be a `durable=False` writer's, whose objects were written
        without sync too: one syncfs then (where there is none, as on macOS: sync(2) of every
        file system, then an fsync of the head and its folder), so that a power loss never
        takes the versions an acknowledged commit builds on."""
        path = self.store.head_path(tenant)
        try:
            fd, info = _open_regular(path, f"head of tenant {tenant!r}")
        except (FileNotFoundError, DbEngineError):
            return None
        try:
            data = _read_fd(fd, HEAD_LIMIT + 1)
            if not self.checkpoints.head_synced(tenant, info):
                if not _syncfs(fd):
                    os.sync()  # that writer's loose objects and packs, wherever they are
                    os.fsync(fd)
                    _fsync_dir(self.store.tenant_dir(tenant))
                self.checkpoints.note_synced_head(tenant, info)
        finally:
            os.close(fd)
        return hashlib.sha256(data).digest()

    def _journal_size(self, tenant: str) -> int:
        try:
            info = os.lstat(self.store.journal_path(tenant))
        except OSError:
            return 0
        return info.st_size if stat.S_ISREG(info.st_mode) else 0

