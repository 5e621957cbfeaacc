"""The ORDER tree of a record entry (FORMAT.md §6): the records by seq (first-insertion order),
read and written node by node (lookups, scans, updates, diffs); see records_tree.py for its shape.
A write's fast paths read and splice lined leaves line by line (_lined_*)."""

from __future__ import annotations

import marshal
from collections.abc import Callable, Iterable, Iterator
from itertools import compress, islice, repeat
from operator import eq, itemgetter, lt, not_
from typing import Any

from . import records_tree as rt
from .node_bytes import (
    ORDER_LEAF_LINED_HEAD,
    ORDER_LEAF_LINED_TAIL,
    item_bytes,
    item_line,
    last_line_seq,
    lined_leaf_framed,
    order_leaf_is_canonical,
    order_node_head,
    splice_lines,
    splice_order_leaf,
)
from .records_tree import (
    ORDER_LEAF_KIND,
    ORDER_NODE_KIND,
    Nodes,
    Tree,
    TreeError,
    checked_children,
    inner_data,
    order_height,
    pick_children,
    store_inner,
    with_children,
)
from .utils import strict_loads, to_json_bytes


def _span(level: int) -> int:
    return rt.ORDER_LEAF * rt.ORDER_FANOUT**level


def _order_children(nodes: Nodes, digest: str, level: int, count: int) -> list[list]:
    """The checked children of the order node `digest` at `level` holding `count` records."""
    return checked_children(nodes, digest, ORDER_NODE_KIND, rt.ORDER_FANOUT, count, f"an order node of level {level}",
                            level)


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
    if seqs[0] < base or seqs[-1] >= base + rt.ORDER_LEAF or not all(map(lt, seqs, islice(seqs, 1, None))):
        last = base - 1
        for seq in seqs:
            if not last < seq < base + rt.ORDER_LEAF:
                raise TreeError(digest, f"order leaf has sequence number {seq} outside [{base}, {base + rt.ORDER_LEAF})")
            last = seq
    return items


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
            children = pick_children(_order_children(nodes, digest, level, count), split)
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
    children = pick_children(old_children, groups)
    replaced: list[tuple[int, tuple[str, int], tuple[str, int]]] = []
    for index, group in groups.items():
        _i, child, size = children.get(index, (index, None, 0))
        new, new_size = _order_update(nodes, child, level - 1, base + index * span, size, group)
        replaced.append((index, (child, size), (new, new_size)))
    listed = with_children(old_children, [(index, new, size) for index, _old, (new, size) in replaced])
    if not listed:
        return None, 0
    document = {"__kind__": ORDER_NODE_KIND, "level": level, "children": listed}
    data = inner_data(nodes, digest, order_node_head(level), old_children, listed, replaced)
    total = sum(map(itemgetter(2), listed))
    return store_inner(nodes, document, data, total, replaced, rt.ORDER_FANOUT), total


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
    if nodes.data is None or nodes.store_bytes is None or not base <= min(seqs) <= max(seqs) < base + rt.ORDER_LEAF:
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
                    or not last_seq < item[0] < base + rt.ORDER_LEAF:
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
