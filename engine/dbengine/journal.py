"""The per-tenant journal's format: framing, records, and a scan that trusts nothing.

A durable commit appends one record (the new objects' and refs' bytes, and the new head's
bytes) to `{tenant}/journal` and syncs that one file; ref files are then written without
fsync, and the objects and the head stay in the journal (readers find objects by
`frame_at`/`frames_before`, the head by `journal_head`) until a checkpoint gives them their
files. After a power loss, the records replay what the disk lost. This module only
encodes and decodes; journal_store.py does the file work. See docs/FORMAT.md.

Frame: b"MJR1", payload length (u32 BE), payload, sha256(the 8 header bytes + payload),
payload length again (u32 BE), b"MJE1". The trailer lets an appender check the last frame
from the end of the file without reading the journal from its start.
Payload: boot id (16 bytes), base head sha256 (32 bytes, zeros: none; the sha256 of the
head the commit replaced: the head file's for a journal's first record, the previous
record's head for the others), item count (u32), then items: kind (b"o" object, b"r" ref, b"h" head), sha256 of the data (32 bytes, raw),
data length (u32), data.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .names import DIGEST_RE

MAGIC, END_MAGIC = b"MJR1", b"MJE1"
_HEADER = struct.Struct(">4sI")
_TRAILER = struct.Struct(">32sI4s")
_PAYLOAD_HEAD = struct.Struct(">16s32sI")
_ITEM = struct.Struct(">c32sI")
OVERHEAD = _HEADER.size + _TRAILER.size
RECORD_LIMIT = 512 * 1024 * 1024  # a larger frame is damage, never read into memory
NO_BOOT = bytes(16)
_NO_BASE = bytes(32)
_KINDS = {b"o": "objects", b"r": "refs", b"h": "head"}


class JournalError(ValueError):
    """A frame or record that is not what an engine writes (forged or damaged)."""


class JournalShrank(JournalError):
    """The journal ended before bytes its size promised: a checkpoint emptied it meanwhile."""


@dataclass
class Record:
    """One commit: objects and refs as (hex digest, bytes), the head bytes, the base head's sha256."""

    boot: bytes = NO_BOOT
    base: bytes | None = None
    objects: list[tuple[str, bytes]] = field(default_factory=list)
    refs: list[tuple[str, bytes]] = field(default_factory=list)
    head: bytes | None = None
    #: where each object's bytes start in the journal file (filled by `scan`, same order as `objects`)
    object_offsets: list[int] = field(default_factory=list)


@dataclass
class ScanResult:
    """How far the journal holds whole, valid records, and what follows them.

    `end`: offset after the last valid record. `torn`: the rest is one frame cut short by a
    crash (normal, ignored). `damage`: a sentence when the rest is anything else (a bad
    checksum before more data, a forged record): the journal is not trusted from there on.
    """

    end: int = 0
    size: int = 0
    records: int = 0
    torn: bool = False
    damage: str | None = None
    salvaged: int = 0  # valid records found after the damage (`scan_all`)


_boot_id: bytes | None = None


def boot_id() -> bytes:
    """This boot's id (Linux), or NO_BOOT when the system has none: then every journal
    found non-empty is replayed, as if the machine had restarted."""
    global _boot_id
    if _boot_id is None:
        try:
            with open("/proc/sys/kernel/random/boot_id", "rb") as handle:
                _boot_id = bytes.fromhex(handle.read(100).decode("ascii").strip().replace("-", ""))[:16].ljust(16, b"\0")
        except (OSError, ValueError, UnicodeDecodeError):
            _boot_id = NO_BOOT
    return _boot_id


def encode(record: Record) -> bytes:
    """The frame of a record, ready to append."""
    items = [(b"o", digest, data) for digest, data in record.objects]
    items += [(b"r", digest, data) for digest, data in record.refs]
    parts = [_PAYLOAD_HEAD.pack(record.boot, record.base or _NO_BASE, len(items) + (record.head is not None))]
    for kind, digest, data in items:
        parts += [_ITEM.pack(kind, bytes.fromhex(digest), len(data)), data]
    if record.head is not None:
        parts += [_ITEM.pack(b"h", hashlib.sha256(record.head).digest(), len(record.head)), record.head]
    payload = b"".join(parts)
    header = _HEADER.pack(MAGIC, len(payload))
    checksum = hashlib.sha256(header)
    checksum.update(payload)  # (no copy of header + payload to hash)
    return b"".join((header, payload, _TRAILER.pack(checksum.digest(), len(payload), END_MAGIC)))


