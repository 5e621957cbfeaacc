"""Record entries: records split into content-addressed buckets, like git trees.

A record entry's snapshot lists up to 256 bucket digests (`__buckets__`, keyed by the
first two hex characters of the SHA-256 of the record key). A bucket is an object
`{"__kind__": "bucket", "records": {key: [seq, stored_value]}}`; `seq` orders records by
first insertion. A put rewrites one bucket and the snapshot, so its cost follows the
change, not the collection, and versions share every unchanged bucket on disk.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .utils import to_json_bytes

BUCKET_KIND = "bucket"


def bucket_of(key: str) -> str:
    """The bucket id (two hex characters) that holds `key`."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:2]


def make_bucket(records: dict[str, list]) -> dict:
    return {"__kind__": BUCKET_KIND, "records": records}


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
    for item in records.values():
        if type(item) is not list or len(item) != 2 or type(item[0]) is not int or item[0] < 0:
            return False
    return True


def same_stored(a: Any, b: Any) -> bool:
    """Equal stored values, type-strict: 1, 1.0 and True are different values here."""
    return a == b and to_json_bytes(a) == to_json_bytes(b)


def diff_record_maps(old: dict[str, list], new: dict[str, list]) -> tuple[int, int, int]:
    """(added, changed, removed) between two `{key: [seq, stored]}` maps."""
    added = changed = 0
    for key, item in new.items():
        previous = old.get(key)
        if previous is None:
            added += 1
        elif previous[1] is not item[1] and not same_stored(previous[1], item[1]):
            changed += 1
    removed = sum(1 for key in old if key not in new)
    return added, changed, removed


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
