"""The history of one record or one path (`h`): the versions where it changed, old → new.

The engine's `key_history` runs in a thread worker (a loading indicator shows meanwhile);
`enter` opens the compare of the selected version with its parent, on that record or
path; `R` restores just that record or path as it was in the selected version.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer
from textual.worker import get_current_worker

from ..model.errors import error_text
from ..model.escape import display_safe
from ..model.history import HistoryRow, change_index, change_segments, history_row, place_name
from ..widgets.line_list import LineList
from ..widgets.loading import CalmLoadingIndicator
from ..widgets.palette import Palette
from ..widgets.themed_static import ThemedStatic
from .compare import CompareScreen

MARK = {"added": "+", "removed": "-", "changed": "~"}


def segments_text(segments: Any, style: str, marked_style: str) -> Text:
    """Segments (model.align) as Rich text, the marked words in `marked_style`."""
    text = Text(no_wrap=True, end="")
    for segment in segments:
        text.append(segment.text, style=marked_style if segment.marked else style)
    return text


class ChangeRows(LineList):
    """The versions where the record or path changed, newest first, one line each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[HistoryRow] = []
        self.user_width = 4
        self.empty_message = "loading…"

    def on_cursor_moved(self, index: int) -> None:
        screen = self.screen
        if isinstance(screen, KeyHistoryScreen):
            screen.show_detail(index)

    def set_rows(self, rows: list[HistoryRow]) -> None:
        self.rows = rows
        self.user_width = min(12, max([4, *(len(r.user) for r in rows)]))
        self.empty_message = "never changed: no version added, changed or removed it"
        self.reset_rows(0)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def render_header(self) -> Text:
        return Text(f"  {'digest':<7}  {'date':<16}  {'user':<{self.user_width}}  {'change':<7}  old → new")

    def row_width(self) -> int:
        return self.size.width

    def render_row(self, index: int) -> Text:
        row = self.rows[index]
        colors = self.palette
        text = Text(no_wrap=True, end="")
        text.append(f"{MARK.get(row.kind, '?')} ", style=f"bold {colors.change(row.kind)}")
        text.append(row.short, style=colors.digest)
        text.append(f"  {row.date:<16}  ", style=colors.date)
        user = row.user if len(row.user) <= self.user_width else row.user[: self.user_width - 1] + "…"
        text.append(f"{user:<{self.user_width}}", style=colors.user)
        text.append(f"  {row.kind:<7}  ", style=colors.change(row.kind))
        text.append_text(segments_text(row.old, colors.removed, f"bold underline {colors.removed}"))
        text.append(" → ", style="dim")
        text.append_text(segments_text(row.new, colors.added, f"bold underline {colors.added}"))
        text.truncate(max(1, self.scrollable_content_region.width), overflow="ellipsis")
        return text


