"""Record entries on S3 read each record-tree node once, a tree level's nodes fetched concurrently."""

from __future__ import annotations

from dbengine.dbengine import DbEngine

T = "t"


def counted_reads(engine: DbEngine) -> list[str]:
    """The digests of the objects `engine` reads from S3 from now on."""
    reads: list[str] = []
    read = engine.storage.read_object

    def counting(tenant, digest):
        reads.append(digest)
        return read(tenant, digest)

    engine.storage.read_object = counting
    return reads


def order_nodes(engine: DbEngine, digest: str) -> int:
    node = engine._node(T, digest)
    return 1 + sum(order_nodes(engine, child) for _i, child, _n in node.get("children", []))


def test_keys_then_values_read_each_node_once(make_engine):
    engine = make_engine()
    engine.init(T)
    engine.put_many(T, "u", "r", {f"k{i}": {"i": i} for i in range(1000)})
    nodes = order_nodes(engine, engine.read_snapshot(T, engine.get_digest(T, "r"))["__order__"])
    assert nodes > 10  # 1,000 records: leaves of 64 under one node
    cold = DbEngine(engine.root)
    head = cold.get_digest(T, "r")
    cold.storage.requests.clear()
    view = cold.records_view(T, head)
    assert [view[key] for key in view] == [{"i": i} for i in range(1000)]
    # the version and each order node once (keys and values come from the same leaves)
    assert cold.storage.requests["GetObject"] == 1 + nodes, cold.storage.requests


def test_put_many_reads_the_nodes_it_changes_once(make_engine):
    engine = make_engine()
    engine.init(T)
    engine.put_many(T, "u", "r", {f"k{i}": i for i in range(1000)})
    cold = DbEngine(engine.root)
    reads = counted_reads(cold)
    assert cold.put_many(T, "u", "r", {f"k{i}": -i for i in range(0, 1000, 10)}) is True
    # the version, the key-index paths and the order paths of the 100 keys, each once
    # (a level's nodes are fetched concurrently); the index segments are not objects
    assert len(reads) == len(set(reads)) and len(reads) > 10, reads
    assert DbEngine(engine.root).get(T, "r", key="k10") == -10


def test_a_put_after_a_put_reads_no_node_it_wrote(make_engine):
    """Key leaves a put wrote from spliced bytes (not cached parsed) are read from the bytes
    in memory by the next put, not fetched again (~40 GETs here before)."""
    engine = make_engine()
    engine.init(T)
    engine.put_many(T, "u", "r", {f"k{i}": i for i in range(1000)})
    cold = DbEngine(engine.root)
    cold.put_many(T, "u", "r", {f"n{i}": i for i in range(50)})  # cold key leaves read as bytes, spliced
    reads = counted_reads(cold)
    assert cold.put_many(T, "u", "r", {f"n{i}": -i for i in range(50)}) is True
    assert reads == []
    assert DbEngine(engine.root).get(T, "r", key="n7") == -7
