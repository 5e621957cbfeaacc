"""Confirmation before restoring an old version: what would change against HEAD."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from ..model.escape import display_safe
from ..widgets.change_list import ChangeList
from ..widgets.change_list import summary_text as counts_summary
from ..widgets.loading import CalmLoadingIndicator
from ..widgets.palette import Palette
from ..widgets.themed_static import ThemedStatic
from .loading import load_in_worker

if TYPE_CHECKING:  # the model pulls in DeepDiff: imported by the worker that compares
    from mydb_tui.model.compare import Comparison

_OPPOSITE = {"added": "removed", "removed": "added", "changed": "changed"}


def restore_changes(comparison: Comparison, head: str) -> Comparison:
    """The comparison oriented HEAD (old) -> restored version (new): what restoring does.

    compare_versions puts the older version on the left whatever the argument order, so
    when HEAD ended up on the right every change is turned around.
    """
    if comparison.old is not None and comparison.old.digest == head:
        return comparison
    from mydb_tui.model.compare import Change, Comparison

    flipped = [
        Change(c.path, _OPPOSITE.get(c.kind, c.kind), c.new, c.old, c.record_key, c.row)
        for c in comparison.changes
    ]
    return Comparison(
        tenant=comparison.tenant, entry=comparison.entry, kind=comparison.kind,
        old=comparison.new, new=comparison.old or comparison.new, changes=flipped, rows=[],
        added=comparison.removed, changed=comparison.changed, removed=comparison.added,
        old_meta=comparison.new_meta, new_meta=comparison.old_meta,
        records_compared=comparison.records_compared,
    )


class RestoreScreen(ModalScreen[bool]):
    """Show HEAD → `digest` changes; `y` dismisses with True (the app then restores)."""

    CSS_PATH = "restore.tcss"
    BINDINGS = [
        Binding("y", "confirm", "Restore"),
        Binding("n", "cancel", "Cancel"),
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    def __init__(self, engine: Any, tenant: str, entry: str, digest: str) -> None:
        super().__init__()
        self.engine = engine
        self.tenant = tenant
        self.entry = entry
        self.digest = digest
        self.head: str | None = None
        self.comparison: Comparison | None = None
        self.ready = False  # the change list (or an error) is shown: `y` may confirm
        self.refusal: str | None = None  # why this version cannot be restored

    def _title(self, colors: Palette) -> Text:
        title = Text("Restore ", style="bold")
        title.append(self.digest[:12], style=f"bold {colors.digest}")
        title.append(" of ")
        title.append(display_safe(f"{self.tenant} / {self.entry}"), style="bold")
        title.append(" as the new HEAD?")
        return title

    def compose(self) -> ComposeResult:
        with Vertical(id="restore-dialog"):
            yield ThemedStatic(self._title, id="restore-title")
            yield ThemedStatic(lambda _colors: Text("Comparing with HEAD…", style="dim"), id="restore-summary")
            yield CalmLoadingIndicator(id="restore-loading")
            yield ChangeList(id="restore-changes")
            yield Static(
                Text.assemble(("y", "bold"), " restore (a new version; history is kept)   ",
                              ("n", "bold"), "/", ("esc", "bold"), " cancel"),
                id="restore-hint",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#restore-changes").display = False
        self._load()

    def _load(self) -> None:
        """Compare HEAD with the version to restore in a worker; a failure is shown in place
        (the user may still cancel)."""
        load_in_worker(self, self._compare, lambda found: self._show(*found), self._show_error,
                       group="restore", indicator="#restore-loading")

    def _compare(self) -> tuple[str, Comparison | None]:
        """(In the worker) HEAD, and what restoring changes (None: the version is HEAD)."""
        from mydb_tui.model.compare import compare_versions, in_shown_order

        head = self.engine.get_digest(self.tenant, self.entry)
        if head == self.digest:
            return head, None
        compared = compare_versions(self.engine, self.tenant, self.entry, head, self.digest, badges=True)
        return head, restore_changes(in_shown_order(compared), head)

    def _show_error(self, error: Exception) -> None:
        shown = display_safe(f"{type(error).__name__}: {error}")

        def message(colors: Palette) -> Text:
            text = Text("Could not compare with HEAD: ", style=f"bold {colors.error}")
            text.append(shown)
            return text

        self.query_one("#restore-summary", ThemedStatic).show(message)
        self.ready = True

    def _show(self, head: str, comparison: Comparison | None) -> None:
        self.head = head
        self.comparison = comparison
        summary = self.query_one("#restore-summary", ThemedStatic)
        if comparison is None:
            refusal = self.refusal = f"{self.digest[:12]} is already the HEAD of {self.entry}: nothing to restore."
            summary.show(lambda colors: Text(display_safe(refusal), style=f"bold {colors.warning}"))
            self.ready = True
            return
        summary.show(lambda colors: summary_text(head, comparison, colors))
        if comparison.changes:
            changes = self.query_one("#restore-changes", ChangeList)
            changes.set_changes(comparison.changes)  # renders only the visible lines
            changes.display = True
            changes.focus()
        self.ready = True

    def action_confirm(self) -> None:
        if self.refusal is not None:
            self.notify(self.refusal, severity="warning")
            return
        if not self.ready:
            self.notify("Still comparing with HEAD…", timeout=2)
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


def summary_text(head: str, comparison: Comparison, colors: Palette) -> Text:
    """`Against HEAD abc: 2 records changed · 3 field changes`: what restoring would change."""
    text = Text("Against HEAD ")
    text.append(head[:12], style=colors.digest)
    text.append(": ")
    text.append_text(counts_summary(comparison, colors))
    if not comparison.changes:
        text.append("\nThe data is the same as HEAD's; restoring only records a new version.", style="dim")
    damage = comparison.new_meta.get("damage")
    if damage:
        text.append("\n⚠ this version's metadata is damaged: ", style=f"bold {colors.error}")
        text.append(display_safe(str(damage)), style=colors.error)
        text.append("\nRestoring copies its data into a new version with valid metadata.", style="dim")
    return text
