"""HistoryActions: the app actions that ask the history (h, ctrl+f, @, b) and jump to their answers.

A mixin of MyDbApp, so that Textual finds its `action_*` methods on the app (bindings
"app.key_history"...). Also the palette's entries for the record table's own keys
(find, sort, copy value), and `jump_to`, which selects a version, then a record or a
tree node in it once it is shown.
"""

from __future__ import annotations

from typing import Any

from .model.escape import display_safe
from .widgets.json_tree import JsonTree


class HistoryActions:
    """Key history, search, go to date, blame, and the jump to a version (then a record or node)."""

    def action_key_history(self) -> None:
        """`h`: the versions where the selected record, or the tree node under the cursor, changed."""
        viewer = self.viewer
        if viewer.document is None or viewer.tenant is None or viewer.entry is None:
            self.notify("Select a version first", severity="warning", timeout=3)
            return
        focused = self.focused
        key = path = None
        if viewer.kind == "records":
            key = viewer.selected_record
            if key is None:
                self.notify("Select a record first", severity="warning", timeout=3)
                return
            if isinstance(focused, JsonTree) and focused.id == "record-tree":
                path = focused.cursor_pointer or None
                if focused.cursor_pointer is None:
                    self.notify("Inside a tagged value: move to the value itself", severity="warning", timeout=3)
                    return
        else:
            tree = viewer.query_one("#data-tree", JsonTree)
            path = tree.cursor_pointer if tree.cursor_node is not None else ""
            if path is None:
                self.notify("Inside a tagged value: move to the value itself", severity="warning", timeout=3)
                return
        from .screens.key_history import KeyHistoryScreen

        self.push_screen(KeyHistoryScreen(self.engine, viewer.tenant, viewer.entry, key, path))

    def action_search(self) -> None:
        """`ctrl+f`: search the entry's history (or the tenant's) for a text; enter jumps to a hit."""
        timeline = self.timeline
        if timeline.tenant is None:
            self.notify("Select a tenant or an entry first", severity="warning", timeout=3)
            return
        from .screens.search import SearchScreen

        self.push_screen(SearchScreen(self.engine, timeline.tenant, timeline.entry),
                         lambda hit: hit and self.jump_to(*hit))

    def action_goto_date(self) -> None:
        """`@`: select the version that was HEAD at a date."""
        timeline = self.timeline
        if timeline.tenant is None or timeline.entry is None:
            self.notify("Select an entry first", severity="warning", timeout=3)
            return
        tenant, entry = timeline.tenant, timeline.entry
        from .screens.goto_date import GotoDateScreen

        self.push_screen(GotoDateScreen(self.engine, tenant, entry),
                         lambda digest: digest and self.jump_to(tenant, entry, digest))

    def action_toggle_blame(self) -> None:
        if self.viewer.kind == "records":
            self.viewer.record_table.action_toggle_blame()
        else:
            self.viewer.query_one("#data-tree", JsonTree).action_toggle_blame()

    def action_find_records(self) -> None:
        self.viewer.record_table.action_find()

    def action_sort_records(self) -> None:
        self.viewer.record_table.action_sort_column()

    def action_copy_value(self) -> None:
        self.viewer.record_table.action_copy_value()

    def jump_to(self, tenant: str, entry: str, digest: str, key: str | None = None, path: str | None = None) -> None:
        """Select version `digest` of the entry in the timeline, then record `key` and/or the
        tree node at `path` in the viewer once that version is shown."""
        timeline, viewer = self.timeline, self.viewer
        same = (tenant, entry, digest) == (viewer.tenant, viewer.entry, viewer.digest)
        stale = None if same else viewer.document
        if (tenant, entry) != (timeline.tenant, timeline.entry):
            self.tree.goto(tenant, entry)
            timeline.load(tenant, entry, select=digest)
        elif (position := timeline.position(digest)) is not None:
            timeline.cursor = position
        else:
            timeline.load(tenant, entry, select=digest)
        timeline.focus()
        if key is not None or path:
            self._select_when_shown((tenant, entry, digest), stale, key, path, 100)

    def _select_when_shown(self, target: tuple, stale: Any, key: str | None, path: str | None, tries: int) -> None:
        viewer = self.viewer
        if (viewer.tenant, viewer.entry, viewer.digest) != target or viewer.document is None \
                or viewer.document is stale:
            if tries > 0 and not self._panes_gone:
                self.set_timer(0.05, lambda: self._select_when_shown(target, stale, key, path, tries - 1))
            return
        tree = viewer.query_one("#data-tree" if viewer.kind == "snapshot" else "#record-tree", JsonTree)
        if key is not None and viewer.kind == "records":
            table = viewer.record_table
            if key not in table.keys:
                self.notify(f"Record {display_safe(key)} is not in this version", severity="warning", markup=False)
                return
            table.cursor = table.keys.index(key)
            table.focus()
            if not path:
                return
        if path:
            # the record's tree is filled once its RecordHighlighted message is handled
            self.call_after_refresh(lambda: tree.select_pointer(path) and tree.focus())
