"""`Packs`: the pack files of a local database's tenants: reads, writes, merges, checks.

A commit (or a checkpoint) that writes at least PACK_MIN record-tree nodes writes them as
one pack (`{tenant}/packs/{sha256}.pack`, pack_file.py) instead of one file each. Readers
keep, per tenant, the packs they listed: each pack's index in compact arrays (loaded at C
speed with O(1) checks, pack_file.load_index) and one open fd (so a pack merged away
meanwhile stays readable to them); a miss lists `packs/` again when the folder changed.
Every object read from a pack is checked against its digest; a pack whose header or index
fails the checks at opening, or the full index checks (run when an object is missing
everywhere), is skipped (and named in that object's error). After writing a pack, a
writer holding the tenant's lock merges the small packs (size-tiered, MERGE_FANOUT at a
time; packs of MERGE_MAX_BYTES or more never take part): the merged pack is fsynced with its
folder before the merged-away packs are unlinked.
See docs/FORMAT.md §6c and docs/RELIABILITY.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

from .errors import CorruptObjectError, DbEngineError, StorageError
from .kept_fds import OwnedFd
from .pack_file import (
    DIGEST,
    HEADER_MAX,
    NAME_RE,
    ObjectDamage,
    PackDamage,
    PackIndex,
    PackItem,
    check_index,
    check_pack,
    encode_pack,
    find_object,
    index_size,
    load_index,
    names_object,
    parse_header,
    parse_pack,
)
from .records_tree import NODE_KINDS
from .root_files import TMP_PREFIX, RootFiles
from .safe_files import _fail, _fsync_dir, _kind, _open_regular, _read_fd, _sync_in_place

PACK_MIN = 16  # a commit writing fewer record-tree nodes leaves them loose
MERGE_MAX_BYTES = 64 << 20  # packs this large never take part in a merge (a commit never rewrites gigabytes)
#: Size-tiered merging (as an LSM tree's): packs fall in tiers by size, each tier MERGE_FANOUT
#: times the one below (tier 0 below MERGE_TIER_BASE bytes, tier 1 below MERGE_FANOUT times
#: that); once a tier holds MERGE_FANOUT packs, its smallest MERGE_FANOUT are merged into one of
#: the next tier (tier 0 is narrow: a pack merged there grows past it within a few merges, never
#: rewritten again and again as packs of a few kB come). An object is so rewritten about once
#: per tier (2 times from a 1 MB commit pack to 64 MB), and a commit
#: pays a merge about once in MERGE_FANOUT commits; git's geometric rule (factor 2) rewrote 3.5
#: commits' worth of packs a commit, with a merge every other commit (bench/RESULTS-packs.md).
MERGE_FANOUT = 8
MERGE_TIER_BASE = 64 << 10
PACKS_FOLDER = "packs"
#: The canonical beginnings of record-tree nodes' bytes (a placement decision only: every
#: read checks the bytes against the digest, wherever they are).
NODE_PREFIXES = tuple(b'{"__kind__":"%s"' % kind.encode("ascii") for kind in NODE_KINDS)
#: Tenants whose packs a process keeps open at once (each pack one fd): the least recently used
#: tenant's are closed past this, so that a process reading thousands of tenants runs out of
#: neither file descriptors nor memory (as kept_journals.JOURNAL_INDEX_MAX).
PACK_TENANTS_MAX = 32
_RACY_NS = 2_000_000_000  # a folder listed within this of its mtime may change unseen (coarse clocks)


def is_node_bytes(data: bytes) -> bool:
    """True when `data` is spelled as a record-tree node (it goes into a pack)."""
    return data.startswith(NODE_PREFIXES)


def _merge_step(step: str) -> None:
    """Called at the steps of a merge ("read", "written", "renamed", "unlinked"): a hook for crash tests."""


class _Pack(OwnedFd):
    """One pack a reader opened: its path, index and fd (closed with it); `checked` once its
    whole index passed `check_index` (done lazily: on a missing object, by `Packs.damage`)."""

    __slots__ = ("path", "name", "index", "fd", "size", "checked", "__weakref__")

    def __init__(self, path: str, index: PackIndex, fd: int, size: int):
        self.path, self.name, self.index, self.fd, self.size = path, os.path.basename(path), index, fd, size
        self.checked = False

    def read(self, digest: str, key: int) -> bytes | None:
        """The object's bytes, checked against `digest` (`key`: its first 8 bytes as a number);
        None when the pack does not hold it; CorruptObjectError naming the pack and offset
        when its bytes are not the object's (or its slot's offsets are out of bounds)."""
        try:
            return find_object(self.index, digest, key, self._pread, self._digest_at)
        except ObjectDamage as exc:
            raise CorruptObjectError(f"object {digest} in pack {self.path} at offset {exc.offset} is corrupt: "
                                     f"{exc.why}", self.path) from None

    def _pread(self, length: int, offset: int) -> bytes:
        try:
            return os.pread(self.fd, length, offset)
        except OSError as exc:
            raise _fail("read", self.path, exc) from exc

    def has(self, digest: str) -> bool:
        """True when the index names `digest` (its bytes are checked when read)."""
        return names_object(self.index, digest, self._digest_at)

    def _digest_at(self, at: int) -> str | None:
        """The full digest at index slot `at`, read from the file (one pread of 32 bytes)."""
        try:
            raw = os.pread(self.fd, DIGEST, self.index.digest_position(at))
        except OSError:
            return None
        return raw.hex()

    def full_check(self) -> str | None:
        """The full index checks (`check_index`), once: why the pack is damaged, or None."""
        if self.checked:
            return None
        index = self.index
        try:
            region = os.pread(self.fd, index_size(index.count), index.start)
            if len(region) != index_size(index.count):
                raise PackDamage(f"the index is cut short ({len(region)} of {index_size(index.count)} bytes)")
            check_index(region, index)
        except PackDamage as exc:
            return str(exc)
        except OSError:
            return None  # an I/O error is not damage: tried again next time
        self.checked = True
        return None


def _open_pack(path: str) -> _Pack:
    """Open a pack and load its index (one pread of the header, one of the index or a few of
    a large one, O(1) checks: pack_file.load_index); PackDamage (or CorruptObjectError: not
    a regular file) when it is not a pack, FileNotFoundError when it is gone."""
    fd, info = _open_regular(path, "pack")
    try:
        head = os.pread(fd, HEADER_MAX, 0)
        count, start = parse_header(head, info.st_size)
        index = load_index(lambda length, offset: os.pread(fd, length, offset), count, start, info.st_size)
    except BaseException:
        os.close(fd)
        raise
    return _Pack(path, index, fd, info.st_size)


class TenantPacks:
    """The packs of one tenant as this process listed them: `packs` (name -> _Pack),
    `damaged` (name -> why), and the folder's stat at the last listing."""

    def __init__(self, folder: str):
        self.folder = folder
        self.packs: dict[str, _Pack] = {}
        self.damaged: dict[str, tuple[tuple, str]] = {}  # name -> ((device, inode, size), why)
        self.seen: tuple[int, int, int] | None = None  # (device, inode, mtime_ns) of packs/ at the last listing
        self.racy = True  # listed within a clock tick of the folder's change: list again on a miss
        self.guard = threading.Lock()
        self.order: tuple[_Pack, ...] = ()  # the packs, largest first (the likeliest to hold an object)

    def _reorder(self) -> None:
        self.order = tuple(sorted(self.packs.values(), key=lambda pack: -pack.index.count))

    def relist(self) -> bool:
        """List packs/ again when it changed since the last listing; True when it was listed."""
        try:
            info = os.stat(self.folder)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise _fail("list", self.folder, exc) from exc
        seen = (info.st_dev, info.st_ino, info.st_mtime_ns) if info is not None else (0, 0, 0)
        with self.guard:
            if seen == self.seen and not self.racy:
                return False
            try:
                for _attempt in range(8):
                    names = self._names()
                    if not self._load(names):
                        break  # every listed pack opened (or is damaged): a merge did not move them meanwhile
            finally:
                self._reorder()
            # only once listed and opened: an I/O error on the way (raised) lists again next time
            self.racy = info is not None and time.time_ns() - info.st_mtime_ns < _RACY_NS
            self.seen = seen
            return True

    def _names(self) -> set[str]:
        try:
            return {name for name in os.listdir(self.folder) if NAME_RE.fullmatch(name)}
        except (FileNotFoundError, NotADirectoryError):
            return set()
        except OSError as exc:
            raise _fail("list", self.folder, exc) from exc

    def _load(self, names: set[str]) -> bool:
        """Open the listed packs not open yet, drop those gone; True when one vanished
        between the listing and its opening (a merge: list again)."""
        vanished = False
        for name in list(self.packs):
            if name not in names:
                del self.packs[name]  # merged away (its objects are in the merged pack); its fd closes with
                # its last reference, never under a thread reading it now
        for name in sorted(names - self.packs.keys()):
            path = os.path.join(self.folder, name)
            try:
                identity = os.lstat(path)
            except FileNotFoundError:
                vanished = True
                continue
            known = self.damaged.get(name)
            if known is not None and known[0] == (identity.st_dev, identity.st_ino, identity.st_size):
                continue
            try:
                self.packs[name] = _open_pack(path)
                self.damaged.pop(name, None)
            except FileNotFoundError:
                vanished = True
            except (PackDamage, CorruptObjectError, IsADirectoryError) as exc:
                why = str(exc) if not isinstance(exc, IsADirectoryError) else "a folder, not a pack"
                self.damaged[name] = ((identity.st_dev, identity.st_ino, identity.st_size), why)
            except OSError as exc:  # an I/O error is not damage: said, and tried again by the next read
                raise _fail("read", path, exc) from exc
        for name in list(self.damaged):
            if name not in names:
                del self.damaged[name]
        return vanished

    def add(self, pack: _Pack) -> None:
        """A pack this process just wrote (no listing needed to read it)."""
        with self.guard:
            self.packs[pack.name] = pack  # one of that name already open closes with its last reference
            self._reorder()


