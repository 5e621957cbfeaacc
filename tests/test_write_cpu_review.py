"""Review of a write's CPU shortcuts (issue 12 §1): with nodes wide enough that a write
changes more than 8 children of one node (formatted whole), inner nodes remembered sound,
lines found once (Nodes.lines), keys found absent once (Nodes.absent), every answer (get,
get(key), changed_records, put's add-vs-update decision) is the model's and every tree is
what a build that encodes every node whole gives; the per-write memos do not outlive their
write (a second write, a failed write retried, a compare-and-swap retry on a new head), and
reads from other threads while the same engine writes see the versions they ask for."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from dbengine import key_tree, node_bytes, objects, order_tree, records_tree
from dbengine.dbengine import DbEngine
from dbengine.errors import CorruptObjectError, RecordNotFoundError
from dbengine.layout import tree_of
from dbengine.records import same_stored
from dbengine.utils import compute_digest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

T, E, U = "t", "rec", "u"
EMPTY = records_tree.Tree(None, None, 0, 0)


@pytest.fixture(autouse=True)
def wide_nodes(monkeypatch):
    """Order leaves of 2 seqs under 16-way nodes, key leaves of 4 keys under 16-way key
    nodes: a put of a few dozen records changes more than 8 children of a node."""
    monkeypatch.setattr(records_tree, "ORDER_LEAF", 2)
    monkeypatch.setattr(records_tree, "ORDER_FANOUT", 16)
    monkeypatch.setattr(records_tree, "KEY_LEAF", 4)
    monkeypatch.setattr(records_tree, "KEY_BITS", 4)


def reference_roots(items: dict[str, list], next_seq: int) -> tuple[str | None, str | None]:
    """The roots of the trees of `items` (key -> [seq, stored]) built with every node
    encoded whole (no byte shortcut: the Nodes has no store_bytes)."""
    kept: dict[str, dict] = {}

    def store(node: dict) -> str:
        digest = compute_digest(node_bytes.node_to_bytes(node))
        kept[digest] = node
        return digest

    nodes = records_tree.Nodes(kept.__getitem__, store)
    order, _ = order_tree.order_update(nodes, EMPTY, {s: [s, k, v] for k, (s, v) in items.items()}, next_seq)
    keys, _ = key_tree.key_update(nodes, EMPTY, {k: s for k, (s, _v) in items.items()})
    return order, keys


def check_version(engine: DbEngine, digest: str, model: dict[str, Any]) -> None:
    """The version's records are the model's, and its trees are the reference build's."""
    assert engine.read_records(T, digest) == model
    tree = tree_of(engine.read_snapshot(T, digest))
    items = engine.records.tree_items(T, tree, list(model))
    assert {k: v for k, (_s, v) in items.items()} == model
    assert (tree.order, tree.keys) == reference_roots(items, tree.next_seq)


def changed(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict, dict]:
    """What changed_records should answer between two models."""
    differ = [k for k in {**old, **new} if k not in old or k not in new or not same_stored(old[k], new[k])]
    return {k: old[k] for k in differ if k in old}, {k: new[k] for k in differ if k in new}


keys_st = st.one_of(st.integers(0, 90).map(lambda i: f"k{i}"),
                    st.sampled_from(["", "é", "a,b", "[x]", "z:1", "sp ace", "-", 'q"x', "b\\s", "c\nl",
                                     "\U0001f600", "\u2028", "]", '],["', 'x",1],["y']))
values_st = st.sampled_from([1, 1.0, True, "1", None, [1], {"a": [2]}, "é", "x\ny", "\ud800", 'q"', 2.5])
plan_st = st.lists(st.tuples(st.booleans(), st.dictionaries(keys_st, values_st, min_size=1, max_size=40)),
                   min_size=1, max_size=5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan_st, st.booleans())
