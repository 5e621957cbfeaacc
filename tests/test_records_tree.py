"""Record entries stored as two trees of small nodes (format 0.5): an order tree by seq and
a key index (hash trie). Tiny node bounds force several levels with a few dozen records."""

from __future__ import annotations

import json
import os
import sys
import tempfile

import pytest
from dbengine import ChangeSummary, errors, key_tree, order_tree, records_tree
from dbengine.dbengine import DbEngine
from dbengine.transfer import ImportFormatError
from dbengine.utils import compute_digest, to_json_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from legacy_layout import write_v04  # noqa: E402

T, E, U = "t", "rec", "u"


@pytest.fixture(autouse=True)
def tiny_nodes(monkeypatch):
    """Leaves of 4 seqs under 3-way nodes; key leaves of 4 keys under 4-way nodes."""
    monkeypatch.setattr(records_tree, "ORDER_LEAF", 4)
    monkeypatch.setattr(records_tree, "ORDER_FANOUT", 3)
    monkeypatch.setattr(records_tree, "KEY_LEAF", 4)
    monkeypatch.setattr(records_tree, "KEY_BITS", 2)


def head_doc(engine: DbEngine, entry: str = E) -> dict:
    return engine.read_snapshot(T, engine.get_digest(T, entry))


def check_against(engine: DbEngine, model: dict) -> None:
    """Every read path agrees with the model (a dict in insertion order)."""
    keys = list(model)
    assert engine.get(T, E) == list(model.values())
    digest = engine.get_digest(T, E)
    view = engine.records_view(T, digest)
    lazy = view.keys_list()
    assert len(view) == len(lazy) == len(model)
    assert list(lazy) == keys and list(view) == keys
    for position, key in enumerate(keys):
        assert lazy[position] == key and lazy.index(key) == position and view[key] == model[key]
        assert engine.get(T, E, key) == model[key]
    for start, stop in ((0, 3), (2, 9), (len(keys) - 5, len(keys)), (5, 5)):
        assert lazy[start:stop] == keys[start:stop]
    if keys:
        assert lazy[-1] == keys[-1] and keys[0] in lazy
    with pytest.raises(ValueError):
        lazy.index("no such key")
    with pytest.raises(KeyError):
        view["no such key"]
    with pytest.raises(errors.RecordNotFoundError):
        engine.get(T, E, "no such key")


