"""`S3Packs`: reading the pack files of a database in a bucket (a local one synced up).

The S3 backend never writes packs (it writes loose objects), but `aws s3 sync` of a local
database brings its `{tenant}/packs/{sha256}.pack` files (docs/FORMAT.md §6c) along. Here,
per tenant: one LIST of `packs/` (again only on a miss, at most once per RELIST_SECONDS, or
at once when the tenant's head changed since: another writer), each pack's header and index
read with ranged GETs (one GET of its first FIRST_READ bytes holds both for packs of up to
about 1,600 objects; a larger index takes one more GET) and kept in compact arrays with its
raw digests, then one ranged GET of an object's slot per read, checked against its digest
(`pack_file.find_object`, as the local backend). A pack whose header or index fails its
checks is skipped and named when an object is then missing everywhere (CorruptObjectError).
Requests go through the storage's `S3Requests` (s3requests.py), so they are counted and
retried as its own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

from .errors import CorruptObjectError
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
    find_object,
    index_size,
    load_index,
    names_object,
    parse_header,
)

RELIST_SECONDS = 5.0  # a miss lists packs/ again at most this often (unless the head changed)
FIRST_READ = 1 << 16  # bytes of a pack's first ranged GET: its header and (mostly) its whole index
PACK_TENANTS_MAX = 32  # tenants whose pack indexes are kept (least recently used dropped)
PACKS_FOLDER = "packs"
TMP_PREFIX = ".tmp-"  # a local write's temp file, copied by a sync: not a pack


class _Vanished(Exception):
    """A listed pack is gone (deleted by a later sync): listed again on the next read."""


class _S3Pack:
    """One pack of the bucket: its key, URL, size, index and raw digests (32 bytes an object:
    a full digest costs no request); `checked` once its whole index passed `check_index`."""

    __slots__ = ("key", "url", "name", "size", "index", "digests", "checked")

    def __init__(self, key: str, url: str, size: int, index: PackIndex, digests: bytes):
        self.key, self.url, self.name, self.size = key, url, key.rpartition("/")[2], size
        self.index, self.digests, self.checked = index, digests, False

    def digest_at(self, at: int) -> str:
        return self.digests[at * DIGEST:(at + 1) * DIGEST].hex()

    def read(self, digest: str, key: int, get_range: Callable[[str, int, int], bytes | None]) -> bytes | None:
        """The object's bytes (checked), None when the pack does not hold it; CorruptObjectError
        naming the pack's URL and offset when its bytes are not the object's."""

        def read(length: int, offset: int) -> bytes:
            data = get_range(self.key, offset, length)
            if data is None:
                raise _Vanished(self.key)
            return data

        try:
            return find_object(self.index, digest, key, read, self.digest_at)
        except ObjectDamage as exc:
            raise CorruptObjectError(f"object {digest} in pack {self.url} at offset {exc.offset} is corrupt: "
                                     f"{exc.why}", self.url) from None

    def full_check(self) -> str | None:
        """The full index checks, once: why the pack is damaged, or None."""
        if self.checked:
            return None
        try:
            check_index(self.digests, self.index)
        except PackDamage as exc:
            return str(exc)
        self.checked = True
        return None


class _Tenant:
    """The packs of one tenant as last listed: sound ones, damaged ones (name -> (size, why)),
    when and at which head they were listed."""

    def __init__(self) -> None:
        self.packs: dict[str, _S3Pack] = {}
        self.damaged: dict[str, tuple[int, str]] = {}
        self.listed_at: float | None = None
        self.listed_head: str | None = None
        self.guard = threading.Lock()


class S3Packs:
    """The packs of an `S3Storage`'s tenants, read only. `list_keys(prefix)` yields (key, size)
    of a listing, `get_range(key, offset, length)` is a ranged GET (None: no such key), `url`
    makes a key an s3:// URL and `folder_key(tenant)` is the key prefix of `{tenant}/packs/`."""

    def __init__(self, list_keys: Callable[[str], Iterator[tuple[str, int]]],
                 get_range: Callable[[str, int, int], bytes | None], get: Callable[[str], bytes | None],
                 url: Callable[[str], str], folder_key: Callable[[str], str]):
        self._list_keys, self._get_range, self._get, self._url = list_keys, get_range, get, url
        self._folder_key = folder_key
        self._tenants: OrderedDict[str, _Tenant] = OrderedDict()
        self._heads: dict[str, str] = {}
        self._guard = threading.Lock()

    def folder(self, tenant: str) -> str:
        """The URL of the tenant's packs/ (for messages and verify)."""
        return self._url(self._folder_key(tenant))

    def saw_head(self, tenant: str, etag: str, own: bool = False) -> None:
        """The tenant's head as read (`own`: as this engine just wrote it, which brings no pack):
        a miss after another writer's head change lists packs/ again at once."""
        with self._guard:
            state = self._tenants.get(tenant)
            if own and state is not None and state.listed_head == self._heads.get(tenant):
                state.listed_head = etag
            self._heads[tenant] = etag

    def _of(self, tenant: str) -> _Tenant:
        with self._guard:
            state = self._tenants.get(tenant)
            if state is None:
                state = self._tenants[tenant] = _Tenant()
                while len(self._tenants) > PACK_TENANTS_MAX:
                    self._tenants.popitem(last=False)
            else:
                self._tenants.move_to_end(tenant)
            return state

    # ------------------------------------------------------------------ listing
    def _relist(self, tenant: str, state: _Tenant, force: bool = False) -> bool:
        """List packs/ again when allowed (never listed, `force`, the head changed since, or
        RELIST_SECONDS passed); loads the new packs' indexes. True when it listed."""
        with state.guard:
            now = time.monotonic()
            if not (force or state.listed_at is None or now - state.listed_at >= RELIST_SECONDS
                    or state.listed_head != self._heads.get(tenant)):
                return False
            state.listed_head = self._heads.get(tenant)
            prefix = self._folder_key(tenant)
            listed = {}
            for key, size in self._list_keys(prefix):
                name = key[len(prefix):]
                if NAME_RE.fullmatch(name):
                    listed[name] = (key, size)
            # new dicts, swapped in whole: readers iterate the packs without the guard
            packs = {name: pack for name, pack in state.packs.items() if name in listed}
            damaged = {name: why for name, why in state.damaged.items() if name in listed}
            for name, (key, size) in listed.items():  # (a pack gone: a sync after a merge, its objects in another)
                if name in packs or damaged.get(name, (None,))[0] == size:
                    continue
                try:
                    packs[name] = self._load(key, size)
                    damaged.pop(name, None)
                except PackDamage as exc:
                    damaged[name] = (size, str(exc))
                except _Vanished:
                    continue
            state.packs, state.damaged, state.listed_at = packs, damaged, time.monotonic()
            return True

    def _load(self, key: str, size: int) -> _S3Pack:
        """A pack's header and index from one or two ranged GETs (O(1) checks: `load_index`)."""
        if size <= 0:
            raise PackDamage("the file is empty")
        first = self._get_range(key, 0, min(size, FIRST_READ))
        if first is None:
            raise _Vanished(key)
        count, start = parse_header(first[:HEADER_MAX], size)
        whole = index_size(count)
        if start + whole <= len(first):
            region = first[start:start + whole]
        else:
            region = self._get_range(key, start, whole)
            if region is None:
                raise _Vanished(key)
        if len(region) != whole:
            raise PackDamage(f"the index is cut short ({len(region)} of {whole} bytes)")
        index = load_index(lambda length, offset: region[offset - start:offset - start + length], count, start, size)
        return _S3Pack(key, self._url(key), size, index, bytes(region[:count * DIGEST]))

    # ------------------------------------------------------------------ reads
    def read(self, tenant: str, digest: str, listing: bool = True) -> bytes | None:
        """The object's bytes from a pack of the tenant (checked), None when no pack holds it
        (`listing`: packs/ listed again first when allowed, see `_relist`; False: only the
        packs already listed, no request unless one names the object)."""
        state = self._of(tenant)
        key = int(digest[:16], 16)
        damaged: list[CorruptObjectError] = []
        data = self._first_good(state, digest, key, damaged)
        if data is None and listing and self._relist(tenant, state):
            data = self._first_good(state, digest, key, damaged)
        if data is None and damaged:
            raise damaged[0]  # every copy found is damaged
        return data

    def _first_good(self, state: _Tenant, digest: str, key: int, damaged: list[CorruptObjectError]) -> bytes | None:
        """The object from the first pack holding a good copy (a damaged copy, appended to
        `damaged`, does not hide a good one in another pack)."""
        for pack in state.packs.values():
            try:
                data = pack.read(digest, key, self._get_range)
            except CorruptObjectError as exc:
                damaged.append(exc)
                continue
            except _Vanished:
                state.listed_at = None  # listed again by the next miss
                continue
            if data is not None:
                return data
        return None

    def has(self, tenant: str, digest: str, listing: bool = True) -> bool:
        """True when a pack of the tenant names the object (no request but a LIST and index
        GETs when packs/ is listed again on a miss)."""
        state = self._of(tenant)
        if any(names_object(pack.index, digest, pack.digest_at) for pack in state.packs.values()):
            return True
        return listing and self._relist(tenant, state) and \
            any(names_object(pack.index, digest, pack.digest_at) for pack in state.packs.values())

    def digests(self, tenant: str) -> Iterator[str]:
        """Every digest the tenant's packs name (packs/ listed afresh), possibly twice."""
        state = self._of(tenant)
        self._relist(tenant, state, force=True)
        for pack in state.packs.values():
            text = pack.digests.hex()
            for at in range(0, len(text), 2 * DIGEST):
                yield text[at:at + 2 * DIGEST]

    def damage(self, tenant: str) -> str | None:
        """The damaged packs of the tenant, for a missing object's message: those that failed
        at loading, and the loaded ones failing the full index checks now (then skipped)."""
        state = self._of(tenant)
        with state.guard:
            failed = {pack.name: (pack.size, why) for pack in state.packs.values()
                      if (why := pack.full_check()) is not None}
            if failed:
                state.packs = {name: pack for name, pack in state.packs.items() if name not in failed}
                state.damaged = {**state.damaged, **failed}
            damaged = dict(state.damaged)
        if not damaged:
            return None
        folder = self.folder(tenant)
        return "; ".join(f"{folder}{name}: {why}" for name, (_size, why) in sorted(damaged.items()))

    # ------------------------------------------------------------------ verify
    def check(self, tenant: str) -> Iterator[PackItem]:
        """Everything under the tenant's packs/, read afresh (for verify): misnamed keys, a pack
        whose sha256 is not its name, a damaged header or index, and the objects of every sound
        pack with their place (1 LIST per 1,000 keys, 1 GET per pack)."""
        prefix = self._folder_key(tenant)
        for key, _size in self._list_keys(prefix):
            name, url = key[len(prefix):], self._url(key)
            if name.startswith(TMP_PREFIX):
                continue
            if not NAME_RE.fullmatch(name):
                yield PackItem(url, "stray-file", "not named {sha256}.pack: only pack files belong in packs/")
                continue
            data = self._get(key)
            if data is not None:  # (None: deleted meanwhile)
                yield from check_pack(url, name, data)
