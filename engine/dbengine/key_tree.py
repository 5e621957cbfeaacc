"""The KEY index of a record entry (FORMAT.md §6b): a hash trie `key -> seq` on sha256(key),
read and written node by node (lookups, updates, diffs); see records_tree.py for its shape."""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import islice
from operator import itemgetter, lt

from . import records_tree as rt
from .node_bytes import (
    KEY_NODE_HEAD,
    KeyLeafScan,
    find_key_seq,
    insert_keys,
    key_leaf_ends,
    plain_key,
    splice_key_leaf,
)
from .records_tree import (
    KEY_LEAF_KIND,
    KEY_NODE_KIND,
    Nodes,
    Tree,
    TreeError,
    checked_children,
    inner_data,
    key_hash,
    pick_children,
    store_inner,
    with_children,
)


def _bytes_hash(raw: bytes) -> int:
    """key_hash of a key given as its UTF-8 bytes (no lone surrogate: the same bytes)."""
    return int.from_bytes(hashlib.sha256(raw).digest(), "big")


def _digit(hashed: int, depth: int) -> int:
    """The child a key goes to below a key-index node at `depth`: KEY_BITS bits of its hash."""
    return (hashed >> (256 - rt.KEY_BITS * (depth + 1))) & ((1 << rt.KEY_BITS) - 1)


def _max_depth() -> int:
    """Depth at which a key-index leaf never splits (the hash has no bits left)."""
    return 256 // rt.KEY_BITS


def _key_children(nodes: Nodes, digest: str, depth: int, count: int) -> list[list]:
    """The checked children of the key-index node `digest` at `depth` holding `count` keys."""
    children = checked_children(nodes, digest, KEY_NODE_KIND, 1 << rt.KEY_BITS, count, "a key-index node")
    if count <= rt.KEY_LEAF or depth >= _max_depth():
        raise TreeError(digest, f"key-index node of {count} keys should be a leaf")
    return children


def _key_leaf_known(nodes: Nodes, digest: str, keys: list, depth: int, prefix: int, count: int) -> bool:
    """Checks every read of a key-index leaf makes (its key count against the parent's);
    True when the leaf is known checked in its place, else after checking its size bound
    and key order (the caller checks the seqs and the keys' hashes)."""
    if len(keys) != count:
        raise TreeError(digest, f"key-index leaf holds {len(keys)} keys, its parent says {count}")
    if (digest, depth, prefix) in nodes.checked:
        return True
    if (digest, count, depth) in nodes.sound:  # size and order checked before (a digest names fixed bytes)
        return False
    if len(keys) > rt.KEY_LEAF and depth < _max_depth():
        raise TreeError(digest, f"key-index leaf of {len(keys)} keys should have split")
    if not all(map(lt, keys, islice(keys, 1, None))):
        raise TreeError(digest, "key-index leaf keys are not sorted")
    nodes.sound.add((digest, count, depth))
    return False


def _key_pairs(nodes: Nodes, digest: str, depth: int, prefix: int, count: int, place: bool = True) -> list[list]:
    """The checked `[key, seq]` pairs of the key-index leaf `digest` at `depth` under hash
    `prefix`: sorted keys, seqs >= 0, at most KEY_LEAF of them, and (`place`) every key's
    hash under `prefix`. That last check hashes every key, so it runs once per leaf (memo
    `nodes.checked`); lookups (`place=False`) check the first and last keys only (a subtree
    moved whole is caught): a key found by descending along its own hash is in its place,
    and the others are not used."""
    node = nodes.load(digest)
    if node["__kind__"] != KEY_LEAF_KIND:
        raise TreeError(digest, f"expected a key-index leaf, found a {node['__kind__']}")
    pairs = node["keys"]
    keys = list(map(itemgetter(0), pairs))
    if _key_leaf_known(nodes, digest, keys, depth, prefix, count):
        return pairs
    if min(map(itemgetter(1), pairs)) < 0:
        raise TreeError(digest, "key-index leaf has a negative sequence number")
    shift = 256 - rt.KEY_BITS * depth
    for key in keys if place else {keys[0], keys[-1]}:
        if key_hash(key) >> shift != prefix:
            raise TreeError(digest, f"key-index leaf holds key {key[:40]!r} out of its place")
    if place:
        nodes.checked.add((digest, depth, prefix))
    return pairs


