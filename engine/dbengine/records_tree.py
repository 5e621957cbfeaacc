"""Record entries as two content-addressed trees of small nodes (format 0.5).

ORDER tree: the records by sequence number (first-insertion order), a radix tree on seq.
A leaf covers ORDER_LEAF consecutive seqs and holds `[seq, key, stored]` items; an
internal node at level l >= 1 covers ORDER_FANOUT ** l leaves and lists
`[child index, digest, record count]` for its non-empty children. The height follows
`__next_seq__`, so the same records with the same seqs give the same digests.

KEY index: a hash trie `key -> seq` on sha256(key), KEY_BITS bits of it per level (the
top bits first). A leaf holds up to KEY_LEAF `[key, seq]` pairs, sorted by key; past that it is an
internal node listing `[digit, digest, count]`; a subtree of KEY_LEAF keys or fewer is
always a leaf (canonical: the shape depends on the key set only).

Every function takes a `Nodes` (load, store, prefetch) and checks each node it reads
against its place (level, seq range, hash prefix, count): a forged but well-hashed node
raises TreeError, which the engine reports as a corrupt object.
"""

from __future__ import annotations

import hashlib
import marshal
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress, islice, repeat
from operator import eq, itemgetter, lt, not_
from typing import Any

from .node_bytes import (
    KEY_NODE_HEAD,
    ORDER_LEAF_LINED_HEAD,
    ORDER_LEAF_LINED_TAIL,
    KeyLeafScan,
    find_key_seq,
    inner_node_bytes,
    insert_keys,
    item_bytes,
    item_line,
    key_leaf_ends,
    last_line_seq,
    lined_leaf_framed,
    order_leaf_is_canonical,
    order_node_head,
    plain_key,
    splice_inner_node,
    splice_key_leaf,
    splice_lines,
    splice_order_leaf,
)
from .utils import strict_loads, to_json_bytes

ORDER_LEAF = 64  # consecutive seqs per order leaf
ORDER_FANOUT = 64  # children per order node
KEY_LEAF = 512  # keys per key-index leaf before it splits
KEY_BITS = 6  # bits of sha256(key) per key-index level: 64 children per node
SPLICE_CHILDREN = 8  # children changed in an inner node past which its bytes are formatted whole

ORDER_LEAF_KIND = "rec-leaf"
ORDER_NODE_KIND = "rec-node"
KEY_LEAF_KIND = "key-leaf"
KEY_NODE_KIND = "key-node"
NODE_KINDS = (ORDER_LEAF_KIND, ORDER_NODE_KIND, KEY_LEAF_KIND, KEY_NODE_KIND)



class TreeError(ValueError):
    """A tree node that disagrees with its place in the tree (digest of the node, why)."""

    def __init__(self, digest: str, message: str):
        super().__init__(message)
        self.digest = digest


@dataclass
class Nodes:
    """How the tree functions reach the object store: `load(digest)` returns a parsed node
    whose shape is checked (see is_node_doc), `store(node)` writes one and returns its
    digest, `prefetch(digests)` fetches several concurrently (None: reads are cheap)."""

    load: Callable[[str], dict]
    store: Callable[[dict], str]
    prefetch: Callable[[Iterable[str]], None] | None = None
    #: (digest, depth) of key leaves whose keys were checked against their place.
    checked: set = field(default_factory=set)
    #: key_leaf(digest): a key leaf's checked bytes as a KeyLeafScan, read without parsing
    #: it (None: parse it with `load`; it may be another node, or spelled another way).
    key_leaf: Callable[[str], KeyLeafScan | None] | None = None
    #: raw(digest): the checked bytes of a node read or written lately, or None.
    raw: Callable[[str], bytes | None] | None = None
    #: store_bytes(node or None, its exact node_to_bytes[, proven]): store a node whose bytes are
    #: built (proven=False: built from unread lines of another node, not known canonical).
    store_bytes: Callable[..., str] | None = None
    #: digests of nodes this engine wrote (their bytes are node_bytes.node_to_bytes of the node).
    canonical: set = field(default_factory=set)
    #: data(digest): a node's bytes checked against its digest, read without parsing them.
    data: Callable[[str], bytes | None] | None = None
    #: unparsed(digest): data(digest) for a write's key lookup, or None when the node is scanned as a
    #: key leaf or parsed as another node (a key leaf parsed is read as bytes: the write splices them).
    unparsed: Callable[[str], bytes | None] | None = None
    #: (digest, count) of inner nodes whose children were checked against that count, and
    #: (digest, count, depth) of key leaves whose size and key order were checked (a memo: a
    #: digest names fixed bytes, so the checks give the same answer every time).
    sound: set = field(default_factory=set)
    #: (digest, count) of order leaves whose bytes were found framed as lined leaves of count
    #: items; (digest, count, depth) of key leaves read by _key_found (framed, ends in place).
    framed: set = field(default_factory=set)
    #: (digest, seq) -> node_bytes.item_line of that seq in the lined order leaf `digest`, as
    #: _lined_items found it (a digest names fixed bytes): the write's splice does not search again.
    lines: dict = field(default_factory=dict)
    #: (digest, key) of keys _key_found found absent from the key leaf `digest` (not even their
    #: string in its bytes): _key_insert does not look for them again.
    absent: set = field(default_factory=set)


