"""Search through history (`ctrl+f`): a text in the stored JSON of one entry's versions, or
of every entry of the tenant, in pickaxe mode (where its number of occurrences changed,
git log -S) or plain mode (every value written that holds it).

The engine's `search` generator runs in a thread worker; hits reach the list in batches
(call_from_thread) as they are found, a progress bar follows the `progress` callback, and
`esc` sets the flag the generator's `cancelled` callback reads (it stops within one
version). `enter` on a hit closes the screen with (tenant, entry, digest, key, path).
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, ProgressBar

from ..model.errors import error_text
from ..model.escape import display_safe
from ..model.history import HitRow, hit_row
from ..widgets.line_list import LineList
from ..widgets.palette import Palette
from ..widgets.themed_static import ThemedStatic
from .key_history import segments_text

BATCH_SECONDS = 0.2  # hits found meanwhile reach the list together
PROGRESS_SECONDS = 0.25  # the progress bar is updated at most this often

Jump = tuple[str, str, str, str | None, str | None]  # tenant, entry, digest, key, path


class HitList(LineList):
    """The hits found so far, newest version first (per entry)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "screen.open_hit", "Go to hit"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[HitRow] = []
        self.hits: list[Any] = []
        self.show_entry = False
        self.empty_message = "type a text and press enter"

    def clear_hits(self, message: str) -> None:
        self.rows, self.hits = [], []
        self.empty_message = message
        self.reset_rows(0)

    def add(self, batch: list[tuple[Any, HitRow]]) -> None:
        first = not self.rows
        for hit, row in batch:
            self.hits.append(hit)
            self.rows.append(row)
        self.virtual_size = self.virtual_size.with_height(len(self.rows) + 1)
        if first:
            self.reset_rows(0)
        else:
            self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def _layout(self) -> tuple[bool, bool, int]:
        """(show the date, show the user, place width): narrow lists keep room for the match."""
        width = self.scrollable_content_region.width
        return width >= 120, width >= 90, 20 if width >= 120 else 14

    def render_header(self) -> Text:
        dated, user, place = self._layout()
        text = f"{'digest':<7}  "
        text += f"{'date':<16}  " if dated else ""
        text += f"{'user':<8}  " if user else ""
        text += f"{'entry':<12}  " if self.show_entry else ""
        text += f"{'record / path':<{place}}  {'count':<5}  match"
        return Text(text)

    def render_row(self, index: int) -> Text:
        row = self.rows[index]
        colors = self.palette
        dated, show_user, width = self._layout()
        text = Text(no_wrap=True, end="")
        text.append(row.short, style=colors.digest)
        text.append("  ")
        if dated:
            text.append(f"{row.date:<16}  ", style=colors.date)
        if show_user:
            user = row.user if len(row.user) <= 8 else row.user[:7] + "…"
            text.append(f"{user:<8}  ", style=colors.user)
        if self.show_entry:
            entry = row.entry if len(row.entry) <= 12 else row.entry[:11] + "…"
            text.append(f"{entry:<12}  ", style="bold")
        place = row.place if len(row.place) <= width else row.place[: width - 1] + "…"
        text.append(f"{place:<{width}}", style=colors.key)
        text.append(f"  {row.counts:<5}  ", style="dim")
        text.append_text(segments_text(row.snippet, "", f"bold reverse {colors.changed}"))
        text.truncate(max(1, self.scrollable_content_region.width), overflow="ellipsis")
        return text