def _key_scan(nodes: Nodes, digest: str, depth: int, prefix: int, count: int) -> KeyLeafScan | None:
    """The key-index leaf `digest` read as bytes (node_bytes.scan_key_leaf), with the checks
    `_key_pairs(place=False)` makes, or None when it is not read that way (the caller loads
    and parses the node: it may be an inner node or a leaf spelled otherwise)."""
    scan = nodes.key_leaf(digest) if nodes.key_leaf is not None else None
    if scan is None:
        return None
    keys = scan.keys  # UTF-8 bytes sort as the strings do
    if _key_leaf_known(nodes, digest, keys, depth, prefix, count):
        return scan
    shift = 256 - rt.KEY_BITS * depth
    for index in {0, len(keys) - 1}:  # seqs are >= 0 by the scan's grammar
        if _bytes_hash(keys[index]) >> shift != prefix:
            raise TreeError(digest, f"key-index leaf holds key {scan.key_text(index)[:40]!r} out of its place")
    return scan


def key_lookup_many(nodes: Nodes, tree: Tree, keys: Iterable[str], quick: bool = False) -> dict[str, int]:
    """key -> seq for those of `keys` in the index. `quick` (a write's lookups): a key leaf
    not read yet is searched for each key's own pair before it is scanned (_key_found)."""
    found: dict[str, int] = {}
    hashed = [(key_hash(k), k) for k in dict.fromkeys(keys)]
    if tree.keys is None or not hashed:
        return found
    frontier = [(tree.keys, 0, 0, tree.count, hashed)]
    while frontier:
        if nodes.prefetch is not None:
            nodes.prefetch([f[0] for f in frontier])
        nxt = []
        for digest, depth, prefix, count, group in frontier:
            if quick and nodes.unparsed is not None and _key_found(nodes, digest, depth, prefix, count, group, found):
                continue
            scan = _key_scan(nodes, digest, depth, prefix, count)
            if scan is not None:
                for _h, key in group:
                    seq = scan.find(key)
                    if seq is not None:
                        found[key] = seq
                continue
            node = nodes.load(digest)
            if node["__kind__"] == KEY_LEAF_KIND:
                pairs = dict(_key_pairs(nodes, digest, depth, prefix, count, place=False))
                for _h, key in group:
                    if key in pairs:
                        found[key] = pairs[key]
                continue
            split: dict[int, list] = {}
            for item in group:
                split.setdefault(_digit(item[0], depth), []).append(item)
            children = pick_children(_key_children(nodes, digest, depth, count), split)
            for digit, sub in split.items():
                child = children.get(digit)
                if child is not None:
                    nxt.append((child[1], depth + 1, prefix << rt.KEY_BITS | digit, child[2], sub))
        frontier = nxt
    return found


def _key_found(nodes: Nodes, digest: str, depth: int, prefix: int, count: int, group: list[tuple[int, str]],
               found: dict[str, int]) -> bool:
    """True when every key of `group` is found in the key leaf `digest` by its own pair
    (node_bytes.find_key_seq), without scanning the leaf; their seqs go into `found`. False
    (nothing added) when the node is scanned already or parsed as an inner node, is no leaf
    so framed, or a key is not found so: the caller scans or parses it. A key is absent when
    its string `"key"` is nowhere in the bytes (a pair spelled with spaces is not taken for
    an absent key).

    Checks made: the pair count against the parent's, and (once per leaf, as a scan) the
    first and last keys in the leaf's hash place; a key found by descending along its own
    hash is in its place. Not made: the order of the other keys, and whether the rest of the
    leaf is JSON of its shape: nothing else of it is read, and only a write's lookups come
    here (an add scans the leaf to splice it; an update leaves it as it is). A seq found
    must still name an item of that key in the order tree (RecordEntries.tree_items)."""
    data = nodes.unparsed(digest)
    ends = key_leaf_ends(data) if data is not None else None
    if ends is None:
        return False
    first, last, pairs = ends
    if pairs != count:
        raise TreeError(digest, f"key-index leaf holds {pairs} keys, its parent says {count}")
    if (digest, depth, prefix) not in nodes.checked:
        if pairs > rt.KEY_LEAF and depth < _max_depth():
            raise TreeError(digest, f"key-index leaf of {pairs} keys should have split")
        shift = 256 - rt.KEY_BITS * depth
        for raw in (first, last):
            if _bytes_hash(raw) >> shift != prefix:
                return False  # the scan says which key, or that the bytes are no leaf
    seqs = {}
    for _h, key in group:
        raw = plain_key(key)
        if raw is None:
            return False
        seq = find_key_seq(data, raw)
        if seq is not None:
            seqs[key] = seq
        elif data.find(b'"' + raw + b'"') >= 0:
            return False  # there as a string, but not as a whole pair so spelled (spaces?): the scan decides
    found.update(seqs)  # the other keys are absent: not even their string anywhere in the bytes
    nodes.absent.update((digest, key) for _h, key in group if key not in seqs)
    nodes.framed.add((digest, count, depth))  # for _key_insert
    return True


