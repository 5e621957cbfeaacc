"""A write's fast paths (order_tree._lined_items / _lined_update, key_tree._key_found,
node_bytes.splice_lines / splice_key_leaf, root_files.RootFiles.write_new): the same nodes, bytes and
answers as the full path on random trees, and forged nodes still refused, or carried into
the new version unread and refused by every read that parses them."""

from __future__ import annotations

import json
import os
import threading

import pytest
from dbengine import key_tree, node_bytes, order_tree, records_tree
from dbengine.dbengine import DbEngine
from dbengine.errors import CorruptObjectError
from dbengine.utils import compute_digest, strict_loads, to_json_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T, E, U = "t", "rec", "u"


@pytest.fixture(autouse=True)
def small_nodes(monkeypatch):
    """Order leaves of 8 seqs under 4-way nodes; key leaves of 8 keys, 4-way key nodes."""
    monkeypatch.setattr(records_tree, "ORDER_LEAF", 8)
    monkeypatch.setattr(records_tree, "ORDER_FANOUT", 4)
    monkeypatch.setattr(records_tree, "KEY_LEAF", 8)
    monkeypatch.setattr(records_tree, "KEY_BITS", 2)


def full_path_only(monkeypatch) -> None:
    """Turn the write's fast paths off: every leaf is parsed whole and encoded whole."""
    monkeypatch.setattr(order_tree, "_lined_items", lambda *a: None)
    monkeypatch.setattr(order_tree, "_lined_update", lambda *a: None)
    monkeypatch.setattr(key_tree, "_key_found", lambda *a: False)


def head_doc(engine: DbEngine) -> dict:
    return engine.read_snapshot(T, engine.get_digest(T, E))


def run(root: str, steps: list[tuple[str, dict]], written: list[bytes] | None = None, warm: bool = False) -> list[tuple]:
    """Apply `steps` with a cold engine each (nodes read from disk), or all with one engine
    (`warm`: nodes it wrote known canonical); the trees' roots after each."""
    engine = DbEngine(root)
    engine.init(T)
    roots = []
    for action, payload in steps:
        cold = engine if warm else DbEngine(root)
        if written is not None and (not warm or not roots):  # (one engine: wrapped once)
            original = cold.storage.write_object
            cold.storage.write_object = lambda t, d, data, o=original: written.append(data) or o(t, d, data)
        if action == "put":
            cold.put_many(T, U, E, payload)
        else:
            for key in payload:
                cold.delete(T, U, E, key)
        document = head_doc(cold)
        roots.append((document["__order__"], document["__keys__"], document["__count__"]))
    return roots


values = st.sampled_from([1, 1.0, True, "1", "a, b", [1, 2], {"a": 1, "b": [2]}, None, "é", "x\ny"])
steps = st.lists(st.tuples(st.sampled_from(["put", "delete"]),
                           st.dictionaries(st.integers(0, 60).map(lambda i: f"k{i}"), values, min_size=1, max_size=12)),
                 min_size=1, max_size=6)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps, st.booleans())
def test_the_fast_paths_write_the_nodes_the_full_path_writes(tmp_path_factory, monkeypatch, plan, warm):
    plan = [("put", {f"k{i}": i for i in range(40)}), *plan]
    written: list[bytes] = []
    fast = run(str(tmp_path_factory.mktemp("fast")), plan, written, warm)
    for data in written:
        if not data.startswith(b'{"__kind__":"records"'):
            assert node_bytes.node_to_bytes(json.loads(data)) == data
    with monkeypatch.context() as patch:
        full_path_only(patch)
        full = run(str(tmp_path_factory.mktemp("full")), plan)
    assert fast == full


def test_the_fast_paths_are_taken_by_updates_adds_and_deletes(tmp_path, monkeypatch):
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(40)})
    parsed: list[bytes] = []
    real = order_tree.strict_loads
    monkeypatch.setattr(order_tree, "strict_loads", lambda data: parsed.append(data) or real(data))
    cold = DbEngine(engine.root)
    cold.put_many(T, U, E, {"k3": "three", "k20": "twenty", "new": 1})
    cold.delete(T, U, E, "k5")
    assert sorted(parsed) == sorted([b'[3,"k3",3]', b'[20,"k20",20]', b'[5,"k5",5]'])  # one line each
    model = {f"k{i}": i for i in range(40)} | {"k3": "three", "k20": "twenty", "new": 1}
    del model["k5"]
    assert DbEngine(engine.root).get(T, E) == list(model.values())
    assert DbEngine(engine.root).verify(T).ok