class Packs:
    """The packs of a `LocalStorage`'s tenants: `folder(tenant)` gives `{tenant}/packs`;
    writes go through `files` (confined to the root)."""

    def __init__(self, files: RootFiles, tenant_dir: Callable[[str], str]):
        self.files = files
        self._tenant_dir = tenant_dir
        self._tenants: OrderedDict[str, TenantPacks] = OrderedDict()  # least recently used first
        self._guard = threading.Lock()

    def forked(self) -> None:
        """In a forked child: new guards (a parent thread may have held one)."""
        self._guard = threading.Lock()
        for tenant_packs in self._tenants.values():
            tenant_packs.guard = threading.Lock()

    def folder(self, tenant: str) -> str:
        return os.path.join(self._tenant_dir(tenant), PACKS_FOLDER)

    def _of(self, tenant: str) -> TenantPacks:
        """The tenant's packs as listed here (made on first use); at most PACK_TENANTS_MAX
        tenants' are kept (a dropped one's packs close when no reader holds them)."""
        with self._guard:
            tenant_packs = self._tenants.get(tenant)
            if tenant_packs is None:
                tenant_packs = self._tenants[tenant] = TenantPacks(self.folder(tenant))
                while len(self._tenants) > PACK_TENANTS_MAX:
                    self._tenants.popitem(last=False)
            else:
                self._tenants.move_to_end(tenant)
        return tenant_packs

    # ------------------------------------------------------------------ reads
    def read(self, tenant: str, digest: str, listing: bool = True) -> bytes | None:
        """The object's bytes from a pack of the tenant (checked), None when no pack holds it
        (after listing packs/ again if it changed; `listing` False: the packs open now only,
        no system call but the read: the cheap first look of `LocalObjects.read_object`)."""
        tenant_packs = self._of(tenant)
        key = int(digest[:16], 16)
        damaged: list[CorruptObjectError] = []
        data = _read_first_good(tenant_packs.order, digest, key, damaged)
        if data is None and listing and tenant_packs.relist():
            data = _read_first_good(tenant_packs.order, digest, key, damaged)
        if data is None and damaged:
            raise damaged[0]  # every copy found is damaged
        return data

    def has(self, tenant: str, digest: str) -> bool:
        """True when a pack of the tenant names the object (listing packs/ again on a miss)."""
        tenant_packs = self._of(tenant)
        if any(pack.has(digest) for pack in tenant_packs.order):
            return True
        return tenant_packs.relist() and any(pack.has(digest) for pack in tenant_packs.order)

    def digests(self, tenant: str) -> Iterator[str]:
        """Every digest the tenant's packs name (each pack's digests read afresh), possibly twice."""
        tenant_packs = self._of(tenant)
        tenant_packs.relist()
        for pack in tenant_packs.order:
            count = pack.index.count
            try:
                raw = os.pread(pack.fd, count * DIGEST, pack.index.start)
            except OSError:
                continue
            text = raw.hex()
            for at in range(0, len(text), 2 * DIGEST):
                yield text[at:at + 2 * DIGEST]

    def damage(self, tenant: str) -> str | None:
        """The damaged packs of the tenant, for a missing object's message: those that failed
        at opening (as last listed), and the open ones that fail the full index checks now
        (run once per pack, here: an object missing everywhere; they are then skipped)."""
        tenant_packs = self._of(tenant)
        with tenant_packs.guard:
            failed = False
            for pack in list(tenant_packs.packs.values()):
                why = pack.full_check()
                if why is None:
                    continue
                try:
                    info = os.fstat(pack.fd)
                except OSError:
                    continue
                del tenant_packs.packs[pack.name]  # its fd closes with its last reference
                tenant_packs.damaged[pack.name] = ((info.st_dev, info.st_ino, info.st_size), why)
                failed = True
            if failed:
                tenant_packs._reorder()
            damaged = dict(tenant_packs.damaged)
        if not damaged:
            return None
        return "; ".join(f"{os.path.join(self.folder(tenant), name)}: {why}" for name, (_id, why) in sorted(damaged.items()))

    # ------------------------------------------------------------------ writes
    def write(self, tenant: str, objects: dict[str, bytes], durable: bool) -> str:
        """Write `objects` as one pack of the tenant (temp file, rename; `durable`: the pack and
        its folder fsynced), readable here at once; returns its path."""
        folder = self.folder(tenant)
        data = encode_pack(objects)
        path = os.path.join(folder, f"{hashlib.sha256(data).hexdigest()}.pack")
        try:
            self.files.mkdir(folder, durable)
        except StorageError:
            raise
        except OSError as exc:
            raise _fail("create folder for", path, exc) from exc
        if not self.files.holds(path, data):
            self.files.write_atomic(path, data, durable)
        elif durable and not _sync_file(path):  # another writer's copy (maybe never synced) is synced, or,
            self.files.write_atomic(path, data, durable)  # merged away meanwhile (a flush holds no lock), ours written
        self._remember(tenant, path)
        return path

    def _remember(self, tenant: str, path: str) -> None:
        with contextlib.suppress(FileNotFoundError, PackDamage, CorruptObjectError, OSError):
            self._of(tenant).add(_open_pack(path))

    def merge(self, tenant: str) -> list[str]:
        """Under the tenant's lock: merge the tenant's small packs (`choose_merge`); the
        merged pack is fsynced with its folder before the merged-away packs are unlinked. A
        pack failing its checks is left out (never merged, never unlinked) and the rule applied
        to the others. Returns the paths unlinked (none: nothing to merge)."""
        tenant_packs = self._of(tenant)
        tenant_packs.relist()
        candidates = list(tenant_packs.order)
        while True:
            chosen = choose_merge(candidates)
            if len(chosen) < 2:
                return []
            objects: dict[str, bytes] = {}
            for pack in chosen:
                read = _pack_objects(pack)
                if read is None:  # fails its checks: left alone (verify reports it), the others merged
                    candidates.remove(pack)
                    break
                objects.update(read)
            else:
                break
        _merge_step("read")
        folder = self.folder(tenant)
        data = encode_pack(objects)
        path = os.path.join(folder, f"{hashlib.sha256(data).hexdigest()}.pack")
        if not self.files.holds(path, data):
            temp = self.files.write_temp(path, data, durable=True)
            _merge_step("written")
            self.files.install(temp, path)
        elif not _sync_file(path):  # already there (maybe written without sync): synced before the others go
            raise StorageError(f"cannot sync {path}: it vanished during the merge")
        try:
            _fsync_dir(folder)
        except OSError as exc:
            raise _fail("sync folder", folder, exc) from exc
        _merge_step("renamed")
        self._remember(tenant, path)
        gone = []
        for pack in chosen:
            if pack.path != path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(pack.path)
                gone.append(pack.path)
        _merge_step("unlinked")
        return gone

    # ------------------------------------------------------------------ verify
    def check(self, tenant: str) -> Iterator[PackItem]:
        """Everything in the tenant's packs/, read afresh (for verify): problems (misnamed or
        special files, folders, a file whose sha256 is not its name, a damaged header or
        index) and the objects of every sound pack with their place. A pack merged away while
        this runs is read in the merged pack (the folder is listed again)."""
        folder = self.folder(tenant)
        done: set[str] = set()
        while True:
            try:
                names = sorted(set(os.listdir(folder)) - done)
            except (FileNotFoundError, NotADirectoryError):
                return
            except OSError as exc:
                yield PackItem(folder, "unreadable", f"cannot list: {exc.strerror or exc}")
                return
            if not names:
                return
            for name in names:
                done.add(name)
                yield from _check_entry(os.path.join(folder, name), name)


