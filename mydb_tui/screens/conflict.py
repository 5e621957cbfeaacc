"""The dialog shown when a save finds that another writer moved the entry's HEAD.

It says who saved what since the edit began, what they changed and where both changed
the same field, and offers: view the changes (their version beside the edit), re-apply
the edit on top of the new HEAD, or cancel (back to the editor, nothing written).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer

from ..model.conflict import MISSING, Conflict, saved_text
from ..model.escape import display_safe
from ..widgets.palette import Palette
from ..widgets.themed_static import ThemedStatic

#: The changed paths listed before "… and N more".
SHOWN_PATHS = 4

#: The dialog's answers (dismissed with one of them).
VIEW, REAPPLY, CANCEL = "view", "reapply", "cancel"


def _paths(paths: list[str]) -> str:
    shown = ", ".join(display_safe(p) for p in paths[:SHOWN_PATHS])
    more = len(paths) - SHOWN_PATHS
    return f"{shown} and {more:,} more" if more > 0 else shown


def conflict_text(conflict: Conflict, colors: Palette) -> Text:
    """What happened since the edit began (who, when, what), and what re-applying will do."""
    text = Text()
    text.append(display_safe(saved_text(conflict.entry, conflict.versions)), style=f"bold {colors.user}")
    text.append(" while you were editing")
    if conflict.key is not None:
        text.append(" record ")
        text.append(display_safe(conflict.key), style="bold")
    text.append(".\nHEAD is now ")
    text.append(conflict.head[:12], style=colors.digest)
    text.append(" (you started from ")
    text.append(conflict.base_head[:12], style=colors.digest)
    text.append("). Nothing was saved.\n\n")
    if conflict.key is not None and conflict.theirs is MISSING:
        text.append("They deleted this record: ", style=f"bold {colors.warning}")
        text.append("re-apply adds it back with your value, for you to check before you save.", style="dim")
        return text
    if conflict.theirs_changed:
        text.append("They changed: ", style="dim")
        text.append(_paths(conflict.theirs_changed))
        text.append("\n")
    elif conflict.key is not None:
        text.append("They did not change this record.\n", style="dim")
    if conflict.overlaps:
        text.append("You both changed: ", style=f"bold {colors.warning}")
        text.append(_paths(conflict.overlaps), style=colors.warning)
        text.append("\nRe-apply puts your edit on their version, keeping yours where you both changed, "
                    "and lets you check it before you save.", style="dim")
    else:
        text.append("Your edit touches nothing they changed: ", style=colors.ok)
        text.append("re-apply saves it on top of their version.", style="dim")
    return text


class ConflictScreen(ModalScreen[str]):
    """Ask what to do about a save that lost the race; dismissed with VIEW, REAPPLY or CANCEL."""

    CSS_PATH = "conflict.tcss"
    BINDINGS = [
        Binding("v", "answer('view')", "View changes"),
        Binding("r", "answer('reapply')", "Re-apply"),
        Binding("escape,c", "answer('cancel')", "Cancel", key_display="esc"),
    ]

    def __init__(self, conflict: Conflict) -> None:
        super().__init__()
        self.conflict = conflict

    def compose(self) -> ComposeResult:
        with Vertical(id="conflict-dialog"):
            yield ThemedStatic(self._title, id="conflict-title")
            yield ThemedStatic(lambda colors: conflict_text(self.conflict, colors), id="conflict-message")
            with Horizontal(id="conflict-buttons"):
                yield Button("View changes (v)", id="conflict-view")
                yield Button("Re-apply (r)", variant="primary", id="conflict-reapply")
                yield Button("Cancel (esc)", id="conflict-cancel")
        yield Footer()

    def _title(self, colors: Palette) -> Text:
        text = Text("Not saved: ", style=f"bold {colors.warning}")
        text.append(display_safe(f"{self.conflict.tenant} / {self.conflict.entry}"), style="bold")
        text.append(" changed since you began", style=f"bold {colors.warning}")
        return text

    def on_mount(self) -> None:
        self.query_one("#conflict-view", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss((event.button.id or "conflict-cancel").removeprefix("conflict-"))

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)

    def system_commands(self) -> Iterable[SystemCommand]:
        """The command palette's entries for this dialog."""
        yield SystemCommand("View changes", "Their version beside your edit (v)", lambda: self.dismiss(VIEW))
        yield SystemCommand("Re-apply my edit", "Your edit on top of the new HEAD (r)", lambda: self.dismiss(REAPPLY))
        yield SystemCommand("Cancel", "Back to the editor; nothing is saved (esc)", lambda: self.dismiss(CANCEL))