# ---------------------------------------------------------------------- forged nodes
def replace_node(engine: DbEngine, root: str, old: str, new: str) -> str:
    """The digest of the subtree `root` with the node `old` replaced by `new` (ancestors rewritten)."""
    if root == old:
        return new
    document = json.loads(engine.storage.read_object(T, root))
    if "children" not in document:
        return root
    data = engine.storage.read_object(T, root)
    for child in document["children"]:
        changed = replace_node(engine, child[1], old, new)
        if changed != child[1]:
            data = data.replace(child[1].encode(), changed.encode())
    digest = compute_digest(data)
    engine.storage.write_object(T, digest, data)
    return digest


def install_forged(engine: DbEngine, old: str, forged: bytes) -> None:
    """Make a new head version whose trees hold the well-hashed `forged` object in place of `old`."""
    engine.storage.write_object(T, compute_digest(forged), forged)
    document = head_doc(engine)
    head = engine.get_digest(T, E)
    version = dict(document, __parent__=[head],
                   __order__=replace_node(engine, document["__order__"], old, compute_digest(forged)),
                   __keys__=replace_node(engine, document["__keys__"], old, compute_digest(forged)))
    data = to_json_bytes(version)
    engine.storage.write_object(T, compute_digest(data), data)
    heads, token = engine._read_head(T)
    engine.storage.write_head(T, json.dumps({**heads, E: compute_digest(data)}).encode(), expected=token)


