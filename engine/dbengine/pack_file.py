"""The pack file format: many objects of a tenant in one file (docs/FORMAT.md §6c).

A pack is `{tenant}/packs/{sha256 of the whole file}.pack`: a header line
`mydb-pack 1 {count}\\n`, then `count` raw 32-byte digests in strictly increasing order,
then `count + 1` offsets (8-byte big-endian; object i is the bytes [offset[i], offset[i+1]),
offset[0] the end of the index, offset[count] the file size), then the objects, contiguous.
Here: encoding a pack, loading its index at C speed with O(1) checks (`load_index`), and the
full checks (`check_index`: verify, merges, a missing object's error path), and what both
backends share: the lookup of an object (`find_object`) and verify's checks of a pack's
bytes (`check_pack`). Any deviation is `PackDamage`; reading and writing pack files is
packs.py's (local) and s3packs.py's (S3, read only).
"""

from __future__ import annotations

import bisect
import hashlib
import operator
import re
import sys
from array import array
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import NamedTuple

MAGIC = b"mydb-pack 1 "
DIGEST = 32  # bytes of one raw digest in the index
OFFSET = 8  # bytes of one offset (big-endian unsigned)
HEADER_MAX = len(MAGIC) + 12 + 1  # the longest header line read (a count of up to 12 digits)
_HEADER_RE = re.compile(rb"mydb-pack 1 ([1-9][0-9]{0,11})\n")
NAME_RE = re.compile(r"[0-9a-f]{64}\.pack")
_LITTLE = sys.byteorder == "little"
assert array("Q").itemsize == OFFSET
CHUNK = 1 << 15  # digests a large index is loaded by (1 MB)
CHUNK_BYTES = CHUNK * DIGEST  # an index up to this size is read at once


class PackDamage(ValueError):
    """A pack file whose header or index breaks the format (the message says where)."""


class PackItem(NamedTuple):
    """One finding of verify's pack checks (`packs.Packs.check`, `s3packs.S3Packs.check`): a
    problem (`kind` set, `data` None) or an object read from a sound pack (`kind` None):
    `where` is the pack's path or URL (and offset)."""

    where: str
    kind: str | None
    message: str
    digest: str | None = None
    data: bytes | None = None


class ObjectDamage(PackDamage):
    """The index names the object looked for, but its bytes are not it (or its slot's offsets
    are out of bounds): `offset` is where its slot starts, `why` says which."""

    def __init__(self, offset: int, why: str):
        super().__init__(why)
        self.offset, self.why = offset, why


def index_size(count: int) -> int:
    """Bytes of the index of `count` objects: the digests, then count + 1 offsets."""
    return count * (DIGEST + OFFSET) + OFFSET


def encode_pack(objects: dict[str, bytes]) -> bytes:
    """The bytes of a pack holding `objects` (digest -> bytes; at least one)."""
    digests = sorted(objects)
    header = b"%s%d\n" % (MAGIC, len(digests))
    start = len(header) + index_size(len(digests))
    offsets = array("Q", accumulate((len(objects[digest]) for digest in digests), initial=start))
    if _LITTLE:
        offsets.byteswap()
    return b"".join([header, bytes.fromhex("".join(digests)), offsets.tobytes(),
                     *(objects[digest] for digest in digests)])


def parse_header(head: bytes, size: int) -> tuple[int, int]:
    """(count, index start) from the first bytes of a pack of `size` bytes; PackDamage when
    the header is not `mydb-pack 1 {count}\\n` or the index cannot fit in the file."""
    match = _HEADER_RE.match(head)
    if match is None:
        raise PackDamage("the header is not 'mydb-pack 1 {count}'")
    count, start = int(match.group(1)), match.end()
    if start + index_size(count) > size:
        raise PackDamage(f"the header's count {count} does not fit in the file's {size} bytes")
    return count, start


class PackIndex:
    """A pack's index in compact arrays (16 bytes an object): the digests' first 8 bytes as
    numbers (`bisect` works on an `array`) and the count + 1 offsets; the raw digests start
    at `start` in the file (read one by one when needed), which is `size` bytes long."""

    __slots__ = ("keys", "offsets", "count", "start", "size")

    def __init__(self, keys: array, offsets: array, start: int, size: int):
        self.keys, self.offsets, self.count, self.start, self.size = keys, offsets, len(keys), start, size

    def slot(self, at: int) -> tuple[int, int] | None:
        """Object `at`'s (start, end) in the file, None when its offsets are out of order or
        past the end (the O(1) check a read makes of its own slot)."""
        low, high = self.offsets[at], self.offsets[at + 1]
        return (low, high) if low <= high <= self.size else None

    def digest_position(self, at: int) -> int:
        """Where object `at`'s raw 32-byte digest is in the file."""
        return self.start + at * DIGEST


def find_object(index: PackIndex, digest: str, key: int, read: Callable[[int, int], bytes],
                digest_at: Callable[[int], str | None]) -> bytes | None:
    """The bytes of object `digest` (`key`: its first 8 bytes as a number) in a pack whose
    index is `index`, checked against the digest; None when the pack does not hold it.
    `read(length, offset)` reads the file, `digest_at(at)` gives the full digest of slot `at`
    (hex, None when unreadable). ObjectDamage when the index names the object but its bytes
    are not it: the one lookup of every backend's pack reads (packs.py, s3packs.py)."""
    keys = index.keys
    at = bisect.bisect_left(keys, key)
    while at < index.count and keys[at] == key:
        slot = index.slot(at)
        if slot is not None:
            data = read(slot[1] - slot[0], slot[0])
            if hashlib.sha256(data).hexdigest() == digest:
                return data
        if digest_at(at) == digest:  # the index names it: the bytes (or its offsets) are damaged
            offset = index.offsets[at]
            raise ObjectDamage(offset, "its bytes do not match its digest" if slot is not None else
                               f"its index offsets run backwards or past the end ({offset}, {index.offsets[at + 1]})")
        at += 1  # another digest with the same first 8 bytes
    return None


