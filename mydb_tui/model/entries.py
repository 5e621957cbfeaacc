"""The entries of a database as the Entries pane lists them, without Textual.

What to list (the name filter), in which pieces (chunks, pages of a big tenant) and with
which details (kind and number of versions, read once per head): the tree widget only
draws what these give it, and the CLI can list with the same code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dbengine.dbengine import EntryInfo

from .errors import error_text

#: Entries read and shown together while a tenant opens.
CHUNK = 100
#: Above this many entries a tenant shows a page (PAGE) of names at a time, details for the rows on screen only.
LAZY_ENTRIES = 2000
PAGE = 1000


@dataclass
class TenantData:
    """A tenant row and what is known of its entries."""

    tenant: str
    loaded: bool = False
    count: int | None = None
    widths: tuple[int, int] = (0, 0)  # widest entry label under it: (full, compact)
    names: list[str] | None = None  # a big tenant's entry names, sorted (shown a page at a time)
    shown: int = 0  # how many of `names` are in the tree


@dataclass
class EntryData:
    """An entry row: its details once read (`info`), or why they cannot be (`error`)."""

    tenant: str
    entry: str
    info: EntryInfo | None = None
    error: str | None = None


@dataclass
class NoteData:
    """A placeholder row ("loading…", an error)."""

    text: str
    error: bool = False


NodeData = TenantData | EntryData | NoteData


def filter_names(names: list[str], text: str) -> list[str]:
    """The names holding `text`, case-insensitively (all of them for an empty `text`)."""
    if not text:
        return names
    needle = text.lower()
    return [name for name in names if needle in name.lower()]


def matching_entries(engine: Any, tenants: list[str], text: str,
                     cancelled: Callable[[], bool] = lambda: False) -> dict[str, list[str]] | None:
    """Per tenant with a match, its entry names holding `text` (tenants whose entries cannot
    be read are left out); None when `cancelled()` turned true on the way."""
    matches: dict[str, list[str]] = {}
    for tenant in tenants:
        if cancelled():
            return None
        try:
            names = filter_names(engine.entries(tenant), text)
        except Exception:  # an unreadable tenant matches nothing; its error shows when opened
            continue
        if names:
            matches[tenant] = names
    return matches


def chunks(names: list[str], size: int = CHUNK) -> Iterator[tuple[int, list[str]]]:
    """(start, names[start:start + size]) over `names`: the pieces a tenant opens in."""
    for start in range(0, len(names), size):
        yield start, names[start:start + size]


class EntryDetails:
    """Kind and number of versions of entries, read again only when an entry's head moved.

    Used from worker threads: the cache is guarded by a lock.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._infos: dict[tuple[str, str], EntryInfo] = {}
        self._lock = threading.Lock()

    def read(self, tenant: str, entry: str) -> EntryData:
        """The entry's row data; an entry that cannot be read gets its error text instead."""
        try:
            head = self.engine.get_digest(tenant, entry)
            with self._lock:
                info = self._infos.get((tenant, entry))
            if info is None or info.head != head:
                info = self.engine.entry_info(tenant, entry)
                with self._lock:
                    self._infos[(tenant, entry)] = info
            return EntryData(tenant, entry, info)
        except Exception as error:  # an engine error, or anything a forged head may still cause
            return EntryData(tenant, entry, None, error_text(error))
