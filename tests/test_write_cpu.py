"""A write's CPU shortcuts (issue 12 §1, put_many into 1,000,000 records): the same bytes and
answers as the paths they shortcut, on random inputs, and forged nodes still refused.

node_bytes.key_insert_offset (bisection, then the last bytes read in order), insert_keys with
keys known absent, inner_node_bytes (a node formatted whole), splice_lines given the line
found already; records_tree's memo of inner nodes built sound, ObjectCache.get without a lock.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

import pytest
from dbengine import cache as cache_module
from dbengine import key_tree, node_bytes, order_tree, records_tree
from dbengine.cache import ObjectCache
from dbengine.dbengine import DbEngine
from dbengine.errors import CorruptObjectError
from dbengine.layout import tree_of
from dbengine.utils import compute_digest, to_json_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

T, E, U = "t", "rec", "u"
plain_keys = st.text(alphabet="ab[],{}:é0z ", min_size=1, max_size=10)


def key_leaf(pairs: dict[str, int]) -> bytes:
    return to_json_bytes({"__kind__": "key-leaf", "keys": sorted([k, s] for k, s in pairs.items())})


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(plain_keys, st.integers(0, 10**9), min_size=1, max_size=300),
       st.dictionaries(plain_keys, st.integers(0, 10**9), min_size=1, max_size=4), st.booleans())
def test_keys_inserted_in_a_big_leaf_are_to_json_bytes_of_the_new_pairs(pairs, added, absent):
    """Leaves of up to 300 keys (~5 kB): the bisection and the in-order window both run."""
    data = key_leaf(pairs)
    raws = [(node_bytes.plain_key(key), seq) for key, seq in added.items()]
    if any(key in pairs for key in added):
        for key in added:
            if key in pairs:
                assert node_bytes.key_insert_offset(data, key.encode()) is None
        if not absent:
            assert node_bytes.insert_keys(data, raws) is None
        return
    assert node_bytes.insert_keys(data, raws, absent) == key_leaf({**pairs, **added})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=64), st.integers(0, 5), st.data())
def test_an_inner_node_formatted_whole_is_to_json_bytes_of_it(counts, level, data):
    indexes = sorted(data.draw(st.sets(st.integers(0, 63), min_size=len(counts), max_size=len(counts))))
    children = [[index, compute_digest(b"%d" % index), count] for index, count in zip(indexes, counts, strict=True)]
    for head, document in ((node_bytes.KEY_NODE_HEAD, {"__kind__": "key-node", "children": children}),
                           (node_bytes.order_node_head(level),
                            {"__kind__": "rec-node", "level": level, "children": children})):
        assert node_bytes.inner_node_bytes(head, children) == to_json_bytes(document)


@pytest.mark.parametrize("digest", ["A" * 64, "g" * 64, "\u00e9" * 64, "a" * 63, 'a",1],[2,"' + "a" * 56])
def test_an_inner_node_with_a_digest_that_is_not_lowercase_hex_is_not_formatted(digest):
    children = [[0, "a" * 64, 1], [1, digest, 2]]
    assert node_bytes.inner_node_bytes(node_bytes.KEY_NODE_HEAD, children) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet='ab,[]{}"é', max_size=6), min_size=1, max_size=12), st.data())
def test_a_splice_given_the_line_found_already_is_the_splice_that_finds_it(stored, data):
    items = [[seq, f"k{seq}", value] for seq, value in enumerate(stored)]
    leaf = node_bytes.order_leaf_bytes(items)
    seq = data.draw(st.integers(0, len(items) - 1))
    new = data.draw(st.one_of(st.none(), st.just(node_bytes.item_bytes([seq, f"k{seq}", "new"]))))
    first = node_bytes.item_line(leaf, seq)
    assert first is not None
    assert node_bytes.splice_lines(leaf, [(seq, new)], first) == node_bytes.splice_lines(leaf, [(seq, new)])


@pytest.fixture
def small_nodes(monkeypatch):
    """Order leaves of 8 seqs under 4-way nodes; key leaves of 8 keys under 16-way key nodes."""
    monkeypatch.setattr(records_tree, "ORDER_LEAF", 8)
    monkeypatch.setattr(records_tree, "ORDER_FANOUT", 4)
    monkeypatch.setattr(records_tree, "KEY_LEAF", 8)
    monkeypatch.setattr(records_tree, "KEY_BITS", 4)


def roots(engine: DbEngine) -> tuple:
    tree = tree_of(engine.read_snapshot(T, engine.get_digest(T, E)))
    return tree.order, tree.keys, tree.count


def test_a_root_with_many_changed_children_is_written_as_a_full_encoding_writes_it(tmp_path, small_nodes, monkeypatch):
    """put_many of 200 keys changes most of the key root's 16 children: it is formatted whole;
    the same puts with every inner node encoded by the encoder give the same trees."""
    batches = [{f"k{i}-{b}": {"n": i} for i in range(200)} for b in range(3)]
    batches.append({f"k{i}-0": {"n": -i} for i in range(0, 200, 3)})
    formatted = []
    original = node_bytes.inner_node_bytes
    monkeypatch.setattr(records_tree, "inner_node_bytes", lambda *a: formatted.append(1) or original(*a))
    fast = DbEngine(str(tmp_path / "fast"))
    fast.init(T)
    for batch in batches:
        fast.put_many(T, U, E, batch)
    assert formatted
    monkeypatch.setattr(order_tree, "inner_data", lambda *a: None)
    monkeypatch.setattr(key_tree, "inner_data", lambda *a: None)
    full = DbEngine(str(tmp_path / "full"))
    full.init(T)
    for batch in batches:
        full.put_many(T, U, E, batch)
    assert roots(fast) == roots(full)


def test_inner_nodes_a_write_builds_are_remembered_sound_for_their_count_only(tmp_path, small_nodes):
    engine = DbEngine(str(tmp_path))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(100)})
    engine.put_many(T, U, E, {f"k{i}": -i for i in range(0, 100, 7)})
    order, keys, count = roots(engine)
    nodes = engine.objects.nodes(T)
    assert (order, count) in nodes.sound and (keys, count) in nodes.sound
    with pytest.raises(records_tree.TreeError, match="its parent says"):  # another count: checked, refused
        key_tree._key_children(nodes, keys, 0, count + 1)
    assert engine.get(T, E, "k14") == -14 and len(engine.get(T, E)) == 100


def test_a_forged_inner_node_read_from_disk_is_still_refused(tmp_path, small_nodes):
    """A node this engine did not build is checked against its count, as before."""
    engine = DbEngine(str(tmp_path))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(100)})
    _order, keys, _count = roots(engine)
    root = engine.objects.node(T, keys)
    forged = {"__kind__": "key-node", "children": [[c[0], c[1], c[2] + 1] for c in root["children"]]}
    digest = engine.objects.write(T, forged)
    cold = DbEngine(str(tmp_path))
    with pytest.raises(CorruptObjectError, match="its parent says"):
        with cold.objects.tree_guard(T):
            key_tree.key_lookup_many(cold.objects.nodes(T), records_tree.Tree(None, digest, 100, 100), ["k1"])


def test_a_cache_read_by_many_threads_while_others_fill_it_returns_what_was_put():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads switch often: gets and evicting puts interleave
    cache = ObjectCache(64 * 100)  # ~64 items: puts evict while gets run
    errors = []

    def reader() -> None:
        try:
            for i in range(20_000):
                value = cache.get(("t", str(i % 200)))
                if value is not None and value != i % 200:
                    errors.append(value)
        except Exception as exc:  # noqa: BLE001 - a raising get is the failure looked for
            errors.append(exc)

    def writer() -> None:
        try:
            for i in range(20_000):
                cache.put(("t", str(i % 200)), i % 200, 100)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (reader, reader, writer, writer)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors and cache._bytes <= cache.max_bytes


class _EvictedOnRead(OrderedDict):
    """An LRU table whose `get` lets another thread's put evict the key right after it is read."""

    def get(self, key, default=None):
        value = super().get(key, default)
        self.pop(key, None)
        return value


