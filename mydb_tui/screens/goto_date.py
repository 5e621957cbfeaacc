"""Go to date (`@`): ask for an ISO date or date-time and select the version that was HEAD then.

The date is read with the engine's `parse_when` (without an offset: local time; a date
alone: its first instant) and looked up with `as_of` (a binary search) in a worker; a
bad date, or one before the first version, is said in the dialog, which stays open.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dbengine.queries import parse_when
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..model.dates import local_time
from ..model.errors import error_text
from ..model.escape import display_safe
from ..widgets.palette import palette


class GotoDateScreen(ModalScreen["str | None"]):
    """Dismissed with the digest of the version that was HEAD at the date typed (None: esc)."""

    CSS_PATH = "goto_date.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", key_display="esc"),
    ]

    def __init__(self, engine: Any, tenant: str, entry: str) -> None:
        super().__init__()
        self.engine, self.tenant, self.entry = engine, tenant, entry
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="date-dialog"):
            yield Static(Text.assemble(("Go to date in ", "bold"), (display_safe(f"{self.tenant} / {self.entry}"), "bold")),
                         id="date-title")
            yield Input(placeholder="2026-03-01 or 2026-03-01T14:30 (local time) or …+02:00", id="date-input")
            yield Static(Text("enter: select the version that was HEAD then · esc: cancel", style="dim"),
                         id="date-message")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _say(self, message: str, error: bool = True) -> None:
        self.error = message if error else None
        style = f"bold {palette(self.app).error}" if error else "dim"
        self.query_one("#date-message", Static).update(Text(display_safe(message), style=style))

    @on(Input.Submitted, "#date-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            when = parse_when(event.value)
        except Exception as error:  # InvalidDateError: said in the dialog
            self._say(error_text(error))
            return
        self._say("looking up…", error=False)
        self._look_up(when)

    @work(thread=True, exclusive=True, group="as-of")
    def _look_up(self, when: Any) -> None:
        try:
            version = self.engine.as_of(self.tenant, self.entry, when)
        except Exception as error:  # an engine error: a message, never a traceback
            self.app.call_from_thread(self._say, error_text(error))
            return
        self.app.call_from_thread(self._found, when, version)

    def _found(self, when: Any, version: Any) -> None:
        if not self.is_attached:
            return
        if version is None:
            self._say(f"{local_time(when, seconds=False)} is before the first version of {self.entry}")
            return
        self.dismiss(version.digest)

    def action_close(self) -> None:
        self.dismiss(None)