def order_leaf_of(engine: DbEngine, seq: int) -> str:
    """The digest of the order leaf holding `seq` in the head version."""
    document = head_doc(engine)
    digest, level = document["__order__"], records_tree.order_height(document["__next_seq__"])
    while level:
        span = records_tree.ORDER_LEAF * records_tree.ORDER_FANOUT ** (level - 1)
        children = json.loads(engine.storage.read_object(T, digest))["children"]
        digest = next(c[1] for c in children if c[0] == (seq // span) % records_tree.ORDER_FANOUT)
        level -= 1
    return digest


def key_leaf_of(engine: DbEngine, key: str) -> str:
    """The digest of the key-index leaf that holds `key` in the head version."""
    digest, depth = head_doc(engine)["__keys__"], 0
    hashed = records_tree.key_hash(key)
    while True:
        document = json.loads(engine.storage.read_object(T, digest))
        if document["__kind__"] == "key-leaf":
            return digest
        digit = key_tree._digit(hashed, depth)
        digest = next(c[1] for c in document["children"] if c[0] == digit)
        depth += 1


def entry(tmp_path) -> DbEngine:
    engine = DbEngine(str(tmp_path / "db"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(40)})
    return engine


@pytest.mark.parametrize("how", ["other line not JSON", "other line out of order"])
def test_a_damaged_line_that_a_write_does_not_read_is_carried_and_refused_by_reads(tmp_path, how):
    engine = entry(tmp_path)
    leaf = order_leaf_of(engine, 10)  # seqs 8..15
    lines = engine.storage.read_object(T, leaf).split(b"\n")
    if how == "other line not JSON":
        lines[5] = b'[12,"k12",{oops}],'  # seq 12's line (its brackets balanced: else not framed)
    else:
        lines[5], lines[6] = b'[13,"k13",13],', b'[12,"k12",12],'
    install_forged(engine, leaf, b"\n".join(lines))
    cold = DbEngine(engine.root)
    cold.put(T, U, E, "k10", "ten")  # only seq 10's line is read and replaced
    written = cold.storage.read_object(T, order_leaf_of(cold, 10))
    assert b'[10,"k10","ten"],' in written and lines[5] in written  # the damage, carried unread
    for read in (lambda db: db.get(T, E), lambda db: db.get(T, E, "k10"), lambda db: db.get(T, E, "k12")):
        with pytest.raises(CorruptObjectError):  # reads parse the leaf whole
            read(DbEngine(engine.root))
    assert DbEngine(engine.root).get(T, E, "k30") == 30  # other leaves read as before
    assert not DbEngine(engine.root).verify(T).ok


@pytest.mark.parametrize("how", ["line of another key", "two lines of the seq", "one line more than counted",
                                 "one line fewer than counted", "line not an item", "line not JSON",
                                 "seq spelled with a leading zero", "no line of the seq"])
def test_a_forged_line_a_write_reads_is_refused(tmp_path, how):
    engine = entry(tmp_path)
    leaf = order_leaf_of(engine, 10)
    lines = engine.storage.read_object(T, leaf).split(b"\n")  # lines[3] is seq 10's
    if how == "line of another key":
        lines[3] = b'[10,"k99",10],'
    elif how == "two lines of the seq":
        lines[4] = b'[10,"k10",10],'
    elif how == "one line more than counted":
        lines.insert(4, b'[10,"k10",10],')
    elif how == "one line fewer than counted":
        del lines[4]
    elif how == "line not an item":
        lines[3] = b'[10,"k10"],'
    elif how == "line not JSON":
        lines[3] = b'[10,"k10",{],'
    elif how == "seq spelled with a leading zero":
        lines[3] = b'[010,"k10",10],'
    else:
        lines[3] = b'[9,"k10",10],'
    install_forged(engine, leaf, b"\n".join(lines))
    cold = DbEngine(engine.root)
    with pytest.raises(CorruptObjectError):
        cold.put(T, U, E, "k10", "ten")


@pytest.mark.parametrize("how", ["count", "seq of another record", "first key out of place"])
def test_a_forged_key_leaf_a_write_reads_is_refused(tmp_path, how):
    engine = entry(tmp_path)
    leaf = key_leaf_of(engine, "k10")
    data = engine.storage.read_object(T, leaf)
    pairs = strict_loads(data)["keys"]
    if how == "count":
        pairs = [p for p in pairs if p[0] != "k10"][:1] + [p for p in pairs if p[0] == "k10"]
        pairs.sort()
    elif how == "seq of another record":
        pairs = [[k, 11 if k == "k10" else s] for k, s in pairs]
    else:
        outsider = next(f"z{i}" for i in range(1000) if records_tree.key_hash(f"z{i}") >> 254 != records_tree.key_hash("k10") >> 254)
        pairs = sorted([*pairs[1:], [outsider, 3]]) if outsider < pairs[0][0] else [[outsider, 3], *pairs[1:]]
    forged = to_json_bytes({"__kind__": "key-leaf", "keys": pairs})
    assert node_bytes.key_leaf_ends(forged) is not None  # the quick path reads it
    install_forged(engine, leaf, forged)
    with pytest.raises(CorruptObjectError):
        DbEngine(engine.root).put(T, U, E, "k10", "ten")


def test_a_key_leaf_with_unsorted_keys_is_left_as_it_is_by_an_update_and_refused_by_lookups(tmp_path):
    engine = entry(tmp_path)
    leaf = key_leaf_of(engine, "k10")
    pairs = strict_loads(engine.storage.read_object(T, leaf))["keys"]
    assert len(pairs) >= 3
    pairs[1], pairs[2] = pairs[2], pairs[1]
    other = next(k for k, _s in pairs if k != "k10")
    forged = to_json_bytes({"__kind__": "key-leaf", "keys": pairs})
    install_forged(engine, leaf, forged)
    DbEngine(engine.root).put(T, U, E, "k10", "ten")  # found by its own pair: the leaf is not rewritten
    assert key_leaf_of(engine, "k10") == compute_digest(forged)
    with pytest.raises(CorruptObjectError):
        DbEngine(engine.root).get(T, E, other)
    assert not DbEngine(engine.root).verify(T).ok


# ---------------------------------------------------------------------- the byte-level pieces
items_st = st.lists(st.sampled_from([1, "a", "a,\n", [1, {"b": "]"}], {"x": "\"],["}, None, "é", "😀"]),
                    min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(items_st, st.data())
def test_spliced_lines_are_the_lined_bytes_of_the_new_leaf(stored, data):
    items = [[3 + 2 * i, f"k{i}", value] for i, value in enumerate(stored)]
    old = node_bytes.order_leaf_bytes(items)
    if b"\\" in old:  # an escape (here `\n`): such leaves are rewritten whole
        assert not node_bytes.lined_leaf_framed(old, len(items))
        return
    assert node_bytes.lined_leaf_framed(old, len(items))
    changes, after = [], {item[0]: item for item in items}
    for seq in sorted(data.draw(st.sets(st.sampled_from([*after, 100, 101]), max_size=5))):
        new = data.draw(st.none() | st.sampled_from([2, "new", {"n": [1]}]).map(lambda v, s=seq: [s, f"n{s}", v]))
        if new is None and seq not in after:
            continue
        changes.append((seq, node_bytes.item_bytes(new) if new is not None else None))
        if new is None:
            del after[seq]
        else:
            after[seq] = new
    spliced = node_bytes.splice_lines(old, changes)
    final = [after[s] for s in sorted(after)]
    if spliced is None:  # declined only when the last item goes and others come after
        left = len(items)
        emptied = []
        for _seq, new in changes:
            left += 1 if new is not None and _seq not in {i[0] for i in items} else (-1 if new is None else 0)
            emptied.append(left == 0)
        assert any(emptied[:-1])
        return
    assert spliced[1] == len(final) - len(items)
    assert spliced[0] == (node_bytes.order_leaf_bytes(final) if final else None)


tricky_keys = st.one_of(st.text(max_size=6), st.sampled_from(['"', "\\", '",', '],[', 'a",1],["b', ",1],[", "[", "é", "\x1f"]))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(tricky_keys, st.integers(0, 10**6), min_size=1, max_size=10), tricky_keys)
def test_a_key_found_by_its_pair_has_the_parsed_seq(pairs, wanted):
    data = to_json_bytes({"__kind__": "key-leaf", "keys": sorted([k, s] for k, s in pairs.items())})
    ends = node_bytes.key_leaf_ends(data)
    if ends is None:
        assert b"\\" in data
        return
    first, last, count = ends
    keys = sorted(pairs)
    assert count == len(pairs) and first == keys[0].encode() and last == keys[-1].encode()
    for key in [*pairs, wanted]:
        raw = node_bytes.plain_key(key)
        if raw is not None:
            assert node_bytes.find_key_seq(data, raw) == pairs.get(key)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(tricky_keys, st.integers(0, 10**6), min_size=1, max_size=10),
       st.dictionaries(tricky_keys, st.integers(0, 10**6), min_size=1, max_size=4))
def test_keys_inserted_in_a_leaf_s_bytes_are_to_json_bytes_of_the_new_pairs(pairs, added):
    data = to_json_bytes({"__kind__": "key-leaf", "keys": sorted([k, s] for k, s in pairs.items())})
    raws = {key: node_bytes.plain_key(key) for key in added}
    if node_bytes.key_leaf_ends(data) is None or None in raws.values():
        return
    inserted = node_bytes.insert_keys(data, [(raws[key], seq) for key, seq in added.items()])
    if any(key in pairs for key in added):
        assert inserted is None
        return
    assert inserted == to_json_bytes({"__kind__": "key-leaf", "keys": sorted([k, s] for k, s in {**pairs, **added}.items())})


def test_an_add_into_a_key_leaf_with_unsorted_keys_carries_them_and_reads_refuse_the_leaf(tmp_path):
    engine = entry(tmp_path)
    leaf = key_leaf_of(engine, "k10")
    pairs = strict_loads(engine.storage.read_object(T, leaf))["keys"]
    pairs[0], pairs[-1] = pairs[-1], pairs[0]
    forged = to_json_bytes({"__kind__": "key-leaf", "keys": pairs})
    install_forged(engine, leaf, forged)
    prefix = records_tree.key_hash("k10") >> (256 - records_tree.KEY_BITS * 2)
    new = next(f"n{i}" for i in range(10_000) if records_tree.key_hash(f"n{i}") >> (256 - records_tree.KEY_BITS * 2) == prefix)
    cold = DbEngine(engine.root)
    try:
        cold.put(T, U, E, new, 1)  # inserted in the bytes, or refused by the scan: never a silent reorder
    except CorruptObjectError:
        return
    with pytest.raises(CorruptObjectError):
        DbEngine(engine.root).get(T, E, pairs[1][0])
    assert not DbEngine(engine.root).verify(T).ok


def test_a_new_object_leaves_no_temp_file_and_a_stale_temp_is_no_obstacle(tmp_path):
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    engine.init(T)
    storage = engine.storage
    data = b'{"__kind__":"key-leaf","keys":[["a",1]]}'
    digest = compute_digest(data)
    path = storage.object_path(T, digest)
    storage.files.write_new(path, data)
    assert os.listdir(os.path.dirname(path)) == [digest]
    other = b'{"__kind__":"key-leaf","keys":[["b",1]]}'
    path = storage.object_path(T, compute_digest(other))
    os.makedirs(os.path.dirname(path))  # a writer died after its temp file: the folder exists
    stale = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-{threading.get_ident()}-new")
    open(stale, "wb").close()
    storage.files.write_new(path, other)
    assert open(path, "rb").read() == other
    assert sorted(os.listdir(os.path.dirname(path))) == sorted([os.path.basename(stale), os.path.basename(path)])
    storage.files.write_new(path, other)  # there already: kept
    assert open(path, "rb").read() == other


def test_the_memo_of_checked_inner_nodes_is_per_count():
    """A node checked once against a count is not taken as checked against another."""
    child = compute_digest(b"x")
    node = {"__kind__": "rec-node", "level": 1, "children": [[0, child, 3], [2, child, 4]]}
    nodes = records_tree.Nodes(load=lambda digest: node, store=lambda n: "")
    assert order_tree._order_children(nodes, "n", 1, 7) == node["children"]
    assert ("n", 7) in nodes.sound
    assert order_tree._order_children(nodes, "n", 1, 7) == node["children"]  # from the memo
    with pytest.raises(records_tree.TreeError, match="its parent says 8"):
        order_tree._order_children(nodes, "n", 1, 8)
    with pytest.raises(records_tree.TreeError):
        order_tree._order_children(nodes, "n", 2, 7)  # the level is checked every time


def nested_line_leaf(engine: DbEngine) -> tuple[str, bytes]:
    """The leaf of seqs 8..15 forged so that a line spelled `[10,"k10",99],` lies inside
    k9's value, while the real item of seq 10 shares a line with seq 11's: valid JSON of
    the same 8 items in order, framed as a lined leaf of 8 items (reads accept it)."""
    leaf = order_leaf_of(engine, 10)
    lines = engine.storage.read_object(T, leaf).split(b"\n")  # head, [8..], [9..], [10..], ...
    assert lines[3] == b'[10,"k10",10],' and lines[4] == b'[11,"k11",11],'
    lines[2:5] = [b'[9,"k9",[0,', b'[10,"k10",99],', b'1]],[10,"k10",10],[11,"k11",11],']
    forged = b"\n".join(lines)
    assert forged.count(b"\n") == 9 and forged.count(b",\n") == 7 and b"\\" not in forged  # framed as far as newlines go
    assert [item[0] for item in strict_loads(forged)["items"]] == list(range(8, 16))
    return leaf, forged


def test_a_line_nested_in_another_item_s_value_is_not_taken_for_an_item(tmp_path):
    engine = entry(tmp_path)
    leaf, forged = nested_line_leaf(engine)
    install_forged(engine, leaf, forged)
    reader = DbEngine(engine.root)
    assert reader.get(T, E, "k10") == 10 and reader.get(T, E, "k9") == [0, [10, "k10", 99], 1]  # reads accept it
    assert DbEngine(engine.root).put(T, U, E, "k10", 99) is True  # 10 -> 99 is a change
    assert DbEngine(engine.root).put(T, U, E, "k10", "ten") is True
    after = DbEngine(engine.root)
    assert after.get(T, E, "k10") == "ten"
    assert after.get(T, E, "k9") == [0, [10, "k10", 99], 1]  # another record's value is left as it was
    assert after.verify(T).ok


def test_a_line_whose_brackets_are_not_closed_on_it_makes_the_leaf_parsed_whole(tmp_path):
    engine = entry(tmp_path)
    leaf, forged = nested_line_leaf(engine)
    assert not node_bytes.lined_leaf_framed(forged, 8)
    lines = engine.storage.read_object(T, leaf).split(b"\n")
    assert node_bytes.lined_leaf_framed(b"\n".join(lines), 8)
    lines[5] = b'[12,"k12",{oops],'  # not JSON, and its brace open: the write parses the leaf and refuses it
    install_forged(engine, leaf, b"\n".join(lines))
    with pytest.raises(CorruptObjectError):
        DbEngine(engine.root).put(T, U, E, "k10", "ten")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet='[]{}"ab,1', max_size=8), min_size=1, max_size=6))