def object_offsets(record: Record) -> list[int]:
    """Where each object's bytes start in the frame `encode(record)` makes (objects come
    first), so that a writer can find them in the journal without reading it back."""
    offsets = []
    offset = _HEADER.size + _PAYLOAD_HEAD.size
    for _digest, data in record.objects:
        offset += _ITEM.size
        offsets.append(offset)
        offset += len(data)
    return offsets


def frame_checksum(frame: bytes) -> bytes:
    """The checksum a frame ends with (it names the frame: a reader's index compares it)."""
    return frame[-_TRAILER.size:-_TRAILER.size + 32]


def checksum_before(fd: int, end: int) -> bytes | None:
    """The checksum of the frame ending at `end` (None: no whole trailer there)."""
    if end < OVERHEAD:
        return None
    data = _pread(fd, 32, end - _TRAILER.size)
    return data if len(data) == 32 else None


def decode(payload: bytes, at: int = 0) -> Record:
    """The record of a checksummed payload; JournalError when it is not one the engine
    writes: every item's bytes must hash to the digest it claims, the head must be an
    entry -> digest JSON object, and nothing may overrun or trail. `at`: the payload's
    offset in the file (for `Record.object_offsets`)."""
    if len(payload) < _PAYLOAD_HEAD.size:
        raise JournalError("record too short")
    boot, base, count = _PAYLOAD_HEAD.unpack_from(payload)
    record = Record(boot=boot, base=None if base == _NO_BASE else base)
    offset = _PAYLOAD_HEAD.size
    for _ in range(count):
        if offset + _ITEM.size > len(payload):
            raise JournalError("item runs past the record")
        kind, digest, length = _ITEM.unpack_from(payload, offset)
        offset += _ITEM.size
        if kind not in _KINDS or offset + length > len(payload):
            raise JournalError("unknown item kind or item runs past the record")
        data = payload[offset:offset + length]
        offset += length
        if hashlib.sha256(data).digest() != digest:
            raise JournalError(f"{_KINDS[kind]} bytes do not match their digest {digest.hex()[:12]}")
        if kind == b"h":
            if record.head is not None:
                raise JournalError("two heads in one record")
            check_head(data)
            record.head = data
        else:
            getattr(record, _KINDS[kind]).append((digest.hex(), data))
            if kind == b"o":
                record.object_offsets.append(at + offset - length)
    if offset != len(payload):
        raise JournalError("bytes after the last item")
    return record


def check_head(data: bytes) -> dict[str, str]:
    """The entry -> digest map of head bytes; JournalError when they are not one. UTF-8 only,
    no byte order mark (as the engine writes heads and its readers parse them: `json.loads`
    of bytes would also take UTF-16 or a BOM, which the head's reader then refuses)."""
    try:
        head = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise JournalError("head is not valid JSON") from None
    if type(head) is not dict or not all(type(k) is str and type(v) is str and DIGEST_RE.fullmatch(v)
                                         for k, v in head.items()):
        raise JournalError("head is not an entry -> digest map")
    return head


def read_at(fd: int, length: int, offset: int) -> bytes:
    """Up to `length` bytes of `fd` at `offset` (fewer only at the end of the file)."""
    return _pread(fd, length, offset)


def _pread(fd: int, length: int, offset: int) -> bytes:
    chunks = []
    while length > 0:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _trailer_before(fd: int, end: int) -> tuple[bytes, int, bytes] | None:
    """(checksum, payload length, end magic) of the trailer ending at `end`; None when fewer
    bytes are there (the journal shrank since its size was taken: a checkpoint emptied it)."""
    data = _pread(fd, _TRAILER.size, end - _TRAILER.size)
    return _TRAILER.unpack(data) if len(data) == _TRAILER.size else None


def first_boot(fd: int) -> bytes | None:
    """The boot id in the journal's first frame (None: no whole header to read it from)."""
    data = _pread(fd, _HEADER.size + 16, 0)
    if len(data) < _HEADER.size + 16 or data[:4] != MAGIC:
        return None
    return data[_HEADER.size:]


