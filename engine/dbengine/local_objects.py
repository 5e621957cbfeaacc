"""`LocalObjects`: a local database's objects and refs as files (`{tenant}/objects/`, `refs/`),
with the journal and the packs consulted on reads: reads, presence, writes (journaled with
the next head write, `TenantJournals`), listings and verify's scans. `LocalStorage` holds
one and delegates to it (paths, journals and packs stay the storage's)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import CorruptObjectError, DigestNotFoundError
from .names import DIGEST_RE
from .root_files import TMP_PREFIX

if TYPE_CHECKING:
    from .storage import LocalStorage

PREFIX_LEN = 24  # an object's or a ref's file sits in the folder named by its digest's first 24 characters


class LocalObjects:
    """The object and ref files of one `LocalStorage` (its paths, files, journals and packs)."""

    def __init__(self, store: LocalStorage):
        self.root = store.root
        self.files = store.files
        self.journals = store.journals
        self.packs = store.packs
        self.object_path = store.object_path
        self.ref_path = store.ref_path
        self.tenant_dir = store.tenant_dir
        self.journal_path = store.journal_path

    # ------------------------------------------------------------------ objects
    def read_object(self, tenant: str, digest: str) -> bytes:
        """An object's bytes: this thread's unwritten ones, the packs this process has open
        (no system call but the read: a packed node skips a failed open and the journal's
        look, bench/RESULTS-packs.md), its file, else the tenant's journal (a durable commit's
        objects stay there until a checkpoint), else its packs (listed again if packs/
        changed), else its file again (a checkpoint wrote it meanwhile). Bytes from the
        journal and from packs are checked against `digest`; a damaged packed copy does not
        hide a good one elsewhere."""
        path = self.object_path(tenant, digest)
        unwritten = self.journals.unwritten(path)
        if unwritten is not None:
            return unwritten
        try:
            data = self.packs.read(tenant, digest, listing=False)
        except CorruptObjectError:
            data = None  # found damaged: the file or the journal may hold it (else raised below)
        if data is not None:
            return data
        what = f"object {digest} of tenant {tenant!r}"
        try:
            return self.files.read(path, what)
        except DigestNotFoundError:
            pass
        data = self.journals.kept.read_object(tenant, digest)
        if data is not None:
            return data
        data = self.packs.read(tenant, digest)
        if data is not None:
            return data
        try:
            return self.files.read(path, what)
        except DigestNotFoundError:
            damage = self.journals.kept.damage(tenant)
            damaged_packs = self.packs.damage(tenant)
            if damage is None and damaged_packs is None:
                raise
        if damage is None:
            raise CorruptObjectError(f"{what} not found ({path}), and damaged packs may have held it: "
                                     f"{damaged_packs}", self.packs.folder(tenant))
        journal_path = self.journal_path(tenant)
        raise CorruptObjectError(f"{what} not found ({path}), and the journal {journal_path} is not whole: "
                                 f"{damage}", journal_path)

    def has_object(self, tenant: str, digest: str) -> bool:
        """True when the object has a file, is in a valid record of the tenant's journal or in
        one of its packs (or, as `read_object`, has a file after all: a checkpoint wrote it,
        then emptied the journal)."""
        path = self.object_path(tenant, digest)
        return (self.journals.unwritten(path) is not None or os.path.isfile(path)
                or self.journals.kept.has_object(tenant, digest) or self.packs.has(tenant, digest)
                or os.path.isfile(path))

    def write_object(self, tenant: str, digest: str, data: bytes) -> bool:
        """Store an object; False when it already existed (content addressing), except for
        an object of a commit (written under the tenant's lock): not looked for, True.

        Durable storage journals it with the next head write of this thread (see
        `LocalStorage.write_head`); an object larger than OBJECT_JOURNAL_LIMIT is fsynced in place.
        """
        return self.journals.write(b"o", tenant, digest, self.object_path(tenant, digest), data)

    def iter_objects(self, tenant: str) -> Iterator[str]:
        """The digests of the tenant's objects, each once: those with a file, then those in its
        packs, then those only in its journal (the journal read first: a checkpoint meanwhile
        gives its objects files or a pack, never hides them)."""
        journaled = self.journals.kept.digests(tenant)
        seen: set[str] = set()
        for digest in self._iter_digests(os.path.join(self.tenant_dir(tenant), "objects")):
            journaled.discard(digest)
            seen.add(digest)
            yield digest
        for digest in self.packs.digests(tenant):
            if digest not in seen:
                journaled.discard(digest)
                seen.add(digest)
                yield digest
        yield from sorted(journaled)

    # ------------------------------------------------------------------ refs
    def read_ref(self, digest: str) -> bytes:
        path = self.ref_path(digest)
        unwritten = self.journals.unwritten(path)
        return unwritten if unwritten is not None else self.files.read(path, f"ref {digest}")

    def has_ref(self, digest: str) -> bool:
        path = self.ref_path(digest)
        return self.journals.unwritten(path) is not None or os.path.isfile(path)

    def ref_size(self, digest: str) -> int:
        unwritten = self.journals.unwritten(self.ref_path(digest))
        if unwritten is not None:
            return len(unwritten)
        try:
            return os.stat(self.ref_path(digest)).st_size
        except FileNotFoundError:
            raise DigestNotFoundError(f"ref {digest} not found in {self.root}/refs") from None

    def write_ref(self, digest: str, data: bytes) -> bool:
        """Store a ref (shared by all tenants); journaled like `write_object`."""
        return self.journals.write(b"r", None, digest, self.ref_path(digest), data)

    def iter_refs(self) -> Iterator[str]:
        yield from self._iter_digests(os.path.join(self.root, "refs"))

    # ------------------------------------------------------------------ scans (verify)
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