def test_lines_are_balanced_when_each_is_one_json_value(lines):
    body = "\n".join(lines).encode()
    def one_value(line: str) -> bool:
        try:
            json.loads(line)
        except ValueError:
            return False
        return '\n' not in line
    if all(one_value(line) for line in lines):
        assert node_bytes.lines_balanced(body, body.count(b"\n"))
    whole = "[" + ",".join(lines) + "]"
    try:
        json.loads(whole)
    except ValueError:
        return
    if node_bytes.lines_balanced(body, body.count(b"\n")):  # each line's brackets close on it: no line starts inside another's value
        depth = 0
        for line in lines:
            assert depth == 0
            stripped = "".join(line.split('"')[::2])
            depth += sum(stripped.count(c) for c in "[{") - sum(stripped.count(c) for c in "]}")


@pytest.mark.parametrize("spelling", ['[ "{k}",{s}]', '["{k}" ,{s}]', '[\n"{k}",{s}]'])
def test_a_key_spelled_with_spaces_in_its_leaf_is_not_taken_for_absent(tmp_path, spelling):
    engine = entry(tmp_path)
    leaf = key_leaf_of(engine, "k10")
    data = engine.storage.read_object(T, leaf)
    key, seq = strict_loads(data)["keys"][1]  # neither the first nor the last key
    forged = data.replace(b'["%s",%d]' % (key.encode(), seq), spelling.format(k=key, s=seq).encode())
    assert forged != data and node_bytes.key_leaf_ends(forged) is not None  # framed for the quick lookup
    install_forged(engine, leaf, forged)
    assert DbEngine(engine.root).get(T, E, key) == seq  # valid JSON: reads accept it
    DbEngine(engine.root).put(T, U, E, key, "new")  # an update, not a second record of that key
    after = DbEngine(engine.root)
    assert after.get(T, E, key) == "new" and len(after.get(T, E)) == 40