operations = st.lists(st.one_of(
    st.tuples(st.just("put"), st.dictionaries(st.sampled_from([f"k{i}" for i in range(40)]),
                                              st.integers(0, 3) | st.booleans(), min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.sampled_from([f"k{i}" for i in range(40)])),
), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_puts_and_deletes_agree_with_a_dict_and_build_canonical_trees(make_engine, tmp_path, ops):
    engine = make_engine(tempfile.mkdtemp(dir=tmp_path))  # a fresh database per example
    engine.init(T)
    model: dict = {}
    seqs: dict[str, int] = {}
    next_seq = 0
    for op, arg in ops:
        if op == "put":
            changed = any(k not in model or to_json_bytes(model[k]) != to_json_bytes(v) for k, v in arg.items())
            assert engine.put_many(T, U, E, arg) is (changed or not engine.exists(T, E))
            for key, value in arg.items():
                if key not in seqs:
                    seqs[key], next_seq = next_seq, next_seq + 1
                model[key] = value
        elif engine.exists(T, E):
            assert engine.delete(T, U, E, arg) is (arg in model)
            model.pop(arg, None)
            seqs.pop(arg, None)
    if not engine.exists(T, E):
        assert not model
        return
    check_against(engine, model)
    document = head_doc(engine)
    assert (document["__count__"], document["__next_seq__"]) == (len(model), next_seq)
    # The same records with the same seqs, built at once, give the same roots.
    order, keys = engine._build_trees(T, {k: [seqs[k], v] for k, v in model.items()}, next_seq)
    assert (order, keys) == (document["__order__"], document["__keys__"])
    assert engine.verify(T).ok


def test_many_levels_and_collapse_back(engine):
    engine.init(T)
    model = {f"key-{i}": {"n": i} for i in range(200)}
    engine.put_many(T, U, E, model)
    root = engine._node(T, head_doc(engine)["__order__"])
    assert root["__kind__"] == "rec-node" and root["level"] == 4  # 200 seqs: 4 * 3**4 = 324
    check_against(engine, model)
    for i in range(0, 200, 3):
        engine.delete(T, U, E, f"key-{i}")
        del model[f"key-{i}"]
    check_against(engine, model)
    for key in list(model)[:-3]:
        engine.delete(T, U, E, key)
        del model[key]
    assert engine._node(T, head_doc(engine)["__keys__"])["__kind__"] == "key-leaf"  # collapsed to one leaf
    check_against(engine, model)
    assert engine.verify(T).ok


def test_the_shrunk_bounds_shape_every_node_of_both_trees(engine):
    """The bounds live in records_tree only and the tree modules read them there at call time:
    with them shrunk (tiny_nodes), every node written holds at most that many items or children."""
    engine.init(T)
    engine.put_many(T, U, E, {f"key-{i}": i for i in range(150)})
    engine.put_many(T, U, E, {f"key-{i}": -i for i in range(0, 150, 5)} | {f"new-{i}": i for i in range(30)})
    document = head_doc(engine)
    seen: dict[str, list[int]] = {}
    todo = [document["__order__"], document["__keys__"]]
    while todo:
        node = engine._node(T, todo.pop())
        rows = node.get("items") or node.get("keys") or node["children"]
        seen.setdefault(node["__kind__"], []).append(len(rows))
        todo.extend(child[1] for child in node.get("children", []))
    assert max(seen["rec-leaf"]) <= 4 and max(seen["rec-node"]) <= 3
    assert max(seen["key-leaf"]) <= 4 and max(seen["key-node"]) <= 4
    assert len(seen["key-node"]) > 1 and len(seen["rec-node"]) > 1


def test_unchanged_puts_write_nothing_and_summaries_name_the_keys(engine, monkeypatch, list_files):
    engine.init(T)
    summaries: list[ChangeSummary] = []
    append = engine._index_append
    monkeypatch.setattr(engine, "_index_append", lambda *a: (summaries.append(a[6]), append(*a)))
    engine.put_many(T, U, E, {f"k{i}": i for i in range(30)})
    before = list_files(engine.root)
    assert engine.put_many(T, U, E, {"k3": 3, "k4": 4}) is False
    assert engine.delete(T, U, E, "nope") is False
    assert list_files(engine.root) == before
    engine.put_many(T, U, E, {"k3": "x", "new": 1, "k4": 4})
    engine.delete(T, U, E, "k5")
    assert [(str(s), s.keys) for s in summaries[1:]] == [("+1 ~1 -0", ("k3", "new")), ("+0 ~0 -1", ("k5",))]
    assert len(summaries[0].keys) == 30
    engine.put(T, U, E, "k5", 5)  # a new seq, at the end
    assert engine.record_keys(T, engine.get_digest(T, E))[-1] == "k5"


def test_a_one_record_change_is_diffed_by_subtree(engine):
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": {"n": i} for i in range(150)})
    old = engine.get_digest(T, E)
    engine.put_many(T, U, E, {"k17": {"n": 1.0}, "k18": {"n": True}, "k19": {"n": 19}, "k200": 0})
    engine.delete(T, U, E, "k40")
    new = engine.get_digest(T, E)
    assert engine.changed_records(T, old, new) == (
        {"k17": {"n": 17}, "k18": {"n": 18}, "k40": {"n": 40}}, {"k17": {"n": 1.0}, "k18": {"n": True}, "k200": 0})
    assert type(engine.changed_records(T, old, new)[1]["k17"]["n"]) is float
    reads: list[str] = []
    cold = DbEngine(engine.root)
    read = cold.storage.read_object
    cold.storage.read_object = lambda tenant, digest: (reads.append(digest), read(tenant, digest))[1]
    cold.changed_records(T, old, new)
    assert 0 < len(reads) < 30  # both trees have 40+ nodes: equal subtrees are skipped
    assert engine.changed_records(T, new, new) == ({}, {})
    assert str(engine.log(T, E)[1].summary) == "+1 ~2 -0"


def forge_version(engine: DbEngine, field: str, mutate) -> tuple[str, str]:
    """A new head version whose `field` root is a rewritten (well-hashed) copy of the
    head's, changed by `mutate(node)`; returns (forged node path, version digest)."""
    document = dict(head_doc(engine))
    node = json.loads(engine.storage.read_object(T, document[field]))
    mutate(node)
    data = to_json_bytes(node)
    digest = compute_digest(data)
    engine.storage.write_object(T, digest, data)
    document[field] = digest
    document["__parent__"] = [engine.get_digest(T, E)]
    version = to_json_bytes(document)
    engine.storage.write_object(T, compute_digest(version), version)
    head, token = engine._read_head(T)
    assert engine.storage.write_head(T, json.dumps({**head, E: compute_digest(version)}).encode(), expected=token)
    return engine.storage.object_path(T, digest), compute_digest(version)


def first_leaf_items(engine: DbEngine, node: dict) -> list:
    while node["__kind__"] != "rec-leaf":
        node = engine._node(T, node["children"][0][1])
    return node["items"]


FORGERIES = {
    "order count": ("__order__", lambda node: node["children"][0].__setitem__(2, node["children"][0][2] + 1)),
    "order child out of place": ("__order__", lambda node: node["children"][0].__setitem__(0, 7)),
    "order level": ("__order__", lambda node: node.__setitem__("level", node["level"] + 1)),
    "key count": ("__keys__", lambda node: node["children"][-1].__setitem__(2, node["children"][-1][2] - 1)),
    "key child swapped": ("__keys__", lambda node: node["children"].__setitem__(
        slice(0, 2), [[node["children"][0][0], node["children"][1][1], node["children"][1][2]],
                      [node["children"][1][0], node["children"][0][1], node["children"][0][2]]])),
}


@pytest.mark.parametrize("how", list(FORGERIES))
def test_a_forged_node_raises_a_corrupt_object_error_and_verify_names_it(engine, how):
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    field, mutate = FORGERIES[how]
    path, version = forge_version(engine, field, mutate)
    cold = DbEngine(engine.root)
    calls = [lambda: cold.get(T, E, "k1"), lambda: cold.get(T, E, "k59"), lambda: cold.put(T, U, E, "k1", "x")]
    if field == "__order__":
        calls += [lambda: cold.get(T, E), lambda: list(cold.records_view(T, version).keys_list())]
    failures = 0
    for call in calls:
        try:
            call()
        except errors.CorruptObjectError as exc:
            failures += 1
            assert "record-tree node" in str(exc) or "object" in str(exc)
    assert failures >= 1
    problems = [p for p in cold.verify(T).problems if p.kind == "tree-mismatch"]
    assert problems and all(version[:12] in p.message for p in problems)
    assert any(p.path == engine.storage.object_path(T, version) for p in problems)


def test_a_key_index_naming_the_wrong_seq_is_refused(engine, monkeypatch):
    monkeypatch.setattr(records_tree, "KEY_LEAF", 64)  # one key leaf
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(10)})

    def swap(node):
        node["keys"][0][1], node["keys"][1][1] = node["keys"][1][1], node["keys"][0][1]

    path, version = forge_version(engine, "__keys__", swap)
    cold = DbEngine(engine.root)
    swapped = json.loads(open(path, "rb").read())["keys"][0][0]
    with pytest.raises(errors.CorruptObjectError):
        cold.get(T, E, swapped)
    with pytest.raises(errors.CorruptObjectError):
        cold.records_view(T, version)[swapped]
    assert cold.get(T, E) == list(range(10))  # the order tree alone is sound
    assert any("key index does not name" in p.message for p in cold.verify(T).problems)