class SearchScreen(ModalScreen["Jump | None"]):
    """Search the history of `entry` (None: the tenant's every entry) for a text."""

    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "toggle_mode", "Pickaxe/plain"),
        Binding("ctrl+o", "toggle_scope", "Entry/tenant"),
        Binding("escape", "cancel_or_close", "Cancel/close", key_display="esc"),
        Binding("down", "focus_hits", "Hits", show=False),
    ]

    def __init__(self, engine: Any, tenant: str, entry: str | None) -> None:
        super().__init__()
        self.engine, self.tenant, self.entry = engine, tenant, entry
        self.pickaxe = True
        self.whole_tenant = entry is None
        self.running = False
        self.text = ""
        self.state = ""  # what the status line says after the bar
        self._cancel = threading.Event()
        self._generation = 0

    # -------------------------------------------------------------- layout
    def _title(self, colors: Palette) -> Text:
        title = Text("Search ", style="bold")
        title.append(display_safe(self.tenant if self.whole_tenant else f"{self.tenant} / {self.entry}"),
                     style=f"bold {colors.key}")
        title.append("  (every entry)" if self.whole_tenant else "", style="dim")
        return title

    def _options(self, colors: Palette) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("mode ", style="dim")
        text.append("pickaxe" if self.pickaxe else "plain", style=f"bold {colors.changed}")
        text.append(" (where the count of the text changed)" if self.pickaxe else " (every value holding it)",
                    style="dim")
        text.append("   scope ", style="dim")
        text.append("tenant" if self.whole_tenant else "entry", style=f"bold {colors.changed}")
        return text

    def _status(self, colors: Palette) -> Text:
        return Text(self.state, style="dim", no_wrap=True, overflow="ellipsis")

    def compose(self) -> ComposeResult:
        with Vertical(id="search-dialog"):
            yield ThemedStatic(self._title, id="search-title")
            yield Input(placeholder="text to find in the stored JSON (enter searches)", id="search-input")
            yield ThemedStatic(self._options, id="search-options")
            with Vertical(id="search-progress-row"):
                yield ProgressBar(total=None, show_eta=False, id="search-progress")
                yield ThemedStatic(self._status, id="search-status")
            yield HitList(id="search-hits")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(HitList).show_entry = self.whole_tenant
        self.query_one(Input).focus()

    def _redraw(self) -> None:
        for name, build in (("title", self._title), ("options", self._options), ("status", self._status)):
            self.query_one(f"#search-{name}", ThemedStatic).show(build)

    # -------------------------------------------------------------- searching
    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.start(event.value)

    def start(self, text: str) -> None:
        """Search for `text` (a running search is cancelled first)."""
        self._cancel.set()
        if not text:
            self.notify("Type a text to search for", severity="warning", timeout=3)
            return
        self._cancel = threading.Event()
        self._generation += 1
        self.text, self.running = text, True
        hits = self.query_one(HitList)
        hits.show_entry = self.whole_tenant
        hits.clear_hits("searching…")
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.state = "searching…"
        self._redraw()
        self._search(self._generation, self._cancel, text, self.pickaxe, None if self.whole_tenant else self.entry)

    @work(thread=True, group="search")
    def _search(self, generation: int, cancel: threading.Event, text: str, pickaxe: bool, entry: str | None) -> None:
        app = self.app
        seen = [0, 0]
        last_progress = [0.0]

        def progress(scanned: int, total: int) -> None:
            seen[0], seen[1] = scanned, total
            now = time.monotonic()
            if now - last_progress[0] >= PROGRESS_SECONDS and not cancel.is_set():
                last_progress[0] = now
                app.call_from_thread(self._progress, generation, scanned, total)

        batch: list[tuple[Any, HitRow]] = []
        sent = 0
        last = time.monotonic()
        try:
            for hit in self.engine.search(self.tenant, entry, text, pickaxe=pickaxe,
                                          cancelled=cancel.is_set, progress=progress):
                batch.append((hit, hit_row(hit, text)))
                now = time.monotonic()
                if not sent or len(batch) >= 500 or now - last >= BATCH_SECONDS:  # the first hit at once
                    sent += len(batch)
                    app.call_from_thread(self._add, generation, batch)
                    batch, last = [], now
        except Exception as error:  # an engine error (unreadable version...): a message, never a traceback
            app.call_from_thread(self._finish, generation, batch, seen, error)
            return
        app.call_from_thread(self._finish, generation, batch, seen, None)

    def _progress(self, generation: int, scanned: int, total: int) -> None:
        if generation == self._generation and self.running and self.is_attached:
            self.query_one(ProgressBar).update(total=max(total, 1), progress=scanned)
            self.state = f"{len(self.query_one(HitList).rows):,} hits · {scanned:,} / {total:,} versions"
            self.query_one("#search-status", ThemedStatic).show(self._status)

    def _add(self, generation: int, batch: list[tuple[Any, HitRow]]) -> None:
        if generation == self._generation and self.is_attached:
            self.query_one(HitList).add(batch)

    def _finish(self, generation: int, batch: list, seen: list[int], error: Exception | None) -> None:
        if generation != self._generation or not self.is_attached:
            return
        hits = self.query_one(HitList)
        if batch and not self._cancel.is_set():
            hits.add(batch)
        self.running = False
        scanned, total = seen
        n = len(hits.rows)
        if error is not None:
            self.state = f"⚠ {display_safe(error_text(error))}"
            self.notify(self.state, title="Search failed", severity="error", markup=False)
        elif self._cancel.is_set():
            return  # action_cancel_or_close said so already
        else:
            self.query_one(ProgressBar).update(total=max(total, 1), progress=max(total, 1))
            self.state = f"{n:,} hit{'' if n == 1 else 's'} in {total:,} versions"
        hits.empty_message = "no hits"
        hits.refresh()
        self.query_one("#search-status", ThemedStatic).show(self._status)

    # -------------------------------------------------------------- actions
    def action_cancel_or_close(self) -> None:
        """esc: stop a running search (the generator stops at its next version), else close."""
        if self.running:
            self._cancel.set()
            self.running = False
            hits = self.query_one(HitList)
            hits.empty_message = "cancelled"
            hits.refresh()
            self.state = f"cancelled · {len(hits.rows):,} hits so far (esc again closes)"
            self.query_one("#search-status", ThemedStatic).show(self._status)
            return
        self.dismiss(None)

    def action_toggle_mode(self) -> None:
        self.pickaxe = not self.pickaxe
        self._redraw()
        if self.text:
            self.start(self.query_one(Input).value or self.text)

    def action_toggle_scope(self) -> None:
        if self.entry is None:
            self.notify("No entry is selected: the search covers the whole tenant", timeout=3)
            return
        self.whole_tenant = not self.whole_tenant
        self._redraw()
        if self.text:
            self.start(self.query_one(Input).value or self.text)

    def action_focus_hits(self) -> None:
        self.query_one(HitList).focus()

    def action_open_hit(self) -> None:
        hits = self.query_one(HitList)
        if not 0 <= hits.cursor < len(hits.hits):
            return
        hit = hits.hits[hits.cursor]
        self._cancel.set()
        self.dismiss((self.tenant, hit.entry, hit.version.digest, hit.key, hit.path))

    def on_unmount(self) -> None:
        self._cancel.set()  # closing stops the scan too
