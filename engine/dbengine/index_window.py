"""Windowed reads of a history index: a few lines from anywhere in a long index, checked.

An index of 1,000,000 versions is ~200 MB; the newest versions are at its end, the
oldest at its start, and every line of format 0.5 names its position in the chain, so a
window of lines is found by reading a few kilobytes around an offset estimated from
the file's average line length (and moved when the estimate was off). A window is
trusted like a whole file: its CRCs continue from the stored CRC of the line before it
(and the line after it is read too, which checks the window's last line), its lines
chain, their positions are the ones asked for. Damage raises WindowDamaged (the caller
repairs the index, as a whole read would); a shape it cannot use (lines of format 0.4,
a torn last line, a file that changed under it) returns None: the caller reads the file
whole, as before. One version's line is found without knowing its position by a bytes
scan of the file for line starts (find_lines); the window at the position it names is
then read and checked as above.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .index_format import line_position, parse_index, seed_crc

#: read_range(offset, nbytes) -> (bytes, start offset, file size), or None (no index).
ReadRange = Callable[[int, int], "tuple[bytes, int, int] | None"]

_SLACK = 4096
_ATTEMPTS = 8


class WindowDamaged(Exception):
    """The lines of a window are damaged (a CRC, a position or the chain is wrong)."""


@dataclass
class Lines:
    """Index lines cut into columns; `first` is the chain position of the first one."""

    digests: list[str]
    parents: list[str | None]
    tails: list[str]
    first: int


def _seed(data: bytes) -> tuple[int, int, str, int | None] | None:
    """Skip the (maybe partial) first line of bytes read from inside a file; the next
    complete line seeds the CRC: (its end, the running CRC after it, its digest, its
    position, None for a line of format 0.4); None when there is no complete second line."""
    cut = data.find(b"\n") + 1
    end = data.find(b"\n", cut) + 1 if cut else 0
    if not end:
        return None
    line = data[cut:end]
    crc = seed_crc(line)
    if crc is None or len(line) < 140:
        raise WindowDamaged("an index line inside the window is not readable")
    try:
        position = line_position(line[130:-1].decode("ascii"))
    except UnicodeDecodeError:
        raise WindowDamaged("an index line inside the window is not ASCII") from None
    return end, crc, line[:64].decode("ascii", "replace"), position


class _Reads:
    """Up to _ATTEMPTS reads of an index's bytes, each cut to its complete lines (see _body):
    (lines, CRC before them, digest and position of the line before them, the read's start,
    end and the file's size). The caller moves `offset` or grows `nbytes` between reads;
    `offset` None reads the file's last `nbytes`. A read that holds no complete line is made
    `grow` times larger; no index, or lines of format 0.4, end the reads."""

    def __init__(self, read_range: ReadRange, offset: int | None, nbytes: int, grow: int) -> None:
        self.read_range, self.offset, self.nbytes, self.grow = read_range, offset, nbytes, grow

    def __iter__(self) -> Iterator[tuple[bytes, int, str | None, int, int, int, int]]:
        for _ in range(_ATTEMPTS):
            got = self.read_range(-self.nbytes if self.offset is None else self.offset, self.nbytes)
            if got is None:
                return
            data, start, size = got
            seeded = _body(data, start)
            if seeded is None:
                return
            if not seeded:
                self.nbytes *= self.grow
                continue
            yield (*seeded, start, start + len(data), size)


def _body(data: bytes, start: int) -> tuple[bytes, int, str | None, int] | tuple[()] | None:
    """The complete lines of bytes read from offset `start` of an index and what they continue:
    (the lines, the running CRC-32 before them, the digest and position of the line before
    them: None and -1 at the file's start). Read from inside the file, the first (maybe
    partial) line only seeds the CRC; () when no complete line follows it (read more), None
    when it is of format 0.4 (no positions: the caller reads the file whole)."""
    if start == 0:
        return data, 0, None, -1
    seed = _seed(data)
    if seed is None:
        return ()
    end, crc, previous, before = seed
    return None if before is None else (data[end:], crc, previous, before)


def newest(read_range: ReadRange, count: int, line_guess: int = 220) -> tuple[Lines, int, int] | None:
    """The newest `count` lines (fewer when the index is shorter), the number of lines and
    the file's size; None when the file's end cannot be read this way."""
    reads = _Reads(read_range, None, (count + 2) * line_guess + _SLACK, grow=4)
    for body, crc, previous, before, start, _end, size in reads:
        chunk = parse_index(body, crc)
        if not chunk.clean:
            raise WindowDamaged("the newest index lines are damaged")
        if chunk.consumed != len(body) or not chunk.digests:
            return None  # a torn last line (a crash during an append), or an empty file
        last = line_position(chunk.tails[-1])
        if last is None:
            return None  # format 0.4: no positions
        if last != before + len(chunk.digests):
            raise WindowDamaged("index line positions do not follow each other")
        take = min(count, len(chunk.digests))
        if take < count and start > 0:
            reads.nbytes = max(reads.nbytes * 2, int(size * (count + 2) / (last + 1)) + _SLACK)
            continue
        skip = len(chunk.digests) - take
        link = chunk.digests[skip - 1] if skip else previous
        lines = Lines(chunk.digests[skip:], chunk.parents[skip:], chunk.tails[skip:], last - take + 1)
        _check_chain(lines, link)
        return lines, last + 1, size
    return None


def window(read_range: ReadRange, lo: int, hi: int, total: int, size: int) -> Lines | None:
    """Lines of chain positions lo..hi-1 (0 <= lo < hi <= total) of an index of `total`
    lines and about `size` bytes; the line at `hi` is read too when there is one."""
    need = min(hi, total - 1)  # the last line to read: the one after the window checks it
    average = max(size / max(total, 1), 1.0)
    offset = 0 if lo == 0 else max(int((lo - 1) * average - 2 * average) - _SLACK, 0)
    reads = _Reads(read_range, offset, int((need - lo + 3) * average * 1.25) + 2 * _SLACK, grow=2)
    for body, crc, previous, before, start, end, size in reads:
        if before >= lo:  # started too late: move back
            back = int((before - lo + 3) * average * 1.5) + _SLACK
            reads.offset, reads.nbytes = max(start - back, 0), reads.nbytes + back
            continue
        chunk = parse_index(body, crc)
        have = before + len(chunk.digests)  # position of the last intact line read
        if not chunk.clean and have < need:
            raise WindowDamaged(f"index line {have + 2} is damaged")
        if have < need:
            if end >= size:
                return None  # the file ends before the positions asked for: it changed
            if have < lo - 2:  # the whole read lies before the window: jump forward
                reads.offset = max(end + int((lo - 3 - have) * average) - _SLACK, start + 1)
            else:  # read on from the same place
                reads.nbytes += int((need - have + 3) * average * 1.5) + _SLACK
            continue
        i0, i1 = lo - before - 1, hi - before - 1
        lines = Lines(chunk.digests[i0:i1], chunk.parents[i0:i1], chunk.tails[i0:i1], lo)
        if line_position(lines.tails[0]) != lo or line_position(lines.tails[-1]) != hi - 1:
            raise WindowDamaged("index line positions are not the ones expected")
        _check_chain(lines, chunk.digests[i0 - 1] if i0 else previous)
        return lines
    return None


def _check_chain(lines: Lines, previous: str | None) -> None:
    """The lines chain (each names the one before as first parent); the first names
    `previous` (None: the first version, which names no parent)."""
    if lines.parents[1:] != lines.digests[:-1]:
        raise WindowDamaged("index lines do not chain")
    if lines.first == 0:
        if lines.parents[0] is not None:
            raise WindowDamaged("the first index line names a parent")
    elif previous is not None and lines.parents[0] != previous:
        raise WindowDamaged("index lines do not chain")




class LogView(Sequence):
    """An entry's history as a lazy, read-only sequence of Versions, newest first (0 = the
    head it was made at): len() is the number of versions, known at once; versions are
    read a page at a time through `fetch(lo, hi)` (chain positions, oldest first) and the
    pages used last are kept, so a browser of 1,000,000 versions holds a few thousand."""

    def __init__(self, fetch: Callable[[int, int], list], head: str, total: int,
                 page: int = 256, keep: int = 64) -> None:
        self.head, self.total, self.page = head, total, page
        self._fetch, self._keep = fetch, keep
        self._pages: OrderedDict[int, list] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.total

    def __repr__(self) -> str:
        return f"LogView(head={self.head[:12]}, total={self.total})"

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.total))]
        if index < 0:
            index += self.total
        if not 0 <= index < self.total:
            raise IndexError("version index out of range")
        return self.load_page(index // self.page)[index % self.page]

    def page_of(self, index: int) -> int:
        return index // self.page

    def cached(self, index: int):
        """Version `index` if its page is at hand (never reads), else None."""
        with self._lock:
            page = self._pages.get(index // self.page)
        return page[index % self.page] if page is not None and 0 <= index < self.total else None

    def load_page(self, number: int) -> list:
        """The versions of page `number` (newest first), read if they are not at hand."""
        with self._lock:
            page = self._pages.get(number)
            if page is not None:
                self._pages.move_to_end(number)
                return page
        hi = self.total - number * self.page
        lo = max(hi - self.page, 0)
        if hi <= 0:
            raise IndexError("page out of range")
        page = self._fetch(lo, hi)[::-1]
        if len(page) != hi - lo:
            raise ValueError("the history index returned a window of the wrong size")
        with self._lock:
            self._pages[number] = page
            while len(self._pages) > self._keep:
                self._pages.popitem(last=False)
        return page

    def find(self, digest: str, near: int | None = None) -> int | None:
        """The index of `digest` among the pages at hand (and the page of `near`, read)."""
        if near is not None and 0 <= near < self.total:
            with contextlib.suppress(IndexError):
                self.load_page(near // self.page)
        with self._lock:
            pages = list(self._pages.items())
        for number, page in pages:
            for i, version in enumerate(page):
                if version.digest == digest:
                    return number * self.page + i
        return None


SCAN_CHUNK = 8 << 20  # bytes per read of a scan: the index is never held whole
_LINE_MAX = 64 << 10  # an index line is at most ~33 kB (its change set is capped at 32 kB)
_HEXDIGITS = frozenset(b"0123456789abcdef")


def find_lines(read_range: ReadRange, prefix: str, first_only: bool = False) -> list[tuple[str, int]] | None:
    """Index lines whose digest starts with `prefix` (lowercase hex), found by a bytes scan of
    the file from its end, a chunk at a time: (digest, the chain position the line names),
    newest first; `first_only` stops at the first. Only line starts match (a digest inside
    another line's parent fields does not). The lines are not checked here: read the window
    at each position to trust it. None when the scan cannot answer (no index, a line
    without a position, a file that changed during the scan)."""
    needle = b"\n" + prefix.encode("ascii")
    got = read_range(-SCAN_CHUNK, SCAN_CHUNK)
    if got is None:
        return None
    data, start, size = got
    end = size
    found: list[tuple[str, int]] = []
    while True:
        buf, base = (b"\n" + data, start - 1) if start == 0 else (data, start)
        hits = []
        at = buf.find(needle)  # (forward: find() is much faster than rfind() for short needles)
        while 0 <= at and base + at < end:  # ("\n" at `end` or after: seen in the chunk after)
            hits.append(base + at + 1)
            at = buf.find(needle, at + 1)
        for line_start in reversed(hits):
            line = _line_at(read_range, line_start, size)
            if line is None:
                return None
            digest, position = line
            if not digest.startswith(prefix):
                continue
            found.append((digest, position))
            if first_only:
                return found
        if start == 0:
            return found
        end = start
        lo = max(start - SCAN_CHUNK, 0)
        got = read_range(lo, end - lo + len(needle) + 66)  # (a match across the cut is whole)
        if got is None or got[2] != size or got[1] != lo:
            return None
        data, start = got[0], lo


def _line_at(read_range: ReadRange, offset: int, size: int) -> tuple[str, int] | None:
    """(digest, position) of the line starting at `offset`; ("", -1) when the bytes there are
    not a line start of the expected shape (skipped); None when the file changed or the
    line names no position (format 0.4)."""
    got = read_range(offset, _LINE_MAX)
    if got is None or got[2] != size:
        return None
    data = got[0]
    cut = data.find(b"\n")
    if cut < 0 or data[64:65] != b"\t" or not _HEXDIGITS.issuperset(data[:64]) or len(data) < 64:
        return "", -1
    try:
        position = line_position(data[130:cut].decode("ascii"))
    except UnicodeDecodeError:
        return "", -1
    if position is None:
        return None
    return data[:64].decode("ascii"), position
