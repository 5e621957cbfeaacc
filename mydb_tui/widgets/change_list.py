"""The list of changes of a comparison, one line each, rendering only the visible lines.

Shared by the compare screen (selecting a change scrolls the diff to it) and the restore
confirmation, so 100,000 changes list at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from mydb_tui.model.badged import inline

from ..model.escape import display_safe
from .line_list import LineList
from .palette import Palette

if TYPE_CHECKING:  # the model pulls in DeepDiff (~0.5 s)
    from mydb_tui.model.compare import Change, Comparison

_MARK = {"added": "+", "removed": "-", "changed": "~"}


def plural(count: int, noun: str) -> str:
    """`1 change`, `2,000 changes`."""
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


def short_value(value: Any, limit: int = 40) -> str:
    """A one-line rendering of a stored value (tagged values as badges), cut to `limit` characters."""
    return display_safe(inline(value, limit))


#: The fewest characters a value keeps in a change line, however long its path.
MIN_VALUE = 12


def change_text(change: Change, colors: Palette, width: int | None = None) -> Text:
    """One line of a change list: kind mark, path, and old → new; the values share what
    `width` leaves after the path (40 characters each without a width)."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{_MARK.get(change.kind, '?')} ", style=f"bold {colors.change(change.kind)}")
    line.append(display_safe(change.path), style="bold")
    line.append(f"  {change.kind}  ", style="dim")
    room = 40 if width is None else width - line.cell_len
    if change.kind == "added":
        line.append(short_value(change.new, max(MIN_VALUE, room)), style=colors.added)
    elif change.kind == "removed":
        line.append(short_value(change.old, max(MIN_VALUE, room)), style=colors.removed)
    else:
        each = room if width is None else max(MIN_VALUE, (room - 3) // 2)
        old = short_value(change.old, each)
        new_room = each if width is None else max(MIN_VALUE, room - 3 - len(old))  # a short old leaves room
        line.append(old, style=colors.removed)
        line.append(" → ", style="dim")
        line.append(short_value(change.new, new_room), style=colors.added)
    return line


def field_changes(comparison: Comparison) -> int:
    """Changes inside the values: a record added or removed whole is not a field change."""
    if comparison.kind == "records":
        return sum(1 for c in comparison.changes if c.kind == "changed" or c.path != f"[{c.record_key}]")
    return len(comparison.changes)


def summary_text(comparison: Comparison, colors: Palette) -> Text:
    """`17 records changed · 24 field changes`, `1 record added · 2 changed`, `2 keys changed ·
    5 field changes` (what was added, changed and removed, then how many fields changed)."""
    text = Text()
    noun = "record" if comparison.kind == "records" else "key"
    counts = [(comparison.added, "added", colors.added), (comparison.changed, "changed", colors.changed),
              (comparison.removed, "removed", colors.removed)]
    shown = [(n, word, color) for n, word, color in counts if n]
    if not shown:
        text.append("no differences", style="dim")
        return text
    for i, (n, word, color) in enumerate(shown):
        if i:
            text.append(" · ")
        text.append(f"{plural(n, noun) if i == 0 else f'{n:,}'} {word}", style=color)
    fields = field_changes(comparison)
    if comparison.changed if comparison.kind == "records" else fields != sum(n for n, _w, _c in shown):
        text.append(f" · {plural(fields, 'field change')}")
    return text


class ChangeList(LineList):
    """The changes under a "Changes (n)" header; moving the cursor posts `ChangeList.Highlighted`."""

    BINDINGS = [Binding("enter", "select", "Go to change", show=False)]

    class Highlighted(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.changes: list[Change] = []
        self.empty_message = "No differences in the data."

    def set_changes(self, changes: list[Change]) -> None:
        """Show `changes` (nothing is rendered until a line is on screen)."""
        self.changes = changes
        self.reset_rows(0)

    @property
    def row_count(self) -> int:
        return len(self.changes)

    @property
    def option_count(self) -> int:
        """The number of changes listed (the name the OptionList it replaced used)."""
        return len(self.changes)

    def render_header(self) -> Text:
        n = len(self.changes)
        return Text(f"Changes ({n:,})" if n else "Changes")

    def render_row(self, index: int) -> Text:
        line = change_text(self.changes[index], self.palette, self.scrollable_content_region.width)
        line.truncate(max(1, self.scrollable_content_region.width), overflow="ellipsis")
        return line

    def on_cursor_moved(self, index: int) -> None:
        self.post_message(self.Highlighted(index))

    def action_select(self) -> None:
        if 0 <= self.cursor < self.row_count:
            self.post_message(self.Highlighted(self.cursor))
