"""The records of a record entry as a table: key plus the common record fields.

Only the visible rows are formatted (LineList), and the records come as the engine's
lazy RecordsView, so 100,000 records show at once: a row's bucket is parsed when the row
is first drawn, and an unreadable one shows as such in its row.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dbengine.dbengine import RecordsView
from dbengine.errors import DbEngineError
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from mydb_tui.model.values import cell_text, is_special, record_columns

from .line_list import LineList
from .safe import clean

MAX_WIDTH = 28
SAMPLE = 200  # values whose cells size the columns
COLUMN_SAMPLE = 2000  # values whose fields name the columns
UNREADABLE = object()


class RecordTable(LineList):
    """One row per record; the cursor selects a record (for edit, delete, copy)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_record", "Open", show=False),
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
        self.widths = [min(MAX_WIDTH, max([3, *(len(clean(k)) for k in self.keys[:SAMPLE])]))]
        if self.columns:
            for column in self.columns:
                cells = [self._cell(stored, column) for stored in sample[:SAMPLE]]
                self.widths.append(min(MAX_WIDTH, max([len(column), *(len(c) for c in cells)])))
        else:
            self.widths.append(60)
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
            return clean(cell_text(stored[column], MAX_WIDTH))
        return ""

    def render_header(self) -> Text:
        names = ["key", *(self.columns or ["value"])]
        return Text("  ".join(f"{clean(n)[:w]:<{w}}" for n, w in zip(names, self.widths, strict=False)))

    def row_width(self) -> int:
        return sum(self.widths) + 2 * (len(self.widths) - 1)

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
            cells = [clean(cell_text(stored, 60))]
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
