"""The records of a record entry as a table: key plus the common record fields.

Only the visible rows are formatted (LineList), and the records come as the engine's
lazy RecordsView, so 100,000 records show at once: a row's bucket is parsed when the row
is first drawn, and an unreadable one shows as such in its row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any, ClassVar

from dbengine.dbengine import RecordsView
from dbengine.errors import DbEngineError
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Input
from textual.worker import get_current_worker

from mydb_tui.model.history import GUTTER_WIDTH, gutter_text
from mydb_tui.model.record_find import KEY_COLUMN, find_chunks, next_sort, sorted_keys
from mydb_tui.model.values import cell_text, is_special, record_columns

from ..model.escape import display_safe
from .blame import BlameAsking
from .line_list import LineList

MAX_WIDTH = 28  # a column's width while the pane has no room to spare
CELL_WIDTH = 80  # the widest a column grows into free room
KEY_WIDTH = 40  # the widest the key column grows
SAMPLE = 200  # values whose cells size the columns
COLUMN_SAMPLE = 2000  # values whose fields name the columns
UNREADABLE = object()


class RecordTable(BlameAsking, LineList):
    """One row per record; the cursor selects a record (for edit, delete, copy).

    Columns are as wide as their values up to MAX_WIDTH, and grow into the room the pane
    has to spare (up to CELL_WIDTH). The key column stays in place while → and ← scroll
    the other columns a screen at a time."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_record", "Open", show=False),
        Binding("right", "scroll_columns(1)", "More columns", key_display="→"),
        Binding("left", "scroll_columns(-1)", "Prev columns", key_display="←"),  # h: history of the record
        Binding("e", "app.edit", "Edit record"),
        Binding("a", "app.add_record", "Add record"),
        Binding("x", "app.delete_record", "Delete record"),
        Binding("c", "copy_key", "Copy key"),
        # Find in one version (issue 14): blame column, sort, copy value / key.
        Binding("slash", "find", "Find", key_display="/"),
        Binding("escape", "clear_filter", "Clear find", key_display="esc"),
        Binding("b", "toggle_blame", "Blame"),
        Binding("s", "sort_column", "Sort"),
        Binding("S", "next_sort_column", "Sort column", show=False),  # footer room: `h` must stay in view
        Binding("y", "copy_value", "Copy JSON"),
        Binding("Y", "copy_key", "Copy key", show=False),
    ]

    class RecordHighlighted(Message):
        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    class DetailWanted(Message):
        """Enter in read-only mode: the selected record's detail should take the focus."""

    class TitleChanged(Message):
        """The title of the pane holding the table: the filter and its count, or "Version"."""

        def __init__(self, title: str) -> None:
            super().__init__()
            self.title = title

    def __init__(self, engine: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.records = RecordsView([], {}, dict)
        self.keys: list[str] = []
        self.columns: list[str] = []
        self.widths: list[int] = []
        self.natural: list[int] = []  # the widths the sampled values need (capped at CELL_WIDTH)
        self.empty_message = "no records"
        self.source: tuple[str, str, str] | None = None  # (tenant, entry, digest) shown
        self.init_blame()  # `blame`: record key -> Version (None: not found)
        self.sort: tuple[int, bool] | None = None  # (column index, descending); None: insertion order
        self.sort_column_index = 0  # the column `s` sorts (0: key); the one last clicked
        self.base_keys: Any = []  # the rows before the filter: insertion or sorted order
        self.filter_text = ""
        self.filter_done = True  # the filter has read every record
        self.filter_read = 1.0  # the part of the records it has read

    @property
    def row_count(self) -> int:
        return len(self.keys)

    @property
    def selected_key(self) -> str | None:
        return self.record_key_at(self.cursor) if 0 <= self.cursor < len(self.keys) else None

    def record_key_at(self, index: int) -> str | None:
        """The key of row `index`, or None when the records holding it cannot be read
        (the keys of a large entry are read window by window, from checked nodes)."""
        try:
            return self.keys[index]
        except DbEngineError:
            return None

    def show(self, records: RecordsView, select: str | None = None,
             source: tuple[str, str, str] | None = None) -> None:
        """Show `records` (the engine's lazy view of a record version, in insertion order)."""
        self.records = records
        self.keys = self.base_keys = records.keys_list()
        self.source = source
        self.forget_blame(source)
        self.sort = None
        self.sort_column_index = min(self.sort_column_index, len(self.columns or ["value"]))
        self.workers.cancel_group(self, "sort")
        sample = records.sample(COLUMN_SAMPLE)
        self.columns = record_columns(sample)
        self.natural = [min(KEY_WIDTH, max([3, *(len(display_safe(k)) for k in self.keys[:SAMPLE])]))]
        if self.columns:
            for column in self.columns:
                cells = [self._cell(stored, column) for stored in sample[:SAMPLE]]
                self.natural.append(min(CELL_WIDTH, max([len(column), *(len(c) for c in cells)])))
        else:
            self.natural.append(60)
        self._fit(self.scrollable_content_region.width)
        self.scroll_to(x=0, animate=False, immediate=True)
        try:
            index = self.keys.index(select) if select is not None else 0
        except ValueError:
            index = 0
        self.reset_rows(index)
        if not self.keys:
            self.post_message(self.RecordHighlighted(None))
        if self.blame_on:
            self.schedule_blame()
        if self.filter_text:  # the filter stays on for the next version shown
            self.set_filter(self.filter_text, select)

    def value_of(self, key: str) -> Any:
        """The stored value of `key`, or UNREADABLE when its bucket cannot be read."""
        try:
            return self.records[key]
        except (DbEngineError, KeyError):
            return UNREADABLE

    def _cell(self, stored: Any, column: str) -> str:
        if type(stored) is dict and not is_special(stored):
            if column not in stored:
                return ""
            return display_safe(cell_text(stored[column], CELL_WIDTH))
        return ""

    def _fit(self, width: int) -> None:
        """Column widths for a pane `width` cells wide: each column its values' width up to
        MAX_WIDTH, then the room left over shared out, in order, up to what each needs."""
        widths = [min(MAX_WIDTH, n) for n in self.natural]
        spare = width - 1 - self.blame_width - (sum(widths) + 2 * (len(widths) - 1))  # a vertical scrollbar may come
        for i, need in enumerate(self.natural):
            if spare <= 0:
                break
            grow = min(spare, need - widths[i])
            if grow > 0:
                widths[i] += grow
                spare -= grow
        self.widths = widths

    def on_resize(self) -> None:
        if self.natural:
            self._fit(self.scrollable_content_region.width)
        super().on_resize()

    # -------------------------------------------------------------- the key column stays put
    @property
    def fixed_width(self) -> int:
        """Cells of the key column and its gap, which do not scroll sideways."""
        return self.widths[0] + 2 + self.blame_width if self.widths else 0

    @property
    def blame_width(self) -> int:
        """Cells of the "last changed" column (after the key; 0 while blame is off)."""
        return GUTTER_WIDTH if self.blame_on else 0

    def _strip(self, text: Text, style: Style, scroll_x: int, width: int) -> Strip:
        fixed = self.fixed_width
        if not scroll_x or not fixed or fixed >= width:
            return super()._strip(text, style, scroll_x, width)
        whole = super()._strip(text, style, 0, scroll_x + width)
        return Strip.join([whole.crop(0, fixed), whole.crop(fixed + scroll_x, scroll_x + width)])

    def _starts(self) -> list[int]:
        starts, x = [], 0
        for i, width in enumerate(self.widths):
            starts.append(x)
            x += width + 2 + (self.blame_width if i == 0 else 0)
        return starts

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "scroll_columns":
            forward = bool(parameters) and parameters[0] == 1
            return self.scroll_offset.x < self.max_scroll_x if forward else self.scroll_offset.x > 0
        if action == "clear_filter":
            return bool(self.filter_text)
        return True

    def watch_scroll_x(self, old: float, new: float) -> None:
        super().watch_scroll_x(old, new)
        if (old == 0) != (new == 0) or (old >= self.max_scroll_x) != (new >= self.max_scroll_x):
            self.refresh_bindings()  # → or ← came or went in the footer

    def action_scroll_columns(self, direction: int) -> None:
        """→: the next screen of columns (the first one cut at the right edge comes first);
        ←: the screen of columns before."""
        fixed, view = self.fixed_width, self.scrollable_content_region.width
        room = max(1, view - fixed)
        x = int(self.scroll_offset.x)
        starts = [s - fixed for s in self._starts()[1:]]  # scroll offsets that put a column first
        if direction > 0:
            ends = [s + w for s, w in zip(starts, self.widths[1:], strict=True)]
            cut = [s for s, e in zip(starts, ends, strict=True) if e > x + room and s > x]
            target = cut[0] if cut else self.max_scroll_x
        else:
            fits = [s for s in starts if s >= x - room and s < x]
            target = fits[0] if fits else 0
        self.scroll_to(x=max(0, min(target, self.max_scroll_x)), animate=False)

    def system_commands(self) -> Iterable[SystemCommand]:
        """The command palette's entries while the table has the focus."""
        if self.check_action("scroll_columns", (1,)):
            yield SystemCommand("More columns", "Scroll the record table right by a screen (→)",
                                lambda: self.action_scroll_columns(1))
        if self.check_action("scroll_columns", (-1,)):
            yield SystemCommand("Previous columns", "Scroll the record table back left (←)",
                                lambda: self.action_scroll_columns(-1))

    def render_header(self) -> Text:
        names = ["key", *(self.columns or ["value"])]
        cells = []
        for i, (name, width) in enumerate(zip(names, self.widths, strict=False)):
            label = display_safe(name)
            if self.sort is not None and self.sort[0] == i:
                arrow = "▼" if self.sort[1] else "▲"  # the arrow always shows: the name gives way
                label = f"{label[: max(0, width - 2)]} {arrow}" if len(label) + 2 > width else f"{label} {arrow}"
            cell = Text(f"{label[:width]:<{width}}")
            if i == self.sort_column_index:
                cell.stylize("underline", 0, len(label[:width]))
            cells.append(cell)
        if self.blame_on and cells:
            cells[0] = cells[0] + Text("  " + f"{'last changed':<{GUTTER_WIDTH - 2}}")
        return Text("  ").join(cells)

    def row_width(self) -> int:
        """The scrolling width: the row's, and at the end enough room for the last screen of
        columns to start at a column (not with the tail of one cut at the left)."""
        natural = sum(self.widths) + 2 * (len(self.widths) - 1) + self.blame_width
        view = self.scrollable_content_region.width
        if natural <= view or not self.widths:
            return natural
        for start in self._starts()[1:]:
            if natural - start <= view - self.fixed_width:
                return max(natural, start - self.fixed_width + view)
        return natural

    def render_row(self, index: int) -> Text:
        key = self.record_key_at(index)
        colors = self.palette
        text = Text(no_wrap=True, end="")
        if key is None:
            text.append(f"⚠ row {index + 1} cannot be read: its records are damaged", style=colors.error)
            return text
        stored = self.value_of(key)
        shown = display_safe(key)
        if len(shown) > self.widths[0]:
            shown = shown[: self.widths[0] - 1] + "…"
        text.append(f"{shown:<{self.widths[0]}}", style=f"bold {colors.key}")
        if self.blame_on:
            text.append("  ")
            text.append_text(self._blame_cell(key))
        if stored is UNREADABLE:  # one message across the value columns
            text.append("  ⚠ cannot be read: its bucket is damaged", style=colors.error)
            return text
        if self.columns:
            cells = [self._cell(stored, c) for c in self.columns]
        else:
            cells = [display_safe(cell_text(stored, self.widths[1] if len(self.widths) > 1 else 60))]
        for cell, width in zip(cells, self.widths[1:], strict=False):
            text.append("  ")
            if len(cell) > width:
                cell = cell[: width - 1] + "…"
            text.append(f"{cell:<{width}}", style=colors.tag if cell.startswith("⟨") else "")
        return text

    def on_cursor_moved(self, index: int) -> None:
        key = self.record_key_at(index)
        if key is None:
            self.notify(f"Row {index + 1} cannot be read: its records are damaged. V runs verify.",
                        severity="error", markup=False)
        self.post_message(self.RecordHighlighted(key))

    async def action_open_record(self) -> None:
        """Enter: edit the record (read-only: go to its detail below the table)."""
        if self.selected_key is None:
            return
        if getattr(self.app, "read_only", False):
            self.post_message(self.DetailWanted())
        else:
            await self.run_action("app.edit")

    def action_copy_key(self) -> None:
        key = self.selected_key
        if key is not None:
            self.app.copy_to_clipboard(key)
            self.notify(f"Copied record key {display_safe(key)}", markup=False, timeout=3)

    def action_copy_value(self) -> None:
        """`y`: the selected record's value as JSON (OSC 52, as `c` copies the key)."""
        key = self.selected_key
        if key is None:
            return
        value = self.value_of(key)
        if value is UNREADABLE:
            self.notify(f"Record {display_safe(key)} cannot be read: its bucket is damaged.", severity="error",
                        markup=False)
            return
        self.app.copy_to_clipboard(json.dumps(value, ensure_ascii=False, indent=2))
        self.notify(f"Copied the value of {display_safe(key)} as JSON", markup=False, timeout=3)

    # -------------------------------------------------------------- blame column
    def _blame_cell(self, key: str) -> Text:
        """The "last changed" cell of `key` ("…" while its answer is on its way)."""
        text = Text(no_wrap=True, end="")
        if key in self.blame:
            version = self.blame[key]
            shown = gutter_text(version, dt.datetime.now(dt.UTC)) if version is not None else "?"
            text.append(shown[:7], style=self.palette.digest)
            text.append(shown[7:], style=self.palette.user)
        else:
            text.append("…", style="dim")
        text.pad_right(GUTTER_WIDTH - 2 - text.cell_len)
        return text

    def action_toggle_blame(self) -> None:
        """`b`: a "last changed" column (short digest, user, age) for the rows on screen."""
        if not self.blame_on and self.source is None:
            self.notify("The blame column shows once a record version is loaded", severity="warning", timeout=3)
            return
        self.blame_on = not self.blame_on
        self._fit(self.scrollable_content_region.width)
        self.reset_rows(self.cursor)
        if self.blame_on:
            self.schedule_blame()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.blame_on:
            self.schedule_blame()

    def visible_keys(self) -> list[str]:
        top = int(self.scroll_offset.y)
        out = []
        for index in range(top, min(self.row_count, top + self.visible_rows)):
            key = self.record_key_at(index)
            if key is not None:
                out.append(key)
        return out

    def blame_source(self) -> tuple[str, str, str] | None:
        return self.source

    def blame_keys(self) -> list[str]:
        return self.visible_keys()

    def blame_arrived(self) -> None:
        self.refresh_rows()

    def blame_stopped(self) -> None:
        self._fit(self.scrollable_content_region.width)
        self.reset_rows(self.cursor)

    # -------------------------------------------------------------- sorting
    def column_at_x(self, x: int) -> int:
        """The column index (0: key) under content x of the header (scroll taken into account)."""
        fixed = self.fixed_width
        if x < fixed:
            return 0
        x = x + int(self.scroll_offset.x)
        index = 0
        for i, start in enumerate(self._starts()):
            if start + (self.blame_width if i > 0 else 0) <= x:
                index = i
        return index

    def action_next_sort_column(self) -> None:
        """`S`: the column `s` sorts by moves to the next one (underlined in the header)."""
        self.sort_column_index = (self.sort_column_index + 1) % max(1, len(self.widths))
        self._cache.clear()
        self.refresh()
        self.notify(f"s sorts by {display_safe(self._column_name(self.sort_column_index))}", markup=False, timeout=2)

    def _column_name(self, index: int) -> str:
        names = ["key", *(self.columns or ["value"])]
        return names[max(0, min(index, len(names) - 1))]

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y == 0:  # the header: sort by the column clicked
            self.sort_column_index = self.column_at_x(offset.x)
            self.action_sort_column()
            return
        super().on_click(event)

    def action_sort_column(self) -> None:
        """`s` (or a click on the header): sort by the column; again: reverse; a third time:
        insertion order. The order is computed in a worker (every record is read)."""
        column = max(0, min(self.sort_column_index, len(self.columns or ["value"])))
        by_key = column == KEY_COLUMN
        field = self.columns[column - 1] if self.columns and not by_key else None
        wanted = next_sort(self.sort, column)
        self.workers.cancel_group(self, "sort")
        keep = self.selected_key
        if wanted is None:
            self.sort = None
            self._apply_order(self.records.keys_list(), keep)
            return
        records = self.records
        keys = records.keys_list()
        self.loading = len(keys) > 20000

        def value_of(key: str) -> Any:
            try:
                return records[key]
            except (DbEngineError, KeyError):
                return None

        def run() -> None:
            worker = get_current_worker()
            order = sorted_keys(keys, value_of, by_key, field, wanted[1], lambda: worker.is_cancelled)
            if order is not None and not worker.is_cancelled:
                self.app.call_from_thread(self._sorted, records, wanted, order, keep)

        self.run_worker(run, thread=True, group="sort", exclusive=True)

    def _sorted(self, records: RecordsView, wanted: tuple[int, bool], order: list[str], keep: str | None) -> None:
        self.loading = False
        if records is self.records:
            self.sort = wanted
            self._apply_order(order, keep)

    def _apply_order(self, keys: list[str], keep: str | None) -> None:
        self.base_keys = keys
        if self.filter_text:
            self.set_filter(self.filter_text, keep)
            return
        self.keys = keys
        try:
            index = keys.index(keep) if keep is not None else 0
        except ValueError:
            index = 0
        self.reset_rows(index)
        if self.blame_on:
            self.schedule_blame()

    # -------------------------------------------------------------- filter (find in this version)
    def action_find(self) -> None:
        """`/`: the filter input above the table (rows whose key or value holds the text)."""
        box = self._filter_input()
        if box is not None:
            box.display = True
            box.focus()

    def action_clear_filter(self) -> None:
        """esc: every row again (the filter line hides)."""
        box = self._filter_input()
        if box is not None:
            box.action_clear_filter()
        else:
            self.set_filter("")

    def _filter_input(self) -> RecordFilter | None:
        parent = self.parent
        return next(iter(parent.query(RecordFilter)), None) if parent is not None else None

    def set_filter(self, text: str, keep: str | None = None) -> None:
        """Show only the rows whose key or value holds `text` (any case); "" shows every row.
        The records are read in a worker, and the matches show as they come."""
        self.workers.cancel_group(self, "filter")
        self.filter_text = text
        if keep is None:
            keep = self.selected_key
        if not text:
            self.filter_done = True
            self.keys = self.base_keys
            self._show_filtered(keep)
            return
        self.filter_done, self.filter_read = False, 0.0
        self.keys = []
        self._show_filtered(keep)
        needle, records, base = text.casefold(), self.records, self.base_keys

        def run() -> None:
            worker = get_current_worker()
            found: list[str] = []
            published = 0
            for scanned, matches in find_chunks(records, base, needle):  # (model.record_find)
                if worker.is_cancelled:
                    return
                found += matches
                if scanned - published >= 8192 and scanned < len(base):  # the matches so far, how far
                    published = scanned
                    self.app.call_from_thread(self._filtered, records, text, list(found), False, keep,
                                              scanned / len(base))
            if not worker.is_cancelled:
                self.app.call_from_thread(self._filtered, records, text, found, True, keep)

        self.run_worker(run, thread=True, group="filter", exclusive=True)

    def _filtered(self, records: RecordsView, text: str, found: list[str], done: bool, keep: str | None,
                  read: float = 1.0) -> None:
        if records is not self.records or text != self.filter_text:
            return
        self.keys, self.filter_done, self.filter_read = found, done, read
        self._show_filtered(keep)

    def _show_filtered(self, keep: str | None) -> None:
        try:
            index = self.keys.index(keep) if keep is not None else 0
        except ValueError:
            index = 0
        was = self.cursor
        self.reset_rows(index)
        if index == was and self.keys:  # the same row number may now be another record
            self.on_cursor_moved(index)
        if not self.keys:
            self.empty_message = "no records match" if self.filter_text and self.filter_done else (
                "finding…" if self.filter_text else "no records")
            self.post_message(self.RecordHighlighted(None))
        if self.blame_on:
            self.schedule_blame()
        self._title()
        self.refresh_bindings()

    def _title(self) -> None:
        if not self.filter_text:
            self.post_message(self.TitleChanged("Version"))
            return
        count = f"{len(self.keys):,} match{'es' if len(self.keys) != 1 else ''}"
        more = "" if self.filter_done else f" so far… {self.filter_read:.0%} read"
        self.post_message(self.TitleChanged(f"Version · /{display_safe(self.filter_text)} · {count}{more} "
                                            "(esc clears)"))


class RecordFilter(Input):
    """The record table's filter line (`/`): typing filters, enter goes back to the table,
    esc clears the filter and hides the line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", key_display="esc"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="find in this version: key or value text", id=id)
        self.display = False

    def _table(self) -> RecordTable | None:
        parent = self.parent
        return next(iter(parent.query(RecordTable)), None) if parent is not None else None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        table = self._table()
        if table is not None:
            table.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        table = self._table()
        if table is not None:
            table.focus()

    def action_clear_filter(self) -> None:
        table = self._table()
        self.value = ""
        self.display = False
        if table is not None:
            table.set_filter("")
            table.focus()
            table.refresh_bindings()
