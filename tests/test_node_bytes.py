"""node_bytes: a key-index leaf read from its bytes gives what the parse gives (or declines),
and a node built by splicing bytes is exactly what a full encoding writes (node_to_bytes:
order leaves in the lined spelling, the other nodes as `to_json_bytes`)."""

from __future__ import annotations

import json

import pytest
from dbengine import node_bytes, order_tree, records_tree
from dbengine.dbengine import DbEngine
from dbengine.errors import CorruptObjectError
from dbengine.utils import compute_digest, strict_loads, to_json_bytes
from hypothesis import example, given, settings
from hypothesis import strategies as st

T, E, U = "t", "rec", "u"

# Keys built to break a byte search: quotes, backslashes, `",`, `],[`, unicode, surrogates.
tricky_keys = st.one_of(
    st.text(max_size=8),
    st.sampled_from(['"', '\\', '",', '"],["', '],[', 'a",1],["b', "é", "😀", "\ud800", "\x00", "\x1f", "k\n", "[", ",1],["]),
    st.lists(st.sampled_from(['"', ",", "]", "[", "1", "a", "\\", "é"]), max_size=6).map("".join),
)


def _full_parse_pairs(data: bytes) -> list | None:
    """What the full read path makes of key-leaf bytes: the pairs, or None when it refuses them."""
    try:
        document = strict_loads(data)
    except ValueError:
        return None
    if type(document) is not dict or document.get("__kind__") != "key-leaf" or not records_tree.is_node_doc(document):
        return None
    return document["keys"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(tricky_keys, st.integers(0, 10**6), min_size=1, max_size=12))
def test_a_key_leaf_scan_gives_the_parse_or_declines(pairs):
    leaf = {"__kind__": "key-leaf", "keys": sorted([k, s] for k, s in pairs.items())}
    data = to_json_bytes(leaf)
    scan = node_bytes.scan_key_leaf(data)
    if scan is None:  # declined only for keys that need an escape
        assert any(node_bytes.plain_key(k) is None for k in pairs)
        return
    assert [k.decode("utf-8") for k in scan.keys] == [k for k, _s in leaf["keys"]]
    for key, seq in pairs.items():
        assert scan.find(key) == seq
    assert scan.find("no such key") is None or "no such key" in pairs


HOSTILE = [
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2]]}',  # sound: found
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2]] }',
    b'{"__kind__":"key-leaf","keys":[["a",1], ["b",2]]}',
    b'{"__kind__":"key-leaf","keys":[["a",01],["b",2]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",-2]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2.0]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2e0]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b","2"]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2,3]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b"]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1]["b",2]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],,["b",2]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2]],"x":1]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2]]}]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2|3]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],|["b",2]]}',
    b'{"__kind__":"key-leaf","keys":[["a\x01",1],["b",2]]}',
    b'{"__kind__":"key-leaf","keys":[["\xff",1],["b",2]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2]]}\n',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",' + b"9" * 5000 + b"]]}",
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2],["c",3]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2],["c",3],["d",0]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2],["c",3],["d",00]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],"b",2],["c",3]]}',
    b'{"__kind__":"key-leaf","keys":[["a",1],["b",2],[c",3]]}',
]


@pytest.mark.parametrize("data", HOSTILE)
def test_a_key_leaf_scan_never_accepts_what_the_parse_refuses(data):
    scan = node_bytes.scan_key_leaf(data)
    parsed = _full_parse_pairs(data)
    if scan is not None:
        assert parsed is not None
        assert [[k.decode(), scan.seq_at(i)] for i, k in enumerate(scan.keys)] == parsed


def test_the_sound_hostile_cases_are_read_by_the_scan():
    assert node_bytes.scan_key_leaf(HOSTILE[0]) is not None and node_bytes.scan_key_leaf(HOSTILE[21]) is not None
    assert node_bytes.scan_key_leaf(HOSTILE[22]).find("d") == 0


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(tricky_keys, st.integers(0, 10**6), min_size=1, max_size=10),
       st.dictionaries(tricky_keys, st.none() | st.integers(0, 10**6), max_size=5))