def key_hash(key: str) -> int:
    """The sha256 of a record key as a 256-bit number: its path in the key index."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest(), "big")


def _bytes_hash(raw: bytes) -> int:
    """key_hash of a key given as its UTF-8 bytes (no lone surrogate: the same bytes)."""
    return int.from_bytes(hashlib.sha256(raw).digest(), "big")


def _digit(hashed: int, depth: int) -> int:
    """The child a key goes to below a key-index node at `depth`: KEY_BITS bits of its hash."""
    return (hashed >> (256 - KEY_BITS * (depth + 1))) & ((1 << KEY_BITS) - 1)


def _max_depth() -> int:
    """Depth at which a key-index leaf never splits (the hash has no bits left)."""
    return 256 // KEY_BITS


# ---------------------------------------------------------------------- shapes
def is_node_doc(document: dict) -> bool:
    """True when a parsed object has a tree node's shape (place checks come when it is walked)."""
    kind = document.get("__kind__")
    if kind == ORDER_LEAF_KIND:
        items = document.get("items")
        return len(document) == 2 and type(items) is list and _rows_of(items, 3, (int, str))
    if kind == KEY_LEAF_KIND:
        pairs = document.get("keys")
        return len(document) == 2 and type(pairs) is list and _rows_of(pairs, 2, (str, int))
    if kind in (ORDER_NODE_KIND, KEY_NODE_KIND):
        children = document.get("children")
        if type(children) is not list or not children:
            return False
        if kind == ORDER_NODE_KIND and (len(document) != 3 or type(document.get("level")) is not int):
            return False
        if kind == KEY_NODE_KIND and len(document) != 2:
            return False
        return _rows_of(children, 3, (int, str)) and set(map(type, map(itemgetter(2), children))) == {int} \
            and set(map(len, map(itemgetter(1), children))) == {64}
    return False


def _rows_of(rows: list, width: int, types: tuple[type, type]) -> bool:
    """True when `rows` is a non-empty list of lists of `width` items whose first two items
    have `types`; whole-list passes run in C (a leaf is read for every window and get())."""
    if not rows or set(map(type, rows)) != {list} or set(map(len, rows)) != {width}:
        return False
    return set(map(type, map(itemgetter(0), rows))) == {types[0]} and \
        set(map(type, map(itemgetter(1), rows))) == {types[1]}


def _children(nodes: Nodes, digest: str, kind: str, bound: int, count: int, what: str,
              level: int | None = None) -> list[list]:
    """The checked `[index, digest, size]` children of the inner node `digest` (of `kind`, at
    `level` for the order tree) holding `count` records: indexes strictly increasing in
    [0, bound), sizes >= 1 adding up to `count`. One parser for both trees; its passes run in C."""
    node = nodes.load(digest)
    if node["__kind__"] != kind or (level is not None and node["level"] != level):
        raise TreeError(digest, f"expected {what}, found a {node['__kind__']}")
    children = node["children"]
    if (digest, count) in nodes.sound:
        return children
    indexes = list(map(itemgetter(0), children))
    sizes = list(map(itemgetter(2), children))
    if indexes[0] < 0 or indexes[-1] >= bound or not all(map(lt, indexes, islice(indexes, 1, None))) or min(sizes) < 1:
        bad = next((i for i, (a, b) in enumerate(zip([-1, *indexes], indexes, strict=False)) if not a < b < bound), None)
        at = indexes[bad] if bad is not None else indexes[sizes.index(min(sizes))]
        raise TreeError(digest, f"{what.split(' of ')[0].removeprefix('an ').removeprefix('a ')} child {at} "
                                "is out of place or empty")
    total = sum(sizes)
    if total != count:
        noun = "records" if kind == ORDER_NODE_KIND else "keys"
        raise TreeError(digest, f"{what.split(' of ')[0].removeprefix('an ').removeprefix('a ')} holds {total} "
                                f"{noun}, its parent says {count}")
    nodes.sound.add((digest, count))
    return children


_index_of = itemgetter(0)  # a child's index (children are `[index, digest, size]`)


def _pick(children: list[list], wanted: Iterable[int]) -> dict[int, list]:
    """index -> `[index, digest, size]` of those `wanted` indexes among checked children
    (sorted by index), found by bisection on the children themselves (no index list built)."""
    picked = {}
    size = len(children)
    for index in wanted:
        at = bisect_left(children, index, key=_index_of)
        if at < size and children[at][0] == index:
            picked[index] = children[at]
    return picked


