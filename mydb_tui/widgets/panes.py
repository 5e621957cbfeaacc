"""Panes: the main screen's three panes (Entries, History, the version), side by side or stacked."""

from __future__ import annotations

from textual import events
from textual.containers import Horizontal
from textual.css.query import NoMatches

from .entry_tree import EntryTree

#: Below this many columns the panes stack (Entries above History above the version):
#: side by side, History and the entry names were cut to make room for each other.
STACK_BELOW = 100
#: The panes the number keys focus, in order.
PANE_IDS = ("entry-pane", "timeline", "viewer")


class Panes(Horizontal):
    """The three panes: side by side, or stacked below STACK_BELOW columns.

    Every resize refits the Entries pane to the new width (not only when the tree
    changes). Stacked, the pane with the focus takes the room and the others keep a
    few lines (lazygit's accordion): the classes `-focus-entries`, `-focus-history`
    and `-focus-viewer` say which (app.tcss).
    """

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < STACK_BELOW, "-stacked")
        try:
            tree = self.query_one(EntryTree)
        except NoMatches:
            return
        tree.fit_pane(event.size.width, stacked=self.has_class("-stacked"))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        widget = event.widget
        for pane_id, name in zip(PANE_IDS, ("entries", "history", "viewer"), strict=True):
            self.set_class(widget.id == pane_id or any(a.id == pane_id for a in widget.ancestors),
                           f"-focus-{name}")
