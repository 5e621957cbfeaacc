"""The entries of a database as the Entries pane lists them, without Textual.

What to list (the name filter), in which pieces (chunks, pages of a big tenant) and with
which details (kind and number of versions, read once per head): the tree widget only
draws what these give it, and the CLI can list with the same code.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbengine.dbengine import EntryInfo

if TYPE_CHECKING:
    from dbengine.dbengine import EntryTable

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
class EntryListing:
    """A tenant's entries as a listing shows them, column by column (row i is `names[i]`,
    in name order): no object per entry, so 100,000 rows print in a fraction of a second."""

    tenant: str
    names: list[str]
    kinds: list[str]
    versions: list[int]
    version_texts: list[str]
    heads: list[str]
    dates: list[Any]  # the head's date as `date_format` shows it (None: an invalid stored date)
    users: list[str]
    #: Each row's metadata damage (None: none), or None when no row has any.
    damage: list[str | None] | None
    #: (name, error) of the entries that cannot be read, in name order.
    errors: list[tuple[str, Exception]]


def list_entries(engine: Any, tenant: str,
                 format_dates: Callable[[dict[str, dt.datetime | None]], dict[str, Any]]) -> EntryListing:
    """Every entry of `tenant` with its kind, number of versions, head, date and user, from
    the engine's entries cache (`DbEngine.entry_table`). `format_dates` maps each distinct
    stored date text to what is shown, given {text: parsed date or None} (e.g. dates.zoned_iso_texts)."""
    table: EntryTable = engine.entry_table(tenant)
    columns = table.columns
    shown = format_dates(columns.moments)
    return EntryListing(tenant, columns.names, columns.kinds, columns.counts, columns.count_texts, columns.digests,
                        list(map(shown.__getitem__, columns.date_texts)), columns.users, columns.damage,
                        sorted(table.errors.items()))


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