def test_writes_through_wide_nodes_answer_as_the_model_and_build_the_reference_trees(tmp_path_factory, plan, warm):
    """Puts and deletes (False: delete the dict's keys) on one engine (`warm`: its memos
    and caches carried from write to write) or a new engine per write (nodes from disk)."""
    root = str(tmp_path_factory.mktemp("db"))
    engine = DbEngine(root)
    engine.init(T)
    model = {f"k{i}": i for i in range(0, 90, 2)}
    engine.put_many(T, U, E, model)
    versions = [(engine.get_digest(T, E), dict(model))]
    for put, payload in plan:
        engine = engine if warm else DbEngine(root)
        if put:
            engine.put_many(T, U, E, payload)
            model.update(payload)
        else:
            for key in payload:
                engine.delete(T, U, E, key)
                model.pop(key, None)
        versions.append((engine.get_digest(T, E), dict(model)))
        for key in payload:
            if key in model:
                assert engine.get(T, E, key) == model[key]
            else:
                with pytest.raises(RecordNotFoundError):
                    engine.get(T, E, key)
    for (old, old_model), (new, new_model) in zip(versions, versions[1:], strict=False):
        assert engine.changed_records(T, old, new) == changed(old_model, new_model)
    check_version(engine, versions[-1][0], model)
    check_version(DbEngine(root), versions[-1][0], model)


def test_a_put_retried_on_a_new_head_decides_add_or_update_on_that_head(tmp_path, monkeypatch):
    """A compare-and-swap lost: the write's first build (on the old head) is dropped, another
    write adds the key the first build added and removes the one it updated; the retry,
    on the new head, updates the first and adds the second (no memo of the first build)."""
    engine = DbEngine(str(tmp_path))
    engine.init(T)
    base = {f"k{i}": i for i in range(60)}
    engine.put_many(T, U, E, base)
    mine = {f"k{i}": "mine" for i in range(0, 60, 3)} | {f"new{i}": "mine" for i in range(20)}
    theirs = {f"new{i}": "theirs" for i in range(15)}
    gone = [f"k{i}" for i in range(0, 60, 6)]
    real_swap = engine.heads.swap
    builds = []

    def lost_once(tenant_id, entry, step, hint):
        if not builds:
            builds.append(step(engine.heads.read(tenant_id)[0].get(entry)))  # built, swap lost
            engine.put_many(T, U, E, theirs)  # another write wins the race
            for key in gone:
                engine.delete(T, U, E, key)
            builds.append(engine.get_digest(T, E))  # the new head the retry builds on
        return real_swap(tenant_id, entry, step, hint)

    with monkeypatch.context() as patch:
        patch.setattr(engine.heads, "swap", lost_once)
        assert engine.put_many(T, U, E, mine)
    assert len(builds) == 2 and builds[0] is not None
    model = {k: v for k, v in {**base, **theirs}.items() if k not in gone} | mine
    check_version(engine, engine.get_digest(T, E), model)
    old_model = {k: v for k, v in {**base, **theirs}.items() if k not in gone}
    assert engine.changed_records(T, builds[1], engine.get_digest(T, E)) == changed(old_model, model)
    summary = engine.log(T, E)[0].summary  # the first build's: 20 added, 20 changed
    assert (summary.added, summary.changed, summary.removed) == (15, 25, 0)


def test_a_put_that_failed_midway_and_is_retried_writes_the_reference_trees(tmp_path, monkeypatch):
    """The failed write's nodes (and the memos made of them) do not spoil the retry."""
    engine = DbEngine(str(tmp_path))
    engine.init(T)
    model = {f"k{i}": i for i in range(80)}
    engine.put_many(T, U, E, model)
    changes = {f"k{i}": -i for i in range(0, 80, 2)} | {f"n{i}": i for i in range(30)}
    real = engine.storage.write_object
    calls = []

    def failing(tenant_id, digest, data):
        calls.append(digest)
        if len(calls) == 12:
            raise OSError("disk full")
        return real(tenant_id, digest, data)

    with monkeypatch.context() as patch, pytest.raises(OSError):
        patch.setattr(engine.storage, "write_object", failing)
        engine.put_many(T, U, E, changes)
    check_version(engine, engine.get_digest(T, E), model)
    engine.put_many(T, U, E, changes)
    model.update(changes)
    check_version(engine, engine.get_digest(T, E), model)
    check_version(DbEngine(str(tmp_path)), engine.get_digest(T, E), model)