def test_a_misplaced_key_and_a_seq_outside_its_leaf_are_refused(engine, monkeypatch):
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    cold = DbEngine(engine.root)
    # A key-index leaf below the root holding a key of another branch.
    document = head_doc(engine)
    root = engine._node(T, document["__keys__"])
    child = engine._node(T, root["children"][0][1])
    while child["__kind__"] != "key-leaf":
        child = engine._node(T, child["children"][0][1])
    stray = next(f"x{i}" for i in range(1000) if records_tree.key_hash(f"x{i}") >> 254 != root["children"][0][0])
    nodes = engine._nodes(T)
    with pytest.raises(records_tree.TreeError, match="out of its place"):
        key_tree._key_pairs(nodes, nodes.store({"__kind__": "key-leaf", "keys": [*child["keys"], [stray, 3]][-4:]}),
                                1, root["children"][0][0], 4)
    # An order leaf holding a seq of another leaf.
    items = first_leaf_items(engine, engine._node(T, document["__order__"]))
    forged = nodes.store({"__kind__": "rec-leaf", "items": [*items[:-1], [99, "k99", 1]]})
    with pytest.raises(records_tree.TreeError, match="outside"):
        order_tree._order_items(nodes, forged, 0, len(items))
    assert cold.verify(T).ok


