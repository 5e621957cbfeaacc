"""The rows of a record comparison, with the alignment of same-shape records deferred.

A changed record whose two sides have the same lines by key (the common case: a few
values changed) aligns line by line, so its rows' number and places are known from its
pretty JSON alone; building them (word marks, one DiffRow per line) waits until a row is
read. A comparison of 1,000 changed records shows ~30 rows at first, not 8,000.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import overload

from .align import DiffRow, align, clip_line


class LazyRows(Sequence[DiffRow]):
    """A sequence of DiffRow built by appending rows or deferring a same-shape alignment."""

    def __init__(self) -> None:
        self._starts: list[int] = []  # first row of each block
        self._blocks: list[list[DiffRow] | None] = []  # built rows (None: still deferred)
        self._pending: dict[int, tuple[list[str], list[str]]] = {}  # block -> (old lines, new lines)
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def append(self, row: DiffRow) -> None:
        """Add one built row (a record's header, a note)."""
        if not self._blocks or self._blocks[-1] is None:
            self._starts.append(self._len)
            self._blocks.append([])
        self._blocks[-1].append(row)  # type: ignore[union-attr]
        self._len += 1

    def extend(self, rows: list[DiffRow]) -> None:
        """Add built rows."""
        for row in rows:
            self.append(row)

    def defer(self, old: list[str], new: list[str]) -> None:
        """Add the rows of `align(old, new)` for two line lists of the same length whose
        lines pair up one to one (row k holds line k of each side), built when first read."""
        if not old:
            return
        self._starts.append(self._len)
        self._pending[len(self._blocks)] = (old, new)
        self._blocks.append(None)
        self._len += len(old)

    def _built(self, block: int) -> list[DiffRow]:
        rows = self._blocks[block]
        if rows is None:
            old, new = self._pending.pop(block)
            rows = self._blocks[block] = align(old, new, self._starts[block]).rows
        return rows

    @overload
    def __getitem__(self, index: int) -> DiffRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[DiffRow]: ...

    def __getitem__(self, index: int | slice) -> DiffRow | list[DiffRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("row index out of range")
        block = bisect_right(self._starts, index) - 1
        return self._built(block)[index - self._starts[block]]

    def __iter__(self) -> Iterator[DiffRow]:
        for block in range(len(self._blocks)):
            yield from self._built(block)

    def header_rows(self) -> list[int]:
        """Indices of the header rows (deferred blocks hold none), without building any row."""
        found = []
        for block, rows in enumerate(self._blocks):
            if rows is not None:
                start = self._starts[block]
                found.extend(start + i for i, row in enumerate(rows) if row.kind == "header")
        return found

    def extent(self) -> tuple[int, int, int]:
        """(widest left text, widest right text, highest line number) without building any row:
        a deferred row's sides are its clipped lines."""
        left = right = top = 0
        for block, rows in enumerate(self._blocks):
            if rows is None:
                old, new = self._pending[block]
                left = max(left, max(len(clip_line(line)) for line in old))
                right = max(right, max(len(clip_line(line)) for line in new))
                top = max(top, len(old), len(new))
                continue
            for row in rows:
                if row.left:
                    left = max(left, sum(len(s.text) for s in row.left))
                if row.right:
                    right = max(right, sum(len(s.text) for s in row.right))
                top = max(top, row.left_no or 0, row.right_no or 0)
        return left, right, top
