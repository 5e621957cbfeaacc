"""Finding in one record version: the rows `/` keeps, and the sort order of the record
table (Textual-free).

find_chunks() scans the records a chunk at a time: one json.dumps of a chunk's values
and one casefold of it tell at C speed whether any record of the chunk can hold the text;
only chunks that may are checked record by record (row_matches, the reference).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from dbengine.errors import DbEngineError

KEY_COLUMN = 0  # column index 0: the record key
FIND_CHUNK = 512  # records per chunk of find_chunks


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


def find_chunks(records: Mapping[str, Any], keys: Sequence[str], needle: str,
                size: int = FIND_CHUNK) -> Iterator[tuple[int, list[str]]]:
    """(keys scanned so far, the keys of the last chunk whose record holds `needle`, already
    casefolded, in its key or its value's JSON text), chunk after chunk of `keys`, in their
    order; a record that cannot be read is skipped. Stop iterating to cancel."""
    read, scanned = iter(keys), 0  # iterated, not sliced: a lazy key list reads leaf after leaf
    while True:
        chunk, values, missing = [], [], set()
        for key in islice(read, size):  # each value read as its key comes (a view keeps the latest)
            chunk.append(key)
            try:
                values.append(records[key])
            except (DbEngineError, KeyError):
                values.append(None)
                missing.add(key)
        if not chunk:
            return
        scanned += len(chunk)
        try:  # each value's text is in the chunk's text: a chunk without the needle has no match
            text = json.dumps(values, ensure_ascii=False, default=str)
        except ValueError:  # a forged value json cannot write: check them one by one
            text = None
        if text is not None and needle not in text.casefold() and needle not in "\n".join(chunk).casefold():
            yield scanned, []
            continue
        yield scanned, [key for key, stored in zip(chunk, values, strict=True)
                        if key not in missing and row_matches(key, stored, needle)]