def test_a_format_04_entry_reads_everywhere_and_its_first_write_converts_it(engine):
    states = [{"a": 1, "b": {"x": 1}, "c": 3}, {"b": {"x": 2}, "c": 3, "a": 1, "d": 4}, {"c": 3, "a": 1, "d": 4, "b": 5}]
    old = write_v04(engine, T, E, states[:2] + [{k: v for k, v in states[1].items() if k != "b"}])
    assert engine.get(T, E) == [1, 3, 4] and engine.get(T, E, "d") == 4
    assert list(engine.records_view(T, old[-1])) == ["a", "c", "d"]
    assert engine.changed_records(T, old[0], old[1]) == ({"b": {"x": 1}}, {"b": {"x": 2}, "d": 4})
    assert [str(v.summary) for v in engine.log(T, E)] == ["+0 ~0 -1", "+1 ~1 -0", "+3 ~0 -0"]
    assert engine.verify(T).ok
    engine.put(T, U, E, "b", 5)  # deleted, added again: a new seq, at the end
    document = head_doc(engine)
    assert "__order__" in document and "__buckets__" not in document and document["__parent__"] == [old[-1]]
    assert (document["__count__"], document["__next_seq__"]) == (4, 5)
    assert engine.get(T, E) == [1, 3, 4, 5] and engine.record_keys(T, engine.get_digest(T, E)) == ["a", "c", "d", "b"]
    assert str(engine.log(T, E)[0].summary) == "+1 ~0 -0"
    assert engine.changed_records(T, old[-1], engine.get_digest(T, E)) == ({}, {"b": 5})
    restored = engine.restore(T, U, E, old[0])  # an old version comes back as trees
    assert "__order__" in engine.read_snapshot(T, restored) and engine.get(T, E) == [1, {"x": 1}, 3]
    assert engine.verify(T).ok
    target = DbEngine(os.path.join(engine.root, "..", "copy"))
    target.import_jsonl(engine.export_jsonl(T))
    assert target.get(T, E) == [1, {"x": 1}, 3] and target.verify(T).ok


def test_import_refuses_a_forged_tree_before_any_head_moves(engine, tmp_path):
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    clean = list(engine.export_jsonl(T))
    forge_version(engine, "__order__", FORGERIES["order count"][1])
    with pytest.raises(errors.CorruptObjectError):  # export reads (and refuses) the forged tree
        list(engine.export_jsonl(T))
    # Hand-made stream: the clean objects, then the forged node and version, then heads.
    objects = [line for line in clean if json.loads(line)["type"] != "head"]
    document = head_doc(engine)
    extra = [document["__order__"], engine.get_digest(T, E)]
    lines = objects + [json.dumps({"type": "object", "digest": d, "text": engine.storage.read_object(T, d).decode()})
                       for d in extra]
    lines.append(json.dumps({"type": "head", "entry": E, "digest": extra[-1]}))
    target = DbEngine(str(tmp_path / "target"))
    with pytest.raises(ImportFormatError, match="record version"):
        target.import_jsonl(lines)
    assert not target.exists(T, E)
    target.import_jsonl(clean)
    assert target.get(T, E) == list(range(60))


