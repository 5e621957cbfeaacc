"""Order leaves spelled one item per line: written so, read back exactly, diffed line by
line (the same answer as the full parse), forged lines fall back to the full parse, and
0.5 leaves in the compact spelling still read, diff and update."""

from __future__ import annotations

import json

import pytest
from dbengine import errors, order_tree, records_tree
from dbengine.dbengine import DbEngine
from dbengine.layout import tree_of
from dbengine.node_bytes import order_leaf_bytes
from dbengine.utils import compute_digest, strict_loads, to_json_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T, E, U = "t", "rec", "u"


@pytest.fixture(autouse=True)
def small_nodes(monkeypatch):
    """Order leaves of 8 seqs under 4-way nodes."""
    monkeypatch.setattr(records_tree, "ORDER_LEAF", 8)
    monkeypatch.setattr(records_tree, "ORDER_FANOUT", 4)


def head_doc(engine: DbEngine) -> dict:
    return engine.read_snapshot(T, engine.get_digest(T, E))


def order_leaf_files(engine: DbEngine, digest: str, level: int) -> list[bytes]:
    """The bytes of every order leaf below the order node `digest` at `level`."""
    data = engine.storage.read_object(T, digest)
    if level == 0:
        return [data]
    return [leaf for child in json.loads(data)["children"] for leaf in order_leaf_files(engine, child[1], level - 1)]


def full_diff(engine: DbEngine, old: dict, new: dict) -> tuple[list, list]:
    """order_diff with the line-by-line path off: every differing leaf parsed whole."""
    nodes = engine.objects.nodes(T)
    nodes.data = None
    return order_tree.order_diff(nodes, tree_of(old), tree_of(new))


def test_leaves_are_written_one_item_a_line_and_read_back(tmp_path):
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    model = {f"k{i}": {"n": i, "s": "a,\tb: [c]", "u": "é"} for i in range(30)}
    model["odd"] = "\ud800"  # a lone surrogate: that leaf is ASCII-escaped, still lined
    engine.put_many(T, U, E, model)
    document = head_doc(engine)
    leaves = order_leaf_files(engine, document["__order__"], tree_of(document).height)
    assert len(leaves) == 4
    for data in leaves:
        items = strict_loads(data)["items"]
        assert data == order_leaf_bytes(items)
        assert data.count(b"\n") == len(items) + 1
        assert [json.loads(line.rstrip(b",")) for line in data.split(b"\n")[1:-1]] == items
    assert b'"\\ud800"' in leaves[-1] and b"\\u00e9" in leaves[-1]
    assert DbEngine(engine.root).get(T, E) == list(model.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["put", "delete", "same"]),
                          st.sampled_from([1, 1.0, True, "1", [1], {"a": 1}, None])), max_size=25))
def test_a_line_by_line_diff_equals_the_full_parse_diff(tmp_path_factory, changes):
    engine = DbEngine(str(tmp_path_factory.mktemp("db")))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i if i % 3 else 1 for i in range(32)})
    old, old_digest = head_doc(engine), engine.get_digest(T, E)
    model: dict = {}
    for number, action, value in changes:
        if action == "delete":
            model[f"k{number}"] = None
        elif action == "put":
            model[f"k{number}"] = value
    puts = {k: v for k, v in model.items() if v is not None}
    if puts:
        engine.put_many(T, U, E, puts)
    for key in [k for k, v in model.items() if v is None]:
        if key in engine.read_records(T, engine.get_digest(T, E)):
            engine.delete(T, U, E, key)
    new = head_doc(engine)
    cold = DbEngine(engine.root)  # bytes from disk, nothing parsed yet
    fast = order_tree.order_diff(cold.objects.nodes(T), tree_of(old), tree_of(new))
    assert fast == full_diff(DbEngine(engine.root), old, new)
    old_records = cold.read_records(T, old_digest)
    new_records = cold.read_records(T, engine.get_digest(T, E))
    same = {k for k in old_records.keys() & new_records.keys()
            if to_json_bytes(old_records[k]) == to_json_bytes(new_records[k])}
    assert {i[1]: i[2] for i in fast[0]} == {k: v for k, v in old_records.items() if k not in same}
    assert {i[1]: i[2] for i in fast[1]} == {k: v for k, v in new_records.items() if k not in same}


def two_versions(tmp_path) -> tuple[DbEngine, dict, dict]:
    """An entry of 8 records (its order root is one leaf) and a version with two updated."""
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(8)})
    old = head_doc(engine)
    engine.put_many(T, U, E, {"k2": "two", "k5": "five"})
    return engine, old, head_doc(engine)


