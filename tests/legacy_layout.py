"""Write record entries in format 0.4 (256 buckets, `__buckets__`), as engines before the
record trees did, without the engine's writer: the engine only reads this layout now."""

from __future__ import annotations

import json
from typing import Any

from dbengine.dbengine import DbEngine
from dbengine.records import bucket_of, encode_bucket
from dbengine.utils import compute_digest, to_json_bytes

DATE = "20250101 10:00:00 +0000"


def write_v04(engine: DbEngine, tenant: str, entry: str, states: list[dict[str, Any]], user: str = "u",
              compact: bool = False) -> list[str]:
    """Write `states` (each the whole records of a version, key -> stored value, in
    insertion order) as successive format-0.4 versions of `entry` and move the head to
    the last one; seqs follow first insertion (a key deleted and added again gets a new
    one). `compact` writes buckets on one line, as format 0.2 did. Returns the digests."""
    engine.init(tenant)
    head = engine._head(tenant, fresh=True)
    parent = head.get(entry)
    seqs: dict[str, int] = {}
    next_seq = 0
    digests = []
    for state in states:
        seqs = {k: s for k, s in seqs.items() if k in state}
        for key in state:
            if key not in seqs:
                seqs[key], next_seq = next_seq, next_seq + 1
        buckets: dict[str, dict[str, list]] = {}
        for key, stored in state.items():
            buckets.setdefault(bucket_of(key), {})[key] = [seqs[key], stored]
        named = {}
        for bucket_id in sorted(buckets):
            records = buckets[bucket_id]
            data = to_json_bytes({"__kind__": "bucket", "records": records}) if compact else encode_bucket(records)
            named[bucket_id] = compute_digest(data)
            engine.storage.write_object(tenant, named[bucket_id], data)
        document = {"__kind__": "records", "__parent__": [parent], "__user_id__": user, "__date__": DATE,
                    "__count__": len(state), "__next_seq__": next_seq, "__buckets__": named}
        data = to_json_bytes(document)
        parent = compute_digest(data)
        engine.storage.write_object(tenant, parent, data)
        digests.append(parent)
    head = dict(engine._head(tenant, fresh=True))
    head[entry] = parent
    _head, token = engine._read_head(tenant)
    assert engine.storage.write_head(tenant, json.dumps(head).encode(), expected=token)
    return digests
