"""Record entries: records split into content-addressed buckets, like git trees.

A record entry's snapshot lists up to 256 bucket digests (`__buckets__`, keyed by the
first two hex characters of the SHA-256 of the record key). A bucket is an object
`{"__kind__": "bucket", "records": {key: [seq, stored_value]}}`; `seq` orders records by
first insertion. A put rewrites one bucket and the snapshot, so its cost follows the
change, not the collection, and versions share every unchanged bucket on disk.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import compress
from json.encoder import c_make_encoder, encode_basestring, encode_basestring_ascii
from operator import itemgetter, ne
from typing import Any

from .utils import strict_loads, to_json_bytes

BUCKET_KIND = "bucket"
_LINES_OPEN = b'{"__kind__":"bucket","records":{\n'
_LINES_CLOSE = b"\n}}"
# The start of a record line whose key needs no unescaping: `"key":[seq,` after a newline.
_LINE_HEAD_RE = re.compile(r'\n"([^"\\\x00-\x1f]*)":\[(0|[1-9][0-9]*),')


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _utf8_encoder() -> Callable:
    """json's C encoder, compact, as `to_json_bytes` writes (a fresh one: it holds cycle markers)."""
    return c_make_encoder({}, _not_json, encode_basestring, None, ":", ",", False, False, False)


def _ascii_encoder() -> Callable:
    return c_make_encoder({}, _not_json, encode_basestring_ascii, None, ":", ",", False, False, False)


def bucket_of(key: str) -> str:
    """The bucket id (two hex characters) that holds `key`."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:2]


def bucket_records(bucket: dict) -> dict[str, list]:
    """The `{key: [seq, stored]}` map of a parsed bucket object."""
    records = bucket.get("records") if type(bucket) is dict else None
    if bucket.get("__kind__") != BUCKET_KIND or type(records) is not dict:
        raise ValueError("not a bucket object")
    return records


def is_bucket_doc(document: dict) -> bool:
    """True when `document` has a bucket's shape: every record is `[seq, stored]`, seq an int >= 0.

    Checked once when a bucket is parsed, so a well-hashed but malformed bucket (from an
    import or a hostile database) raises instead of yielding wrong records.
    """
    records = document.get("records")
    if document.get("__kind__") != BUCKET_KIND or type(records) is not dict:
        return False
    return _valid_items(records.values())


def _valid_items(items: Iterable) -> bool:
    items = list(items)
    if not items:
        return True
    # Whole-collection passes run in C: a bucket can hold thousands of records.
    if set(map(type, items)) != {list} or set(map(len, items)) != {2}:
        return False
    seqs = list(map(itemgetter(0), items))
    return set(map(type, seqs)) == {int} and min(seqs) >= 0


def encode_bucket(records: dict[str, list], previous: tuple[dict[str, list], list[bytes]] | None = None) -> bytes:
    """A bucket object's bytes, one record per line.

    Any JSON reader loads it; the line layout lets two versions of a bucket be compared
    line by line (see `changed_items`), parsing only the records that differ. `previous`
    (the parsed records of the bucket this one replaces, and its lines) lets the records
    this one shares with it, the same item objects, keep their lines instead of being
    encoded again.
    """
    if not records:
        return b'{"__kind__":"bucket","records":{}}'
    kept: dict[str, bytes] = {}
    if previous is not None and len(previous[0]) == len(previous[1]):
        kept = {key: line for (key, item), line in zip(previous[0].items(), previous[1], strict=True)
                if records.get(key) is item}
    encode = _utf8_encoder()
    lines = [kept.get(key) or _record_line(key, item, encode) for key, item in records.items()]
    return _LINES_OPEN + b",\n".join(lines) + _LINES_CLOSE


def _record_line(key: str, item: list, encode: Callable) -> bytes:
    try:
        return (encode_basestring(key) + ":" + "".join(encode(item, 0))).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: this line escapes every non-ASCII character
        return (encode_basestring_ascii(key) + ":" + "".join(_ascii_encoder()(item, 0))).encode("ascii")


def _has_line_layout(data: bytes) -> bool:
    """True for a non-empty bucket written by `encode_bucket`, one record per line."""
    return data.startswith(_LINES_OPEN) and data.endswith(_LINES_CLOSE)


def record_lines(data: bytes) -> list[bytes] | None:
    """The record lines of a bucket's bytes written by `encode_bucket`, or None (another layout)."""
    if not _has_line_layout(data):
        return None
    return data[len(_LINES_OPEN) : -len(_LINES_CLOSE)].split(b",\n")


def parse_lines(lines: list[bytes]) -> dict[str, list]:
    """The `{key: [seq, stored]}` map of some record lines (ValueError if they are malformed)."""
    try:
        records = strict_loads(b"{" + b",".join(lines) + b"}")
    except RecursionError:
        raise ValueError("record too deeply nested") from None
    if type(records) is not dict or not _valid_items(records.values()):
        raise ValueError("malformed record lines")
    return records


def changed_items(old_data: bytes, new_data: bytes) -> tuple[dict[str, list], dict[str, list]] | None:
    """Records of two buckets' bytes whose lines differ: (old, new) `{key: [seq, stored]}` maps.

    Identical lines are identical records and are not parsed: lines are compared place by
    place when both buckets hold as many records (an update keeps a record's place), else
    as sets. A record that only moved may come back on both sides, equal (the caller drops
    it). None when either bucket does not have the one-record-per-line layout (the caller
    parses both instead).
    """
    old_lines, new_lines = record_lines(old_data), record_lines(new_data)
    if old_lines is None or new_lines is None:
        return None
    if len(old_lines) == len(new_lines):
        # Updates keep a record's place: compare line i with line i, in C. A record moved
        # by a delete and an add shows as two differing lines, which the caller finds equal.
        moved = list(compress(range(len(old_lines)), map(ne, old_lines, new_lines)))
        if len(moved) * 8 <= len(old_lines) or len(moved) <= 64:
            return parse_lines([old_lines[i] for i in moved]), parse_lines([new_lines[i] for i in moved])
    common = set(old_lines).intersection(new_lines)
    old = parse_lines([line for line in old_lines if line not in common])
    new = parse_lines([line for line in new_lines if line not in common])
    return old, new