def forged(engine: DbEngine, new: dict, data: bytes) -> dict:
    """`new` with its order root (a leaf) replaced by the well-hashed object `data`."""
    engine.storage.write_object(T, compute_digest(data), data)
    return dict(new, __order__=compute_digest(data))


def test_the_line_path_is_taken_and_parses_only_differing_lines(tmp_path, monkeypatch):
    engine, old, new = two_versions(tmp_path)
    parsed: list[bytes] = []
    real = order_tree.strict_loads
    monkeypatch.setattr(order_tree, "strict_loads", lambda data: parsed.append(data) or real(data))
    cold = DbEngine(engine.root)
    old_items, new_items = order_tree.order_diff(cold.objects.nodes(T), tree_of(old), tree_of(new))
    assert old_items == [[2, "k2", 2], [5, "k5", 5]] and new_items == [[2, "k2", "two"], [5, "k5", "five"]]
    assert sorted(parsed) == sorted([b'[2,"k2",2]', b'[5,"k5",5]', b'[2,"k2","two"]', b'[5,"k5","five"]'])


@pytest.mark.parametrize("how", ["extra line", "split item", "bad seq", "seq out of order", "not an item"])
def test_a_forged_lined_leaf_falls_back_to_the_full_parse(tmp_path, how):
    engine, old, new = two_versions(tmp_path)
    data = engine.storage.read_object(T, new["__order__"])
    lines = data.split(b"\n")
    if how == "extra line":  # one more item than the parent's count
        lines.insert(7, b'[6,"k6b",6],')
    elif how == "split item":  # valid JSON, one item over two lines: the full parse reads it right
        lines[3] = lines[3].replace(b'"two"', b'\n"two"')
    elif how == "bad seq":
        lines[3] = b'[99,"k2","two"],'
    elif how == "seq out of order":
        lines[3], lines[6] = b'[5,"k5","five"],', b'[2,"k2","two"],'
    else:
        lines[3] = b'[2,"k2"],'
    new = forged(engine, new, b"\n".join(lines))
    cold = DbEngine(engine.root)
    if how == "split item":
        assert order_tree.order_diff(cold.objects.nodes(T), tree_of(old), tree_of(new)) == full_diff(cold, old, new)
        assert full_diff(cold, old, new)[1] == [[2, "k2", "two"], [5, "k5", "five"]]
        return
    with pytest.raises((records_tree.TreeError, errors.CorruptObjectError)) as raised:
        order_tree.order_diff(cold.objects.nodes(T), tree_of(old), tree_of(new))
    with pytest.raises(type(raised.value)) as again:
        full_diff(DbEngine(engine.root), old, new)
    assert str(raised.value) == str(again.value)


def test_compact_05_leaves_still_read_diff_and_update(tmp_path):
    engine, old, new = two_versions(tmp_path)
    head = engine.get_digest(T, E)
    items = strict_loads(engine.storage.read_object(T, new["__order__"]))["items"]
    compact = to_json_bytes({"__kind__": "rec-leaf", "items": items})  # the 0.5 spelling
    assert b"\n" not in compact
    version = dict(forged(engine, new, compact), __parent__=[head])
    version_bytes = to_json_bytes(version)
    engine.storage.write_object(T, compute_digest(version_bytes), version_bytes)
    token_head, token = engine._read_head(T)
    engine.storage.write_head(T, json.dumps({**token_head, E: compute_digest(version_bytes)}).encode(), expected=token)
    cold = DbEngine(engine.root)
    assert cold.get(T, E) == [0, 1, "two", 3, 4, "five", 6, 7]
    assert cold.changed_records(T, head, compute_digest(version_bytes)) == ({}, {})  # same items, two spellings
    assert order_tree.order_diff(cold.objects.nodes(T), tree_of(old), tree_of(version)) == \
        ([[2, "k2", 2], [5, "k5", 5]], [[2, "k2", "two"], [5, "k5", "five"]])
    cold.put(T, U, E, "k3", "three")  # the compact leaf is rewritten, lined
    rewritten = engine.storage.read_object(T, head_doc(cold)["__order__"])
    assert rewritten == order_leaf_bytes([*items[:3], [3, "k3", "three"], *items[4:]])
    assert DbEngine(engine.root).changed_records(T, compute_digest(version_bytes), cold.get_digest(T, E)) == \
        ({"k3": 3}, {"k3": "three"})