@example(pairs={"": 0}, changes={"": None, "0": 0})  # the only key removed before another is added
def test_a_spliced_key_leaf_is_to_json_bytes_of_the_changed_pairs(pairs, changes):
    scan = node_bytes.scan_key_leaf(to_json_bytes({"__kind__": "key-leaf", "keys": sorted([k, s] for k, s in pairs.items())}))
    if scan is None:
        return
    spliced = node_bytes.splice_key_leaf(scan, [(0, k, s) for k, s in changes.items()])
    after = {k: s for k, s in {**pairs, **changes}.items() if s is not None}
    if spliced is None:
        assert not after or any(node_bytes.plain_key(k) is None for k, s in changes.items() if s is not None)
        return
    expected = to_json_bytes({"__kind__": "key-leaf", "keys": sorted([k, s] for k, s in after.items())})
    assert spliced == (expected, len(after))


values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6) | st.sampled_from(["a, b", "10:00", "x.5", "-0", "true", '{"a":1}', "\\", "\ud800", "1e5"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(values, min_size=1, max_size=8), st.data())
def test_a_spliced_order_leaf_is_the_lined_bytes_of_the_new_leaf(stored, data):
    items = [[10 + i, f"k{i}", value] for i, value in enumerate(stored)]
    old = node_bytes.order_leaf_bytes(items)
    parsed = strict_loads(old)["items"]
    assert parsed == items
    assert old.replace(b"\n", b"") == to_json_bytes({"__kind__": "rec-leaf", "items": items})
    assert not node_bytes.order_leaf_is_canonical(old.replace(b"\n", b""), parsed)  # 0.5 compact: re-encoded
    if not node_bytes.order_leaf_is_canonical(old, parsed):
        assert b"\\" in old or b"." in old or b"e" in old.replace(b"true", b"").replace(b"false", b"") \
            or b"E" in old or b"-0" in old
        return
    touched = data.draw(st.lists(st.sampled_from(range(len(items))), unique=True, max_size=len(items)))
    replaced, new_items = [], {item[0]: item for item in items}
    for index in sorted(touched):
        new = data.draw(st.none() | values.map(lambda v, i=index: [10 + i, f"k{i}", v]))
        new_bytes = node_bytes.item_bytes(new) if new is not None else None
        if new is not None and new_bytes is None:
            return  # a lone surrogate: the caller encodes the whole leaf
        replaced.append((index, new_bytes))
        if new is None:
            del new_items[10 + index]
        else:
            new_items[10 + index] = new
    appended = [[100, "z", data.draw(values)]] if data.draw(st.booleans()) else []
    appended_bytes = [node_bytes.item_bytes(item) for item in appended]
    if None in appended_bytes:
        return
    spliced = node_bytes.splice_order_leaf(old, replaced, appended_bytes)
    final = [*(new_items[s] for s in sorted(new_items)), *appended]
    if spliced is None:  # nothing left
        assert not final
        return
    assert spliced == node_bytes.order_leaf_bytes(final)


LINED_CANONICAL = b'{"__kind__":"rec-leaf","items":[\n[1,"a",[true,false,null]],\n[2,"b",{"t":"a: b, c"}]\n]}'


@pytest.mark.parametrize("spelling", [
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",{"x":1,"x":1}]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",{"x":1}] \n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",{"x": 1}]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",-0]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",1.50]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",1E2]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",1e2]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a","\\u0041"]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",{"x":[{"y":1,"y":2}]}]\n]}',
    # the 0.5 compact spelling: read, but rewritten lined
    b'{"__kind__":"rec-leaf","items":[[1,"a",[true,false,null]],[2,"b",{"t":"a: b, c"}]]}',
    # newlines misplaced: inside an item, doubled, missing, \r\n
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",[true,false,\nnull]],[2,"b",{"t":"a: b, c"}]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",\n[2,0]],[2,"b",0]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",[[2],\n[3]]],[2,"b",0]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",{"x":[2],\n"y":3}],[2,"b",0]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",[true,false,null]],\n\n[2,"b",{"t":"a: b, c"}]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",[true,false,null]],[2,"b",{"t":"a: b, c"}]\n]}',
    b'{"__kind__":"rec-leaf","items":[\n[1,"a",[true,false,null]]\n,[2,"b",{"t":"a: b, c"}]\n]}',
    b'{"__kind__":"rec-leaf","items":[\r\n[1,"a",[true,false,null]],\r\n[2,"b",{"t":"a: b, c"}]\r\n]}',
    LINED_CANONICAL,
])
def test_an_order_leaf_is_called_canonical_only_when_it_is(spelling):
    items = strict_loads(spelling)["items"]
    canonical = node_bytes.order_leaf_bytes(items) == spelling
    assert node_bytes.order_leaf_is_canonical(spelling, items) == canonical
    assert canonical == (spelling == LINED_CANONICAL)