def same_stored(a: Any, b: Any) -> bool:
    """Equal stored values, type-strict: 1, 1.0 and True are different values here."""
    return a == b and to_json_bytes(a) == to_json_bytes(b)


def ordered_records(buckets: list[dict[str, list]], next_seq: int) -> list[tuple[str, Any]]:
    """All (key, stored) pairs of the given buckets, in first-insertion order.

    Sequence numbers are unique and below `next_seq`, so records are placed by number
    (linear time) rather than sorted; a malformed bucket falls back to a sort.
    """
    slots: list = [None] * next_seq
    try:
        for records in buckets:
            for key, item in records.items():
                if slots[item[0]] is not None:
                    raise IndexError("duplicate sequence number")
                slots[item[0]] = (key, item[1])
    except (IndexError, TypeError):
        merged = [(item[0], key, item[1]) for records in buckets for key, item in records.items()]
        merged.sort(key=lambda triple: (triple[0], triple[1]))
        return [(key, stored) for _seq, key, stored in merged]
    return [pair for pair in slots if pair is not None]


def scan_keys(data: bytes) -> tuple[list[str], list[str]] | None:
    """(keys, seq texts) of a bucket written one record per line, read from the line starts
    without parsing any value; None when the bucket has another layout or a key with
    escapes (the caller parses it whole instead)."""
    if not _has_line_layout(data):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    found = _LINE_HEAD_RE.findall(text)
    if len(found) != text.count("\n") - 1:  # some line does not start the simple way
        return None
    if not found:
        return [], []
    keys, seqs = map(list, zip(*found, strict=True))
    return keys, seqs


class RecordsView(Mapping):
    """The stored records of one record version, key -> stored value, in insertion order.

    Only the keys are known up front; a bucket is parsed when one of its values is first
    asked for, so a browser shows the first rows of 100,000 records without parsing them
    all. Read-only: values are the engine's cached objects. A damaged bucket raises the
    engine's CorruptObjectError when one of its values is read.
    """

    def __init__(self, keys: list[str], buckets: dict[str, str], load_bucket: Callable[[str], dict[str, list]]):
        self._keys = keys
        self._buckets = buckets
        self._load_bucket = load_bucket

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __getitem__(self, key: str) -> Any:
        digest = self._buckets.get(bucket_of(key)) if type(key) is str else None
        if digest is None:
            raise KeyError(key)
        item = self._load_bucket(digest).get(key)
        if item is None:
            raise KeyError(key)
        return item[1]

    def keys_list(self) -> list[str]:
        """The keys in insertion order (the view's own list: do not change it)."""
        return self._keys

    def sample(self, count: int) -> list[Any]:
        """About `count` values read from as few buckets as possible (to guess columns)."""
        values: list[Any] = []
        for digest in sorted(self._buckets.values()):
            values.extend(item[1] for item in self._load_bucket(digest).values())
            if len(values) >= count:
                break
        return values[:count]

    def prefetch(self, keys: Iterable[str]) -> None:
        """Parse the buckets holding `keys` now (in a worker, before they are shown)."""
        for digest in {self._buckets.get(bucket_of(key)) for key in keys} - {None}:
            self._load_bucket(digest)


_BUCKET_ID_RE = re.compile(r"[0-9a-f]{2}")


def bucket_summary(bucket_id: str, records: dict[str, list]) -> tuple[str | None, int, int]:
    """(problem or None, record count, highest seq + 1) of a parsed bucket filed under `bucket_id`.

    A key filed in another bucket than its hash's is invisible to `get(key)` but listed by
    `get()`: readers would disagree, so verify and import refuse it.
    """
    if not _BUCKET_ID_RE.fullmatch(bucket_id):
        return f"bucket id {bucket_id!r} is not two hex digits", len(records), 0
    misfiled = [key for key in records if bucket_of(key) != bucket_id]
    end = max((item[0] for item in records.values()), default=-1) + 1
    if misfiled:
        return f"bucket {bucket_id} holds {len(misfiled)} key(s) of other buckets, e.g. {misfiled[0][:40]!r}", len(records), end
    return None, len(records), end


def records_problems(
    document: dict, load_bucket: Callable[[str], dict[str, list]],
    checked: dict[tuple[str, str], tuple[str | None, int, int]] | None = None,
) -> list[str]:
    """What makes a record version's buckets disagree with it: misfiled keys (hence keys in
    two buckets), a `__count__` that is not the number of records, sequence numbers at or
    past `__next_seq__`. `checked` caches each (bucket id, digest) pair across versions,
    which share most buckets."""
    checked = {} if checked is None else checked
    problems, count, end = [], 0, 0
    for bucket_id, digest in document["__buckets__"].items():
        result = checked.get((bucket_id, digest))
        if result is None:
            result = checked[(bucket_id, digest)] = bucket_summary(bucket_id, load_bucket(digest))
        problem, size, bucket_end = result
        if problem:
            problems.append(problem)
        count += size
        end = max(end, bucket_end)
    if count != document["__count__"]:
        problems.append(f"__count__ is {document['__count__']} but its buckets hold {count} records")
    if end > document["__next_seq__"]:
        problems.append(f"a record has sequence number {end - 1}, not below __next_seq__ {document['__next_seq__']}")
    return problems