def last_boot(fd: int, size: int) -> bytes | None:
    """The boot id in the journal's last frame, when it is a valid frame (None: it is not)."""
    found = frame_before(fd, size)
    if found is None:
        return None
    data = _pread(fd, 16, found[0] + _HEADER.size)
    return data if len(data) == 16 else None


def tail_is_whole(fd: int, size: int) -> bool:
    """True when the file ends with a whole frame whose checksum holds (or is empty)."""
    if size == 0:
        return True
    bounds = _frame_bounds(fd, size)
    if bounds is None:
        return False
    start, checksum, length = bounds
    frame = _pread(fd, _HEADER.size + length, start)
    return frame[:_HEADER.size] == _HEADER.pack(MAGIC, length) and hashlib.sha256(frame).digest() == checksum


def _frame_objects(frame: bytes, start: int) -> list[tuple[str, int, int]] | None:
    """The objects of one whole frame read from offset `start`, as (digest, offset of the
    bytes in the file, length); None unless it is a record `decode` accepts: header, trailer
    and checksum agree, items' kinds and lengths decode exactly, every item's bytes hash to
    its digest, at most one head and an entry -> digest map (a frame whose checksum holds
    but whose items lie, forged, never puts a digest in a reader's index)."""
    if len(frame) < OVERHEAD + _PAYLOAD_HEAD.size:
        return None
    magic, length = _HEADER.unpack_from(frame)
    if magic != MAGIC or len(frame) != length + OVERHEAD:
        return None
    stop = _HEADER.size + length
    checksum, length2, end_magic = _TRAILER.unpack_from(frame, stop)
    view = memoryview(frame)
    if end_magic != END_MAGIC or length2 != length or hashlib.sha256(view[:stop]).digest() != checksum:
        return None
    count = _PAYLOAD_HEAD.unpack_from(frame, _HEADER.size)[2]
    offset, objects, heads = _HEADER.size + _PAYLOAD_HEAD.size, [], 0
    for _ in range(count):
        if offset + _ITEM.size > stop:
            return None
        kind, digest, size = _ITEM.unpack_from(frame, offset)
        offset += _ITEM.size
        if kind not in _KINDS or offset + size > stop:
            return None
        data = view[offset:offset + size]
        if hashlib.sha256(data).digest() != digest:
            return None
        if kind == b"o":
            objects.append((digest.hex(), start + offset, size))
        elif kind == b"h":
            heads += 1
            try:
                check_head(bytes(data))
            except JournalError:
                return None
        offset += size
    return objects if offset == stop and heads <= 1 else None


def frame_at(fd: int, start: int, size: int) -> tuple[int, list[tuple[str, int, int]]] | None:
    """The valid frame starting at `start` of a journal of `size` bytes: (its end, its
    objects as in `_frame_objects`); None when there is none (torn, damaged or the end)."""
    header = _pread(fd, _HEADER.size, start)
    if len(header) < _HEADER.size:
        return None
    length = _HEADER.unpack(header)[1]
    end = start + length + OVERHEAD
    if length > RECORD_LIMIT or end > size:
        return None
    objects = _frame_objects(_pread(fd, end - start, start), start)
    return None if objects is None else (end, objects)


def frame_before(fd: int, end: int) -> tuple[int, list[tuple[str, int, int]]] | None:
    """The valid frame ending at `end`, found from its trailer (a journal read from its end
    backwards): (its start, its objects); None when no valid frame ends there."""
    bounds = _frame_bounds(fd, end)
    if bounds is None:
        return None
    start = bounds[0]
    objects = _frame_objects(_pread(fd, end - start, start), start)
    return None if objects is None else (start, objects)


def _frame_bounds(fd: int, end: int) -> tuple[int, bytes, int] | None:
    """(start, checksum, payload length) of the frame whose trailer ends at `end`, from the
    trailer alone; None when no engine's trailer ends there (nothing checked beyond it)."""
    if end < OVERHEAD:
        return None
    trailer = _trailer_before(fd, end)
    if trailer is None:
        return None
    checksum, length, magic = trailer
    start = end - OVERHEAD - length
    if magic != END_MAGIC or start < 0 or length > RECORD_LIMIT:
        return None
    return start, checksum, length


