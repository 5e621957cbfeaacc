"""The JSON editor of a snapshot's data or of one record, saved as a new version.

It edits the stored form (plain JSON, `__special__` tags as they are stored); the engine
validates it and refuses a stale HEAD (`expected_head`), so a failed save writes nothing.
Saving runs in a worker. When another writer saved first, a dialog (screens.conflict)
offers to view their version beside the edit, to re-apply the edit on the new HEAD, or
to go on editing; nothing is ever written over their version unasked.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from dbengine.errors import ConflictError
from dbengine.serializer import SPECIAL, TAG_FLOAT
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static, TextArea

from ..model.conflict import MISSING, Conflict, read_conflict
from ..model.errors import error_text
from ..model.escape import display_safe, hidden_in_json
from ..widgets.palette import Palette, on_theme_change
from ..widgets.themed_static import ThemedStatic
from .confirm import ConfirmScreen
from .conflict import REAPPLY, VIEW, ConflictScreen
from .loading import load_in_worker

#: The largest pretty JSON (in characters) the editor opens. Textual's TextArea re-renders a
#: whole line per keystroke and maps highlights byte by byte, so a 10 MB value took ~8 s to
#: open and 1.5-6 s per key; a larger value is refused with a message (it stays viewable in
#: the viewer's tree, and `mydb show` / `mydb save` / `mydb put` handle it from the shell).
MAX_EDIT_CHARS = 1_000_000
#: Above this many characters the JSON is edited without syntax highlighting (which doubles
#: the time to open and to type on large documents).
HIGHLIGHT_LIMIT = 200_000


def too_large_message(size: int) -> str:
    """Why a value of `size` characters of JSON is not opened in the editor, and what to do."""
    return (f"the value is {size:,} characters of JSON and the editor opens at most {MAX_EDIT_CHARS:,} "
            "(larger ones take seconds per keystroke). It stays viewable in the viewer; "
            "edit it from the shell with `mydb show` and `mydb save` (or `mydb put` for a record).")


def json_language() -> str | None:
    """'json' when the tree-sitter JSON grammar is installed, else None (plain text)."""
    found = importlib.util.find_spec("tree_sitter") and importlib.util.find_spec("tree_sitter_json")
    return "json" if found else None


def follow_theme(area: TextArea) -> None:
    """Give `area` a syntax theme matching the app's (dark or light), now and after a theme change."""

    def apply() -> None:
        area.theme = "monokai" if area.app.current_theme.dark else "github_light"

    apply()
    on_theme_change(area, apply)


def json_text_area(text: str, *, id: str) -> TextArea:
    """A code-editor TextArea for JSON (highlighted when the grammar is there and the text is not huge)."""
    language = json_language() if len(text) <= HIGHLIGHT_LIMIT else None
    area = TextArea.code_editor(text, language=language, id=id, soft_wrap=False)
    area.indent_width = 2  # as the pretty JSON is indented
    return area


class JsonInputError(ValueError):
    """Text that is not a JSON document the engine can store; says where and why."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


_SPECIAL_FLOATS = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}


def _reject_constant(name: str) -> Any:
    raise JsonInputError(
        f'{name} is not JSON: store it as {{"{SPECIAL}": "{TAG_FLOAT}", "value": "{_SPECIAL_FLOATS.get(name, name)}"}}'
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise JsonInputError(f"duplicate key {key!r} in an object")
        result[key] = value
    return result


_EXPLAINED = {
    "Invalid control character at": "a raw tab or line break inside a string (write it as \\t or \\n)",
    "Expecting property name enclosed in double quotes":
        "expecting a key in double quotes (a trailing comma, or a key in single quotes?)",
    "Expecting value": "expecting a value (a trailing comma, or a missing value?)",
}


def _explain(message: str) -> str:
    """The json module's message, said plainly for the common mistakes."""
    return _EXPLAINED.get(message, message)


def parse_json(text: str) -> Any:
    """Parse edited JSON strictly (no NaN/Infinity, no duplicate keys); JsonInputError if bad."""
    if not text.strip():
        raise JsonInputError("empty document: enter a JSON value")
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise JsonInputError(
            f"invalid JSON at line {error.lineno}, column {error.colno}: {_explain(error.msg)}",
            error.lineno,
            error.colno,
        ) from None
    except RecursionError:
        raise JsonInputError("invalid JSON: nested too deeply") from None