@pytest.fixture
def small_nodes(monkeypatch):
    monkeypatch.setattr(records_tree, "ORDER_LEAF", 8)
    monkeypatch.setattr(records_tree, "ORDER_FANOUT", 4)
    monkeypatch.setattr(records_tree, "KEY_LEAF", 8)
    monkeypatch.setattr(records_tree, "KEY_BITS", 2)


def test_puts_write_the_bytes_a_full_encoding_writes(tmp_path, small_nodes, monkeypatch):
    """Every object a put writes is node_to_bytes of its parse: spliced nodes included."""
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    written: list[bytes] = []
    original = engine.storage.write_object
    monkeypatch.setattr(engine.storage, "write_object", lambda t, d, data: written.append(data) or original(t, d, data))
    model = {f"k{i}": {"n": i, "s": "a, b: c"} for i in range(60)}
    engine.put_many(T, U, E, model)
    calls = []
    monkeypatch.setattr(order_tree, "splice_lines",
                        lambda *a: calls.append(1) or node_bytes.splice_lines(*a))
    inner = []

    def splice_inner(*args):
        result = node_bytes.splice_inner_node(*args)
        inner.append((args[1][:20], result is not None))
        return result

    monkeypatch.setattr(records_tree, "splice_inner_node", splice_inner)
    for round_ in range(6):
        cold = DbEngine(engine.root)  # nodes read from disk, not the writer's cache
        monkeypatch.setattr(cold.storage, "write_object", lambda t, d, data: written.append(data) or original(t, d, data))
        changes = {f"k{i}": {"n": i, "r": round_} for i in range(round_, 60, 7)}
        changes[f"new{round_}"] = [round_]
        written.clear()
        cold.put_many(T, U, E, changes)
        cold.delete(T, U, E, f"k{round_ * 3}")
        model.update(changes)
        model.pop(f"k{round_ * 3}", None)
        for data in written:
            assert node_bytes.node_to_bytes(json.loads(data)) == data
    assert len(calls) > 10  # the splice paths did run, for both kinds of inner node
    assert (b'{"__kind__":"key-nod', True) in inner and (b'{"__kind__":"rec-nod', True) in inner
    assert DbEngine(engine.root).get(T, E) == list(model.values())
    assert DbEngine(engine.root).verify(T).ok