def _key_insert(nodes: Nodes, digest: str, depth: int, prefix: int, count: int,
                changes: list[tuple[int, str, int | None]]) -> tuple[str, int] | None:
    """(digest, count) of the key leaf `digest` with the new keys of `changes` inserted in
    its bytes (node_bytes.insert_keys), when its lookup went through _key_found (framed,
    count and place of its ends checked), every change adds a plain key that is not there,
    and the leaf stays within KEY_LEAF; None otherwise (the caller scans it). Its other
    pairs are copied unread, their order trusted: a forged order is carried, and refused
    by the scan or parse of any read."""
    if (digest, count, depth) not in nodes.framed or (count + len(changes) > rt.KEY_LEAF and depth < _max_depth()):
        return None
    data = nodes.raw(digest) if nodes.raw is not None else None
    raws = [plain_key(key) for _h, key, _seq in changes]
    if data is None or any(seq is None for _h, _k, seq in changes) or None in raws:
        return None
    absent = all((digest, key) in nodes.absent for _h, key, _seq in changes)
    new = insert_keys(data, [(raw, seq) for raw, (_h, _k, seq) in zip(raws, changes, strict=True)], absent)
    if new is None:
        return None
    sound = (digest, depth, prefix) in nodes.checked
    leaf = nodes.store_bytes(None, new, digest in nodes.canonical)
    if sound:
        nodes.checked.add((leaf, depth, prefix))  # the keys it had were in their place, and so are the new ones
    return leaf, count + len(changes)


def key_pairs(nodes: Nodes, digest: str | None, count: int, depth: int = 0, prefix: int = 0) -> Iterator[list]:
    """Every `[key, seq]` of a key index (subtree), in hash order."""
    if digest is None:
        return
    node = nodes.load(digest)
    if node["__kind__"] == KEY_LEAF_KIND:
        yield from _key_pairs(nodes, digest, depth, prefix, count)
        return
    for digit, child, size in _key_children(nodes, digest, depth, count):
        yield from key_pairs(nodes, child, size, depth + 1, prefix << rt.KEY_BITS | digit)


def key_update(nodes: Nodes, tree: Tree, changes: dict[str, int | None]) -> tuple[str | None, int]:
    """New (root, count) of the key index after `changes` (key -> seq, or None to remove it)."""
    if not changes:
        return tree.keys, tree.count
    hashed = sorted((key_hash(k), k, seq) for k, seq in changes.items())
    if nodes.prefetch is not None and tree.keys is not None:
        key_lookup_many(nodes, tree, changes)  # warms the paths level by level
    return _key_update(nodes, tree.keys, 0, 0, tree.count, hashed)