def names_object(index: PackIndex, digest: str, digest_at: Callable[[int], str | None]) -> bool:
    """True when the index names `digest` (its bytes are checked when read)."""
    key = int(digest[:16], 16)
    keys = index.keys
    at = bisect.bisect_left(keys, key)
    while at < index.count and keys[at] == key:
        if digest_at(at) == digest:
            return True
        at += 1
    return False


def load_index(read: Callable[[int, int], bytes], count: int, start: int, size: int) -> PackIndex:
    """The index of a pack of `count` objects whose index starts at `start` in a file of
    `size` bytes (`read(length, offset)` reads the file), with O(1) checks only: the index is
    whole, offset[0] is the end of the index and offset[count] the file size. C-level work
    only (strided copies of the digests' first 8 bytes, memcpy, `byteswap`): no Python loop
    per object. An index of up to CHUNK_BYTES is read at once; a larger one in chunks of
    CHUNK digests (a buffer that stays in the CPU cache and peak memory of 16 bytes an object
    plus 1 MB: 3x faster at 1,000,000 objects, bench/RESULTS-packs.md). The digests' order
    and the other offsets are checked by `check_index`; every read checks its own slot."""
    whole = index_size(count)
    region = read(whole, start) if whole <= CHUNK_BYTES else None
    if region is not None and len(region) != whole:
        raise PackDamage(f"the index is cut short ({len(region)} of {whole} bytes)")
    keys = array("Q", [0]) * count
    with memoryview(keys) as view, view.cast("B") as target:
        for first in range(0, count, CHUNK):
            number = min(CHUNK, count - first)
            if region is None:
                digests = read(number * DIGEST, start + first * DIGEST)
                if len(digests) != number * DIGEST:
                    raise PackDamage(f"the index is cut short (digest {first + len(digests) // DIGEST} of {count})")
            else:
                digests = region[first * DIGEST:(first + number) * DIGEST]
            prefixes = bytearray(OFFSET * number)
            for k in range(OFFSET):  # byte k of every digest (a strided bytes slice: a C loop)
                prefixes[k::OFFSET] = digests[k::DIGEST]
            target[first * OFFSET:(first + number) * OFFSET] = prefixes
    table = read((count + 1) * OFFSET, start + count * DIGEST) if region is None else \
        memoryview(region)[count * DIGEST:]
    if len(table) != (count + 1) * OFFSET:
        raise PackDamage(f"the index is cut short ({len(table)} of {(count + 1) * OFFSET} bytes of offsets)")
    offsets = _exact(table)
    if _LITTLE:
        keys.byteswap()
        offsets.byteswap()
    end = start + whole
    if offsets[0] != end:
        raise PackDamage(f"offset 0 is {offsets[0]}, not {end} (the end of the index)")
    if offsets[count] != size:
        raise PackDamage(f"the objects end at {offsets[count]}, not at the end of the file ({size} bytes)")
    return PackIndex(keys, offsets, start, size)


def _exact(data: bytes | bytearray | memoryview) -> array:
    """An array('Q') of `data`'s 8-byte items in native order, allocated to its exact size
    (`frombytes` would over-allocate by 1/16): one memcpy."""
    numbers = array("Q", [0]) * (len(data) // OFFSET)
    with memoryview(numbers) as view, view.cast("B") as target:
        target[:] = data
    return numbers


def check_index(region: bytes, index: PackIndex) -> list[str]:
    """The full checks of a loaded index (`region`: the whole index region): digests strictly
    increasing, offsets non-decreasing (so every object lies between the index and the end of
    the file); PackDamage naming the first slot that fails. Returns the digests (hex) in order."""
    count = index.count
    text = region[:count * DIGEST].hex()
    digests = [text[at:at + 2 * DIGEST] for at in range(0, len(text), 2 * DIGEST)]
    unsorted = list(map(operator.ge, digests, digests[1:]))
    if any(unsorted):
        at = unsorted.index(True) + 1
        raise PackDamage(f"digest {at}: digests not in strictly increasing order")
    offsets = index.offsets
    backwards = list(map(operator.gt, offsets, offsets[1:]))
    if any(backwards):
        at = backwards.index(True) + 1
        raise PackDamage(f"offset {at} ({offsets[at]}) is before offset {at - 1} ({offsets[at - 1]})")
    return digests


def parse_pack(data: bytes) -> tuple[PackIndex, list[str]]:
    """A whole pack's index and digests, fully checked (verify, merges, tests); PackDamage."""
    count, start = parse_header(data[:HEADER_MAX], len(data))
    index = load_index(lambda length, offset: data[offset:offset + length], count, start, len(data))
    return index, check_index(data[start:start + index_size(count)], index)


def check_pack(where: str, name: str, data: bytes) -> Iterator[PackItem]:
    """verify's checks of a pack's whole bytes `data`, named `name`, found at `where` (a path
    or a URL): its sha256 must be its name and its index pass the full checks; then every
    object with its place (checked against its digest by verify, as a loose one)."""
    if hashlib.sha256(data).hexdigest() != name[:64]:
        yield PackItem(where, "hash-mismatch", "the pack's sha256 is not its name")
    try:
        index, digests = parse_pack(data)
    except PackDamage as exc:
        yield PackItem(where, "pack-damaged", str(exc))
        return
    offsets = index.offsets
    for at, digest in enumerate(digests):
        yield PackItem(f"{where} at offset {offsets[at]}", None, "", digest, data[offsets[at]:offsets[at + 1]])
