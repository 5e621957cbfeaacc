"""version(), resolve() and is_ancestor() of a cold engine on S3 read the index's segments
by ranges (a scan and checked windows), never the whole index into memory, and answer as
the engine that wrote the history does."""

from __future__ import annotations

import pytest
from dbengine import s3index
from dbengine.dbengine import DbEngine
from dbengine.errors import DigestNotFoundError

T = "tenant_1"


def test_one_version_of_a_segmented_index(ticking_engine, monkeypatch):
    monkeypatch.setattr(s3index, "SEGMENT_LINES", 8)  # the index in four segments
    engine = ticking_engine
    for i in range(30):
        engine.save(T, f"user{i % 3}", "config", {"v": i})
    digests = engine.history(T, "config", max_items=None)  # newest first, from the writer's index
    for n in (0, 7, 29):
        cold = DbEngine(engine.root)
        digest = digests[n]
        assert cold.version(T, "config", digest) == engine.version(T, "config", digest)
        assert cold.resolve(T, "config", f"HEAD~{n}") == digest
        assert cold.resolve(T, "config", digest[:12]) == digest
        assert cold.is_ancestor(T, "config", digests[29], digest)
        assert cold.is_ancestor(T, "config", digest, digests[29]) is (n == 29)
        assert (T, "config") not in cold._indexes, "the whole index was read"
    with pytest.raises(DigestNotFoundError):
        DbEngine(engine.root).resolve(T, "config", "HEAD~30")