def frames_before(fd: int, end: int, window: int = 1 << 16) -> tuple[int, list[tuple[str, int, int]]] | None:
    """The valid frames ending at `end`, going backwards, read with one pread of up to
    `window` bytes (more for one larger frame): (where the earliest starts, their objects,
    newest first). Stops at the window's start or at a frame that fails its checks; None
    when the frame ending at `end` itself is not valid."""
    low = max(0, end - window)
    data = memoryview(_pread(fd, end - low, low))
    if len(data) != end - low:
        return None  # the journal shrank meanwhile (a checkpoint emptied it)
    objects: list[tuple[str, int, int]] = []
    cursor = end
    while cursor - low >= OVERHEAD:
        _checksum, length, magic = _TRAILER.unpack_from(data, cursor - low - _TRAILER.size)
        start = cursor - OVERHEAD - length
        if magic != END_MAGIC or length > RECORD_LIMIT or start < 0:
            break
        if start < low:
            if cursor == end:  # one frame larger than the window
                found = frame_before(fd, end)
                return None if found is None else (found[0], found[1][::-1])
            break
        found = _frame_objects(data[start - low:cursor - low], start)
        if found is None:
            break
        objects.extend(reversed(found))
        cursor = start
    return None if cursor == end else (cursor, objects)


READ_CHUNK = 1 << 20  # bytes of a frame read at once when checking it for its head


@dataclass
class Tip:
    """The head the journal gives readers: `head` (None: no record gives one), its sha256,
    `end`, where the valid records giving it end (the journal's valid prefix may end
    earlier when the head comes from a last frame linked to the one before it), and
    `linked`: found from the end (the last frame starts the journal or is linked to the
    one before it). Not linked: a scan from the start found it (a torn tail, damage,
    records of another program): a writer checkpoints before appending to such a journal."""

    head: bytes | None
    sha: bytes | None
    end: int
    linked: bool = False


class _FrameReader:
    """The header and payload of one frame read in order, at most READ_CHUNK bytes at a
    time, every byte fed to the frame's checksum (memory: one chunk, plus the head)."""

    def __init__(self, fd: int, start: int, stop: int):
        self.fd, self.at, self.stop = fd, start, stop
        self.buffer, self.position = b"", 0
        self.checksum = hashlib.sha256()

    def _fill(self) -> None:
        want = min(READ_CHUNK, self.stop - self.at)
        if want <= 0:
            raise JournalError("item runs past the record")
        data = _pread(self.fd, want, self.at)
        if len(data) != want:
            raise JournalShrank("the journal shrank while read")
        self.checksum.update(data)
        self.buffer, self.position, self.at = data, 0, self.at + want

    def take(self, length: int, digest: Any = None, keep: bool = True) -> bytes:
        """The next `length` bytes (b"" unless `keep`), fed to `digest` too."""
        parts = []
        while length > 0:
            if self.position == len(self.buffer):
                self._fill()
            piece = self.buffer[self.position:self.position + length]
            self.position += len(piece)
            length -= len(piece)
            if digest is not None:
                digest.update(piece)
            if keep:
                parts.append(piece)
        return b"".join(parts)

    def done(self) -> bool:
        return self.position == len(self.buffer) and self.at == self.stop


def frame_head(fd: int, end: int) -> tuple[int, bytes | None, bytes | None] | None:
    """The valid record whose frame ends at `end`, checked as `decode` checks it (its
    checksum, every item's bytes against their sha256, the head an entry -> digest map)
    but read in chunks and keeping only the head: (its start, its base, its head bytes or
    None). None when no valid record ends there; JournalShrank when the file shrank."""
    bounds = _frame_bounds(fd, end)
    if bounds is None:
        return None
    start, checksum, length = bounds
    if length < _PAYLOAD_HEAD.size:
        return None
    reader = _FrameReader(fd, start, start + _HEADER.size + length)
    head: bytes | None = None
    try:
        if reader.take(_HEADER.size) != _HEADER.pack(MAGIC, length):
            return None
        _boot, base, count = _PAYLOAD_HEAD.unpack(reader.take(_PAYLOAD_HEAD.size))
        for _ in range(count):
            kind, digest, size = _ITEM.unpack(reader.take(_ITEM.size))
            if kind not in _KINDS or size > reader.stop - reader.at + len(reader.buffer) - reader.position:
                return None
            hasher = hashlib.sha256()
            data = reader.take(size, hasher, keep=kind == b"h")
            if hasher.digest() != digest:
                return None
            if kind == b"h":
                if head is not None:
                    return None
                check_head(data)
                head = data
        if not reader.done() or reader.checksum.digest() != checksum:
            return None
    except JournalShrank:
        raise
    except (JournalError, struct.error):
        return None
    return start, None if base == _NO_BASE else base, head