def test_a_cache_get_whose_item_is_evicted_between_its_two_steps_returns_the_item():
    cache = ObjectCache(1000)
    cache.put(("t", "a"), "value", 10)
    cache._items = _EvictedOnRead(cache._items)
    assert cache.get(("t", "a")) == "value"
    assert cache.get(("t", "a")) is None


def test_a_cache_get_takes_the_lock_on_a_build_without_a_gil(monkeypatch):
    """Free-threaded Python (3.13t) makes no OrderedDict call atomic: get waits for a put."""
    monkeypatch.setattr(cache_module, "GIL", False, raising=False)
    cache = ObjectCache(1000)
    cache.put(("t", "a"), "value", 10)
    got = []
    with cache._lock:  # a put in progress
        reader = threading.Thread(target=lambda: got.append(cache.get(("t", "a"))))
        reader.start()
        reader.join(0.2)
        assert reader.is_alive() and not got
    reader.join(5)
    assert got == ["value"] and cache.get(("t", "b")) is None


def test_keys_inserted_in_a_leaf_of_500_keys_go_where_a_sort_puts_them():
    import random

    rng = random.Random(7)
    pairs = {f"user-{rng.randrange(10**8):08d}": rng.randrange(10**6) for _ in range(500)}
    data = key_leaf(pairs)
    assert len(data) > 8 * node_bytes.KEY_WINDOW  # bisected first, then read in order
    for key in [f"user-{rng.randrange(10**8):08d}" for _ in range(60)] + ["a", "zzz", min(pairs) + "0"]:
        if key not in pairs:
            assert node_bytes.insert_keys(data, [(key.encode(), 5)], True) == key_leaf({**pairs, key: 5})
    for key in list(pairs)[:50]:
        assert node_bytes.key_insert_offset(data, key.encode()) is None
