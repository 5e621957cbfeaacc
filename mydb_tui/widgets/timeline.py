"""The history timeline of one entry: its versions newest first, rendered line by line.

The versions come from `engine.log(..., max_items=None)` in a thread worker; a row
is formatted only when it scrolls into view, so 10,000 versions open instantly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dbengine.errors import DbEngineError
from dbengine.history import Version
from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import get_current_worker

from mydb_tui.model.timeline import TimelineRow, row_for

from .line_list import LineList
from .loading import DelayedLoading
from .metadata import local_time
from .safe import clean

USER_WIDTH = 14  # at most; narrower when every user name is shorter
DATE_WIDTH = 22  # `2026-04-26 18:59 +0100`


@dataclass
class _Loaded:
    generation: int
    tenant: str
    entry: str
    kind: str
    versions: list[Version]
    select: str | None


class Timeline(DelayedLoading, LineList):
    """Versions of the selected entry: digest, date, user, change summary, markers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Mark"),
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

    class LoadFailed(Message):
        def __init__(self, tenant: str, entry: str, error: Exception) -> None:
            super().__init__()
            self.tenant, self.entry, self.error = tenant, entry, error

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tenant: str | None = None
        self.entry: str | None = None
        self.kind: str | None = None
        self.versions: list[Version] = []
        self.head: str | None = None
        self.marked: str | None = None
        self._rows: dict[int, TimelineRow] = {}
        self._generation = 0
        self._positions: dict[str, int] = {}
        self._dates: dict[int, str] = {}
        self._pending_select: str | None = None
        self._any_restored = False
        self.user_width = USER_WIDTH
        self.empty_message = "Select an entry in the tree."

    # -------------------------------------------------------------- queries
    @property
    def row_count(self) -> int:
        return len(self.versions)

    @property
    def selected(self) -> Version | None:
        if 0 <= self.cursor < len(self.versions):
            return self.versions[self.cursor]
        return None

    def position(self, digest: str) -> int | None:
        """Row index of `digest` (0 = HEAD), or None."""
        return self._positions.get(digest)

    def row(self, index: int) -> TimelineRow:
        row = self._rows.get(index)
        if row is None:
            row = self._rows[index] = row_for(self.versions[index], self.head or "")
        return row

    def date(self, index: int) -> str:
        """The local date of row `index` with its UTC offset (as the metadata strip shows it)."""
        text = self._dates.get(index)
        if text is None:
            text = self._dates[index] = local_time(self.versions[index].date, seconds=False)
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
        if not same:
            self.marked = None
            self.versions = []
            self._rows.clear()
            self._dates.clear()
            self.border_subtitle = ""
            self._positions = {}
            self.tenant, self.entry, self.kind, self.head = tenant, entry, None, None
            self.empty_message = "loading…"
            self.reset_rows()
            self.show_loading()
        self._generation += 1
        self._load(self._generation, tenant, entry, select)

    def clear(self, message: str = "Select an entry in the tree.") -> None:
        self._generation += 1
        self.tenant = self.entry = self.kind = self.head = self.marked = None
        self.versions, self._positions = [], {}
        self._rows.clear()
        self._dates.clear()
        self.border_subtitle = ""
        self.empty_message = message
        self.hide_loading()
        self.reset_rows()

    @work(thread=True, exclusive=True, group="timeline")
    def _load(self, generation: int, tenant: str, entry: str, select: str | None) -> None:
        engine = self.app.engine
        try:
            info = engine.entry_info(tenant, entry)
            versions = engine.log(tenant, entry, max_items=None)
        except DbEngineError as error:
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._failed, generation, tenant, entry, error)
            return
        if not get_current_worker().is_cancelled:
            loaded = _Loaded(generation, tenant, entry, info.kind, versions, select)
            self.app.call_from_thread(self._apply, loaded)

    def _failed(self, generation: int, tenant: str, entry: str, error: Exception) -> None:
        if generation != self._generation:
            return
        self.hide_loading()
        self.versions, self._positions = [], {}
        self._rows.clear()
        self._dates.clear()
        self.border_subtitle = ""
        self.empty_message = f"⚠ {clean(error)}"
        self.reset_rows()
        self.post_message(self.LoadFailed(tenant, entry, error))

    def _apply(self, loaded: _Loaded) -> None:
        if loaded.generation != self._generation:
            return  # the user moved on
        self._pending_select = None
        previous = self.selected.digest if self.selected else None
        old_top = self.scroll_offset.y
        old_cursor = self.cursor
        self.hide_loading()
        self.kind = loaded.kind
        self.versions = loaded.versions
        self.head = loaded.versions[0].digest if loaded.versions else None
        self._positions = {v.digest: i for i, v in enumerate(loaded.versions)}
        self._rows.clear()
        self._dates.clear()
        users = {v.user_id for v in loaded.versions}
        self.user_width = min(USER_WIDTH, max([4, *(len(clean(u)) for u in users)]))
        self._any_restored = any(v.restored_from for v in loaded.versions)
        if self.marked not in self._positions:
            self.marked = None
        self.empty_message = "no versions"
        self.border_subtitle = ""
        target = loaded.select or previous
        index = self._positions.get(target, 0) if target else 0
        self.reset_rows(index)
        if target and target == previous:
            # New versions arrived on top: keep the selected row where it was on screen.
            self.scroll_to(y=max(0, old_top + index - old_cursor), animate=False, immediate=True)

    # -------------------------------------------------------------- rendering
    def render_header(self) -> Text:
        return Text(f"  {'digest':<7}  {'date':<{DATE_WIDTH}}  {'user':<{self.user_width}}  {'changes':<12}  ")

    def row_width(self) -> int:
        restored = len("↺ restored from 1234567") if self._any_restored else 0
        return 2 + 7 + 2 + DATE_WIDTH + 2 + self.user_width + 2 + 12 + 2 + len(" HEAD  ") + restored

    def render_row(self, index: int) -> Text:
        row = self.row(index)
        text = Text(no_wrap=True, end="")
        text.append("● " if row.digest == self.marked else "  ", style="bold magenta")
        text.append(row.short, style="yellow")
        text.append("  ")
        text.append(self.date(index), style="cyan")
        text.append("  ")
        user = clean(row.user)
        width = self.user_width
        if len(user) > width:
            user = user[: width - 1] + "…"
        text.append(f"{user:<{width}}", style="green")
        text.append("  ")
        text.append(f"{row.summary:<12}", style="dim")
        text.append("  ")
        if row.is_head:
            text.append(" HEAD ", style="bold reverse green")
            text.append(" ")
        else:
            text.append(" " * 7)
        if row.restored_from:
            text.append(f"↺ restored from {row.restored_from}", style="italic magenta")
        return text

    # -------------------------------------------------------------- actions
    def on_cursor_moved(self, index: int) -> None:
        self.border_subtitle = f"{index + 1:,} / {len(self.versions):,}"
        if self.tenant is not None and self.entry is not None:
            self.post_message(self.VersionHighlighted(self.tenant, self.entry, self.versions[index].digest))

    def action_toggle_mark(self) -> None:
        version = self.selected
        if version is None:
            return
        self.marked = None if self.marked == version.digest else version.digest
        self.refresh_rows()
        if self.marked:
            self.notify(f"Marked {version.digest[:7]}: press d to compare it with another version", timeout=3)

    def action_copy_digest(self) -> None:
        version = self.selected
        if version is not None:
            self.app.copy_to_clipboard(version.digest)
            self.notify(f"Copied {version.digest}", timeout=3)