def journal_head(fd: int, size: int) -> Tip:
    """The head readers take from a journal of `size` bytes: the last frame's when it is a
    valid record with a head and either starts the journal or names as its base the head of
    the valid record before it (two frames read from the end); otherwise (a torn tail,
    damage, a record of another program) the last head of the records `scan` accepts from
    the start. Tip(None, None, 0): no record gives a head. JournalShrank: emptied meanwhile."""
    last = frame_head(fd, size) if size else None
    if last is not None and last[2] is not None:
        start, base, head = last
        if start == 0:
            return Tip(head, hashlib.sha256(head).digest(), size, True)
        before = frame_head(fd, start)
        if before is not None and before[2] is not None and base == hashlib.sha256(before[2]).digest():
            return Tip(head, hashlib.sha256(head).digest(), size, True)
    found = Tip(None, None, 0)

    def take(record: Record) -> None:
        if record.head is not None:
            found.head = record.head

    result = scan(fd, size, take)
    if found.head is not None:
        found.sha, found.end = hashlib.sha256(found.head).digest(), result.end
    return found


def scan_all(fd: int, size: int, on_record: Callable[[Record], None]) -> ScanResult:
    """`scan`, then, past damage, the valid records after it (`records_back`, oldest first):
    every acknowledged commit the journal still holds, whatever lies between."""
    result = scan(fd, size, on_record)
    if result.damage:
        later = records_back(fd, result.end, size)
        for record in later:
            on_record(record)
        result.salvaged = len(later)
    return result


def records_back(fd: int, stop: int, end: int) -> list[Record]:
    """The valid records between `stop` and `end`, found backwards from the trailer of the
    frame ending at `end`, oldest first; stops at the first frame that is not a valid record
    (each frame read once and checked as `scan` does). For the records after a damaged
    one: they were acknowledged as durable, so a checkpoint must not drop their objects."""
    found: list[Record] = []
    while end - stop >= OVERHEAD:
        bounds = _frame_bounds(fd, end)
        if bounds is None or bounds[0] < stop:
            break
        start, checksum, length = bounds
        frame = _pread(fd, end - start, start)
        stop_at = _HEADER.size + length
        if len(frame) != end - start or frame[:_HEADER.size] != _HEADER.pack(MAGIC, length) \
                or hashlib.sha256(memoryview(frame)[:stop_at]).digest() != checksum:
            break
        try:
            found.append(decode(frame[_HEADER.size:stop_at], start + _HEADER.size))
        except JournalError:
            break
        end = start
    return found[::-1]


PAGE = 4096  # the unit in which a power loss can drop an append's bytes (a page of the file)
_ZEROS = bytes(PAGE)