@pytest.mark.parametrize("workers", [1, 3])
def test_a_put_writes_its_new_nodes_in_one_batch_before_the_head(engine, monkeypatch, workers):
    from dbengine import journal_store, packs

    monkeypatch.setattr(journal_store, "WRITE_WORKERS", workers)
    monkeypatch.setattr(packs, "PACK_MIN", 10**9)  # loose node files (tests/test_packs.py: a pack before the head)
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(40)})
    events: list[str] = []
    store, files = engine.storage, engine.storage.files
    write_new, write_atomic = files.write_new, files.write_atomic
    monkeypatch.setattr(files, "write_new", lambda path, data: (events.append("object"), write_new(path, data))[1])
    monkeypatch.setattr(files, "write_atomic", lambda path, data, durable=None: (
        events.append("head" if path == store.head_path(T) else "other"), write_atomic(path, data, durable))[1])
    engine.put_many(T, U, E, {f"k{i}": -i for i in range(0, 40, 3)} | {f"n{i}": i for i in range(12)})
    assert events.count("head") == 1 and events.count("object") >= 4 * workers  # a batch the threads share
    assert "object" not in events[events.index("head"):]  # every node file is in place before the head
    cold = DbEngine(engine.root)
    assert cold.get(T, E, "k3") == -3 and cold.get(T, E, "n11") == 11 and len(cold.get(T, E)) == 52
    assert cold.verify(T).ok


def test_a_batch_that_fails_leaves_the_head_and_the_next_put_writes_what_it_needs(engine, monkeypatch):
    from dbengine import packs

    monkeypatch.setattr(packs, "PACK_MIN", 10**9)  # loose node files (tests/test_packs.py: a pack that fails)
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(40)})
    before = engine.get_digest(T, E)
    files = engine.storage.files
    write_new = files.write_new
    seen: list[str] = []

    def failing(path, data):  # one file cannot be written, however often it is tried
        if path not in seen:
            seen.append(path)
        if path == seen[min(2, len(seen) - 1)] and len(seen) >= 3:
            raise errors.StorageError(f"cannot write {path}: disk full (simulated)")
        write_new(path, data)

    monkeypatch.setattr(files, "write_new", failing)
    with pytest.raises(errors.StorageError, match="simulated"):
        engine.put_many(T, U, E, {f"k{i}": -i for i in range(40)})
    assert DbEngine(engine.root).get_digest(T, E) == before
    monkeypatch.setattr(files, "write_new", write_new)
    engine.put_many(T, U, E, {f"k{i}": -i for i in range(40)} | {"last": 1})
    cold = DbEngine(engine.root)
    assert cold.get(T, E) == [-i for i in range(40)] + [1]
    assert cold.verify(T).ok


def test_leaf_items_equal_by_value_but_not_by_type_or_order_differ():
    """The pairwise C pass (same seqs) and the marshal confirmation keep the diff type-strict."""
    left = [[0, "a", {"n": 1}], [1, "b", {"n": 1}], [2, "c", {"n": 0.0}], [3, "d", {"x": 1, "y": 2}],
            [4, "e", [1, "s", None]], [5, "f", {"n": 2}]]
    right = [[0, "a", {"n": 1.0}], [1, "b", {"n": True}], [2, "c", {"n": -0.0}], [3, "d", {"y": 2, "x": 1}],
             [4, "e", [1, "s", None]], [5, "f", {"n": 3}]]
    assert order_tree._differing_seqs(json.loads(json.dumps(left)), json.loads(json.dumps(right))) == {0, 1, 2, 3, 5}
    same = json.loads(json.dumps(left))
    assert order_tree._differing_seqs(json.loads(json.dumps(left)), same) == set()
    # Seqs that do not line up (a delete, an add) take the by-seq path, with the same answers.
    assert order_tree._differing_seqs(left[:5], right[1:]) == {0, 1, 2, 3, 5}
    deep: list = []
    for _ in range(3000):  # deeper than marshal goes: the JSON path decides (too deep: differs)
        deep = [deep]
    assert order_tree._same_strict([1, 2.5, "x"], [1, 2.5, "x"]) and not order_tree._same_strict([1], [True])
    assert order_tree._same_strict(deep, deep) is False


def forge_order_root(engine: DbEngine, data: bytes) -> None:
    """Make the head a version whose order root is the object of `data` (well hashed)."""
    document = dict(head_doc(engine))
    digest = compute_digest(data)
    engine.storage.write_object(T, digest, data)
    document["__order__"] = digest
    document["__parent__"] = [engine.get_digest(T, E)]
    version = to_json_bytes(document)
    engine.storage.write_object(T, compute_digest(version), version)
    head, token = engine._read_head(T)
    assert engine.storage.write_head(T, json.dumps({**head, E: compute_digest(version)}).encode(), expected=token)