class KeyHistoryScreen(ModalScreen[None]):
    """The versions where record `key` and/or the value at `path` changed."""

    CSS_PATH = "key_history.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "compare", "Compare with parent"),
        Binding("R", "restore_place", "Restore this"),
        Binding("escape,q", "close", "Close", key_display="esc"),
    ]

    def __init__(self, engine: Any, tenant: str, entry: str, key: str | None, path: str | None) -> None:
        super().__init__()
        self.engine, self.tenant, self.entry = engine, tenant, entry
        self.key, self.path = key, path or None
        self.changes: list[Any] = []
        self.loaded = False

    def _title(self, colors: Palette) -> Text:
        title = Text("History of ", style="bold")
        title.append(place_name(self.key, self.path), style=f"bold {colors.key}")
        title.append(" in ")
        title.append(display_safe(f"{self.tenant} / {self.entry}"), style="bold")
        if self.loaded:
            n = len(self.changes)
            title.append(f"   {n:,} version{'' if n == 1 else 's'} changed it", style="dim")
        return title

    def compose(self) -> ComposeResult:
        with Vertical(id="history-dialog"):
            yield ThemedStatic(self._title, id="history-title")
            yield CalmLoadingIndicator(id="history-loading")
            yield ChangeRows(id="history-rows")
            yield ThemedStatic(lambda _colors: Text(""), id="history-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ChangeRows).focus()
        self._load()

    @work(thread=True, exclusive=True, group="key-history")
    def _load(self) -> None:
        worker = get_current_worker()
        try:
            changes = self.engine.key_history(self.tenant, self.entry, key=self.key, path=self.path)
            rows = [history_row(change) for change in changes]
        except Exception as error:  # an engine error (bad path, unreadable version): shown in place
            if not worker.is_cancelled:
                self.app.call_from_thread(self._failed, error)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, changes, rows)

    def _failed(self, error: Exception) -> None:
        if not self.is_attached:
            return
        self.query_one("#history-loading").display = False
        rows = self.query_one(ChangeRows)
        rows.empty_message = f"⚠ {display_safe(error_text(error))}"
        rows.reset_rows()

    def _show(self, changes: list[Any], rows: list[HistoryRow]) -> None:
        if not self.is_attached:
            return
        self.changes, self.loaded = changes, True
        self.query_one("#history-loading").display = False
        self.query_one(ChangeRows).set_rows(rows)
        self.query_one("#history-title", ThemedStatic).show(self._title)
        self.refresh_bindings()

    def show_detail(self, index: int) -> None:
        """The selected version's old and new value in full (wrapped), below the list."""
        rows = self.query_one(ChangeRows).rows
        if not 0 <= index < len(rows):
            return
        row = rows[index]

        def detail(colors: Palette) -> Text:
            text = Text()
            text.append("old  ", style="dim")
            text.append_text(segments_text(row.old, colors.removed, f"bold underline {colors.removed}"))
            text.append("\nnew  ", style="dim")
            text.append_text(segments_text(row.new, colors.added, f"bold underline {colors.added}"))
            text.no_wrap = False
            return text

        self.query_one("#history-detail", ThemedStatic).show(detail)

    @property
    def selected(self) -> Any:
        index = self.query_one(ChangeRows).cursor
        return self.changes[index] if 0 <= index < len(self.changes) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "restore_place" and getattr(self.app, "read_only", False):
            return False
        if action in ("compare", "restore_place"):
            return True if self.changes else None
        return True

    @property
    def app_palette(self) -> Palette:
        from ..widgets.palette import palette

        return palette(self.app)

    def action_compare(self) -> None:
        change = self.selected
        if change is None:
            return
        version = change.version
        parent = version.parents[0] if version.parents else None
        key, path = self.key, self.path
        self.app.push_screen(CompareScreen(self.engine, self.tenant, self.entry, parent, version.digest,
                                           start_at=lambda changes: change_index(changes, key, path)))

    def action_restore_place(self) -> None:
        """Restore the record or path as it was in the selected version (after a confirmation)."""
        change = self.selected
        if change is None:
            return
        digest = change.version.digest
        head = self.changes[0]
        if change is head:
            self.notify(f"{digest[:7]} made the value HEAD has: nothing to restore", severity="warning",
                        timeout=4, markup=False)
            return
        now_absent, then_absent = head.kind == "removed", change.kind == "removed"
        if now_absent and then_absent:
            self.notify("Absent at HEAD and in that version: nothing to restore", severity="warning", timeout=4)
            return
        kind = "added" if now_absent else "removed" if then_absent else "changed"
        now, then = change_segments(head.new, change.new, kind)
        place = place_name(self.key, self.path)
        colors = self.app_palette
        message = Text(f"Restore {place} of {display_safe(f'{self.tenant}/{self.entry}')} as it was in {digest[:7]}?\n\n")
        message.append("now       ", style="dim")
        message.append_text(segments_text(now, colors.removed, f"bold underline {colors.removed}"))
        message.append("\nrestored  ", style="dim")
        message.append_text(segments_text(then, colors.added, f"bold underline {colors.added}"))
        if then_absent:
            message.append("\n(absent then: restoring removes it)", style="dim")
        message.append(f"\n\nThis writes a new version of HEAD as user {display_safe(str(getattr(self.app, 'user', '?')))!r}.")

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._restore(digest)

        from .confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(f"Restore {place}", message), confirmed)

    @work(thread=True, group="write")
    def _restore(self, digest: str) -> None:
        app: Any = self.app
        try:
            new = self.engine.restore(self.tenant, app.user, self.entry, digest, key=self.key, path=self.path)
        except Exception as error:  # an engine error: a message, never a traceback
            app.call_from_thread(self.notify, display_safe(error_text(error)), title="Restore failed",
                                 severity="error", markup=False)
            return
        app.call_from_thread(self._restored, digest, new)

    def _restored(self, digest: str, new: str) -> None:
        message = f"Restored {place_name(self.key, self.path)} from {digest[:7]} as the new HEAD {new[:7]}"
        written = getattr(self.app, "_written", None)
        if written is not None:
            written(self.tenant, self.entry, new, message, "Restored")
        if self.is_attached:
            self.loaded = False
            self._load()

    def action_close(self) -> None:
        self.dismiss(None)
