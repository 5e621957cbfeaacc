"""A modal to add (or overwrite) one record of a record entry: key plus JSON value."""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static, TextArea

from ..model.escape import display_safe
from ..widgets.palette import Palette
from ..widgets.themed_static import ThemedStatic
from .editor import JsonInputError, follow_theme, json_text_area, parse_text_area
from .loading import load_in_worker


class AddRecordScreen(ModalScreen[str | None]):
    """Ask for a key and a JSON value; ctrl+s stores it and dismisses with the key."""

    CSS_PATH = "add_record.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Add record", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, engine: Any, tenant: str, entry: str, user: str) -> None:
        super().__init__()
        self.engine = engine
        self.tenant = tenant
        self.entry = entry
        self.user = user
        self.error_text: str | None = None
        self.overwrites = False  # the typed key already names a record at HEAD
        self.saving = False  # the record is being stored (in a worker)

    def _title(self, colors: Palette) -> Text:
        title = Text("Add a record to ", style="bold")
        title.append(display_safe(f"{self.tenant} / {self.entry}"), style=f"bold {colors.key}")
        title.append("  as ", style="dim")
        title.append(display_safe(self.user), style=colors.user)
        return title

    def compose(self) -> ComposeResult:
        with Vertical(id="add-dialog"):
            yield ThemedStatic(self._title, id="add-title")
            yield Label("Key")
            yield Input(placeholder="record key", id="add-key")
            yield Static("", id="add-warning", classes="hidden")
            yield Label("Value (JSON, stored form)")
            yield json_text_area("{\n  \n}", id="add-value")
            yield Static("", id="add-error", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        value = self.query_one("#add-value", TextArea)
        follow_theme(value)
        value.move_cursor((1, 2))  # inside the braces
        self.query_one("#add-key", Input).focus()

    def _key_exists(self, key: str) -> bool:
        """(In a worker) True when `key` names a record at HEAD."""
        try:
            self.engine.read_record(self.tenant, self.entry, key)
        except Exception:  # no such record, bad key, or no entry yet: nothing to overwrite
            return False
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        key = event.value
        self._clear_error()
        if not key:
            self._warn(key, False)
            return
        load_in_worker(self, partial(self._key_exists, key), partial(self._warn, key),
                       lambda _error: self._warn(key, False), group="add-key")

    def _warn(self, key: str, exists: bool) -> None:
        """Say whether adding `key` overwrites a record (only while `key` is still the one typed)."""
        if key != self.query_one("#add-key", Input).value:
            return
        self.overwrites = exists
        warning = self.query_one("#add-warning", Static)
        if self.overwrites:
            message = Text("⚠ record ", style="bold")
            message.append(display_safe(key), style="bold")
            message.append(" exists: adding overwrites its value (a new version).")
            warning.update(message)
            warning.remove_class("hidden")
        else:
            warning.add_class("hidden")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#add-value", TextArea).focus()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._clear_error()

    def _show_error(self, message: str) -> None:
        self.error_text = display_safe(message)
        error = self.query_one("#add-error", Static)
        error.update(Text(self.error_text, style="bold"))
        error.remove_class("hidden")

    def _clear_error(self) -> None:
        self.error_text = None
        self.query_one("#add-error", Static).add_class("hidden")

    def action_save(self) -> None:
        key = self.query_one("#add-key", Input).value
        if not key:
            self._show_error("Enter a record key.")
            self.query_one("#add-key", Input).focus()
            return
        area = self.query_one("#add-value", TextArea)
        try:
            value = parse_text_area(area)
        except JsonInputError as error:
            self._show_error(str(error))
            area.focus()
            return
        if self.saving:
            self.notify("Adding…", timeout=2)
            return
        self.saving = True
        load_in_worker(self, partial(self._put, key, value), self._added, self._not_added, group="add-save")

    def _put(self, key: str, value: Any) -> str:
        """(In a worker) store the record; the key added."""
        if self.engine.put_stored(self.tenant, self.user, self.entry, key, value):
            note = getattr(self.app, "note_own_write", None)  # not announced as another writer's
            if callable(note):
                note(self.engine.get_digest(self.tenant, self.entry))
        return key

    def _added(self, key: str) -> None:
        self.saving = False
        self.dismiss(key)

    def _not_added(self, error: Exception) -> None:
        """Invalid key or value, wrong entry kind, I/O: nothing was written."""
        self.saving = False
        self._show_error(f"Not added: {type(error).__name__}: {error}")

    def action_cancel(self) -> None:
        self.dismiss(None)