def test_the_checked_node_memos_are_bounded_for_all_tenants_together(tmp_path, monkeypatch):
    """Each tenant's memo is bounded; so is the number of tenants memoised (an engine of many tenants)."""
    from dbengine import objects
    monkeypatch.setattr(objects, "SOUND_MEMO", 10)
    store = DbEngine(str(tmp_path / "db")).objects
    for tenant in range(5 * objects.MEMO_TENANTS):
        nodes = store.nodes(f"t{tenant}")
        nodes.sound.update((f"d{i}", i) for i in range(8))
        nodes.checked.update((f"d{i}", 0, 0) for i in range(8))
    assert len(store._sound_nodes) <= objects.MEMO_TENANTS and len(store._checked_leaves) <= objects.MEMO_TENANTS
    nodes = store.nodes("t0")
    nodes.sound.update((f"e{i}", i) for i in range(20))
    assert len(store.nodes("t0").sound) <= 10  # one tenant's, as before


@pytest.mark.parametrize("spelling", [b'[ 10,"k10",10],', b'[10 ,"k10",10],'])
def test_an_item_line_spelled_with_spaces_is_read_from_the_whole_leaf(tmp_path, spelling):
    engine = entry(tmp_path)
    leaf = order_leaf_of(engine, 10)
    lines = engine.storage.read_object(T, leaf).split(b"\n")
    assert lines[3] == b'[10,"k10",10],'
    lines[3] = spelling
    forged = b"\n".join(lines)
    assert node_bytes.lined_leaf_framed(forged, 8)
    install_forged(engine, leaf, forged)
    assert DbEngine(engine.root).get(T, E, "k10") == 10  # valid JSON: reads accept it
    assert DbEngine(engine.root).put(T, U, E, "k10", "ten") is True
    after = DbEngine(engine.root)
    assert after.get(T, E, "k10") == "ten" and len(after.get(T, E)) == 40