def _lost_pages(data: bytes, start: int) -> bool:
    """True when `data`, the file's bytes from offset `start`, has a piece between page
    boundaries of the file (the first and last partly) that reads as zeros: what a power
    loss leaves where an append extended the file but its page was never written."""
    view = memoryview(data)
    at = 0
    while at < len(view):
        stop = min(len(view), (start + at) // PAGE * PAGE + PAGE - start)
        if view[at:stop] == _ZEROS[:stop - at]:
            return True
        at = stop
    return False


def _lost_append(fd: int, offset: int, size: int) -> bool:
    """True when the bytes from `offset` to the end of the file look like one append that a
    power loss cut: the file's last trailer names a frame starting at `offset`, and a page of
    it reads as zeros (its header's, say)."""
    bounds = _frame_bounds(fd, size)
    if bounds is None or bounds[0] != offset:
        return False
    return _lost_pages(_pread(fd, size - offset, offset), offset)


def _header_lost(fd: int, offset: int, size: int) -> bool:
    """True when a page the frame header at `offset` lies in reads as zeros from `offset` on
    (a piece between the file's page boundaries): a power loss lost the page holding the
    start of an append (an engine's header has no such piece: the magic, or the length's
    low bytes, which are never all zero, are in each)."""
    stop = min(size, (offset + _HEADER.size - 1) // PAGE * PAGE + PAGE)
    return stop > offset and _lost_pages(_pread(fd, stop - offset, offset), offset)


def _torn_at(fd: int, offset: int, size: int) -> bool:
    """True when the invalid frame at `offset` ends the journal and its header's page was lost
    (`_header_lost`), whatever the rest reads as (later pages of the append written or not,
    the file's size cut anywhere): one append a power loss cut, never acknowledged. Not when
    a valid frame starts anywhere after it (then records were appended, and acknowledged,
    after the lost page: damage, even when the file ends torn)."""
    return _header_lost(fd, offset, size) and not _frame_follows(fd, offset, size) \
        and not _valid_frame_after(fd, offset, size)


def _valid_frame_after(fd: int, offset: int, size: int) -> bool:
    """True when a valid frame starts somewhere after `offset` (each MAGIC found there tried;
    read in 1 MB pieces: only asked of a journal that fails its checks)."""
    at = offset + 1
    while at < size:
        data = _pread(fd, min(size - at, 1 << 20) + len(MAGIC) - 1, at)
        found = data.find(MAGIC)
        while found >= 0:
            if frame_at(fd, at + found, size) is not None:
                return True
            found = data.find(MAGIC, found + 1)
        at += max(1, len(data) - len(MAGIC) + 1)
    return False


def _frame_follows(fd: int, offset: int, size: int) -> bool:
    """True when a valid frame starting after `offset` ends the file: what looks cut short at
    `offset` (a length past the end, zeros) is then damage, not a torn tail (always the last)."""
    found = frame_before(fd, size)
    return found is not None and found[0] > offset


def scan(fd: int, size: int, on_record: Callable[[Record], None] | None = None, start: int = 0) -> ScanResult:
    """Read the journal from its start (or from `start`, the end of a frame already read),
    one frame at a time (memory: one record), calling `on_record` for each valid record,
    up to the first frame that is not one."""
    result = ScanResult(size=size, end=start)
    offset = start
    while offset < size:
        rest = size - offset
        header = _pread(fd, _HEADER.size, offset)
        if len(header) < _HEADER.size or header[:4] != MAGIC:
            cut = rest < _HEADER.size or not any(_pread(fd, min(rest, 1 << 20), offset)) or _lost_append(fd, offset, size)
            if (cut and not _frame_follows(fd, offset, size)) or _torn_at(fd, offset, size):
                result.torn = True  # cut short, or zeros a lost write left
            else:
                result.damage = f"no frame at offset {offset}"
            break
        length = _HEADER.unpack(header)[1]
        frame_end = offset + length + OVERHEAD
        if length > RECORD_LIMIT or frame_end > size:
            if frame_end < size and not _torn_at(fd, offset, size):
                result.damage = f"frame at offset {offset} is larger than {RECORD_LIMIT} bytes"
            elif _frame_follows(fd, offset, size):
                result.damage = f"frame at offset {offset} claims {length} bytes, past the end, yet whole frames follow it"
            else:
                result.torn = True
            break
        payload = _pread(fd, length, offset + _HEADER.size)
        trailer = _trailer_before(fd, frame_end)
        if len(payload) != length or trailer is None:
            result.torn = True  # the journal shrank while read (a checkpoint emptied it)
            break
        checksum, length2, magic = trailer
        if magic != END_MAGIC or length2 != length \
                or hashlib.sha256(header + payload).digest() != checksum:
            # the last frame, whole by its length: torn only when a page of it reads as zeros
            # (an append a power loss cut); any other wrong byte is damage (or forgery)
            whole = header + payload + _pread(fd, _TRAILER.size, frame_end - _TRAILER.size)
            if (frame_end >= size and _lost_pages(whole, offset)) or _torn_at(fd, offset, size):
                result.torn = True
            else:
                result.damage = f"frame at offset {offset} fails its checksum"
            break
        try:
            record = decode(payload, offset + _HEADER.size)
        except JournalError as exc:
            result.damage = f"record at offset {offset}: {exc}"
            break
        if on_record is not None:
            on_record(record)
        result.records += 1
        offset = result.end = frame_end
    return result


def head_digest(frame: bytes, head: bytes) -> bytes:
    """The sha256 a frame made by `encode` records for its head (the last item): no rehash."""
    at = len(frame) - _TRAILER.size - len(head) - _ITEM.size + 1
    return frame[at:at + 32]