def _read_first_good(order: tuple[_Pack, ...], digest: str, key: int, damaged: list[CorruptObjectError]) -> bytes | None:
    """The object's bytes from the first pack of `order` holding a good copy; a damaged copy
    (appended to `damaged`) does not hide a good one in another pack."""
    for pack in order:
        try:
            data = pack.read(digest, key)
        except CorruptObjectError as exc:
            damaged.append(exc)
            continue
        if data is not None:
            return data
    return None


def _check_entry(path: str, name: str) -> Iterator[PackItem]:
    """verify's checks of one entry of packs/ (see `Packs.check`)."""
    if name.startswith(TMP_PREFIX):
        return  # an interrupted write: temp_files notes it
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return  # merged away meanwhile: the merged pack is listed next
    if not stat.S_ISREG(mode):
        yield PackItem(path, "stray-file", f"{_kind(mode)} in packs/: only pack files belong there")
        return
    if not NAME_RE.fullmatch(name):
        yield PackItem(path, "stray-file", "not named {sha256}.pack")
        return
    try:
        fd, info = _open_regular(path, "pack")
    except FileNotFoundError:
        return
    except (OSError, DbEngineError) as exc:
        yield PackItem(path, "unreadable", str(exc))
        return
    try:
        data = _read_fd(fd, info.st_size + 1)
    except OSError as exc:
        yield PackItem(path, "unreadable", f"cannot read: {exc.strerror or exc}")
        return
    finally:
        os.close(fd)
    yield from check_pack(path, name, data)


