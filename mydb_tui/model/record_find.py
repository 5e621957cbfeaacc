"""Finding in one record version: sort order of the record table (Textual-free)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

KEY_COLUMN = 0  # column index 0: the record key


def cell_value(stored: Any, field: str | None) -> Any:
    """The value a column sorts by: a dict record's `field` (None: not a dict, or no such
    field), or the whole value when `field` is None (a table of non-dict records)."""
    if field is None:
        return stored
    if type(stored) is dict:
        return stored.get(field)
    return None


def sort_rank(value: Any) -> tuple:
    """A total order over JSON values: missing/null first, then numbers, text, the rest as JSON."""
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool):
        return (1, int(value), "")
    if isinstance(value, (int, float)):
        return (2, value, "")
    if isinstance(value, str):
        return (3, 0, value.casefold())
    return (4, 0, json.dumps(value, sort_keys=True, default=str))


def next_sort(current: tuple[int, bool] | None, column: int) -> tuple[int, bool] | None:
    """Click/`s` cycle on `column`: ascending, then descending, then insertion order (None)."""
    if current is None or current[0] != column:
        return (column, False)
    if not current[1]:
        return (column, True)
    return None


def sorted_keys(keys: Iterable[str], value_of: Callable[[str], Any], by_key: bool, field: str | None,
                reverse: bool, cancelled: Callable[[], bool] = lambda: False) -> list[str] | None:
    """`keys` ordered by the key (`by_key`) or by `field` of each value (see cell_value);
    stable: ties keep insertion order. None when `cancelled()` turns true."""
    ranked = []
    for i, key in enumerate(keys):
        if i % 4096 == 0 and cancelled():
            return None
        rank = (3, 0, key.casefold()) if by_key else sort_rank(cell_value(value_of(key), field))
        ranked.append((rank, key))
    if cancelled():
        return None
    ranked.sort(key=lambda item: item[0], reverse=reverse)
    return [key for _rank, key in ranked]


def row_matches(key: str, stored: Any, needle: str) -> bool:
    """Does the record hold `needle` (already casefolded) in its key or its value's JSON text?"""
    if needle in key.casefold():
        return True
    try:
        text = json.dumps(stored, ensure_ascii=False, default=str)
    except ValueError:  # a forged value json cannot write (a cycle): its text is unknown
        return False
    return needle in text.casefold()
