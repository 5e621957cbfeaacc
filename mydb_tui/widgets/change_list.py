"""The list of changes of a comparison, one line each, rendering only the visible lines.

Shared by the compare screen (selecting a change scrolls the diff to it) and the restore
confirmation, so 100,000 changes list at once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from .line_list import LineList
from .palette import Palette
from .safe import safe_text

if TYPE_CHECKING:  # the model pulls in DeepDiff (~0.5 s)
    from mydb_tui.model.compare import Change, Comparison

_MARK = {"added": "+", "removed": "-", "changed": "~"}


def plural(count: int, noun: str) -> str:
    """`1 change`, `2,000 changes`."""
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


def short_value(value: Any, limit: int = 40) -> str:
    """A one-line JSON rendering of a stored value, cut to `limit` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    text = safe_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_text(change: Change, colors: Palette, limit: int = 40) -> Text:
    """One line of a change list: kind mark, path, and old → new (values shortened)."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{_MARK.get(change.kind, '?')} ", style=f"bold {colors.change(change.kind)}")
    line.append(safe_text(change.path), style="bold")
    line.append(f"  {change.kind}  ", style="dim")
    if change.kind == "added":
        line.append(short_value(change.new, limit), style=colors.added)
    elif change.kind == "removed":
        line.append(short_value(change.old, limit), style=colors.removed)
    else:
        line.append(short_value(change.old, limit), style=colors.removed)
        line.append(" → ", style="dim")
        line.append(short_value(change.new, limit), style=colors.added)
    return line


def counts_text(comparison: Comparison, colors: Palette) -> Text:
    """`+a ~c -r` of a comparison, coloured."""
    text = Text()
    text.append(f"+{comparison.added}", style=colors.added)
    text.append(" ")
    text.append(f"~{comparison.changed}", style=colors.changed)
    text.append(" ")
    text.append(f"-{comparison.removed}", style=colors.removed)
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
        line = change_text(self.changes[index], self.palette)
        line.truncate(max(1, self.scrollable_content_region.width), overflow="ellipsis")
        return line

    def on_cursor_moved(self, index: int) -> None:
        self.post_message(self.Highlighted(index))

    def action_select(self) -> None:
        if 0 <= self.cursor < self.row_count:
            self.post_message(self.Highlighted(self.cursor))
