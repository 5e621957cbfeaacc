"""The records of a record entry as a table: key plus the common record fields.

Only the visible rows are formatted (LineList), and the records come as the engine's
lazy RecordsView, so 100,000 records show at once: a row's bucket is parsed when the row
is first drawn, and an unreadable one shows as such in its row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from dbengine.dbengine import RecordsView
from dbengine.errors import DbEngineError
from rich.style import Style
from rich.text import Text
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip

from mydb_tui.model.values import cell_text, is_special, record_columns

from .line_list import LineList
from .safe import clean

MAX_WIDTH = 28  # a column's width while the pane has no room to spare
CELL_WIDTH = 80  # the widest a column grows into free room
KEY_WIDTH = 40  # the widest the key column grows
SAMPLE = 200  # values whose cells size the columns
COLUMN_SAMPLE = 2000  # values whose fields name the columns
UNREADABLE = object()


class RecordTable(LineList):
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
    ]

    class RecordHighlighted(Message):
        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.records = RecordsView([], {}, dict)
        self.keys: list[str] = []
        self.columns: list[str] = []
        self.widths: list[int] = []
        self.natural: list[int] = []  # the widths the sampled values need (capped at CELL_WIDTH)
        self.empty_message = "no records"

    @property
    def row_count(self) -> int:
        return len(self.keys)

    @property
    def selected_key(self) -> str | None:
        return self.key_at(self.cursor) if 0 <= self.cursor < len(self.keys) else None

    def key_at(self, index: int) -> str | None:
        """The key of row `index`, or None when the records holding it cannot be read
        (the keys of a large entry are read window by window, from checked nodes)."""
        try:
            return self.keys[index]
        except DbEngineError:
            return None

    def show(self, records: RecordsView, select: str | None = None) -> None:
        """Show `records` (the engine's lazy view of a record version, in insertion order)."""
        self.records = records
        self.keys = records.keys_list()
        sample = records.sample(COLUMN_SAMPLE)
        self.columns = record_columns(sample)
        self.natural = [min(KEY_WIDTH, max([3, *(len(clean(k)) for k in self.keys[:SAMPLE])]))]
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
            return clean(cell_text(stored[column], CELL_WIDTH))
        return ""

    def _fit(self, width: int) -> None:
        """Column widths for a pane `width` cells wide: each column its values' width up to
        MAX_WIDTH, then the room left over shared out, in order, up to what each needs."""
        widths = [min(MAX_WIDTH, n) for n in self.natural]
        spare = width - 1 - (sum(widths) + 2 * (len(widths) - 1))  # a vertical scrollbar may come
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
        return self.widths[0] + 2 if self.widths else 0

    def _strip(self, text: Text, style: Style, scroll_x: int, width: int) -> Strip:
        fixed = self.fixed_width
        if not scroll_x or not fixed or fixed >= width:
            return super()._strip(text, style, scroll_x, width)
        whole = super()._strip(text, style, 0, scroll_x + width)
        return Strip.join([whole.crop(0, fixed), whole.crop(fixed + scroll_x, scroll_x + width)])

    def _starts(self) -> list[int]:
        starts, x = [], 0
        for width in self.widths:
            starts.append(x)
            x += width + 2
        return starts

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "scroll_columns":
            forward = bool(parameters) and parameters[0] == 1
            return self.scroll_offset.x < self.max_scroll_x if forward else self.scroll_offset.x > 0
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
        return Text("  ".join(f"{clean(n)[:w]:<{w}}" for n, w in zip(names, self.widths, strict=False)))

    def row_width(self) -> int:
        """The scrolling width: the row's, and at the end enough room for the last screen of
        columns to start at a column (not with the tail of one cut at the left)."""
        natural = sum(self.widths) + 2 * (len(self.widths) - 1)
        view = self.scrollable_content_region.width
        if natural <= view or not self.widths:
            return natural
        for start in self._starts()[1:]:
            if natural - start <= view - self.fixed_width:
                return max(natural, start - self.fixed_width + view)
        return natural

    def render_row(self, index: int) -> Text:
        key = self.key_at(index)
        colors = self.palette
        text = Text(no_wrap=True, end="")
        if key is None:
            text.append(f"⚠ row {index + 1} cannot be read: its records are damaged", style=colors.error)
            return text
        stored = self.value_of(key)
        shown = clean(key)
        if len(shown) > self.widths[0]:
            shown = shown[: self.widths[0] - 1] + "…"
        text.append(f"{shown:<{self.widths[0]}}", style=f"bold {colors.key}")
        if stored is UNREADABLE:  # one message across the value columns
            text.append("  ⚠ cannot be read: its bucket is damaged", style=colors.error)
            return text
        if self.columns:
            cells = [self._cell(stored, c) for c in self.columns]
        else:
            cells = [clean(cell_text(stored, self.widths[1] if len(self.widths) > 1 else 60))]
        for cell, width in zip(cells, self.widths[1:], strict=False):
            text.append("  ")
            if len(cell) > width:
                cell = cell[: width - 1] + "…"
            text.append(f"{cell:<{width}}", style=colors.tag if cell.startswith("⟨") else "")
        return text

    def on_cursor_moved(self, index: int) -> None:
        key = self.key_at(index)
        if key is None:
            self.notify(f"Row {index + 1} cannot be read: its records are damaged. V runs verify.",
                        severity="error", markup=False)
        self.post_message(self.RecordHighlighted(key))

    async def action_open_record(self) -> None:
        """Enter: edit the record (read-only: go to its detail below the table)."""
        if self.selected_key is None:
            return
        if getattr(self.app, "read_only", False):
            from .viewer import Viewer

            for ancestor in self.ancestors:
                if isinstance(ancestor, Viewer):
                    ancestor.focus_record_detail()
                    return
        else:
            await self.run_action("app.edit")

    def action_copy_key(self) -> None:
        key = self.selected_key
        if key is not None:
            self.app.copy_to_clipboard(key)
            self.notify(f"Copied record key {clean(key)}", markup=False, timeout=3)