def test_a_forged_key_leaf_read_as_bytes_is_refused_as_the_parse_refuses_it(tmp_path, monkeypatch):
    """Key leaves whose bytes the scan reads still get the place, count and order checks."""
    monkeypatch.setattr(records_tree, "KEY_LEAF", 64)
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(10)})
    document = engine.read_snapshot(T, engine.get_digest(T, E))
    pairs = json.loads(engine.storage.read_object(T, document["__keys__"]))["keys"]
    forged = {
        "unsorted": [pairs[1], pairs[0], *pairs[2:]],
        "count": pairs[:-1],
    }
    for how, keys in forged.items():
        data = to_json_bytes({"__kind__": "key-leaf", "keys": keys})
        assert node_bytes.scan_key_leaf(data) is not None  # the fast path reads it
        digest = compute_digest(data)
        engine.storage.write_object(T, digest, data)
        version = dict(document, __keys__=digest, __parent__=[engine.get_digest(T, E)])
        vdata = to_json_bytes(version)
        engine.storage.write_object(T, compute_digest(vdata), vdata)
        head, token = engine._read_head(T)
        engine.storage.write_head(T, json.dumps({**head, E: compute_digest(vdata)}).encode(), expected=token)
        cold = DbEngine(engine.root)
        with pytest.raises(CorruptObjectError, match="not sorted" if how == "unsorted" else "parent says"):
            cold.get(T, E, "k3")
        with pytest.raises(CorruptObjectError):
            cold.put(T, U, E, "k3", "x")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 63), st.integers(1, 10**6)), min_size=1, max_size=10, unique_by=lambda c: c[0]),
       st.data())
def test_a_spliced_order_node_is_to_json_bytes_of_the_new_node(children, data):
    children = sorted([i, compute_digest(b"%d" % i), size] for i, size in children)
    old = to_json_bytes({"__kind__": "rec-node", "level": 2, "children": children})
    parsed = strict_loads(old)["children"]
    touched = data.draw(st.lists(st.sampled_from(range(len(children))), unique=True))
    new_children = [list(c) for c in children]
    replaced = []
    for at in touched:
        index, digest, size = children[at]
        new = (compute_digest(data.draw(st.binary(max_size=4))), data.draw(st.integers(1, 10**6)))
        new_children[at] = [index, *new]
        replaced.append((index, (digest, size), new))
    spliced = node_bytes.splice_inner_node(old, node_bytes.order_node_head(2), parsed, replaced)
    assert spliced == to_json_bytes({"__kind__": "rec-node", "level": 2, "children": new_children})


@pytest.mark.parametrize("spelling", [
    b'{"__kind__":"rec-node","level":2,"children":[[0,"%s",1] ]}',
    b'{"__kind__":"rec-node","level":2,"children":[[-0,"%s",1]]}',
    b'{"__kind__":"rec-node","level":2,"children":[[0,"%s",1]],"children":[[0,"%s",1]]}',
    b'{"__kind__":"rec-node","level":2,"children":[[0,"%s",1]]}',
])
def test_an_order_node_is_spliced_only_when_canonical(spelling):
    digest = compute_digest(b"x").encode()
    data = spelling.replace(b"%s", digest)
    parsed = strict_loads(data)["children"]
    new = compute_digest(b"y")
    spliced = node_bytes.splice_inner_node(data, node_bytes.order_node_head(2), parsed, [(0, (digest.decode(), 1), (new, 2))])
    canonical = to_json_bytes(strict_loads(data)) == data
    assert (spliced is not None) == canonical
    upper = data.replace(digest, digest.upper())
    assert node_bytes.splice_inner_node(upper, node_bytes.order_node_head(2), strict_loads(upper)["children"],
                                        [(0, (digest.decode().upper(), 1), (new, 2))]) is None
    key_node = to_json_bytes({"__kind__": "key-node", "children": [[3, digest.decode(), 5]]})
    assert node_bytes.splice_inner_node(key_node, node_bytes.KEY_NODE_HEAD, [[3, digest.decode(), 5]],
                                        [(3, (digest.decode(), 5), (new, 6))]) == \
        to_json_bytes({"__kind__": "key-node", "children": [[3, new, 6]]})