def test_get_returns_values_the_caller_owns_from_cold_and_cached_leaves(engine):
    """get()'s fast path returns leaves parsed afresh (no decode): mutating them changes
    nothing the engine keeps; leaves already cached are decoded (copied) as before."""
    engine.init(T)
    model = {f"k{i}": {"n": i, "list": [i, {"deep": [i]}]} for i in range(10)}
    engine.put_many(T, U, E, model)
    cold = DbEngine(engine.root)
    decoded: list = []
    decode = cold.serializer.decode
    cold.serializer.decode = lambda stored: (decoded.append(stored), decode(stored))[1]
    values = cold.get(T, E)
    assert values == list(model.values()) and decoded == []  # no tag in any leaf: no decode
    for value in values:
        value["n"] = -1
        value["list"][1]["deep"].append("mutated")
    view = cold.records_view(T, cold.get_digest(T, E))
    assert cold.get(T, E) == list(model.values()) == [view[k] for k in model]
    assert cold.get(T, E, "k3") == model["k3"]
    values = cold.get(T, E)  # the view cached some leaves: those are decoded, copies
    assert len(decoded) > 0 and values == list(model.values())
    for value in values:
        value["list"][1]["deep"].clear()
    assert [view[k] for k in model] == list(model.values()) == cold.get(T, E)


def test_get_decodes_tagged_values_in_a_leaf_and_escaped_tags_are_not_missed(engine):
    engine.init(T)
    engine.put_many(T, U, E, {"plain": {"n": 1}, "tuple": (1, 2), "set": {3}, "bytes": b"\x00x"})
    values = DbEngine(engine.root).get(T, E)
    assert values == [{"n": 1}, (1, 2), {3}, b"\x00x"]
    assert [type(v) for v in values] == [dict, tuple, set, bytes]
    # A forged leaf spelling the tag key with a JSON escape: decoded as the tag it parses to.
    leaf = {"__kind__": "rec-leaf", "items": [[0, "plain", {"n": 1}], [1, "tuple", {"__special__": "py/tuple", "items": [5]}],
                                              [2, "set", 0], [3, "bytes", 0]]}
    data = to_json_bytes(leaf).replace(b'"__special__"', b'"\\u005f_special__"')
    assert b"__special__" not in data
    forge_order_root(engine, data)
    assert DbEngine(engine.root).get(T, E) == [{"n": 1}, (5,), 0, 0]
    leaf["items"][1][2] = {"__special__": "no/such-tag"}
    forge_order_root(engine, to_json_bytes(leaf).replace(b'"__special__"', b'"\\u005f_special__"'))
    with pytest.raises(errors.UnknownTagError):
        DbEngine(engine.root).get(T, E)


@pytest.mark.parametrize("forged", ["seq out of place", "count", "not a node", "not json"])
def test_get_refuses_a_forged_leaf_read_afresh(engine, forged):
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(4)})  # 4 records: the order root is a leaf
    items = [[i, f"k{i}", i] for i in range(4)]
    data = {
        "seq out of place": to_json_bytes({"__kind__": "rec-leaf", "items": [*items[:3], [9, "k9", 9]]}),
        "count": to_json_bytes({"__kind__": "rec-leaf", "items": items[:3]}),
        "not a node": to_json_bytes({"__kind__": "rec-leaf", "keys": items}),
        "not json": b'{"__kind__": "rec-leaf", "items": [[0, "k0", 0]',
    }[forged]
    forge_order_root(engine, data)
    with pytest.raises(errors.CorruptObjectError, match=compute_digest(data)[:12]):
        DbEngine(engine.root).get(T, E)


def test_changed_records_sees_updates_in_place_equal_by_value_only(engine):
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": {"n": 1, "m": [0.0]} for i in range(40)})
    old = engine.get_digest(T, E)
    engine.put_many(T, U, E, {"k3": {"n": 1.0, "m": [0.0]}, "k20": {"n": True, "m": [0.0]}, "k30": {"m": [0.0], "n": 1},
                              "k31": {"n": 1, "m": [-0.0]}})
    before, after = DbEngine(engine.root).changed_records(T, old, engine.get_digest(T, E))
    assert sorted(after) == sorted(before) == ["k20", "k3", "k30", "k31"]
    assert [type(after[k]["n"]) for k in ("k3", "k20")] == [float, bool] and list(after["k30"]) == ["m", "n"]