def _escape_invisible(text: str) -> str:
    """Escape DEL, C1 controls and format characters (bidi overrides, U+2028…) as \\uXXXX.

    json.dumps already escapes C0 controls; outside strings JSON has no such characters,
    so escaping them keeps the same value while making them visible in the editor.
    """
    return hidden_in_json().sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def pretty(value: Any) -> str:
    """The stored value as the editor shows it (indent 2, non-ASCII kept, invisibles escaped)."""
    return _escape_invisible(json.dumps(value, indent=2, ensure_ascii=False))


def parse_text_area(area: TextArea) -> Any:
    """The JSON value typed in `area`; on an error the cursor goes to it and it is raised."""
    try:
        return parse_json(area.text)
    except JsonInputError as error:
        if error.line is not None:
            area.move_cursor((error.line - 1, max(0, (error.column or 1) - 1)))
        raise


@dataclass
class Editable:
    """What the editor opens: HEAD, the entry's kind, the text, or why it cannot be edited."""

    head: str | None = None
    kind: str | None = None
    text: str = ""
    error: str | None = None  # set: shown, and saving is refused
    too_large: bool = False  # the value is over MAX_EDIT_CHARS (`error` says so)


def read_editable(engine: Any, tenant: str, entry: str, key: str | None = None,
                  base_digest: str | None = None) -> Editable:
    """The content to edit (HEAD's, or `base_digest`'s) as pretty JSON; a failure is kept in
    `error` (never raised). It reads the database: call it in a worker."""
    found = Editable()
    try:
        found.head = engine.get_digest(tenant, entry)
        source = base_digest or found.head
        document = engine.read_snapshot(tenant, source)
        found.kind = document["__kind__"]
        if found.kind == "snapshot":
            value = document["__data__"]
        elif key is None:
            raise ValueError(f"{entry} is a record entry: choose a record to edit")
        else:
            value = engine.read_record(tenant, entry, key, digest=source)
        text = json.dumps(value, indent=2, ensure_ascii=False)  # pretty() before its escapes
        if len(text) > MAX_EDIT_CHARS:
            found.too_large, found.error = True, too_large_message(len(text))
            return found
        found.text = _escape_invisible(text)
    except Exception as error:  # shown in the screen; the app keeps running
        found.error = f"{type(error).__name__}: {error}"
    return found


