"""`IndexState`: the parsed, validated history index of one entry, kept in memory between
calls; its lines stay texts until a Version or a change set is asked for.

The index is trusted only when it forms an unbroken chain that ends at the head;
otherwise the engine repairs it from the objects (history_index.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from .index_format import (
    _TAIL_FIELDS,
    NONE_FIELD,
    IndexChunk,
    _tail_columns,
    build_versions,
    line_changes,
)
from .versions import Version


class IndexState:
    """The parsed, validated history index of one entry, kept between calls.

    Lines stay as column texts until a Version is asked for; `crc` is the file's running
    CRC-32 at `offset`, which the next appended line continues. `damaged` means the file
    holds bytes after `offset` that are not intact lines: the next repair rewrites it.
    """

    __slots__ = ("token", "offset", "crc", "damaged", "digests", "parents", "tails", "versions", "checked", "_pos")

    def __init__(self) -> None:
        self.token = None
        self.offset = 0
        self.crc = 0
        self.damaged = False
        self.digests: list[str] = []
        self.parents: list[str | None] = []
        self.tails: list[str | None] = []
        self.versions: list[Version | None] = []
        self.checked: set[str] = set()  # digests whose line was checked against their object
        self._pos: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.digests)

    def add_chunk(self, chunk: IndexChunk) -> None:
        self.digests += chunk.digests
        self.parents += chunk.parents
        self.tails += chunk.tails
        self.versions += [None] * len(chunk.digests)
        self.offset += chunk.consumed
        self.crc = chunk.crc
        self._pos = None

    def add_line(self, digest: str, parent: str | None, tail: str, size: int, crc: int) -> None:
        """add_chunk of the one-line chunk parse_index would make of a line just appended
        (`size` bytes, the file's running CRC-32 `crc` after it), without building the chunk."""
        self.digests.append(digest)
        self.parents.append(parent)
        self.tails.append(tail)
        self.versions.append(None)
        self.offset += size
        self.crc = crc
        if self._pos is not None:  # (what the rebuilt map would say: the last place of a digest)
            self._pos[digest] = len(self.digests) - 1

    def add_versions(self, versions: list[Version]) -> None:
        for version in versions:
            self.versions.append(version)
            self.digests.append(version.digest)
            self.parents.append(version.parent)
            self.tails.append(None)
        self._pos = None

    def keep(self, count: int) -> IndexState:
        """A new state with the first `count` versions of this one (nothing read from disk)."""
        state = IndexState()
        state.digests = self.digests[:count]
        state.parents = self.parents[:count]
        state.tails = self.tails[:count]
        state.versions = self.versions[:count]
        return state

    def position(self, digest: str) -> int | None:
        """Where `digest` stands in the chain (0 = first version), or None."""
        if self.digests and self.digests[-1] == digest:
            return len(self.digests) - 1
        if self._pos is None:
            self._pos = dict(zip(self.digests, range(len(self.digests)), strict=True))
        return self._pos.get(digest)

    def versions_between(self, lo: int, hi: int) -> list[Version]:
        """Versions lo..hi-1 (oldest first), built from their lines in one go (ValueError if damaged)."""
        window = self.versions[lo:hi]
        if None not in window:
            return window
        if window.count(None) == len(window):  # the common cold case: whole columns at once
            built = build_versions(self.digests[lo:hi], self.parents[lo:hi], self.tails[lo:hi], lo)
            self.versions[lo:hi] = built
            return built
        i = lo
        while i < hi:  # runs of versions not built yet, each in one go
            if self.versions[i] is not None:
                i += 1
                continue
            j = i
            while j < hi and self.versions[j] is None:
                j += 1
            self.versions[i:j] = build_versions(self.digests[i:j], self.parents[i:j], self.tails[i:j], i)
            i = j
        return self.versions[lo:hi]

    def versions_with_changes(self) -> list[Version]:
        """Every version, oldest first, with its change set in `summary.keys` (to rewrite the
        file without losing them); built anew, not cached (ValueError if a line is damaged)."""
        out: list[Version] = []
        i, count = 0, len(self.digests)
        while i < count:
            if self.tails[i] is None:
                out.append(self.versions[i])
                i += 1
                continue
            j = i
            while j < count and self.tails[j] is not None:
                j += 1
            out += build_versions(self.digests[i:j], self.parents[i:j], self.tails[i:j], i, changes=True)
            i = j
        return out

    def version(self, i: int) -> Version:
        """Version i, built from its index line on first use (ValueError if damaged)."""
        return self.versions_between(i, i + 1)[0]

    def changes(self, i: int) -> tuple[str, ...] | None:
        """The change set of version i (None: unknown); ValueError if its line is malformed."""
        tail = self.tails[i]
        if tail is None:  # added from the objects by a repair
            summary = self.versions[i].summary
            return summary.keys if summary is not None else None
        return line_changes(tail)

    def changes_upto(self, hi: int) -> list[tuple[str, ...] | None]:
        """The change sets of versions 0..hi-1 (None: unknown), parsed in one go when every
        line is of format 0.5 (ValueError if one is malformed)."""
        tails = self.tails[:hi]
        if None in tails:
            return [self.changes(i) for i in range(hi)]
        try:
            texts = _tail_columns(tails)[6::_TAIL_FIELDS]
        except (TypeError, AttributeError):
            raise ValueError("bad index line") from None
        known = [text for text in texts if text != NONE_FIELD]
        if not known:
            return [None] * hi
        if not all(text.startswith("[") and text.endswith("]") for text in known):
            raise ValueError("bad change set in the index")
        parsed = json.loads("[" + ",".join(known) + "]")
        if len(parsed) != len(known) or not all(type(keys) is list and all(type(k) is str for k in keys)
                                                for keys in parsed):
            raise ValueError("bad change set in the index")
        sets = iter(map(tuple, parsed))
        return [None if text == NONE_FIELD else next(sets) for text in texts]

    def touching(self, hi: int, match: Callable[[tuple[str, ...]], bool], needle: str | None = None) -> list[tuple[int, bool]]:
        """Positions below `hi`, newest first, whose change set `match`es (True) or is unknown
        (False: the caller compares that version with its parent). `needle`, when given, is
        text every matching change-set field contains (a fast pre-filter on the raw line)."""
        found = []
        for i in range(hi - 1, -1, -1):
            tail = self.tails[i]
            if needle is not None and tail is not None and needle not in tail and tail[-11:-8] != "\t-\t" \
                    and tail.count("\t") == _TAIL_FIELDS - 1:  # a known change set without the needle
                continue
            keys = self.changes(i)
            if keys is None:
                found.append((i, False))
            elif match(keys):
                found.append((i, True))
        return found
