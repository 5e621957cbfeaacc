"""`S3Index`: the history index of an entry kept in a bucket as segment objects.

S3 has no append, so an entry's index is a list of segment objects
`{tenant}/index-seg/{sha256(entry)}/{n:08d}`, each holding SEGMENT_LINES lines (the last
one fewer); their concatenation is the index file of the local layout. An append
rewrites only the last segment (`If-Match` on its ETag) or starts the next one
(`If-None-Match: *`), and only when the index is still the one the engine read (its
token); it is a cache, checked by the engine against the head and repaired from the
objects, so a lost or skipped append only makes it lag. An entry with no segments but a
local-format index `{tenant}/index/{sha256(entry)}` (a database copied up with `aws s3
sync`) gets its segments from that file's complete lines, read once. This module moves
the index's bytes and lines only: their format is history_index.py's and index_format.py's.

Requests (through s3requests.py, so counted and retried as the storage's own):
index_token: 1 LIST; read_index: 1 LIST + 1 GET per segment at or after the offset
(fetched in parallel); append_index: 1 PUT (2 when it starts a segment; +1 LIST +1 GET
when the last segment is not cached); write_index: 1 LIST + 1 PUT per changed segment;
read_index_range (a window of a long history): 1 LIST + 1 GET per segment it overlaps;
an entry without segments, once per engine: +1 GET of its local index, and when found
1 PUT per segment made from it (no GET of those segments afterwards).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any, NamedTuple

from .errors import StorageError
from .names import check_tenant
from .s3requests import S3Requests, S3Token, hash_int, md5_etag, operation

SEGMENT_LINES = 256
INDEX_FOLDER = "index-seg"
LOCAL_INDEX_FOLDER = "index"  # the local layout's index files, brought by `aws s3 sync`
_SEGMENT_RE = re.compile(r"\d{8}")


class _Segment(NamedTuple):
    number: int
    key: str
    size: int
    etag: str


class _Tip(NamedTuple):
    """The last segment of an index as last read or written: what an append extends."""

    number: int
    etag: str
    body: bytes
    size: int  # of the whole index, up to the end of `body`


class S3Index:
    """The history indexes of the database under `base` (a key prefix) in `s3`'s bucket."""

    def __init__(self, s3: S3Requests, base: str):
        self.s3 = s3
        self._base = base
        self._tips: dict[tuple[str, str], _Tip] = {}
        self._local_checked: set[tuple[str, str]] = set()  # entries whose local index was looked for
        self._adopted: dict[tuple[str, str], dict[str, tuple[bytes, str]]] = {}  # bodies just uploaded
        self._guard = threading.Lock()
        self._recent = threading.local()

    def _index_prefix(self, tenant: str, entry: str) -> str:
        name = hashlib.sha256(entry.encode("utf-8")).hexdigest()
        return f"{self._base}{check_tenant(tenant)}/{INDEX_FOLDER}/{name}/"

    def _local_index_key(self, tenant: str, entry: str) -> str:
        name = hashlib.sha256(entry.encode("utf-8")).hexdigest()
        return f"{self._base}{check_tenant(tenant)}/{LOCAL_INDEX_FOLDER}/{name}"

    def path(self, tenant: str, entry: str) -> str:
        """The s3:// URL of the entry's segments (their common prefix)."""
        return self.s3.url(self._index_prefix(tenant, entry))

    # ------------------------------------------------------------------ segments
    def _segments(self, tenant: str, entry: str) -> list[_Segment]:
        """The index's segments; when there are none, those made from a synced local index."""
        segments = self._list_segments(tenant, entry)
        if segments or (tenant, entry) in self._local_checked:
            return segments
        return self._adopt_local_index(tenant, entry)

    def _adopt_local_index(self, tenant: str, entry: str) -> list[_Segment]:
        """Upload the local-format index `{tenant}/index/{sha}` (left by `aws s3 sync` of a
        local database) as segments, so the first history read does not GET every version.

        Looked for once per entry and engine (1 GET); its complete lines are kept. It stays a
        cache: the engine checks it line by line and against the head as always, and
        rewrites it when damaged.
        """
        found = self.s3.get(self._local_index_key(tenant, entry))
        with self._guard:
            self._local_checked.add((tenant, entry))
        data = found[0][: found[0].rfind(b"\n") + 1] if found is not None else b""
        if not data:
            return []
        lines = data.splitlines(keepends=True)
        prefix = self._index_prefix(tenant, entry)
        segments, bodies = [], {}
        for number, start in enumerate(range(0, len(lines), SEGMENT_LINES)):
            body = b"".join(lines[start : start + SEGMENT_LINES])
            key = f"{prefix}{number:08d}"
            try:
                etag = self.s3.put(key, body, IfNoneMatch="*")
            except StorageError:  # read-only credentials: rebuilt from the objects instead
                return []
            if etag is None:  # another process adopted it (or wrote segments) first
                return self._list_segments(tenant, entry)
            segments.append(_Segment(number, key, len(body), etag))
            bodies[key] = (body, etag)
        with self._guard:
            self._adopted[(tenant, entry)] = bodies  # read_index uses them instead of GETs
        last = segments[-1]
        self._remember_tip(tenant, entry, _Tip(last.number, last.etag, bodies[last.key][0], len(data)))
        return segments

    def _list_segments(self, tenant: str, entry: str) -> list[_Segment]:
        """The index's segments 0..n-1 (stops at a gap: what follows it is unreachable)."""
        prefix = self._index_prefix(tenant, entry)
        found: dict[int, _Segment] = {}
        for page in self.s3.list(prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix):]
                if _SEGMENT_RE.fullmatch(name):
                    found[int(name)] = _Segment(int(name), item["Key"], item["Size"], item["ETag"])
        segments = []
        while len(segments) in found:
            segments.append(found[len(segments)])
        return segments

    @staticmethod
    def _token(segments: list[_Segment]) -> S3Token:
        # inode stays constant: the engine reads on from its offset and checks that the
        # new lines continue its chain (a rewritten index is re-read whole when they do not).
        etags = [f"{s.number}:{s.etag}" for s in segments]
        return S3Token(1, sum(s.size for s in segments), hash_int(*etags), etags[-1] if etags else "")

    # ------------------------------------------------------------------ reads
    @operation
    def token(self, tenant: str, entry: str) -> S3Token | None:
        """The index's token (None: no index), its listing kept for a `read` just after."""
        segments = self._segments(tenant, entry)
        self._recent.listing = ((tenant, entry), segments, time.monotonic())  # for read
        return self._token(segments) if segments else None

    @operation
    def read(self, tenant: str, entry: str, offset: int = 0) -> tuple[bytes, S3Token] | None:
        """Bytes of the index from `offset` (segments fetched in parallel), and its token."""
        recent = getattr(self._recent, "listing", None)
        self._recent.listing = None
        if recent is not None and recent[0] == (tenant, entry) and time.monotonic() - recent[2] < 1:
            segments = recent[1]  # listed by token just before, in this thread
        else:
            segments = self._segments(tenant, entry)
        if not segments:
            return None
        start, wanted, first_start = 0, [], 0
        for segment in segments:
            if start + segment.size > offset:
                if not wanted:
                    first_start = start
                wanted.append(segment)
            start += segment.size
        actual = segments[: len(segments) - len(wanted)]
        with self._guard:
            tip = self._tips.get((tenant, entry))
            adopted = self._adopted.pop((tenant, entry), {})
        cached = {s.key: adopted[s.key] for s in wanted if adopted.get(s.key, (b"", ""))[1] == s.etag}
        if tip is not None and wanted and (wanted[-1].number, wanted[-1].etag) == (tip.number, tip.etag):
            cached[wanted[-1].key] = (tip.body, tip.etag)  # our own last append: no GET
        keys = [s.key for s in wanted if s.key not in cached]
        cached.update(zip(keys, self._fetch_all(keys), strict=True))
        bodies = []
        for segment, found in ((s, cached[s.key]) for s in wanted):
            if found is None:  # deleted meanwhile (a rewrite): what follows is unreachable
                break
            actual.append(segment._replace(size=len(found[0]), etag=found[1]))
            bodies.append(found[0])
        if bodies and len(actual) == len(segments):
            last = actual[-1]
            self._remember_tip(tenant, entry, _Tip(last.number, last.etag, bodies[-1], sum(s.size for s in actual)))
        data = b"".join(bodies)[offset - first_start :] if bodies else b""
        return data, self._token(actual)

    @operation
    def read_tail(self, tenant: str, entry: str, nbytes: int) -> tuple[bytes, int] | None:
        """The last `nbytes` (or a little more) of the index and the offset they start at."""
        segments = self._segments(tenant, entry)
        if not segments:
            return None
        size = sum(s.size for s in segments)
        self._recent.listing = ((tenant, entry), segments, time.monotonic())
        result = self.read(tenant, entry, max(size - nbytes, 0))
        if result is None:
            return None
        return result[0], max(size - nbytes, 0)

    @operation
    def read_range(self, tenant: str, entry: str, offset: int, nbytes: int) -> tuple[bytes, int, int] | None:
        """Up to `nbytes` of the index from `offset` (negative: from the end), the offset they
        start at and the index's size: 1 LIST + 1 GET per segment the range overlaps."""
        segments = self._segments(tenant, entry)
        if not segments:
            return None
        size = sum(s.size for s in segments)
        start = max(size + offset, 0) if offset < 0 else min(offset, size)
        end = min(start + max(nbytes, 0), size)
        wanted, first_start, position = [], 0, 0
        for segment in segments:
            if position + segment.size > start and position < end:
                if not wanted:
                    first_start = position
                wanted.append(segment)
            position += segment.size
        with self._guard:
            tip = self._tips.get((tenant, entry))
            adopted = self._adopted.get((tenant, entry), {})
            cached = {s.key: adopted.pop(s.key) for s in wanted if adopted.get(s.key, (b"", ""))[1] == s.etag}
        if tip is not None and wanted and (wanted[-1].number, wanted[-1].etag) == (tip.number, tip.etag):
            cached[wanted[-1].key] = (tip.body, tip.etag)
        keys = [s.key for s in wanted if s.key not in cached]
        cached.update(zip(keys, self._fetch_all(keys), strict=True))
        bodies = []
        for segment in wanted:
            found = cached[segment.key]
            if found is None or len(found[0]) != segment.size:  # rewritten meanwhile: read it again
                return None
            bodies.append(found[0])
        data = b"".join(bodies)[start - first_start : end - first_start]
        return data, start, size

    def _fetch_all(self, keys: list[str]) -> list[tuple[bytes, str] | None]:
        return self.s3.map(self.s3.get, keys)

    # ------------------------------------------------------------------ writes
    def _remember_tip(self, tenant: str, entry: str, tip: _Tip | None) -> None:
        with self._guard:
            if tip is None or (tip.body and not tip.body.endswith(b"\n")):
                self._tips.pop((tenant, entry), None)
            else:
                self._tips[(tenant, entry)] = tip

    def _current_tip(self, tenant: str, entry: str) -> _Tip | None:
        """The cached last segment, or the one in the bucket now (1 LIST + 1 GET)."""
        with self._guard:
            tip = self._tips.get((tenant, entry))
        if tip is not None:
            return tip
        segments = self._list_segments(tenant, entry)  # (an entry without segments: its first line is written whole, see history_index.py)
        if not segments:
            return _Tip(-1, "", b"", 0)
        found = self.s3.get(segments[-1].key)
        if found is None:
            return None
        return _Tip(segments[-1].number, found[1], found[0], sum(s.size for s in segments[:-1]) + len(found[0]))

    @operation
    def append(self, tenant: str, entry: str, data: bytes, expected: Any = None) -> None:
        """Append lines: rewrite the last segment (If-Match) and start new ones (If-None-Match).

        Skipped when the index is no longer the `expected` one (the token of the index the
        lines continue), or when another writer changed it first: the engine then completes
        it from the objects.
        """
        tip = self._current_tip(tenant, entry)
        if tip is None or (expected is not None and (getattr(expected, "size", None), getattr(expected, "etag", None))
                           != (tip.size, f"{tip.number}:{tip.etag}")):
            self._remember_tip(tenant, entry, None)
            return
        lines = data.splitlines(keepends=True)
        number, body, etag = tip.number, tip.body, tip.etag
        base = tip.size - len(body)  # bytes of the segments before this one
        if number < 0 or body.count(b"\n") >= SEGMENT_LINES:
            number, body, etag, base = number + 1, b"", "", tip.size
        while lines:
            room = SEGMENT_LINES - body.count(b"\n")
            body += b"".join(lines[:room])
            lines = lines[room:]
            key = f"{self._index_prefix(tenant, entry)}{number:08d}"
            new_etag = self.s3.put(key, body, **({"IfMatch": etag} if etag else {"IfNoneMatch": "*"}))
            if new_etag is None:
                self._remember_tip(tenant, entry, None)
                return
            self._remember_tip(tenant, entry, _Tip(number, new_etag, body, base + len(body)))
            if lines:
                number, body, etag, base = number + 1, b"", "", base + len(body)

    @operation
    def write(self, tenant: str, entry: str, data: bytes) -> None:
        """Rewrite the whole index (a repair): PUT the segments that differ, delete extra ones."""
        segments = self._list_segments(tenant, entry)
        lines = data.splitlines(keepends=True)
        chunks = [b"".join(lines[i : i + SEGMENT_LINES]) for i in range(0, len(lines), SEGMENT_LINES)]
        prefix = self._index_prefix(tenant, entry)
        tip, size = None, 0
        for number, chunk in enumerate(chunks):
            etag = md5_etag(chunk)
            if number >= len(segments) or segments[number].etag != etag:
                etag = self.s3.put(f"{prefix}{number:08d}", chunk)
            size += len(chunk)
            tip = _Tip(number, etag, chunk, size)
        extra = [s.key for s in segments[len(chunks):]]
        if extra:
            self.s3.delete(extra, prefix)
        self._remember_tip(tenant, entry, tip)
