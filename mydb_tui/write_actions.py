"""WriteActions: the app actions that write a new version (restore, edit, add and delete a record).

A mixin of MyDbApp, so that Textual finds its `action_*` methods on the app (bindings
"app.restore"...). Each asks first (a confirm, restore or editor screen), writes in a
worker (group "write"), and tells the app's watcher the new version is its own
(`note_own_write`) so it is not announced as another writer's. Uses the app's panes and
`_selection` (compare_actions.py). check_action (action_rules.py) refuses them read-only.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from dbengine.errors import DbEngineError
from textual import work

from .model.errors import error_text
from .model.escape import display_safe


class WriteActions:
    """Restore a version, edit the snapshot or a record, add or delete a record."""

    def action_restore(self) -> None:
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        if version.digest == self.timeline.head:
            self.notify(f"{version.digest[:7]} is already HEAD: select an older version to restore",
                        severity="warning", timeout=4)
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._restore(tenant, entry, version.digest)

        from .screens.restore import RestoreScreen

        self.push_screen(RestoreScreen(self.engine, tenant, entry, version.digest), confirmed)

    @work(thread=True, group="write")
    def _restore(self, tenant: str, entry: str, digest: str) -> None:
        try:
            new = self.engine.restore(tenant, self.user, entry, digest)
            self.note_own_write(new)
        except DbEngineError as error:
            self.call_from_thread(self.notify, display_safe(str(error)), title="Restore failed",
                                  severity="error", markup=False)
            return
        self.call_from_thread(self._written, tenant, entry, new,
                              f"Restored {digest[:7]} as the new HEAD {new[:7]}", "Restored")

    def _written(self, tenant: str, entry: str, digest: str | None, message: str, title: str = "Saved") -> None:
        if digest is not None:
            self.note_own_write(digest)
        if self.new_version is not None and self.new_version[:2] == (tenant, entry):
            self._seen_new_version()  # this write is on top of theirs: the user has been there
        self.notify(display_safe(message), title=title, markup=False)
        self.refresh_entry(tenant, entry, select_digest=digest)

    def action_edit(self) -> None:
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        timeline = self.timeline
        base = None if version.digest == timeline.head else version.digest
        key = None
        if timeline.kind == "records":
            key = self.viewer.selected_record
            if key is None:
                self.notify("Select a record in the viewer to edit it", severity="warning", timeout=3)
                return

        def saved(digest: str | None) -> None:
            if digest:
                self._written(tenant, entry, digest, f"Saved new HEAD {digest[:7]} of {entry}")

        from .screens.editor import EditorScreen, read_editable
        from .screens.loading import load_in_worker

        def open_editor(editable: Any) -> None:
            if editable.too_large:  # refused before opening: the viewer keeps showing the value
                self.notify(display_safe(editable.error or ""), title="Too large to edit here", severity="warning",
                            timeout=8, markup=False)
                return
            self.push_screen(EditorScreen(self.engine, tenant, entry, self.user, key=key, base_digest=base,
                                          editable=editable), saved)

        def failed(error: Exception) -> None:  # read_editable keeps its errors: only a bug gets here
            self.notify(display_safe(error_text(error)), title="Cannot edit", severity="error", markup=False)

        load_in_worker(self, partial(read_editable, self.engine, tenant, entry, key, base), open_editor, failed,
                       group="editor-open")

    def action_add_record(self) -> None:
        timeline = self.timeline
        if timeline.kind != "records" or timeline.tenant is None or timeline.entry is None:
            self.notify("Adding records needs a record entry", severity="warning", timeout=3)
            return
        tenant, entry = timeline.tenant, timeline.entry

        def added(key: str | None) -> None:
            if key:
                self._after_record_write(tenant, entry, f"Added record {key}", key)

        from .screens.add_record import AddRecordScreen

        self.push_screen(AddRecordScreen(self.engine, tenant, entry, self.user), added)

    def _after_record_write(self, tenant: str, entry: str, message: str, key: str | None) -> None:
        try:
            head = self.engine.get_digest(tenant, entry)
        except DbEngineError:
            head = None
        if key is not None:
            self.viewer.pending_record = key
        self._written(tenant, entry, head, message)

    def action_delete_record(self) -> None:
        timeline = self.timeline
        key = self.viewer.selected_record
        if timeline.kind != "records" or key is None or timeline.tenant is None or timeline.entry is None:
            self.notify("Select a record to delete", severity="warning", timeout=3)
            return
        tenant, entry = timeline.tenant, timeline.entry

        keys = self.viewer.record_table.keys
        index = self.viewer.record_table.cursor
        # After the delete the cursor goes to the next record (or the previous one at the end).
        neighbour = keys[index + 1] if index + 1 < len(keys) else (keys[index - 1] if index > 0 else None)

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._delete(tenant, entry, key, neighbour)

        message = (f"Delete record {display_safe(key)!r} from {display_safe(tenant)}/{display_safe(entry)}?\n"
                   f"This writes a new version of HEAD as user {display_safe(self.user)!r}.")
        from .screens.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen("Delete record", message), confirmed)

    @work(thread=True, group="write")
    def _delete(self, tenant: str, entry: str, key: str, neighbour: str | None = None) -> None:
        try:
            deleted = self.engine.delete(tenant, self.user, entry, key)
            if deleted:
                self.note_own_write(self.engine.get_digest(tenant, entry))
        except DbEngineError as error:
            self.call_from_thread(self.notify, display_safe(str(error)), title="Delete failed",
                                  severity="error", markup=False)
            return
        if not deleted:
            self.call_from_thread(self.notify, f"HEAD has no record {display_safe(key)!r}: nothing deleted",
                                  severity="warning", markup=False)
            return
        self.call_from_thread(self._after_record_write, tenant, entry, f"Deleted record {key}", neighbour)