def test_a_tree_put_runs_no_collection_pass_and_leaves_gc_enabled(tmp_path):
    """The objects a put builds are moved to the oldest generation unexamined: no
    young-generation pass at the end of the put (issue 12: ~10 ms at 1,000,000 records)."""
    import gc
    import threading

    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": {"n": i} for i in range(3000)})
    engine = DbEngine(engine.root)  # cold: the put parses ~50 order leaves of 64 records
    passes = []

    me = threading.get_ident()

    def count(phase, info):
        if phase == "start" and threading.get_ident() == me:  # not a pytest-xdist I/O thread's
            passes.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        engine.put_many(T, U, E, {f"k{i}": {"n": -i} for i in range(0, 3000, 60)})  # ~50 leaves read
    finally:
        gc.callbacks.remove(count)
    assert gc.isenabled() and passes == []
    assert engine.get(T, E, "k60") == {"n": -60}


def test_a_node_known_canonical_is_spliced_at_its_child_even_beside_odd_siblings():
    """A sibling `digest` (only its length is checked on read) holding what a child looks
    like cannot be taken for the child: in canonical bytes its quotes are escaped."""
    good, new = compute_digest(b"a"), compute_digest(b"b")
    odd = ('[1,"' + good + '",5]')[:64].ljust(64, "x")
    children = [[0, odd, 3], [1, good, 5]]
    data = to_json_bytes({"__kind__": "rec-node", "level": 1, "children": children})
    spliced = node_bytes.splice_inner_node(data, node_bytes.order_node_head(1), children,
                                           [(1, (good, 5), (new, 6))], canonical=True)
    assert spliced == to_json_bytes({"__kind__": "rec-node", "level": 1, "children": [[0, odd, 3], [1, new, 6]]})
    assert node_bytes.splice_inner_node(data, node_bytes.order_node_head(1), children,
                                        [(1, (good, 5), (new, 6))]) is None  # not proven without the memo


def test_a_leaf_written_with_ascii_escapes_stays_canonical_when_an_item_changes(tmp_path, monkeypatch):
    """A lone surrogate makes the whole leaf ASCII-escaped: a new non-ASCII item in it must
    be escaped too (the splice declines; the leaf is encoded whole)."""
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    written: list[bytes] = []
    original = engine.storage.write_object
    monkeypatch.setattr(engine.storage, "write_object", lambda t, d, data: written.append(data) or original(t, d, data))
    engine.put_many(T, U, E, {"a": "\ud800", "b": 1, "c": 2})
    engine.put(T, U, E, "b", "é")  # same engine: the leaf is in its memo of nodes it wrote
    engine.put(T, U, E, "a", "x")
    engine.put(T, U, E, "c", "ü")
    for data in written:
        assert node_bytes.node_to_bytes(json.loads(data)) == data
    assert DbEngine(engine.root).get(T, E) == ["x", "é", "ü"]


def test_an_inner_node_with_an_escaped_digest_is_not_spliced():
    """`\\u0061` parses to `a`: a digest spelled with an escape is hex once parsed, but the
    bytes are not to_json_bytes of the node, and a splice would carry the escape along."""
    a, b, new = compute_digest(b"a"), compute_digest(b"b"), compute_digest(b"c")
    spelled = (f"\\u{ord(a[0]):04x}" + a[1:]).encode()
    for head, node in ((node_bytes.order_node_head(1), {"__kind__": "rec-node", "level": 1}),
                       (node_bytes.KEY_NODE_HEAD, {"__kind__": "key-node"})):
        data = head + b'[0,"%s",3],[1,"%s",5]]}' % (spelled, b.encode())
        children = strict_loads(data)["children"]
        assert children[0][1] == a and strict_loads(data) == {**node, "children": [[0, a, 3], [1, b, 5]]}
        spliced = node_bytes.splice_inner_node(data, head, children, [(1, (b, 5), (new, 6))])
        assert spliced is None or spliced == to_json_bytes({**node, "children": [[0, a, 3], [1, new, 6]]})