def _with_children(old_children: list[list], updates: list[tuple[int, str | None, int]]) -> list[list]:
    """The children `[index, digest, size]` of an inner node after `updates` ((index, new
    digest or None to drop that child, size)), kept by increasing index; the old list is
    copied, not changed (it may be a cached node's)."""
    listed = list(old_children)
    indexes = list(map(itemgetter(0), listed))
    for index, new, size in updates:
        at = bisect_left(indexes, index)
        here = at < len(indexes) and indexes[at] == index
        if new is None:
            if here:
                del listed[at], indexes[at]
        elif here:
            listed[at] = [index, new, size]
        else:
            listed.insert(at, [index, new, size])
            indexes.insert(at, index)
    return listed


def _order_children(nodes: Nodes, digest: str, level: int, count: int) -> list[list]:
    """The checked children of the order node `digest` at `level` holding `count` records."""
    return _children(nodes, digest, ORDER_NODE_KIND, ORDER_FANOUT, count, f"an order node of level {level}", level)


def _key_children(nodes: Nodes, digest: str, depth: int, count: int) -> list[list]:
    """The checked children of the key-index node `digest` at `depth` holding `count` keys."""
    children = _children(nodes, digest, KEY_NODE_KIND, 1 << KEY_BITS, count, "a key-index node")
    if count <= KEY_LEAF or depth >= _max_depth():
        raise TreeError(digest, f"key-index node of {count} keys should be a leaf")
    return children


def _order_items(nodes: Nodes, digest: str, base: int, count: int,
                 load: Callable[[str], dict] | None = None) -> list[list]:
    """The checked `[seq, key, stored]` items of the order leaf `digest` covering seqs from
    `base`: seqs strictly increasing in [base, base + ORDER_LEAF) (checked in C: get() reads
    every leaf). `load` reads the leaf instead of `nodes.load` (same checks)."""
    node = (load or nodes.load)(digest)
    if node["__kind__"] != ORDER_LEAF_KIND:
        raise TreeError(digest, f"expected an order leaf, found a {node['__kind__']}")
    items = node["items"]
    if len(items) != count:
        raise TreeError(digest, f"order leaf holds {len(items)} records, its parent says {count}")
    seqs = list(map(itemgetter(0), items))
    if seqs[0] < base or seqs[-1] >= base + ORDER_LEAF or not all(map(lt, seqs, islice(seqs, 1, None))):
        last = base - 1
        for seq in seqs:
            if not last < seq < base + ORDER_LEAF:
                raise TreeError(digest, f"order leaf has sequence number {seq} outside [{base}, {base + ORDER_LEAF})")
            last = seq
    return items


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
    if len(keys) > KEY_LEAF and depth < _max_depth():
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
    shift = 256 - KEY_BITS * depth
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
    shift = 256 - KEY_BITS * depth
    for index in {0, len(keys) - 1}:  # seqs are >= 0 by the scan's grammar
        if _bytes_hash(keys[index]) >> shift != prefix:
            raise TreeError(digest, f"key-index leaf holds key {scan.key_text(index)[:40]!r} out of its place")
    return scan


# ---------------------------------------------------------------------- order tree
def order_height(next_seq: int) -> int:
    """Levels above the leaves of an order tree whose seqs are below `next_seq`."""
    height, span = 0, ORDER_LEAF
    while span < next_seq:
        span *= ORDER_FANOUT
        height += 1
    return height


def _span(level: int) -> int:
    return ORDER_LEAF * ORDER_FANOUT**level


@dataclass(frozen=True)
class Tree:
    """One record version's trees: roots (None: empty), record count and next seq."""

    order: str | None
    keys: str | None
    count: int
    next_seq: int

    @property
    def height(self) -> int:
        return order_height(self.next_seq)


