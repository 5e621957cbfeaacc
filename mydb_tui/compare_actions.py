"""CompareActions: the app actions that compare versions of the selected entry (d, D, enter, space).

A mixin of MyDbApp, so that Textual finds its `action_*` methods on the app (bindings
"app.compare"...). `_selection` (the version the user means) is also the write actions'.
"""

from __future__ import annotations

from typing import Any

from .widgets.entry_tree import EntryTree


class CompareActions:
    """Compare the selected version with its parent, the marked one or HEAD; mark a version."""

    def _selection(self) -> tuple[str, str, Any] | None:
        timeline = self.timeline
        if isinstance(self.focused, EntryTree) and self.tree.selected_entry != (timeline.tenant, timeline.entry):
            # The cursor is on a tenant (or an entry still loading): the History shown is of
            # another entry, which the user is not looking at.
            self.notify("Move the cursor to an entry first (the cursor is on a tenant)", severity="warning",
                        timeout=3)
            return None
        version = timeline.selected
        if version is None or timeline.tenant is None or timeline.entry is None:
            self.notify("Select an entry and a version first", severity="warning", timeout=3)
            return None
        return timeline.tenant, timeline.entry, version

    def _compare(self, tenant: str, entry: str, old: str | None, new: str | None) -> None:
        """Open the compare screen on two versions of an entry (imported here: it brings DeepDiff's model)."""
        from .screens.compare import CompareScreen

        self.push_screen(CompareScreen(self.engine, tenant, entry, old, new))

    def action_compare(self) -> None:
        """Compare the marked version (or the parent) with the selected one, older left."""
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        timeline = self.timeline
        marked = timeline.marked
        if marked and marked != version.digest:
            pair = sorted([marked, version.digest], key=lambda d: -(timeline.position(d) or 0))
            old, new = pair[0], pair[1]
        else:
            old, new = version.parent, version.digest
        self._compare(tenant, entry, old, new)

    def action_compare_parent(self) -> None:
        """Enter on a History row: that version against its parent (a mark does not count)."""
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        self._compare(tenant, entry, version.parent, version.digest)

    def action_compare_head(self) -> None:
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        head = self.timeline.head
        if version.digest == head:
            self.notify("HEAD is selected: select an older version to compare with HEAD (d compares with the parent)",
                        severity="warning", timeout=4)
            return
        self._compare(tenant, entry, version.digest, head)

    def action_mark(self) -> None:
        self.timeline.action_toggle_mark()
