"""Record entries on S3 read each bucket once, fetched concurrently."""

from __future__ import annotations

from dbengine.dbengine import DbEngine

T = "t"


def test_keys_then_values_read_each_bucket_once(make_engine):
    engine = make_engine()
    engine.init(T)
    engine.put_many(T, "u", "r", {f"k{i}": {"i": i} for i in range(1000)})
    buckets = len(engine.record_buckets(T, engine.get_digest(T, "r")))
    cold = DbEngine(engine.root)
    head = cold.get_digest(T, "r")
    cold.storage.requests.clear()
    view = cold.records_view(T, head)
    assert [view[key] for key in view] == [{"i": i} for i in range(1000)]
    # the version and each bucket once (keys scanned, then values parsed from the same bytes)
    assert cold.storage.requests["GetObject"] == 1 + buckets, cold.storage.requests


def test_put_many_reads_the_buckets_it_changes_once(make_engine):
    engine = make_engine()
    engine.init(T)
    engine.put_many(T, "u", "r", {f"k{i}": i for i in range(1000)})
    cold = DbEngine(engine.root)
    cold.storage.requests.clear()
    assert cold.put_many(T, "u", "r", {f"k{i}": -i for i in range(0, 1000, 10)}) is True
    touched = {b for b in cold.record_buckets(T, cold.get_digest(T, "r")).items()} - \
        set(engine.record_buckets(T, engine.history(T, "r")[1]).items())
    # GET head, GET version, GETs of the index's last segments for the append, and one GET
    # per changed bucket (concurrent): no bucket is read twice (that would be 2 x 81 more)
    assert cold.storage.requests["GetObject"] <= 4 + len(touched), cold.storage.requests
    assert DbEngine(engine.root).get(T, "r", key="k10") == -10
