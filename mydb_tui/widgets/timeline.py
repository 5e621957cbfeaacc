"""The history timeline of one entry: its versions newest first, rendered line by line.

The versions come from `engine.log_view()`, a lazy sequence that knows the number of
versions at once and reads the history index a page at a time: pages are read in a
thread worker when their rows scroll into view (a row not read yet shows "…"), and a
row is formatted only when it is on screen, so 1,000,000 versions open instantly and
`G` reads only the oldest page. A
version whose metadata is damaged (`Version.damage`: a date no timezone can show, an
empty user, a restored-from that is not a digest...) shows "invalid date" where its
date cannot be shown and a "⚠ damaged" marker; the viewer shows what the damage is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dbengine import Version
from dbengine.index_window import LogView
from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import get_current_worker

from mydb_tui.model.dates import INVALID_DATE, local_time
from mydb_tui.model.timeline import TimelineRow, row_for
from mydb_tui.model.timeline_filter import (
    FilterError,
    TimelineFilter,
    filter_title,
    parse_filter,
    run_filter,
)

from ..model.errors import error_text
from ..model.escape import display_safe
from .activity_strip import ActivityStrip
from .line_list import LineList
from .loading import DelayedLoading

USER_WIDTH = 14  # at most; narrower when every user name is shorter
DATE_WIDTH = 22  # `2026-04-26 18:59 +0100`
NO_OFFSET_DATE = 16  # `2026-04-26 18:59`
SHORT_DATE = 11  # `04-26 18:59`
SHORT_USER = 8
SUMMARY_WIDTH = 12
HEAD_WIDTH = len(" HEAD ")
RESTORED_FULL = len("↺ restored from 1234567")
RESTORED_MID = len("↺ from 1234567")
RESTORED_SHORT = len("↺ 1234567")
DAMAGED_FULL = len("⚠ damaged")
DAMAGED_SHORT = len("⚠")
STRIP_MIN_HEIGHT = 8  # the activity strip shows above a timeline at least this tall (border included)
SHORT_INVALID_DATE = "bad date"  # "invalid date" in a column too narrow for it


_NEW_VERSIONS_MAX = 1000  # a toast counts at most these (a writer's burst)


@dataclass(frozen=True)
class Columns:
    """Widths of the optional timeline columns (0: not shown); digest and markers always show."""

    date: int
    user: int
    summary: int
    restored: int  # 0 when no version of the entry was restored
    damaged: int = 0  # the damage marker: 0 when no version of the entry is damaged

    @property
    def width(self) -> int:
        optional = sum(2 + w for w in (self.date, self.user, self.summary) if w)
        markers = sum(1 + w for w in (self.restored, self.damaged) if w)
        return 2 + 7 + optional + 2 + HEAD_WIDTH + markers


def fit_columns(width: int, user_width: int, any_restored: bool, any_damaged: bool = False) -> Columns:
    """The richest columns that fit `width` cells. What tells versions apart goes last: first
    the date's offset and the markers' words go ("↺ restored from a12c70f" → "↺ a12c70f"),
    then the date shortens, then the changes and the user drop; "⚠ damaged" shortens to "⚠"
    last; a marker never drops."""
    short_user = min(user_width, SHORT_USER)
    full, mid, short = (RESTORED_FULL, RESTORED_MID, RESTORED_SHORT) if any_restored else (0, 0, 0)
    damaged, tiny = (DAMAGED_FULL, DAMAGED_SHORT) if any_damaged else (0, 0)
    candidates = [
        Columns(DATE_WIDTH, user_width, SUMMARY_WIDTH, full, damaged),
        Columns(DATE_WIDTH, short_user, SUMMARY_WIDTH, full, damaged),
        Columns(NO_OFFSET_DATE, short_user, SUMMARY_WIDTH, full, damaged),
        Columns(NO_OFFSET_DATE, short_user, SUMMARY_WIDTH, mid, damaged),
        Columns(NO_OFFSET_DATE, short_user, SUMMARY_WIDTH, short, damaged),
        Columns(SHORT_DATE, short_user, SUMMARY_WIDTH, short, damaged),
        Columns(SHORT_DATE, short_user, 0, short, damaged),
        Columns(SHORT_DATE, 0, 0, short, damaged),
        Columns(SHORT_DATE, 0, 0, short, tiny),
        Columns(0, 0, 0, short, tiny),
    ]
    return next((c for c in candidates if c.width <= width), candidates[-1])


@dataclass
class _Loaded:
    generation: int
    tenant: str
    entry: str
    kind: str
    versions: Sequence[Version]
    select: str | None
    found: int | None = None  # the row of `select` (or of the version selected before), when found


class Timeline(DelayedLoading, LineList):
    """Versions of the selected entry: digest, date, user, change summary, markers.

    Columns shrink or drop to fit the pane (fit_columns), so the HEAD and restored-from
    markers stay on screen down to 80-column terminals."""

    PAGE: ClassVar[int] = 256  # versions read at a time from the history index

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "app.compare_parent", "Compare with parent", show=False),
        Binding("space", "toggle_mark", "Mark"),
        Binding("escape", "clear_mark", "Clear mark"),
        Binding("/", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter"),
        Binding("d", "app.compare", "Compare"),
        Binding("D", "app.compare_head", "vs HEAD"),
        Binding("r", "app.restore", "Restore"),
        Binding("e", "app.edit", "Edit"),
        Binding("c", "copy_digest", "Copy digest"),
    ]

    class VersionHighlighted(Message):
        """The cursor moved to a version (digest None: the timeline was emptied)."""

        def __init__(self, tenant: str, entry: str, digest: str | None) -> None:
            super().__init__()
            self.tenant, self.entry, self.digest = tenant, entry, digest

    class FilterAsked(Message):
        """`/`: the app asks for a filter (screens.timeline_filter) and calls `set_filter` with it."""

        def __init__(self, entry: str, current: str) -> None:
            super().__init__()
            self.entry, self.current = entry, current

    class LoadFailed(Message):
        def __init__(self, tenant: str, entry: str, error: Exception) -> None:
            super().__init__()
            self.tenant, self.entry, self.error = tenant, entry, error

    class NewVersions(Message):
        """A reload of the shown entry found versions above the HEAD it showed (newest first)."""

        def __init__(self, tenant: str, entry: str, versions: list[Version]) -> None:
            super().__init__()
            self.tenant, self.entry, self.versions = tenant, entry, versions

    def __init__(self, engine: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.tenant: str | None = None
        self.entry: str | None = None
        self.kind: str | None = None
        self.versions: Sequence[Version] = []
        self.head: str | None = None
        self._marked: str | None = None
        self._rows: dict[int, TimelineRow] = {}
        self._generation = 0
        self._dates: dict[int, str] = {}
        self._pages_asked: set[int] = set()  # pages of the LogView being read
        self._announce: int | None = None  # a cursor row whose version was not read yet
        self._pending_select: str | None = None
        self._any_restored = False
        self._any_damaged = False
        self.user_width = USER_WIDTH
        self._columns_key: tuple | None = None
        self._columns = fit_columns(200, USER_WIDTH, False)
        self.empty_message = "Select an entry in the tree."
        self.filter: TimelineFilter | None = None
        self._activity: ActivityStrip | None = None
        self._unfiltered: Sequence[Version] | None = None  # the LogView while a filter is on
        self._full_rows: dict[str, int] = {}  # digest -> row in the whole history (filtered versions)
        self._filter_generation = 0
        self.filter_seconds: float | None = None  # how long the last filter took (worker)

    # -------------------------------------------------------------- queries
    @property
    def marked(self) -> str | None:
        """The digest marked for a comparison (space), or None; the title says "1 marked"."""
        return self._marked

    @marked.setter
    def marked(self, digest: str | None) -> None:
        if digest != self._marked:
            self._marked = digest
            self._set_title()
            self.refresh_bindings()

    def _set_title(self, shown: int | None = None, total: int | None = None) -> None:
        if self.filter is not None:
            title = filter_title(self.filter, len(self.versions) if shown is None else shown,
                                 len(self._unfiltered or ()) if total is None else total)
        else:
            title = "History"
        self.border_title = title + (" · 1 marked (esc clears)" if self._marked else "")

    @property
    def row_count(self) -> int:
        return len(self.versions)

    def version_at(self, index: int) -> Version | None:
        """Version of row `index` if it was read (never reads; asks for its page if not)."""
        versions = self.versions
        if isinstance(versions, LogView):
            version = versions.cached(index)
            if version is None and 0 <= index < len(versions):
                self._ask_page(versions.page_of(index))
            return version
        return versions[index] if 0 <= index < len(versions) else None

    def cached_rows(self, lo: int, hi: int) -> bool:
        """True when the versions of rows lo..hi-1 (those that exist) were read."""
        versions = self.versions
        rows = range(max(lo, 0), min(hi, len(versions)))
        if not isinstance(versions, LogView):
            return True
        return all(versions.cached(i) is not None for i in rows)

    @property
    def selected(self) -> Version | None:
        return self.version_at(self.cursor)

    def position(self, digest: str) -> int | None:
        """Row index of `digest` (0 = HEAD) among the versions read, or None."""
        versions = self.versions
        if isinstance(versions, LogView):
            return versions.find(digest)
        return next((i for i, v in enumerate(versions) if v.digest == digest), None)

    def row(self, index: int) -> TimelineRow | None:
        row = self._rows.get(index)
        if row is None:
            version = self.version_at(index)
            if version is None:
                return None
            if len(self._rows) > 4096:  # a long scroll: keep the formatted rows bounded
                self._rows.clear()
                self._dates.clear()
            row = self._rows[index] = row_for(version, self.head or "")
        return row

    def date(self, index: int) -> str:
        """The local date of row `index` with its UTC offset (as the metadata strip shows it),
        or "invalid date" (see model.dates.local_time)."""
        text = self._dates.get(index)
        if text is None:
            version = self.version_at(index)
            if version is None:
                return ""
            text = self._dates[index] = local_time(version.date, seconds=False)
        return text

    # -------------------------------------------------------------- loading
    def load(self, tenant: str, entry: str, select: str | None = None) -> None:
        """Load the history of `entry` in a worker; keep `select` (a digest) selected."""
        same = (tenant, entry) == (self.tenant, self.entry)
        if same and select is None:
            # A reload (another process wrote) must not drop the selection a write asked for
            # when it cancels that write's load: keep the pending select.
            select = self._pending_select
        self._pending_select = select
        previous = None
        if not same:
            self._drop_filter()
            self.marked = None
            self.versions = []
            self._rows.clear()
            self._dates.clear()
            self._pages_asked.clear()
            self.border_subtitle = ""
            self.tenant, self.entry, self.kind, self.head = tenant, entry, None, None
            self.empty_message = "loading…"
            self.reset_rows()
            self.show_loading()
        elif self.selected is not None:  # where the selected version will be: rows added on top move it down
            previous = (self.selected.digest, self.cursor, len(self.versions))
        self._generation += 1
        self._load(self._generation, tenant, entry, select, previous)

    def clear(self, message: str = "Select an entry in the tree.") -> None:
        self._generation += 1
        self._drop_filter()
        self.tenant = self.entry = self.kind = self.head = self.marked = None
        self.versions = []
        self._rows.clear()
        self._dates.clear()
        self._pages_asked.clear()
        self.border_subtitle = ""
        self.empty_message = message
        if self.strip is not None:
            self.strip.clear()
        self.hide_loading()
        self.reset_rows()

    @work(thread=True, exclusive=True, group="timeline")
    def _load(self, generation: int, tenant: str, entry: str, select: str | None,
              previous: tuple[str, int, int] | None = None) -> None:
        engine = self.engine
        found = None
        try:
            info = engine.entry_info(tenant, entry)
            versions = engine.log_view(tenant, entry, page=self.PAGE)
            if len(versions):
                versions.load_page(0)
            if select is not None:
                found = versions.find(select)
            elif previous is not None:
                digest, row, count = previous
                guess = row + len(versions) - count
                found = versions.find(digest, near=guess)
        except Exception as error:  # an engine error, or anything forged data may still cause
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._failed, generation, tenant, entry, error)
            return
        if not get_current_worker().is_cancelled:
            loaded = _Loaded(generation, tenant, entry, info.kind, versions, select, found)
            self.app.call_from_thread(self._apply, loaded)

    def _ask_page(self, number: int) -> None:
        """Read page `number` of the LogView in a worker (once)."""
        if number in self._pages_asked:
            return
        self._pages_asked.add(number)
        self._read_page(self._generation, self.versions, number)

    @work(thread=True, group="timeline-pages")
    def _read_page(self, generation: int, versions: LogView, number: int) -> None:
        try:
            versions.load_page(number)
        except Exception as error:  # an engine error, or anything forged data may still cause
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._failed, generation, self.tenant, self.entry, error)
            return
        self.app.call_from_thread(self._page_read, generation, versions, number)

    def _page_read(self, generation: int, versions: LogView, number: int) -> None:
        if generation != self._generation or versions is not self.versions:
            return
        self._pages_asked.discard(number)
        self._note_columns(versions.load_page(number))
        self.refresh_rows()
        if self._announce is not None and self._announce == self.cursor:
            self.on_cursor_moved(self.cursor)
        self.refresh_bindings()

    def _note_columns(self, versions: Sequence[Version], reset: bool = False) -> None:
        """Widen the user column and show the restored/damaged markers for newly read versions."""
        users = {v.user_id for v in versions}
        width = min(USER_WIDTH, max([4, *(len(display_safe(u)) for u in users)]))
        restored = any(v.restored_from for v in versions)
        damaged = any(v.damage for v in versions)
        if reset:
            self.user_width, self._any_restored, self._any_damaged = width, restored, damaged
        else:
            self.user_width = max(self.user_width, width)
            self._any_restored |= restored
            self._any_damaged |= damaged

    def _failed(self, generation: int, tenant: str, entry: str, error: Exception) -> None:
        if generation != self._generation:
            return
        self.hide_loading()
        self.versions = []
        self._rows.clear()
        self._dates.clear()
        self.border_subtitle = ""
        self.empty_message = f"⚠ {display_safe(error_text(error))}"
        if self.strip is not None:
            self.strip.clear()
        self.reset_rows()
        self.post_message(self.LoadFailed(tenant, entry, error))

    def _apply(self, loaded: _Loaded) -> None:
        if loaded.generation != self._generation:
            return  # the user moved on
        self._pending_select = None
        old_head = self.head  # None after a switch to another entry
        previous = self.selected.digest if self.selected else None
        old_top = self.scroll_offset.y
        old_cursor = self.cursor
        old_count = len(self.versions)
        self.hide_loading()
        self.kind = loaded.kind
        self.versions = loaded.versions
        self.head = getattr(loaded.versions, "head", None) or (loaded.versions[0].digest if loaded.versions else None)
        self._rows.clear()
        self._dates.clear()
        self._pages_asked.clear()
        first_page = loaded.versions.load_page(0) if isinstance(loaded.versions, LogView) and loaded.versions \
            else loaded.versions
        self._note_columns(first_page, reset=True)
        if self.marked is not None and self.position(self.marked) is None:
            self.marked = None
        self.empty_message = "no versions"
        self.border_subtitle = ""
        target = loaded.select or previous
        index = None
        if target is not None and target == previous:
            # the selection now (the user may have moved since the load began): rows added on
            # top move it down by their number
            guess = old_cursor + len(self.versions) - old_count
            found = self.version_at(guess) if 0 <= guess < len(self.versions) else None
            index = guess if found is not None and found.digest == previous else None
        if index is None and target is not None:
            index = self.position(target)
        if index is None and loaded.select is not None:
            index = loaded.found
        self.reset_rows(index or 0)
        if target and target == previous and index is not None:
            # New versions arrived on top: keep the selected row where it was on screen.
            self.scroll_to(y=max(0, old_top + index - old_cursor), animate=False, immediate=True)
        if old_head is not None and self.head is not None and self.head != old_head:
            count = self.position(old_head)  # the versions above the old head are the new ones
            new = [self.version_at(i) for i in range(min(count or 1, _NEW_VERSIONS_MAX))]
            self.post_message(self.NewVersions(loaded.tenant, loaded.entry, [v for v in new if v is not None]))
        strip = self.strip
        if strip is not None and self.head is not None:
            strip.load(loaded.tenant, loaded.entry, self.head, len(loaded.versions))
        if self.filter is not None:  # a reload (a write) while filtered: filter the new history
            self._unfiltered = loaded.versions
            self._start_filter(self.filter, previous)

    # -------------------------------------------------------------- rendering
    def columns(self) -> Columns:
        """The columns that fit the pane now (the HEAD, restored and damage markers always do)."""
        width = max(1, self.content_region.width - 1)  # a vertical scrollbar may come
        key = (width, self.user_width, self._any_restored, self._any_damaged)
        if self._columns_key != key:
            self._columns_key = key
            self._columns = fit_columns(width, self.user_width, self._any_restored, self._any_damaged)
        return self._columns

    def render_header(self) -> Text:
        cols = self.columns()
        text = f"  {'digest':<7}"
        for name, width in (("date", cols.date), ("user", cols.user), ("changes", cols.summary)):
            if width:
                text += f"  {name:<{width}}"
        return Text(text)

    def row_width(self) -> int:
        return self.columns().width

    def render_row(self, index: int) -> Text:
        row = self.row(index)
        cols = self.columns()
        colors = self.palette
        text = Text(no_wrap=True, end="")
        if row is None:  # its page is being read
            text.append("  …", style="dim")
            return text
        text.append("● " if row.digest == self.marked else "  ", style=f"bold {colors.marked}")
        text.append(row.short, style=colors.digest)
        if cols.date:
            text.append("  ")
            date = self.date(index)
            if date == INVALID_DATE:
                shown = date if cols.date >= len(date) else SHORT_INVALID_DATE
                text.append(f"{shown:<{cols.date}}", style=f"bold {colors.error}")
            else:
                text.append(date[5:16] if cols.date == SHORT_DATE else date[: cols.date], style=colors.date)
        if cols.user:
            text.append("  ")
            user = display_safe(row.user)
            if len(user) > cols.user:
                user = user[: cols.user - 1] + "…"
            text.append(f"{user:<{cols.user}}", style=colors.user)
        if cols.summary:
            text.append("  ")
            text.append(f"{row.summary:<{cols.summary}}", style="dim")
        text.append("  ")
        if row.is_head:
            text.append(" HEAD ", style=colors.head)
        else:
            text.append(" " * len(" HEAD "))
        if row.restored_from:
            label = {RESTORED_FULL: "↺ restored from ", RESTORED_MID: "↺ from "}.get(cols.restored, "↺ ")
            text.append(" ")
            text.append(f"{label}{row.restored_from}", style=f"italic {colors.restored}")
        elif cols.restored and cols.damaged:
            text.append(" " * (1 + cols.restored))  # damage markers line up
        if row.damage:
            text.append(" ")
            text.append("⚠ damaged" if cols.damaged == DAMAGED_FULL else "⚠", style=f"bold {colors.error}")
        return text

    def on_resize(self) -> None:
        self.columns()  # before LineList.on_resize sizes the rows with row_width()
        if self.strip is not None:
            self.strip.display = self.outer_size.height >= STRIP_MIN_HEIGHT  # a small pane keeps its rows

    # -------------------------------------------------------------- actions
    def on_cursor_moved(self, index: int) -> None:
        self.border_subtitle = f"{index + 1:,} / {len(self.versions):,}"
        version = self.version_at(index)
        self._announce = None if version is not None else index  # announced once its page is read
        if version is not None and self.strip is not None:
            self.strip.select(version.date)
        if version is not None and self.tenant is not None and self.entry is not None:
            self.post_message(self.VersionHighlighted(self.tenant, self.entry, version.digest))

    def action_toggle_mark(self) -> None:
        version = self.selected
        if version is None:
            return
        self.marked = None if self.marked == version.digest else version.digest
        self.refresh_rows()
        if self.marked:
            self.notify(f"Marked {version.digest[:7]}: press d to compare it with another version", timeout=3)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_mark":
            return self.marked is not None  # esc shows (and works) only while a version is marked
        if action == "clear_filter":
            return self.filter is not None and self.marked is None  # esc: the mark first, then the filter
        return True

    def action_clear_mark(self) -> None:
        if self.marked is not None:
            self.marked = None
            self.refresh_rows()

    def action_copy_digest(self) -> None:
        version = self.selected
        if version is not None:
            self.app.copy_to_clipboard(version.digest)
            self.notify(f"Copied {version.digest}", timeout=3)

    # -------------------------------------------------------------- activity strip
    @property
    def strip(self) -> ActivityStrip | None:
        """The activity strip above this timeline (None when the app has none)."""
        if self._activity is None and self.is_attached and self.parent is not None:
            self._activity = next(iter(self.parent.query_children(ActivityStrip)), None)
        return self._activity

    # -------------------------------------------------------------- filter
    def _drop_filter(self) -> None:
        self._filter_generation += 1
        self.filter = None
        self._unfiltered = None
        self._full_rows = {}
        self._set_title()

    def action_filter(self) -> None:
        """Ask for a filter (user:, words, dates, key:/path:) and filter the versions."""
        if self.tenant is None or self.entry is None:
            return
        current = self.filter.text if self.filter is not None else ""
        self.post_message(self.FilterAsked(self.entry, current))

    def set_filter(self, text: str | None) -> None:
        """Filter the versions by `text` ("" clears the filter; None: nothing changes)."""
        if text is None or self.tenant is None:
            return
        try:
            query = parse_filter(text)
        except FilterError as error:
            self.notify(str(error), severity="error")
            return
        if query is None:
            self.action_clear_filter()
            return
        selected = self.selected.digest if self.selected else None
        if self.filter is None:
            self._unfiltered = self.versions
        self.filter = query
        self._start_filter(query, selected)

    def _start_filter(self, query: TimelineFilter, select: str | None) -> None:
        self._filter_generation += 1
        self.show_loading()
        self._run_filter(self._filter_generation, self.tenant, self.entry, self.kind, query, select)

    @work(thread=True, exclusive=True, group="timeline-filter")
    def _run_filter(self, generation: int, tenant: str, entry: str, kind: str | None,
                    query: TimelineFilter, select: str | None) -> None:
        """Keep the versions that match, from the index's columns (model.timeline_filter)."""
        worker = get_current_worker()
        started = time.perf_counter()
        try:
            result = run_filter(self.engine, tenant, entry, query, kind, lambda: worker.is_cancelled)
        except Exception as error:  # an engine error or a bad term: a message, never a traceback
            if not worker.is_cancelled:
                self.app.call_from_thread(self._filter_failed, generation, error)
            return
        if result is not None and not worker.is_cancelled:
            self.app.call_from_thread(self._filtered, generation, query, result.found, result.total, result.rows,
                                      select, time.perf_counter() - started)

    def _filter_failed(self, generation: int, error: Exception) -> None:
        if generation != self._filter_generation:
            return
        self.hide_loading()
        self.notify(f"Filter: {display_safe(error_text(error))}", severity="error")
        if self._unfiltered is not None and self.versions is not self._unfiltered:
            self._restore_unfiltered()
        self._drop_filter()

    def _filtered(self, generation: int, query: TimelineFilter, found: list[Version], total: int,
                  rows: dict[str, int], select: str | None, seconds: float) -> None:
        if generation != self._filter_generation or self.filter is not query:
            return
        self.hide_loading()
        self.filter_seconds = seconds
        self._full_rows = rows
        self.versions = found
        self._rows.clear()
        self._dates.clear()
        self.empty_message = "no version matches the filter (esc clears it)"
        index = next((i for i, v in enumerate(found) if v.digest == select), 0) if select else 0
        self._set_title(len(found), total)
        self.reset_rows(index)
        self.refresh_bindings()

    def _restore_unfiltered(self) -> None:
        selected = self.selected.digest if self.selected else None
        self.versions = self._unfiltered if self._unfiltered is not None else []
        self._rows.clear()
        self._dates.clear()
        self._pages_asked.clear()
        self.empty_message = "no versions"
        index = self._full_rows.get(selected, 0) if selected else 0
        if index >= len(self.versions):
            index = 0
        self.reset_rows(index)

    def action_clear_filter(self) -> None:
        if self.filter is None:
            return
        self.hide_loading()
        self._restore_unfiltered()
        self._drop_filter()
        self.refresh_bindings()