def _key_update(nodes: Nodes, digest: str | None, depth: int, prefix: int, count: int,
                changes: list[tuple[int, str, int | None]]) -> tuple[str | None, int]:
    inserted = _key_insert(nodes, digest, depth, prefix, count, changes) \
        if digest is not None and nodes.store_bytes is not None else None
    if inserted is not None:
        return inserted
    scan = _key_scan(nodes, digest, depth, prefix, count) if digest is not None and nodes.store_bytes else None
    if scan is not None:
        spliced = splice_key_leaf(scan, changes)
        if spliced is not None and (spliced[1] <= rt.KEY_LEAF or depth >= _max_depth()):
            sound = (digest, depth, prefix) in nodes.checked
            leaf = nodes.store_bytes(None, spliced[0])
            if sound:
                nodes.checked.add((leaf, depth, prefix))  # built here from keys in their place
            return leaf, spliced[1]
    node = nodes.load(digest) if digest is not None else None
    if node is None or node["__kind__"] == KEY_LEAF_KIND:
        # The leaf's other keys are carried over as they are, not hashed: the new leaf is
        # as sound as the old one, and counted checked only when the old one was.
        sound = digest is None or (digest, depth, prefix) in nodes.checked
        pairs = list(_key_pairs(nodes, digest, depth, prefix, count, place=False)) if digest is not None else []
        keys = [pair[0] for pair in pairs]
        for _h, key, seq in changes:  # the leaf stays sorted: no rebuild, no sort
            at = bisect_left(keys, key)
            if at < len(keys) and keys[at] == key:
                if seq is None:
                    del keys[at], pairs[at]
                else:
                    pairs[at] = [key, seq]
            elif seq is not None:
                keys.insert(at, key)
                pairs.insert(at, [key, seq])
        if len(pairs) > rt.KEY_LEAF and depth < _max_depth():
            return _key_build(nodes, [(key_hash(k), k, s) for k, s in pairs], depth, prefix)
        if not pairs:
            return None, 0
        leaf = nodes.store({"__kind__": KEY_LEAF_KIND, "keys": pairs})
        if sound:
            nodes.checked.add((leaf, depth, prefix))  # built here from keys in their place
        return leaf, len(pairs)
    old_children = _key_children(nodes, digest, depth, count)
    groups: dict[int, list] = {}
    for change in changes:
        groups.setdefault(_digit(change[0], depth), []).append(change)
    children = pick_children(old_children, groups)
    replaced: list[tuple[int, tuple[str | None, int], tuple[str | None, int]]] = []
    for digit, group in groups.items():
        _d, child, size = children.get(digit, (digit, None, 0))
        new, new_size = _key_update(nodes, child, depth + 1, prefix << rt.KEY_BITS | digit, size, group)
        replaced.append((digit, (child, size), (new, new_size)))
    listed = with_children(old_children, [(digit, new, size) for digit, _old, (new, size) in replaced])
    total = sum(map(itemgetter(2), listed))
    if total <= rt.KEY_LEAF:  # collapse back into a leaf (canonical shape)
        pairs = []
        for digit, child, size in listed:
            pairs.extend(key_pairs(nodes, child, size, depth + 1, prefix << rt.KEY_BITS | digit))
        return _key_build(nodes, [(0, k, s) for k, s in pairs], depth, prefix)
    document = {"__kind__": KEY_NODE_KIND, "children": listed}
    data = inner_data(nodes, digest, KEY_NODE_HEAD, old_children, listed, replaced)
    return store_inner(nodes, document, data, total, replaced, 1 << rt.KEY_BITS), total


def _key_build(nodes: Nodes, hashed: list[tuple[int, str, int]], depth: int, prefix: int) -> tuple[str | None, int]:
    """The canonical subtree at `depth` (under hash prefix `prefix`) for (hash, key, seq)
    triples (the hash is needed only past KEY_LEAF)."""
    if not hashed:
        return None, 0
    if len(hashed) <= rt.KEY_LEAF or depth >= _max_depth():
        pairs = sorted([key, seq] for _h, key, seq in hashed)
        digest = nodes.store({"__kind__": KEY_LEAF_KIND, "keys": pairs})
        nodes.checked.add((digest, depth, prefix))  # built here from keys in their place
        return digest, len(pairs)
    groups: dict[int, list] = {}
    for triple in hashed:
        groups.setdefault(_digit(triple[0], depth), []).append(triple)
    listed = []
    for digit in sorted(groups):
        child, size = _key_build(nodes, groups[digit], depth + 1, prefix << rt.KEY_BITS | digit)
        listed.append([digit, child, size])
    return nodes.store({"__kind__": KEY_NODE_KIND, "children": listed}), len(hashed)


def key_diff(nodes: Nodes, old: Tree | None, new: Tree) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    """(key, seq) pairs only in the old index, and only in the new one; equal subtrees
    (same digest at the same place) are skipped."""
    only_old: set[tuple[str, int]] = set()
    only_new: set[tuple[str, int]] = set()

    def walk(a: tuple[str, int] | None, b: tuple[str, int] | None, depth: int, prefix: int) -> None:
        if a is not None and b is not None and a[0] == b[0]:
            return
        na = nodes.load(a[0]) if a else None
        nb = nodes.load(b[0]) if b else None
        if (na is None or na["__kind__"] == KEY_NODE_KIND) and (nb is None or nb["__kind__"] == KEY_NODE_KIND):
            ca = {c[0]: (c[1], c[2]) for c in _key_children(nodes, a[0], depth, a[1])} if a else {}
            cb = {c[0]: (c[1], c[2]) for c in _key_children(nodes, b[0], depth, b[1])} if b else {}
            for digit in sorted(ca.keys() | cb.keys()):
                walk(ca.get(digit), cb.get(digit), depth + 1, prefix << rt.KEY_BITS | digit)
            return
        left = {tuple(p) for p in key_pairs(nodes, a[0], a[1], depth, prefix)} if a else set()
        right = {tuple(p) for p in key_pairs(nodes, b[0], b[1], depth, prefix)} if b else set()
        only_old.update(left - right)
        only_new.update(right - left)

    walk((old.keys, old.count) if old is not None and old.keys else None,
         (new.keys, new.count) if new.keys else None, 0, 0)
    return only_old, only_new
