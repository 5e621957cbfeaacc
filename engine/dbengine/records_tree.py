"""Record entries as two content-addressed trees of small nodes (format 0.5): what both trees share.

ORDER tree (order_tree.py): the records by sequence number (first-insertion order), a radix
tree on seq. A leaf covers ORDER_LEAF consecutive seqs and holds `[seq, key, stored]` items; an
internal node at level l >= 1 covers ORDER_FANOUT ** l leaves and lists
`[child index, digest, record count]` for its non-empty children. The height follows
`__next_seq__`, so the same records with the same seqs give the same digests.

KEY index (key_tree.py): a hash trie `key -> seq` on sha256(key), KEY_BITS bits of it per level
(the top bits first). A leaf holds up to KEY_LEAF `[key, seq]` pairs, sorted by key; past that it
is an internal node listing `[digit, digest, count]`; a subtree of KEY_LEAF keys or fewer is
always a leaf (canonical: the shape depends on the key set only).

Every function takes a `Nodes` (load, store, prefetch) and checks each node it reads
against its place (level, seq range, hash prefix, count): a forged but well-hashed node
raises TreeError, which the engine reports as a corrupt object. The node bounds below live
here only: the tree modules read them as `records_tree.X` at call time (tests shrink them).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter, lt

from .node_bytes import KeyLeafScan, inner_node_bytes, splice_inner_node

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
    #: items; (digest, count, depth) of key leaves read by key_tree._key_found (framed, ends in place).
    framed: set = field(default_factory=set)
    #: (digest, seq) -> node_bytes.item_line of that seq in the lined order leaf `digest`, as
    #: order_tree._lined_items found it (a digest names fixed bytes): the write's splice does not search again.
    lines: dict = field(default_factory=dict)
    #: (digest, key) of keys key_tree._key_found found absent from the key leaf `digest` (not even their
    #: string in its bytes): key_tree._key_insert does not look for them again.
    absent: set = field(default_factory=set)


def key_hash(key: str) -> int:
    """The sha256 of a record key as a 256-bit number: its path in the key index."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest(), "big")


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


def checked_children(nodes: Nodes, digest: str, kind: str, bound: int, count: int, what: str,
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


def pick_children(children: list[list], wanted: Iterable[int]) -> dict[int, list]:
    """index -> `[index, digest, size]` of those `wanted` indexes among checked children
    (sorted by index), found by bisection on the children themselves (no index list built)."""
    picked = {}
    size = len(children)
    for index in wanted:
        at = bisect_left(children, index, key=_index_of)
        if at < size and children[at][0] == index:
            picked[index] = children[at]
    return picked


def with_children(old_children: list[list], updates: list[tuple[int, str | None, int]]) -> list[list]:
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


def inner_data(nodes: Nodes, digest: str | None, head: bytes, old_children: list[list], listed: list[list],
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


def store_inner(nodes: Nodes, document: dict, data: bytes | None, total: int,
                 replaced: list[tuple[int, tuple[str | None, int], tuple[str | None, int]]], bound: int) -> str:
    """Store a changed inner node (its spliced bytes `data`, or encoded when None) and
    remember it sound for `total` records (nodes.sound, as checked_children would after checking
    it): its other children were checked in the old node, and each replaced one is checked
    here (index in [0, bound), a size >= 1 when kept), so the next write skips that check."""
    digest = nodes.store(document) if data is None else nodes.store_bytes(document, data)
    if all(0 <= index < bound and (new is None or size >= 1) for index, _old, (new, size) in replaced):
        nodes.sound.add((digest, total))
    return digest


def order_height(next_seq: int) -> int:
    """Levels above the leaves of an order tree whose seqs are below `next_seq`."""
    height, span = 0, ORDER_LEAF
    while span < next_seq:
        span *= ORDER_FANOUT
        height += 1
    return height


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
