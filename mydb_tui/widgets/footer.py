"""The footer: Textual's, with "? Help" first so a narrow terminal never cuts it off."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Actions whose keys lead the footer, in this order.
FIRST = ("help", "app.help")


class AppFooter(Footer):
    """Textual's Footer with the help key first: the pane's keys follow, cut at the right
    edge when the terminal is narrow, and `?` always shows how to see them all."""

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        first = [w for w in widgets if isinstance(w, FooterKey) and w.action in FIRST]
        yield from first
        yield from (w for w in widgets if not any(w is f for f in first))
