"""A lazy, read-only view of one record version stored as trees (records_tree.py,
order_tree.py, key_tree.py).

Nothing is read up front: the i-th key is found through the order tree's counts
(O(depth) node reads), a value by key through the key index, and the leaves read for a
window are kept so that the rows of one screen cost one descent.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, overload

from .key_tree import key_lookup_many
from .order_tree import order_get_many, order_leaves, order_locate, order_rank
from .records import RecordsView
from .records_tree import Nodes, Tree, TreeError

_KEPT_LEAVES = 256  # leaves a view keeps (a few screens each way)


class LazyKeys(Sequence):
    """The keys of a record version in insertion order, read window by window.

    Supports len, int and slice indexing, iteration and index(key) (O(depth) reads)."""

    def __init__(self, view: TreeRecordsView):
        self._view = view

    def __len__(self) -> int:
        return self._view._tree.count

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self._view._keys_between(start, stop)
        if not isinstance(index, int):
            raise TypeError("record keys are indexed by int or slice")
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("record index out of range")
        first, items = self._view._leaf_at(index)
        return items[index - first][1]

    def __iter__(self) -> Iterator[str]:
        for _first, items in self._view._leaves(0):
            for item in items:
                yield item[1]

    def __contains__(self, key: object) -> bool:
        return type(key) is str and self._view._seq_of(key) is not None

    def index(self, key: Any, start: int = 0, stop: int | None = None) -> int:
        """The position of `key` in insertion order (ValueError when absent)."""
        seq = self._view._seq_of(key) if type(key) is str else None
        position = self._view._rank(seq) if seq is not None else None
        if position is None or position < start or (stop is not None and position >= stop):
            raise ValueError(f"{key!r} is not a record key")
        return position


class TreeRecordsView(RecordsView):
    """The stored records of a tree-format record version, key -> stored value, in insertion
    order; read-only (values are the engine's cached objects). A damaged node raises the
    engine's CorruptObjectError when it is read."""

    def __init__(self, nodes: Nodes, tree: Tree, guard: Callable[[], AbstractContextManager]):
        self._nodes = nodes
        self._tree = tree
        self._guard = guard
        self._kept: OrderedDict[int, list[list]] = OrderedDict()  # first index -> leaf items
        self._values: dict[str, Any] = {}
        self._keys = LazyKeys(self)

    def __len__(self) -> int:
        return self._tree.count

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __getitem__(self, key: str) -> Any:
        if type(key) is not str:
            raise KeyError(key)
        if key in self._values:
            return self._values[key]
        with self._guard():
            seq = key_lookup_many(self._nodes, self._tree, [key]).get(key)
            item = order_get_many(self._nodes, self._tree, [seq]).get(seq) if seq is not None else None
        if item is None or item[1] != key:
            if seq is not None:
                with self._guard():
                    raise _mismatch(self._tree, key, seq)
            raise KeyError(key)
        return item[2]

    def keys_list(self) -> LazyKeys:  # type: ignore[override]
        """The keys in insertion order, as a lazy sequence (len, indexing, slices, index())."""
        return self._keys

    def sample(self, count: int) -> list[Any]:
        """The first `count` values (to guess columns)."""
        values: list[Any] = []
        for _first, items in self._leaves(0):
            values.extend(item[2] for item in items)
            if len(values) >= count:
                break
        return values[:count]

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read the values of `keys` now (in a worker, before they are shown)."""
        wanted = [k for k in keys if type(k) is str and k not in self._values]
        if not wanted:
            return
        with self._guard():
            seqs = key_lookup_many(self._nodes, self._tree, wanted)
            items = order_get_many(self._nodes, self._tree, seqs.values())
        for key, seq in seqs.items():
            item = items.get(seq)
            if item is not None and item[1] == key:
                self._values[key] = item[2]

    # ------------------------------------------------------------------ internals
    def _remember(self, first: int, items: list[list]) -> None:
        self._kept[first] = items
        self._kept.move_to_end(first)
        if len(self._values) > 200_000:
            self._values.clear()
        self._values.update((item[1], item[2]) for item in items)
        while len(self._kept) > _KEPT_LEAVES:
            self._kept.popitem(last=False)

    def _leaf_at(self, index: int) -> tuple[int, list[list]]:
        for first, items in reversed(self._kept.items()):
            if first <= index < first + len(items):
                return first, items
        with self._guard():
            first, items = order_locate(self._nodes, self._tree, index)
        self._remember(first, items)
        return first, items

    def _leaves(self, start: int) -> Iterator[tuple[int, list[list]]]:
        with self._guard():
            for first, items in order_leaves(self._nodes, self._tree, start):
                self._remember(first, items)  # their values are read next, by key
                yield first, items

    def _keys_between(self, start: int, stop: int) -> list[str]:
        keys: list[str] = []
        if start >= stop:
            return keys
        first, items = self._leaf_at(start)
        position = first
        while True:
            keys.extend(item[1] for item in items[max(start - position, 0): stop - position])
            position += len(items)
            if position >= stop:
                return keys
            first, items = self._leaf_at(position)

    def _seq_of(self, key: str) -> int | None:
        with self._guard():
            return key_lookup_many(self._nodes, self._tree, [key]).get(key)

    def _rank(self, seq: int) -> int | None:
        with self._guard():
            return order_rank(self._nodes, self._tree, seq)


def _mismatch(tree: Tree, key: str, seq: int) -> Exception:
    return TreeError(tree.keys or "", f"the key index names sequence number {seq} for {key[:40]!r}, "
                     "whose record in the order tree is another or missing")
