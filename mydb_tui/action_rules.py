"""ActionRules: when each app action applies (check_action), and the command palette's app entries.

A mixin of MyDbApp (before App in its bases: its check_action and get_system_commands are
the app's). It reads the app's panes (`timeline`, `viewer`, `_main_screen`), `read_only`
and `new_version`; the footer, the palette and the help screen all follow these rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand
from textual.screen import Screen

from .widgets.timeline import Timeline
from .widgets.viewer import Viewer

WRITE_ACTIONS = frozenset({"restore", "edit", "add_record", "delete_record"})
VERSION_ACTIONS = frozenset({"compare", "compare_head", "restore", "edit", "copy"})
RECORD_ACTIONS = frozenset({"add_record", "delete_record"})

#: (action, palette title, palette help) of every app action, for the command palette.
#: An action with a title per entry kind lists as {"snapshot": ..., "records": ...}.
PALETTE_ACTIONS: tuple[tuple[str, str | dict[str, str], str], ...] = (
    ("goto", "Go to entry…", "Fuzzy search over all tenants and entries"),
    ("filter", "Filter entries", "Filter the tree by entry name (/)"),
    ("compare", "Compare versions", "Marked version (or parent) vs selected (d)"),
    ("compare_head", "Compare with HEAD", "Selected version vs HEAD (D)"),
    ("mark", "Mark version", "Mark the selected version for a comparison (space)"),
    ("filter_history", "Filter history", "Versions by user:, words, >=DATE <DATE, key:K (/ in History)"),
    ("restore", "Restore version", "Make the selected version the new HEAD (r)"),
    ("edit", {"snapshot": "Edit snapshot", "records": "Edit record"},
     "Edit the snapshot, or the selected record, as JSON (e)"),
    ("add_record", "Add record", "Add a record to this record entry (a)"),
    ("delete_record", "Delete record", "Delete the selected record (x)"),
    ("copy", "Copy", "Copy the selected digest or record key (c)"),
    # History questions (issue 14): keys h, b (viewer), ctrl+f, @.
    ("key_history", {"snapshot": "History of this value", "records": "History of this record"},
     "The versions where the selected record or tree node changed (h)"),
    ("search", "Search history…", "Find a text through the entry's (or tenant's) versions (ctrl+f)"),
    ("goto_date", "Go to date…", "Select the version that was HEAD at a date (@)"),
    ("toggle_blame", {"snapshot": "Blame gutter", "records": "Blame column"},
     "Show who last changed each line of the tree, or each record of the table (b)"),
    # Find in one version (record table): find /, sort s/S, copy value y / key Y.
    ("find_records", {"records": "Find in this version"}, "Show only the records whose key or value holds a text (/)"),
    ("sort_records", {"records": "Sort records"}, "Sort the record table by the underlined column (s; S picks it)"),
    ("copy_value", {"records": "Copy value as JSON"}, "Copy the selected record's value as JSON (y)"),
    ("toggle_view", "Toggle tree / JSON", "Show the data as a tree or as pretty JSON (t)"),
    ("zoom", "Zoom pane", "Show the focused pane on the whole screen, and back (+)"),
    ("goto_new", "Go to the new version", "Show the version another writer just saved (H)"),
    ("reload", "Reload", "Re-read the database now"),
    ("verify", "Verify database", "Re-hash and cross-check every file; changes nothing (V)"),
    ("help", "Help", "Every key of the app (? or F1)"),
)
#: The palette actions offered over other screens (compare, restore, editor…).
ANYWHERE_ACTIONS = frozenset({"help"})
#: Textual's own palette commands that the app's replace ("Keys": Help; "Maximize": Zoom pane).
REPLACED_COMMANDS = frozenset({"Keys", "Maximize", "Minimize"})


class ActionRules:
    """check_action, get_system_commands and _applies of MyDbApp."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self.read_only:
            return False
        if action in ("zoom", "focus_pane", "search", "goto_date"):
            return bool(self.screen_stack) and self.screen is self._main_screen()
        if action == "goto_new":
            return self.new_version is not None and bool(self.screen_stack) and self.screen is self._main_screen()
        try:
            timeline = self._main_screen().query_one(Timeline)
        except Exception:
            return True
        if action in VERSION_ACTIONS and timeline.selected is None:
            return None
        if action in RECORD_ACTIONS and timeline.kind != "records":
            return None
        if action == "delete_record" and self._main_screen().query_one(Viewer).selected_record is None:
            return None
        if action in ("search", "goto_date") and (timeline.tenant is None or (action == "goto_date"
                                                                            and timeline.entry is None)):
            return None
        if action in ("key_history", "toggle_blame") and self._main_screen().query_one(Viewer).document is None:
            return None
        if action in ("find_records", "sort_records", "copy_value") and self._main_screen().query_one(Viewer).kind != "records":
            return None
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands, then the app actions that apply to `screen` and the selection."""
        for command in super().get_system_commands(screen):
            if command.title not in REPLACED_COMMANDS:
                yield command
        main = screen is self._main_screen()
        kind = self.timeline.kind if main else None
        for action, title, help_text in PALETTE_ACTIONS:
            if (main and self._applies(action)) or (not main and action in ANYWHERE_ACTIONS):
                shown = title.get(kind or "", "") if isinstance(title, dict) else title
                if shown:
                    yield SystemCommand(shown, help_text, getattr(self, f"action_{action}"))
        for owner in (screen, screen.focused):  # the screen's and the focused widget's own actions
            own = getattr(owner, "system_commands", None)
            if callable(own):
                yield from own()

    def _applies(self, action: str) -> bool:
        """Whether `action` does something for the current selection (the palette lists only these)."""
        if self.check_action(action, ()) is not True:
            return False
        timeline, viewer = self.timeline, self.viewer
        version = timeline.selected
        if action in ("mark", "copy", "compare"):
            return version is not None
        if action in ("restore", "compare_head"):
            return version is not None and version.digest != timeline.head
        if action == "edit":
            return timeline.kind == "snapshot" or viewer.selected_record is not None
        if action == "toggle_view":
            return viewer.document is not None
        return True
