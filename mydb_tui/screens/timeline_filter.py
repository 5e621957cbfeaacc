"""Filter the timeline (`/` in the History pane): ask for a query (model.timeline_filter).

The query is checked as it is submitted: a term that cannot be read is said in the
dialog, which stays open; an empty query clears the filter.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..model.escape import display_safe
from ..model.timeline_filter import FilterError, parse_filter
from ..widgets.palette import palette

HINT = "user:alice · words of the user or changes · >=2026-03-01 <2026-04-01 · key:K / path:/a/b"


class TimelineFilterScreen(ModalScreen["str | None"]):
    """Dismissed with the query typed ("" clears the filter; None: esc)."""

    CSS_PATH = "timeline_filter.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", key_display="esc"),
    ]

    def __init__(self, entry: str, current: str = "") -> None:
        super().__init__()
        self.entry, self.current = entry, current
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="tfilter-dialog"):
            yield Static(Text.assemble(("Filter the history of ", "bold"), (display_safe(self.entry), "bold")),
                         id="tfilter-title")
            yield Input(value=self.current, placeholder=HINT, id="tfilter-input")
            yield Static(Text(f"{HINT}\nenter: filter (empty: clear) · esc: cancel", style="dim"),
                         id="tfilter-message")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#tfilter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            parse_filter(event.value)
        except FilterError as error:
            self.error = str(error)
            style = f"bold {palette(self.app).error}"
            self.query_one("#tfilter-message", Static).update(Text(display_safe(self.error), style=style))
            return
        self.dismiss(event.value.strip())

    def action_close(self) -> None:
        self.dismiss(None)