def test_reads_from_other_threads_while_the_engine_writes_answer_each_version(tmp_path, monkeypatch):
    """One engine with caches small enough that every write evicts what readers use; readers
    in three threads ask each version written so far for its records, keys, a record and
    the changes from another version, while a thread writes (the TUI's workers)."""
    monkeypatch.setattr(objects, "NODE_BYTES_CACHE", 16_000)
    monkeypatch.setattr(objects, "BUCKET_BYTES_CACHE", 16_000)
    engine = DbEngine(str(tmp_path), cache_bytes=24_000)
    engine.init(T)
    model = {f"k{i}": i for i in range(120)}
    engine.put_many(T, U, E, model)
    versions = {engine.get_digest(T, E): dict(model)}
    errors: list[str] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for step in range(40):
                batch = {f"k{(step * 37 + i * 11) % 240}": step * 1000 + i for i in range(step % 7 * 5 + 1)}
                engine.put_many(T, U, E, batch)
                model.update(batch)
                if step % 5 == 0:
                    key = next(iter(model))
                    engine.delete(T, U, E, key)
                    model.pop(key)
                versions[engine.get_digest(T, E)] = dict(model)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's answer
            errors.append(f"writer: {exc!r}")
        finally:
            done.set()

    def reader(number: int) -> None:
        turn = number
        try:
            while not done.is_set() or turn < number + 3:
                known = list(versions.items())
                digest, want = known[turn % len(known)]
                other, other_want = known[(turn * 7) % len(known)]
                turn += 1
                assert engine.read_records(T, digest) == want
                assert list(engine.records_view(T, digest).keys_list()) == list(want)
                key = list(want)[turn % len(want)]
                assert engine.get(T, E, key, digest=digest) == want[key]
                assert engine.changed_records(T, other, digest) == changed(other_want, want)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"reader: {exc!r}")

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(versions) > 30
    check_version(engine, engine.get_digest(T, E), model)


def test_node_bytes_written_by_wide_writes_are_their_nodes_encoded(tmp_path):
    """Every node a write stores (root formatted whole, leaves spliced) is node_to_bytes of it."""
    engine = DbEngine(str(tmp_path))
    engine.init(T)
    written: list[bytes] = []
    real = engine.storage.write_object
    engine.storage.write_object = lambda t, d, data: written.append(data) or real(t, d, data)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(100)})
    formatted = []
    original = node_bytes.inner_node_bytes
    records_tree.inner_node_bytes, saved = (lambda *a: formatted.append(1) or original(*a)), records_tree.inner_node_bytes
    try:
        engine.put_many(T, U, E, {f"k{i}": -i for i in range(0, 100, 3)} | {"\u00e9": "\ud800"})
    finally:
        records_tree.inner_node_bytes = saved
    assert formatted
    for data in written:
        if not data.startswith(b'{"__kind__":"records"'):
            assert node_bytes.node_to_bytes(json.loads(data)) == data


def install_root(engine: DbEngine, field: str, data: bytes) -> None:
    """Make a new head version whose `field` (`__order__`, `__keys__`) is the node `data`."""
    engine.storage.write_object(T, compute_digest(data), data)
    head = engine.get_digest(T, E)
    version = dict(engine.read_snapshot(T, head), __parent__=[head], **{field: compute_digest(data)})
    raw = json.dumps(version, separators=(",", ":"), ensure_ascii=False).encode()
    engine.storage.write_object(T, compute_digest(raw), raw)
    heads, token = engine._read_head(T)
    engine.storage.write_head(T, json.dumps({**heads, E: compute_digest(raw)}).encode(), expected=token)