def order_get_many(nodes: Nodes, tree: Tree, seqs: Iterable[int], lined: bool = False) -> dict[int, list]:
    """The `[seq, key, stored]` items at `seqs` (absent seqs are left out). `lined` (a
    write's lookups only): a lined leaf gives the lines of those seqs, each parsed and
    checked alone (_lined_items), instead of being parsed whole."""
    found: dict[int, list] = {}
    wanted = sorted(set(seqs))
    if tree.order is None or not wanted:
        return found
    level = tree.height
    frontier = [(tree.order, 0, tree.count, wanted)]
    while level > 0:
        if nodes.prefetch is not None:
            nodes.prefetch([digest for digest, *_ in frontier])
        span = _span(level - 1)
        nxt = []
        for digest, base, count, group in frontier:
            split: dict[int, list] = {}
            for seq in group:
                split.setdefault((seq - base) // span, []).append(seq)
            children = _pick(_order_children(nodes, digest, level, count), split)
            for index, sub in split.items():
                child = children.get(index)
                if child is not None:
                    nxt.append((child[1], base + index * span, child[2], sub))
        frontier, level = nxt, level - 1
    if nodes.prefetch is not None:
        nodes.prefetch([digest for digest, *_ in frontier])
    for digest, base, count, group in frontier:
        lines = _lined_items(nodes, digest, base, count, group) if lined else None
        if lines is not None:
            found.update(lines)
            continue
        items = {item[0]: item for item in _order_items(nodes, digest, base, count)}
        for seq in group:
            if seq in items:
                found[seq] = items[seq]
    return found


def order_leaves(nodes: Nodes, tree: Tree, start_index: int = 0,
                 load_leaf: Callable[[str], dict] | None = None) -> Iterator[tuple[int, list[list]]]:
    """(index of the first item, items) of every leaf in seq order, from the leaf holding
    item `start_index` on; `load_leaf` reads the leaves instead of `nodes.load`."""
    if tree.order is None or start_index >= tree.count:
        return

    def walk(digest: str, level: int, base: int, count: int, first: int) -> Iterator[tuple[int, list[list]]]:
        if level == 0:
            yield first, _order_items(nodes, digest, base, count, load_leaf)
            return
        children = _order_children(nodes, digest, level, count)
        if level == 1 and nodes.prefetch is not None:
            nodes.prefetch([c[1] for c in children])
        span = _span(level - 1)
        for index, child, size in children:
            if first + size > start_index:
                yield from walk(child, level - 1, base + index * span, size, first)
            first += size

    yield from walk(tree.order, tree.height, 0, tree.count, 0)


def order_locate(nodes: Nodes, tree: Tree, index: int) -> tuple[int, list[list]]:
    """(index of its first item, items) of the leaf holding the `index`-th record (0-based)."""
    if not 0 <= index < tree.count:
        raise IndexError(index)
    digest, level, base, count, first = tree.order, tree.height, 0, tree.count, 0
    while level > 0:
        span = _span(level - 1)
        for child_index, child, size in _order_children(nodes, digest, level, count):
            if index < first + size:
                digest, base, count = child, base + child_index * span, size
                break
            first += size
        level -= 1
    return first, _order_items(nodes, digest, base, count)


def order_rank(nodes: Nodes, tree: Tree, seq: int) -> int | None:
    """The position (0-based, in seq order) of the record with `seq`, or None."""
    if tree.order is None or not 0 <= seq < _span(tree.height):
        return None
    digest, level, base, count, first = tree.order, tree.height, 0, tree.count, 0
    while level > 0:
        span = _span(level - 1)
        target = (seq - base) // span
        for child_index, child, size in _order_children(nodes, digest, level, count):
            if child_index == target:
                digest, base, count = child, base + child_index * span, size
                break
            first += size
        else:
            return None
        level -= 1
    for offset, item in enumerate(_order_items(nodes, digest, base, count)):
        if item[0] == seq:
            return first + offset
    return None


def order_update(nodes: Nodes, tree: Tree, changes: dict[int, list | None], next_seq: int) -> tuple[str | None, int]:
    """New (root, count) of the order tree after `changes` (seq -> new item, or None to
    remove it); `next_seq` is the new version's (the tree grows a level on top past it)."""
    root, count, height = tree.order, tree.count, tree.height
    new_height = order_height(next_seq)
    if root is not None:
        for level in range(height + 1, new_height + 1):
            root = nodes.store({"__kind__": ORDER_NODE_KIND, "level": level, "children": [[0, root, count]]})
    if not changes:
        return root, count
    if nodes.prefetch is not None and root is not None:
        order_get_many(nodes, Tree(root, None, count, next_seq), changes, lined=True)  # warms the paths level by level
    return _order_update(nodes, root, new_height, 0, count, sorted(changes.items()))


def _order_update(nodes: Nodes, digest: str | None, level: int, base: int, count: int,
                  changes: list[tuple[int, list | None]]) -> tuple[str | None, int]:
    if level == 0:
        lined = _lined_update(nodes, digest, count, changes) if digest else None
        if lined is not None:
            data, new_count = lined
            proven = digest in nodes.canonical  # else the lines it copied unread keep their spelling
            return (nodes.store_bytes(None, data, proven) if data is not None else None), new_count
        items = {item[0]: item for item in _order_items(nodes, digest, base, count)} if digest else {}
        for seq, item in changes:
            if item is None:
                items.pop(seq, None)
            else:
                items[seq] = item
        if not items:
            return None, 0
        document = {"__kind__": ORDER_LEAF_KIND, "items": [items[s] for s in sorted(items)]}
        data = _spliced_order_leaf(nodes, digest, changes) if digest else None
        return (nodes.store(document) if data is None else nodes.store_bytes(document, data)), len(items)
    old_children = _order_children(nodes, digest, level, count) if digest else []
    span = _span(level - 1)
    groups: dict[int, list] = {}
    for change in changes:
        groups.setdefault((change[0] - base) // span, []).append(change)
    children = _pick(old_children, groups)
    replaced: list[tuple[int, tuple[str, int], tuple[str, int]]] = []
    for index, group in groups.items():
        _i, child, size = children.get(index, (index, None, 0))
        new, new_size = _order_update(nodes, child, level - 1, base + index * span, size, group)
        replaced.append((index, (child, size), (new, new_size)))
    listed = _with_children(old_children, [(index, new, size) for index, _old, (new, size) in replaced])
    if not listed:
        return None, 0
    document = {"__kind__": ORDER_NODE_KIND, "level": level, "children": listed}
    data = _inner_data(nodes, digest, order_node_head(level), old_children, listed, replaced)
    total = sum(map(itemgetter(2), listed))
    return _store_inner(nodes, document, data, total, replaced, ORDER_FANOUT), total


def _inner_data(nodes: Nodes, digest: str | None, head: bytes, old_children: list[list], listed: list[list],
                replaced: list[tuple[int, tuple[str | None, int], tuple[str | None, int]]]) -> bytes | None:
    """The bytes of a changed inner node whose new children are `listed`: its old bytes
    spliced child by child (splice_inner_node), or formatted whole when more than
    SPLICE_CHILDREN children changed (inner_node_bytes: one search of the old bytes per
    child costs more); None when neither proves them canonical (the caller encodes the node)."""
    if nodes.store_bytes is None:
        return None
    if len(replaced) > SPLICE_CHILDREN:
        return inner_node_bytes(head, listed)
    raw = nodes.raw(digest) if digest and nodes.raw is not None else None
    return splice_inner_node(raw, head, old_children, replaced, digest in nodes.canonical) if raw is not None else None


def _store_inner(nodes: Nodes, document: dict, data: bytes | None, total: int,
                 replaced: list[tuple[int, tuple[str | None, int], tuple[str | None, int]]], bound: int) -> str:
    """Store a changed inner node (its spliced bytes `data`, or encoded when None) and
    remember it sound for `total` records (nodes.sound, as _children would after checking
    it): its other children were checked in the old node, and each replaced one is checked
    here (index in [0, bound), a size >= 1 when kept), so the next write skips that check."""
    digest = nodes.store(document) if data is None else nodes.store_bytes(document, data)
    if all(0 <= index < bound and (new is None or size >= 1) for index, _old, (new, size) in replaced):
        nodes.sound.add((digest, total))
    return digest


def _lined_items(nodes: Nodes, digest: str, base: int, count: int, seqs: list[int]) -> dict[int, list] | None:
    """The items at `seqs` (those present) of the order leaf `digest` covering seqs from
    `base`, read from its lined bytes without parsing the leaf whole: the leaf is framed as
    a lined leaf of `count` items (the count its parent gives), and each wanted seq's line
    (the only one starting `[seq,`) is parsed alone and must be a `[seq, key, stored]` item.
    None when the leaf is not framed so or a line is a surprise (the caller parses the leaf
    whole, with every check), a seq with no line among the lines included. A seq after the
    last line's (a new one) is absent.

    Only for a write's lookups (put, put_many, delete): the leaf's other lines are not
    parsed, and the write copies them into the new leaf byte for byte (_lined_update). Damage
    in them (a line that is no item, out of order, not canonical) is carried into the new
    leaf, never read as an answer: every read that parses the leaf (get, get(key), a
    full verify) still refuses it. An answer here is the line of that seq, checked alone."""
    if nodes.data is None or nodes.store_bytes is None or not base <= min(seqs) <= max(seqs) < base + ORDER_LEAF:
        return None
    data = nodes.data(digest)
    if (digest, count) not in nodes.framed:
        if not lined_leaf_framed(data, count, digest in nodes.canonical):
            return None
        nodes.framed.add((digest, count))
    found: dict[int, list] = {}
    for seq in seqs:
        where = item_line(data, seq)
        if where is None:
            if data.find(b"\n[%d," % seq) >= 0:
                return None  # a line of that seq that is not where it should be, or two
            last = last_line_seq(data)
            if last is None or seq <= last:
                return None  # absent among the lines, or spelled otherwise (`[ 10,`): the whole leaf says
            continue  # after the last line (a new seq): absent
        try:
            item = strict_loads(data[where[0]:where[1]])
        except (ValueError, RecursionError):
            return None
        if type(item) is not list or len(item) != 3 or type(item[0]) is not int or item[0] != seq \
                or type(item[1]) is not str:
            return None
        found[seq] = item
        nodes.lines[(digest, seq)] = where
    return found


def _lined_update(nodes: Nodes, digest: str, count: int,
                  changes: list[tuple[int, list | None]]) -> tuple[bytes | None, int] | None:
    """(bytes or None when no item is left, item count) of the order leaf `digest` of `count`
    items after `changes` (by seq), spliced line by line from its lined bytes
    (node_bytes.splice_lines): the changed lines are the new items' encodings, the other
    lines are copied unparsed (see _lined_items). The result is order_leaf_bytes of the new
    items whenever the old bytes were order_leaf_bytes of the old items (every leaf an engine
    of this format writes): each line is its item's encoding alone. None: not so framed, or
    an item needs the ASCII spelling (a lone surrogate): the caller rewrites the leaf whole."""
    if nodes.data is None or nodes.store_bytes is None:
        return None
    data = nodes.data(digest)
    if (digest, count) not in nodes.framed and not lined_leaf_framed(data, count, digest in nodes.canonical):
        return None
    encoded: list[tuple[int, bytes | None]] = []
    for seq, item in changes:
        new = item_bytes(item) if item is not None else None
        if item is not None and new is None:
            return None
        encoded.append((seq, new))
    spliced = splice_lines(data, encoded, nodes.lines.get((digest, changes[0][0])))
    if spliced is None:
        return None
    return spliced[0], count + spliced[1]


def _spliced_order_leaf(nodes: Nodes, digest: str, changes: list[tuple[int, list | None]]) -> bytes | None:
    """The bytes of the order leaf `digest` (read already, checked) after `changes`, built
    from its bytes when they are lined canonical (node_bytes), or None (the caller encodes
    it: a compact 0.5 leaf is rewritten in the lined spelling)."""
    raw = nodes.raw(digest) if nodes.raw is not None and nodes.store_bytes is not None else None
    if raw is None or b"\\" in raw:  # escapes: perhaps the ASCII spelling a lone surrogate forces
        return None
    old = nodes.load(digest)["items"]  # cached: read and checked by _order_items just before
    if digest not in nodes.canonical and not order_leaf_is_canonical(raw, old):
        return None
    at_seq = {item[0]: index for index, item in enumerate(old)}
    last = old[-1][0]
    replaced: list[tuple[int, bytes | None]] = []
    appended: list[bytes] = []
    for seq, item in changes:  # in seq order
        new = item_bytes(item) if item is not None else None
        if item is not None and new is None:
            return None  # a lone surrogate: the leaf is written with ASCII escapes
        if seq in at_seq:
            replaced.append((at_seq[seq], new))
        elif item is not None:
            if seq < last:
                return None
            appended.append(new)
    return splice_order_leaf(raw, replaced, appended)


def order_diff(nodes: Nodes, old: Tree | None, new: Tree) -> tuple[list[list], list[list]]:
    """Items of two order trees that differ: (old items, new items), skipping equal subtrees
    by digest; the cost follows the change."""
    old_items: list[list] = []
    new_items: list[list] = []
    if old is None or old.order is None:
        if new.order is not None:
            for _first, items in order_leaves(nodes, new):
                new_items.extend(items)
        return old_items, new_items
    if new.order is None:
        for _first, items in order_leaves(nodes, old):
            old_items.extend(items)
        return old_items, new_items
    top = max(old.height, new.height)

    def children(ref: tuple[str, int, int] | None, level: int) -> dict[int, tuple[str, int, int]]:
        if ref is None:
            return {}
        digest, height, count = ref
        if height < level:  # a lower tree is child 0 of virtual nodes up to `level`
            return {0: ref}
        listed = _order_children(nodes, digest, level, count)
        below = zip(map(itemgetter(1), listed), repeat(height - 1), map(itemgetter(2), listed))
        return dict(zip(map(itemgetter(0), listed), below, strict=True))

    def walk(a: tuple[str, int, int] | None, b: tuple[str, int, int] | None, level: int, base: int) -> None:
        if a is not None and b is not None and a[0] == b[0] and a[1] == b[1]:
            return
        if level == 0:
            lined = _lined_leaf_diff(nodes, a[0], b[0], base, a[2], b[2]) if a and b else None
            if lined is not None:
                old_items.extend(lined[0])
                new_items.extend(lined[1])
                return
            left = _order_items(nodes, a[0], base, a[2]) if a else []
            right = _order_items(nodes, b[0], base, b[2]) if b else []
            differ = _differing_seqs(left, right)
            old_items.extend(i for i in left if i[0] in differ)
            new_items.extend(i for i in right if i[0] in differ)
            return
        ca, cb = children(a, level), children(b, level)
        # Children equal in both (same digest, height and count) are skipped here, in C.
        differ = sorted({index for index, _ref in ca.items() ^ cb.items()})
        if nodes.prefetch is not None:
            nodes.prefetch([r[0] for r in (*map(ca.get, differ), *map(cb.get, differ))
                            if r is not None and r[1] == level - 1])
        span = _span(level - 1)
        for index in differ:
            walk(ca.get(index), cb.get(index), level - 1, base + index * span)

    walk((old.order, old.height, old.count), (new.order, new.height, new.count), top, 0)
    return old_items, new_items


def _lined_leaf_diff(nodes: Nodes, old: str, new: str, base: int, old_count: int,
                     new_count: int) -> tuple[list[list], list[list]] | None:
    """(old items, new items) that differ between two order leaves covering seqs from `base`,
    read from their lined bytes (node_bytes.order_leaf_bytes) when both are lined and hold
    the same number of items: only the lines that differ are parsed. None when that is not
    so or anything is a surprise (the caller parses both leaves whole, and raises TreeError
    as it always did).

    Equal lines need no parse: equal bytes parse to equal items, type-strictly, and each
    leaf's bytes were checked against its digest. Each differing line is parsed alone and
    must be one `[seq, key, stored]` item (its `,` ending every line but the last) with
    seq in [base, base + ORDER_LEAF), strictly increasing among the parsed lines of its
    side. What a forged (well-hashed) leaf can still do here: damage lines it shares, byte
    for byte and at the same place, with the other version's leaf (such lines are read as
    "unchanged", and are checked by every read that parses the leaf: get, scans, a full
    verify); it cannot make the diff report an item that is not checked in its place."""
    if nodes.data is None or old_count != new_count:
        return None
    left, right = nodes.data(old), nodes.data(new)
    if left is None or right is None or not left.startswith(ORDER_LEAF_LINED_HEAD) \
            or not right.startswith(ORDER_LEAF_LINED_HEAD) or not left.endswith(ORDER_LEAF_LINED_TAIL) \
            or not right.endswith(ORDER_LEAF_LINED_TAIL):
        return None
    left_lines, right_lines = left.split(b"\n"), right.split(b"\n")
    if len(left_lines) != old_count + 2 or len(right_lines) != new_count + 2:
        return None
    differ = list(compress(range(len(left_lines)), map(not_, map(eq, left_lines, right_lines))))
    parsed = []
    for lines in (left_lines, right_lines):
        items: list[list] = []
        last_seq = base - 1
        for index in differ:
            line = lines[index]
            if index < old_count:
                if not line.endswith(b","):
                    return None
                line = line[:-1]
            try:
                item = strict_loads(line)
            except (ValueError, RecursionError):
                return None
            if type(item) is not list or len(item) != 3 or type(item[0]) is not int or type(item[1]) is not str \
                    or not last_seq < item[0] < base + ORDER_LEAF:
                return None
            last_seq = item[0]
            items.append(item)
        parsed.append(items)
    seqs = _differing_seqs(parsed[0], parsed[1])
    return [i for i in parsed[0] if i[0] in seqs], [i for i in parsed[1] if i[0] in seqs]


def _differing_seqs(left: list[list], right: list[list]) -> set[int]:
    """Seqs whose items differ between two leaves (type-strict: 1, 1.0 and true differ);
    equal items are confirmed with one encoding of each side, not one per item."""
    seqs = list(map(itemgetter(0), left))
    if len(left) == len(right) and seqs == list(map(itemgetter(0), right)):  # updates in place: pairs, in C
        try:
            equal = list(map(eq, left, right))
        except RecursionError:
            equal = None
        if equal is not None:
            differ = set(compress(seqs, map(not_, equal)))
            loose_left, loose_right = list(compress(left, equal)), list(compress(right, equal))
            if loose_left and not _same_strict(loose_left, loose_right):
                differ.update(a[0] for a, b in zip(loose_left, loose_right, strict=True) if not _same_strict(a, b))
            return differ
    left_by_seq = {item[0]: item for item in left}
    right_by_seq = {item[0]: item for item in right}
    differ = set(left_by_seq.keys() ^ right_by_seq.keys())
    loose = []
    for seq, item in left_by_seq.items():
        other = right_by_seq.get(seq)
        if other is None or other is item:
            continue
        try:
            equal = other == item
        except RecursionError:
            equal = False
        if equal:
            loose.append(seq)
        else:
            differ.add(seq)
    if loose and not _same_strict([left_by_seq[s] for s in loose], [right_by_seq[s] for s in loose]):
        differ.update(s for s in loose if not _same_strict(left_by_seq[s], right_by_seq[s]))
    return differ


def _same_strict(a: Any, b: Any) -> bool:
    """Type-strict equality of two parsed JSON values (1, 1.0 and true differ, key order
    counts): equal marshal bytes prove it (types and order included, in C, 3-4x faster
    than encoding JSON). Version 2 writes no refs nor interning marks, so its bytes follow
    the value only; unequal bytes leave it to the JSON encoding."""
    try:
        if marshal.dumps(a, 2) == marshal.dumps(b, 2):
            return True
    except ValueError:  # nested deeper than marshal goes
        pass
    return _same_json(a, b)


def _same_json(a: Any, b: Any) -> bool:
    try:
        return to_json_bytes(a) == to_json_bytes(b)
    except RecursionError:
        return False


# ---------------------------------------------------------------------- key index
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
            children = _pick(_key_children(nodes, digest, depth, count), split)
            for digit, sub in split.items():
                child = children.get(digit)
                if child is not None:
                    nxt.append((child[1], depth + 1, prefix << KEY_BITS | digit, child[2], sub))
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
        if pairs > KEY_LEAF and depth < _max_depth():
            raise TreeError(digest, f"key-index leaf of {pairs} keys should have split")
        shift = 256 - KEY_BITS * depth
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
    if (digest, count, depth) not in nodes.framed or (count + len(changes) > KEY_LEAF and depth < _max_depth()):
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
        yield from key_pairs(nodes, child, size, depth + 1, prefix << KEY_BITS | digit)


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
        if spliced is not None and (spliced[1] <= KEY_LEAF or depth >= _max_depth()):
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
        if len(pairs) > KEY_LEAF and depth < _max_depth():
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
    children = _pick(old_children, groups)
    replaced: list[tuple[int, tuple[str | None, int], tuple[str | None, int]]] = []
    for digit, group in groups.items():
        _d, child, size = children.get(digit, (digit, None, 0))
        new, new_size = _key_update(nodes, child, depth + 1, prefix << KEY_BITS | digit, size, group)
        replaced.append((digit, (child, size), (new, new_size)))
    listed = _with_children(old_children, [(digit, new, size) for digit, _old, (new, size) in replaced])
    total = sum(map(itemgetter(2), listed))
    if total <= KEY_LEAF:  # collapse back into a leaf (canonical shape)
        pairs = []
        for digit, child, size in listed:
            pairs.extend(key_pairs(nodes, child, size, depth + 1, prefix << KEY_BITS | digit))
        return _key_build(nodes, [(0, k, s) for k, s in pairs], depth, prefix)
    document = {"__kind__": KEY_NODE_KIND, "children": listed}
    data = _inner_data(nodes, digest, KEY_NODE_HEAD, old_children, listed, replaced)
    return _store_inner(nodes, document, data, total, replaced, 1 << KEY_BITS), total


def _key_build(nodes: Nodes, hashed: list[tuple[int, str, int]], depth: int, prefix: int) -> tuple[str | None, int]:
    """The canonical subtree at `depth` (under hash prefix `prefix`) for (hash, key, seq)
    triples (the hash is needed only past KEY_LEAF)."""
    if not hashed:
        return None, 0
    if len(hashed) <= KEY_LEAF or depth >= _max_depth():
        pairs = sorted([key, seq] for _h, key, seq in hashed)
        digest = nodes.store({"__kind__": KEY_LEAF_KIND, "keys": pairs})
        nodes.checked.add((digest, depth, prefix))  # built here from keys in their place
        return digest, len(pairs)
    groups: dict[int, list] = {}
    for triple in hashed:
        groups.setdefault(_digit(triple[0], depth), []).append(triple)
    listed = []
    for digit in sorted(groups):
        child, size = _key_build(nodes, groups[digit], depth + 1, prefix << KEY_BITS | digit)
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
                walk(ca.get(digit), cb.get(digit), depth + 1, prefix << KEY_BITS | digit)
            return
        left = {tuple(p) for p in key_pairs(nodes, a[0], a[1], depth, prefix)} if a else set()
        right = {tuple(p) for p in key_pairs(nodes, b[0], b[1], depth, prefix)} if b else set()
        only_old.update(left - right)
        only_new.update(right - left)

    walk((old.keys, old.count) if old is not None and old.keys else None,
         (new.keys, new.count) if new.keys else None, 0, 0)
    return only_old, only_new


# ---------------------------------------------------------------------- checks
def tree_problems(nodes: Nodes, tree: Tree, parent: Tree | None = None) -> list[str]:
    """What makes a record version's trees disagree with it or with each other: a node out
    of place (TreeError), counts, seqs at or past `__next_seq__`, a key index that does not
    name exactly the order tree's (key, seq) pairs. With a `parent` whose trees were found
    sound, only the subtrees that differ from it are read."""
    problems: list[str] = []
    if (tree.order is None) != (tree.count == 0) or (tree.keys is None) != (tree.count == 0):
        return [f"__count__ is {tree.count} but a tree root is {'missing' if tree.count else 'present'}"]
    try:
        if parent is not None:
            old_items, new_items = order_diff(nodes, parent, tree)
            only_old, only_new = key_diff(nodes, parent, tree)
            # Updates in place change an item but not its (key, seq) pair.
            removed = {(i[1], i[0]) for i in old_items} - {(i[1], i[0]) for i in new_items}
            added = {(i[1], i[0]) for i in new_items} - {(i[1], i[0]) for i in old_items}
            items = new_items
        else:
            items = [item for _first, leaf in order_leaves(nodes, tree) for item in leaf]
            only_old, removed = set(), set()
            only_new = {tuple(p) for p in key_pairs(nodes, tree.keys, tree.count)}
            added = {(item[1], item[0]) for item in items}
        if items and max(item[0] for item in items) >= tree.next_seq:
            problems.append(f"a record has sequence number {max(i[0] for i in items)}, not below __next_seq__ {tree.next_seq}")
        if only_old != removed or only_new != added:
            problems.append("the key index does not name the order tree's records (key and sequence number)")
    except TreeError as exc:
        problems.append(f"node {exc.digest[:12]}: {exc}")
    return problems