class EditorScreen(Screen[str | None]):
    """Edit the stored JSON of HEAD (or of `base_digest`); ctrl+s saves, escape closes."""

    CSS_PATH = "editor.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "close", "Close", priority=True),
    ]

    def __init__(
        self,
        engine: Any,
        tenant: str,
        entry: str,
        user: str,
        key: str | None = None,
        base_digest: str | None = None,
        editable: Editable | None = None,
    ) -> None:
        """`editable`: the content read already (`read_editable`); without it the screen
        reads it in a worker once mounted."""
        super().__init__()
        self.engine = engine
        self.tenant = tenant
        self.entry = entry
        self.user = user
        self.key = key
        self.base_digest = base_digest
        self.head: str | None = None
        self.kind: str | None = None
        self.original_text = ""
        self.load_error: str | None = None
        self.too_large = False  # the value is over MAX_EDIT_CHARS: not opened (load_error says why)
        self.saved_digest: str | None = None
        self.saving = False  # a save is running in its worker
        self.conflict: Conflict | None = None  # the last save that found HEAD moved
        self.reapplied: Conflict | None = None  # the edit was moved onto the new HEAD, overlaps to check
        self._loaded_text: str | None = None  # the text a re-apply put in the editor
        self._error_message: str | None = None
        self.loaded = editable is not None  # False until the worker has read the content
        if editable is not None:
            self._take(editable)

    def _take(self, editable: Editable) -> None:
        self.head, self.kind, self.original_text = editable.head, editable.kind, editable.text
        self.load_error, self.too_large = editable.error, editable.too_large

    @property
    def dirty(self) -> bool:
        """True when the text differs from what was loaded."""
        return self.query_one("#editor-text", TextArea).text != self.original_text

    def compose(self) -> ComposeResult:
        yield ThemedStatic(self._title, id="editor-title")
        has_notice = bool(self.base_digest and self.head and self.base_digest != self.head)
        yield ThemedStatic(self._notice, id="editor-notice", classes="" if has_notice else "hidden")
        area = json_text_area(self.original_text, id="editor-text")
        area.read_only = self.load_error is not None
        yield area
        yield Static("", id="editor-error", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        area = self.query_one("#editor-text", TextArea)
        follow_theme(area)
        area.focus()
        if not self.loaded:
            area.read_only = True
            read = partial(read_editable, self.engine, self.tenant, self.entry, self.key, self.base_digest)
            load_in_worker(self, read, self._read, lambda error: self._read(Editable(error=error_text(error))),
                           group="editor-load")
        elif self.load_error is not None:
            self._show_error(f"Cannot edit: {self.load_error}")

    def _read(self, editable: Editable) -> None:
        """The content came from the worker: put it in the editor (as `compose` does when given)."""
        self._take(editable)
        self.loaded = True
        area = self.query_one("#editor-text", TextArea)
        area.language = json_language() if len(self.original_text) <= HIGHLIGHT_LIMIT else None
        self._loaded_text = self.original_text
        area.load_text(self.original_text)
        area.read_only = self.load_error is not None
        self.query_one("#editor-title", ThemedStatic).show(self._title)
        notice = self.query_one("#editor-notice", ThemedStatic)
        notice.show(self._notice)
        notice.set_class(not (self.base_digest and self.head and self.base_digest != self.head), "hidden")
        if self.load_error is not None:
            self._show_error(f"Cannot edit: {self.load_error}")

    def _title(self, colors: Palette) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("Edit ", style="bold")
        text.append(display_safe(f"{self.tenant} / {self.entry}"), style=f"bold {colors.key}")
        if self.key is not None:
            text.append("  record ", style="dim")
            text.append(display_safe(self.key), style="bold")
        elif self.kind == "snapshot":
            text.append("  __data__", style="dim")
        if self.head:
            text.append("   HEAD ", style="dim")
            text.append(self.head[:12], style=colors.digest)
        text.append("   as ", style="dim")
        text.append(display_safe(self.user), style=colors.user)
        return text

    def _notice(self, colors: Palette) -> Text:
        if self.reapplied is not None:
            overlaps = self.reapplied.overlaps
            text = Text("Your edit is now on the new HEAD ", style="bold")
            text.append(self.reapplied.head[:12], style=f"bold {colors.digest}")
            text.append(". You both changed ")
            text.append(display_safe(", ".join(overlaps[:4]) + (" …" if len(overlaps) > 4 else "")), style="bold")
            text.append(": your value is kept there. Check it, then ctrl+s saves.")
            return text
        if self.base_digest and self.head and self.base_digest != self.head:
            text = Text("Starting from the content of older version ", style="bold")
            text.append(self.base_digest[:12], style=f"bold {colors.digest}")
            text.append(": saving makes it (with your edits) the new HEAD, after ")
            text.append(self.head[:12], style=colors.digest)
            text.append(".")
            return text
        return Text()

    def _show_error(self, message: str) -> None:
        self._error_message = display_safe(message)
        error = self.query_one("#editor-error", Static)
        error.update(Text(display_safe(message), style="bold"))
        error.remove_class("hidden")

    def _clear_error(self) -> None:
        self._error_message = None
        self.query_one("#editor-error", Static).add_class("hidden")

    @property
    def error_text(self) -> str | None:
        """The error shown under the editor, or None."""
        return self._error_message

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if event.text_area.text == self._loaded_text:
            return  # the text put there by the editor itself (a re-apply), not an edit
        if self.load_error is None and not self.saving:
            self._clear_error()

    def action_save(self) -> None:
        if not self.loaded:
            self.notify("Still reading the value…", timeout=2)
            return
        if self.load_error is not None:
            self._show_error(f"Cannot save: {self.load_error}")
            return
        if self.saving:
            self.notify("Saving…", timeout=2)
            return
        area = self.query_one("#editor-text", TextArea)
        try:
            value = parse_text_area(area)
        except JsonInputError as error:
            self._show_error(str(error))
            return
        self._start_save(value)

    def _start_save(self, value: Any) -> None:
        self.saving = True
        self._save(value, self.head)

    @work(thread=True, exclusive=True, group="editor-save")
    def _save(self, value: Any, expected: str | None) -> None:
        """Write `value` over HEAD `expected`; another writer's HEAD makes a Conflict instead."""
        try:
            digest = self._commit(value, expected)
        except ConflictError as error:
            try:
                key = self.key if self.kind != "snapshot" else None
                conflict = read_conflict(self.engine, self.tenant, self.entry, key, expected or "", value)
            except Exception as reading:  # the new HEAD cannot be read: say so, write nothing
                self.app.call_from_thread(self._save_failed, f"Not saved: {error}; reading the new HEAD failed: "
                                                              f"{error_text(reading)}")
                return
            self.app.call_from_thread(self._conflicted, conflict)
            return
        except Exception as error:  # engine refusal (invalid, I/O): nothing written
            self.app.call_from_thread(self._save_failed, f"Not saved: {type(error).__name__}: {error}")
            return
        if digest != expected:
            note = getattr(self.app, "note_own_write", None)  # the app's watcher: not another writer
            if callable(note):
                note(digest)
        self.app.call_from_thread(self._saved, digest, expected)

    def _commit(self, value: Any, expected: str | None) -> str | None:
        if self.kind == "snapshot":
            return self.engine.commit_document(
                self.tenant, self.user, self.entry, {"__data__": value}, expected_head=expected
            )
        self.engine.put_stored(self.tenant, self.user, self.entry, self.key, value, expected_head=expected)
        return self.engine.get_digest(self.tenant, self.entry)

    def _save_failed(self, message: str) -> None:
        self.saving = False
        if self.is_attached:
            self._show_error(message)

    def _saved(self, digest: str | None, expected: str | None) -> None:
        self.saving = False
        if not self.is_attached:
            return
        if digest == expected:
            self._show_error("Nothing to save: the content is the same as HEAD's.")
            return
        self.saved_digest = digest
        self.dismiss(digest)

    # -------------------------------------------------------------- another writer saved first
    def _conflicted(self, conflict: Conflict) -> None:
        """HEAD moved since the edit began: ask what to do (nothing was written)."""
        self.saving = False
        if not self.is_attached:
            return
        self.conflict = conflict
        self.app.push_screen(ConflictScreen(conflict), partial(self._answered, conflict))

    def _answered(self, conflict: Conflict, answer: str | None) -> None:
        if answer == VIEW:
            from ..model.compare import compare_with_edit
            from .compare import CompareScreen

            compute = partial(compare_with_edit, self.engine, self.tenant, self.entry, conflict.head,
                              conflict.theirs, conflict.mine, self.user)
            self.app.push_screen(
                CompareScreen(self.engine, self.tenant, self.entry, conflict.head, None, compute=compute,
                              labels=("THEIRS (HEAD)", "YOURS"), title="Their version vs your edit:"),
                lambda _closed: self._conflicted(conflict),  # back to the choice
            )
        elif answer == REAPPLY:
            self._reapply(conflict)
        else:
            self._show_error(f"Not saved: {conflict.entry} has a new HEAD {conflict.head[:12]} since you began. "
                             "ctrl+s offers the choices again.")

    def _reapply(self, conflict: Conflict) -> None:
        """Move the edit onto the new HEAD: save it at once when it touches nothing they
        changed, else put the merged JSON in the editor for a look before ctrl+s."""
        self.head = conflict.head
        self.base_digest = None  # the edit now starts from the new HEAD
        self.query_one("#editor-title", ThemedStatic).show(self._title)
        theirs = conflict.theirs
        self.original_text = "" if theirs is MISSING else pretty(theirs)
        self._clear_error()
        # The editor holds the edit on the new HEAD from now on (never the text of the old one,
        # which a later ctrl+s would write over theirs).
        self._loaded_text = pretty(conflict.merged)
        self.query_one("#editor-text", TextArea).load_text(self._loaded_text)
        notice = self.query_one("#editor-notice", ThemedStatic)
        if conflict.clean:
            notice.add_class("hidden")
            self._start_save(conflict.merged)
            return
        self.reapplied = conflict
        notice.show(self._notice)
        notice.remove_class("hidden")

    def system_commands(self) -> Iterable[SystemCommand]:
        """The command palette's entries for the editor."""
        yield SystemCommand("Save", "Save the edit as a new version (ctrl+s)", self.action_save)
        yield SystemCommand("Close editor", "Close; asks first when there are changes (esc)", self.action_close)

    def action_close(self) -> None:
        if self.load_error is None and self.dirty:
            def answered(discard: bool | None) -> None:
                if discard:
                    self.dismiss(None)

            self.app.push_screen(
                ConfirmScreen("Discard changes?", "The edited JSON is not saved. Close the editor anyway?"),
                answered,
            )
            return
        self.dismiss(None)
