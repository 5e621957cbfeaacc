"""A yes/no confirmation modal, reused by every destructive or writing action."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from ..model.escape import display_safe


class ConfirmScreen(ModalScreen[bool]):
    """Ask `title` / `message`; dismiss with True on `y`, False on `n` or escape."""

    CSS_PATH = "confirm.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel", show=False),
    ]

    def __init__(self, title: str, message: str | Text) -> None:
        """`message` is shown literally (a str is never parsed as markup; its newlines break lines)."""
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        if isinstance(self.message, Text):
            message = self.message
        else:
            message = Text("\n".join(display_safe(line) for line in self.message.split("\n")))
        with Vertical(id="confirm-dialog"):
            yield Static(Text(display_safe(self.title_text), style="bold"), id="confirm-title")
            yield Static(message, id="confirm-message")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="primary", id="confirm-yes")
                yield Button("No (n)", id="confirm-no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
