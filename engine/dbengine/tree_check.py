"""verify's check of one record version's trees: each against its place, and the key index
against the order tree (FORMAT.md §6/6b)."""

from __future__ import annotations

from .key_tree import key_diff, key_pairs
from .order_tree import order_diff, order_leaves
from .records_tree import Nodes, Tree, TreeError


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