def wide_entry(tmp_path) -> tuple[DbEngine, dict]:
    engine = DbEngine(str(tmp_path))
    engine.init(T)
    model = {f"k{i}": i for i in range(120)}
    engine.put_many(T, U, E, model)
    return engine, model


@pytest.mark.parametrize("field", ["__keys__", "__order__"])
@pytest.mark.parametrize("warm", [False, True])
def test_a_forged_root_is_refused_by_a_write_that_changes_many_of_its_children(tmp_path, field, warm):
    """A root whose counts do not add up (well hashed): a put changing more than 8 of its
    children (formatted whole) reads it first and refuses it, even on the engine whose
    memo holds the true root as sound; the head stays."""
    engine, _model = wide_entry(tmp_path)
    root = engine.objects.node(T, engine.read_snapshot(T, engine.get_digest(T, E))[field])
    forged = dict(root, children=[[i, d, c + (index == 3)] for index, (i, d, c) in enumerate(root["children"])])
    install_root(engine, field, node_bytes.node_to_bytes(forged))
    head = engine.get_digest(T, E)
    writer = engine if warm else DbEngine(engine.root)
    with pytest.raises(CorruptObjectError, match="its parent says"):
        writer.put_many(T, U, E, {f"k{i}": -i for i in range(0, 120, 2)} | {f"n{i}": i for i in range(40)})
    assert DbEngine(engine.root).get_digest(T, E) == head


@pytest.mark.parametrize("field", ["__keys__", "__order__"])
@pytest.mark.parametrize("changes", [1, 60])
def test_a_root_spelled_otherwise_is_written_in_the_engine_s_spelling(tmp_path, field, changes):
    """A valid root with spaces (another writer's spelling): the new root, spliced (one
    changed child: not proven canonical, so encoded) or formatted whole (many), is the
    reference's bytes (the put updates and adds: both trees change)."""
    engine, model = wide_entry(tmp_path)
    root = engine.objects.node(T, engine.read_snapshot(T, engine.get_digest(T, E))[field])
    install_root(engine, field, json.dumps(root).encode())  # `, ` and `: `
    cold = DbEngine(engine.root)
    batch = {f"k{i}": "new" for i in range(0, 2 * changes, 2)} | {f"n{i}": i for i in range(changes)}
    cold.put_many(T, U, E, batch)
    model.update(batch)
    check_version(cold, cold.get_digest(T, E), model)


@settings(max_examples=100, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 150), st.lists(st.sampled_from([b",", b", ", b" ,"]),
       min_size=1, max_size=3), st.text(alphabet="ab[],{}:é0 ", max_size=5), st.sampled_from([1, 4]))
def test_a_key_goes_before_the_first_greater_key_in_a_leaf_spelled_with_spaces(rng, count, commas, wanted, width):
    """key_insert_offset (bisection, then the window read in order) on a framed leaf with
    sorted keys in another spelling: the first byte of the first key greater than the
    wanted one, the end of the pairs, or None when it is there (up to 150 keys, `width`
    times longer: leaves past the window, read by bisection first)."""
    keys = ["".join(rng.choice("ab[],{}:é0 ") for _ in range(rng.randrange(6))) for _ in range(count)]
    keys = sorted({(key * width).encode() for key in keys})
    data, starts = bytearray(node_bytes.KEY_LEAF_HEAD), []
    for number, key in enumerate(keys):
        if number:
            data += b"]" + commas[number % len(commas)] + b'["'
        starts.append(len(data))
        data += key + b'"' + commas[-number % len(commas)] + b"%d" % number
    data += node_bytes.KEY_LEAF_TAIL
    event("bisected" if len(data) > node_bytes.KEY_WINDOW + 100 else "read in order")
    raw = (wanted * width).encode()
    greater = [start for key, start in zip(keys, starts, strict=True) if key > raw]
    expected = None if raw in keys else greater[0] if greater else len(data) - len(node_bytes.KEY_LEAF_TAIL)
    assert node_bytes.key_insert_offset(bytes(data), raw) == expected