def _sync_file(path: str) -> bool:
    """fsync a pack found holding the right bytes (`RootFiles.holds`) and its folder; False
    when it is gone, StorageError when it cannot be synced."""
    _sync_in_place([path])  # (skips a file gone meanwhile)
    return os.path.lexists(path)


def _pack_objects(pack: _Pack) -> dict[str, bytes] | None:
    """Every object of an open pack, each checked against its digest, after the full index
    checks; None when one fails or the pack cannot be read again (a merge never carries
    damage on, and never unlinks a damaged pack)."""
    try:
        data = os.pread(pack.fd, pack.size, 0)
        index, digests = parse_pack(data)
    except (OSError, PackDamage):
        return None
    found = {}
    offsets = index.offsets
    for at, digest in enumerate(digests):
        item = data[offsets[at]:offsets[at + 1]]
        if hashlib.sha256(item).hexdigest() != digest:
            return None
        found[digest] = item
    pack.checked = True
    return found


def merge_tier(size: int) -> int:
    """The tier of a pack of `size` bytes: 0 below MERGE_TIER_BASE, and one more for each
    further factor of MERGE_FANOUT (so MERGE_FANOUT packs of a tier above 0 merge into the next)."""
    tier, bound = 0, MERGE_TIER_BASE
    while size >= bound:
        tier += 1
        bound *= MERGE_FANOUT
    return tier


def choose_merge(packs: list) -> list:
    """The packs a size-tiered merge rolls into one: in the lowest tier holding MERGE_FANOUT
    packs below MERGE_MAX_BYTES, its smallest MERGE_FANOUT, less the largest of them while the
    merged pack would reach MERGE_MAX_BYTES (at least two, or that tier is passed over).
    Packs of MERGE_MAX_BYTES or more never take part."""
    tiers: dict[int, list] = {}
    for pack in packs:
        if pack.size < MERGE_MAX_BYTES:
            tiers.setdefault(merge_tier(pack.size), []).append(pack)
    for tier in sorted(tiers):
        members = sorted(tiers[tier], key=lambda pack: (pack.size, pack.name))
        if len(members) < MERGE_FANOUT:
            continue
        chosen = members[:MERGE_FANOUT]
        while len(chosen) >= 2 and sum(pack.size for pack in chosen) >= MERGE_MAX_BYTES:
            chosen.pop()
        if len(chosen) >= 2:
            return chosen
    return []