def test_a_put_below_an_order_node_spelled_with_an_escape_writes_canonical_bytes(tmp_path, monkeypatch):
    """A node in another valid spelling reads the same (FORMAT.md section 6), but the nodes
    written from it are exactly to_json_bytes of their parse."""
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(130)})  # an order root of level 1, three leaves
    document = engine.read_snapshot(T, engine.get_digest(T, E))
    root = engine.storage.read_object(T, document["__order__"])
    first = json.loads(root)["children"][0][1]
    forged = root.replace(first.encode(), (f"\\u{ord(first[0]):04x}" + first[1:]).encode())
    assert forged != root and json.loads(forged) == json.loads(root)
    engine.storage.write_object(T, compute_digest(forged), forged)
    version = to_json_bytes(dict(document, __order__=compute_digest(forged), __parent__=[engine.get_digest(T, E)]))
    engine.storage.write_object(T, compute_digest(version), version)
    head, token = engine._read_head(T)
    engine.storage.write_head(T, json.dumps({**head, E: compute_digest(version)}).encode(), expected=token)
    cold = DbEngine(engine.root)
    written: list[bytes] = []
    original = cold.storage.write_object
    monkeypatch.setattr(cold.storage, "write_object", lambda t, d, data: written.append(data) or original(t, d, data))
    cold.put(T, U, E, "k100", "x")  # seq 100: below child 1 of the root
    assert written
    for data in written:
        assert node_bytes.node_to_bytes(json.loads(data)) == data
    assert DbEngine(engine.root).get(T, E, "k100") == "x"


def test_a_put_after_a_spliced_key_leaf_reads_no_object_again(tmp_path, monkeypatch):
    """A key leaf written from spliced bytes is not cached parsed: the next put reads it
    from the bytes it wrote, not from storage (a network round trip per leaf on S3)."""
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(200)})
    cold = DbEngine(engine.root)
    cold.put(T, U, E, "n0", 0)  # the key leaf read as bytes and spliced
    reads: list[str] = []
    original = cold.storage.read_object
    monkeypatch.setattr(cold.storage, "read_object", lambda t, d: reads.append(d) or original(t, d))
    cold.put(T, U, E, "n1", 1)
    assert reads == []
    monkeypatch.setattr(cold.storage, "concurrent_reads", 4, raising=False)  # as on S3: paths prefetched
    cold.put(T, U, E, "n2", 2)
    assert reads == []
    assert DbEngine(engine.root).get(T, E, "n2") == 2 and DbEngine(engine.root).verify(T).ok


def test_a_key_leaf_scan_is_charged_to_its_cache_at_least_what_it_holds(tmp_path):
    """The key_scans cache's bound is in bytes of memory: a scan of short keys holds ~7x
    its leaf's bytes (two bytes objects and two list slots per key)."""
    import sys

    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(200)})  # one key leaf
    cold = DbEngine(engine.root)
    assert cold.get(T, E, "k7") == 7
    (digest,) = [key[1] for key in cold.objects.key_scans._items]
    scan = cold.objects.key_scans.get((T, digest))
    held = sum(map(sys.getsizeof, (scan, scan.keys, scan.seps, *scan.keys, *scan.seps)))
    assert cold.objects.key_scans._bytes >= held


def test_the_memo_of_nodes_written_canonical_is_bounded_for_all_tenants_together(tmp_path, monkeypatch):
    """A digest costs ~155 bytes in the memo: it is bounded for all tenants together (the
    bytes it serves are in a 16 MB cache), not at 1,000,000 digests per tenant (~155 MB each)."""
    from dbengine import objects

    monkeypatch.setattr(objects, "CANONICAL_MEMO", 10)
    engine = DbEngine(str(tmp_path / "db"))
    for tenant in ("t1", "t2"):
        engine.init(tenant)
        for round_ in range(4):
            engine.put_many(tenant, U, E, {f"k{i}": [round_] for i in range(round_, 300, 5)})
            assert 0 < sum(map(len, engine.objects._canonical.values())) <= 10
    assert DbEngine(engine.root).get("t2", E, "k3") == [3] and DbEngine(engine.root).verify("t2").ok
