"""The viewer of the selected version: a metadata strip above its data.

A snapshot shows as a JSON tree or highlighted pretty JSON (`t` toggles); a record
entry as a record table with the selected record below it. Everything is read in a
thread worker; results for a version the user already left are dropped. A version
with damaged metadata shows its data and, in the metadata strip, what the damage is;
one that cannot be read at all shows the error in place of the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from dbengine.dbengine import RecordsView
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import ContentSwitcher, TextArea
from textual.worker import get_current_worker

from mydb_tui.model.values import pretty_json

from ..model.errors import error_text
from ..model.escape import display_safe, hidden_in_json
from .json_tree import JsonTree, collect_badges
from .loading import DelayedLoading
from .metadata import MetadataStrip, version_damage
from .palette import Palette
from .record_table import COLUMN_SAMPLE, UNREADABLE, RecordFilter, RecordTable
from .themed_static import ThemedStatic

# TextArea slows down with the size of its text and of its longest line (a 10 MB value
# took ~8 s to show highlighted), so the read-only text view keeps to these limits; the
# tree view shows any value.
TEXT_LIMIT = 2_000_000  # characters of pretty JSON put in the text view (~1 s to show)
LINE_LIMIT = 10_000  # characters of one line (a long string) shown in the text view
HIGHLIGHT_LIMIT = 200_000  # characters up to which the text view is syntax highlighted
PREFETCH_ROWS = 64  # records whose buckets the loading worker parses before the table is sized


def viewable_text(text: str) -> str:
    """`text` with lines over LINE_LIMIT and the text over TEXT_LIMIT cut, saying so."""
    if len(text) > LINE_LIMIT and any(len(line) > LINE_LIMIT for line in text.split("\n")):
        text = "\n".join(
            line if len(line) <= LINE_LIMIT
            else f"{line[:LINE_LIMIT]}… ({len(line) - LINE_LIMIT:,} more characters: see the tree view, t)"
            for line in text.split("\n")
        )
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + "\n… (truncated: use the tree view, t)"
    return text


@dataclass
class _Loaded:
    generation: int
    tenant: str
    entry: str
    digest: str
    document: dict
    data: Any
    records: RecordsView | None
    badges: dict[int, str]
    damage: str | None = None


def _text_area(id: str) -> TextArea:
    area = TextArea("", language="json", read_only=True, show_line_numbers=True, id=id)
    area.soft_wrap = False
    return area


class Viewer(DelayedLoading, Vertical):
    """Metadata strip + the data of one version (snapshot tree/text, or record table)."""

    ALLOW_MAXIMIZE = True  # `+` zooms the whole pane, not the table or tree that has the focus

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_view", "Tree/JSON"),
        Binding("h", "app.key_history", "History of record"),
    ]

    mode: reactive[str] = reactive("tree")

    class Failed(Message):
        def __init__(self, what: str, error: Exception) -> None:
            super().__init__()
            self.what, self.error = what, error

    def __init__(self, engine: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.tenant: str | None = None
        self.entry: str | None = None
        self.digest: str | None = None
        self.head: str | None = None
        self.kind: str | None = None
        self.document: dict | None = None
        self.data: Any = None
        self._generation = 0
        self._text_for: tuple | None = None
        self.pending_record: str | None = None  # select this record at the next load
        self.failed = False  # an error is shown in place of the data (show_error)

    def compose(self) -> ComposeResult:
        yield MetadataStrip(id="metadata")
        with ContentSwitcher(initial="viewer-message", id="viewer-content"):
            yield ThemedStatic(lambda _colors: Text("Select an entry in the tree.", style="dim italic"),
                               id="viewer-message")
            yield JsonTree(self.engine, id="data-tree", version=self._snapshot_shown)
            yield _text_area("data-text")
            with Vertical(id="records"):
                yield RecordFilter(id="record-filter")
                yield RecordTable(self.engine, id="record-table")
                with ContentSwitcher(initial="record-tree", id="record-detail"):
                    yield JsonTree(self.engine, id="record-tree",
                                   toggle_blame=lambda: self.record_table.action_toggle_blame())
                    yield _text_area("record-text")

    @property
    def record_table(self) -> RecordTable:
        return self.query_one(RecordTable)

    @property
    def selected_record(self) -> str | None:
        if self.kind == "records" and self.document is not None:
            return self.record_table.selected_key
        return None

    # -------------------------------------------------------------- loading
    def show_version(self, tenant: str, entry: str, digest: str, head: str | None,
                     select_record: str | None = None) -> None:
        """Load and show version `digest` of the entry (in a worker)."""
        self._generation += 1
        self.tenant, self.entry, self.digest, self.head = tenant, entry, digest, head
        self.failed = False
        if select_record is None:
            select_record = self.pending_record
        self.pending_record = None
        if select_record is None and self.kind == "records":
            select_record = self.record_table.selected_key
        self.show_loading()
        self._load(self._generation, tenant, entry, digest, select_record)

    def set_head(self, head: str | None) -> None:
        """The head moved: update the HEAD marker without reloading the data."""
        self.head = head
        if self.document is not None and self.tenant and self.entry and self.digest:
            strip = self.query_one(MetadataStrip)
            strip.show(self.tenant, self.entry, self.digest, self.document, head, strip.damage)

    def clear(self, message: str = "Select an entry in the tree.") -> None:
        self._generation += 1
        self.failed = False
        self.hide_loading()
        self.tenant = self.entry = self.digest = self.kind = None
        self.document = self.data = None
        self.query_one(MetadataStrip).show_text("")
        self._message(Text(message, style="dim italic"))

    def show_error(self, message: str) -> None:
        """Show a load error in place of the data (the app keeps running)."""
        self.failed = True
        self._generation += 1
        self.hide_loading()
        self.document = self.data = None
        self.kind = None
        self.query_one(MetadataStrip).show_text("")
        shown = display_safe(message)

        def text(colors: Palette) -> Text:
            result = Text("⚠ ", style=f"bold {colors.error}")
            result.append(shown, style=colors.error)
            return result

        self._message(text)

    def _message(self, text: Text | Callable[[Palette], Text]) -> None:
        build = text if callable(text) else (lambda _colors: text)
        self.query_one("#viewer-message", ThemedStatic).show(build)
        self.query_one("#viewer-content", ContentSwitcher).current = "viewer-message"

    @work(thread=True, exclusive=True, group="viewer")
    def _load(self, generation: int, tenant: str, entry: str, digest: str, select: str | None) -> None:
        engine = self.engine
        try:
            document = engine.read_snapshot(tenant, digest)
            damage = version_damage(digest, document)
            records = None
            data: Any = None
            badges: dict[int, str] = {}
            if document.get("__kind__") == "records":
                records = engine.records_view(tenant, digest)  # read-only, parsed bucket by bucket
                records.prefetch(records.keys_list()[: self._visible_rows()])  # the first screen's rows
                records.sample(COLUMN_SAMPLE)  # the buckets that name the columns
            else:
                data = document.get("__data__")
                badges = collect_badges(engine, data)
        except Exception as error:  # an engine error, or anything a forged object may still cause
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._failed, generation, f"{entry} @ {digest[:7]}", error)
            return
        if get_current_worker().is_cancelled:
            return
        loaded = _Loaded(generation, tenant, entry, digest, document, data, records, badges, damage)
        self.app.call_from_thread(self._apply, loaded, select)

    def _visible_rows(self) -> int:
        """Rows the record table shows at once (read from the worker: a plain int)."""
        height = self.record_table.size.height or self.size.height
        return min(PREFETCH_ROWS, height + 2) if height else PREFETCH_ROWS

    def _failed(self, generation: int, what: str, error: Exception) -> None:
        if generation == self._generation:
            self.show_error(f"cannot read {what}: {error_text(error)}")
            self.post_message(self.Failed(what, error))

    def _apply(self, loaded: _Loaded, select: str | None) -> None:
        if loaded.generation != self._generation:
            return  # the user moved on
        self.hide_loading()
        self.document = loaded.document
        self.kind = loaded.document.get("__kind__")
        self.data = loaded.data
        self._text_for = None
        self.query_one(MetadataStrip).show(loaded.tenant, loaded.entry, loaded.digest, loaded.document, self.head,
                                           loaded.damage)
        switcher = self.query_one("#viewer-content", ContentSwitcher)
        focused = self.app.focused
        had_focus = focused is not None and self in focused.ancestors
        if loaded.records is not None:
            switcher.current = "records"
            self.record_table.show(loaded.records, select, (loaded.tenant, loaded.entry, loaded.digest))
            if had_focus:
                self.record_table.focus()
        else:
            self.query_one("#data-tree", JsonTree).show(loaded.data, loaded.badges)
            self._show_mode()
            if had_focus:
                self.query_one(f"#data-{self.mode}").focus()

    # -------------------------------------------------------------- tree / text
    def _show_mode(self) -> None:
        if self.kind == "snapshot":
            if self.mode == "text":
                self._fill_text("data-text", ("data", self.digest), self.data)
            self.query_one("#viewer-content", ContentSwitcher).current = f"data-{self.mode}"
        elif self.kind == "records":
            key = self.record_table.selected_key
            if self.mode == "text":
                value = self.record_table.value_of(key) if key is not None else None
                if value is UNREADABLE:
                    value = None
                self._fill_text("record-text", ("record", self.digest, key), value)
            self.query_one("#record-detail", ContentSwitcher).current = f"record-{self.mode}"

    def _fill_text(self, area_id: str, key: tuple, value: Any) -> None:
        if self._text_for == key:
            return
        self._text_for = key
        # C1 controls and bidi/format characters are shown as JSON escapes (the same value),
        # never sent to the terminal; json already escapes C0 controls.
        text = hidden_in_json().sub(lambda m: f"\\u{ord(m.group()):04x}", pretty_json(value))
        text = viewable_text(text)
        area = self.query_one(f"#{area_id}", TextArea)
        area.language = "json" if len(text) <= HIGHLIGHT_LIMIT else None
        area.load_text(text)

    def watch_mode(self) -> None:
        focused = self.app.focused
        had_focus = focused is not None and focused.id in ("data-tree", "data-text", "record-tree", "record-text")
        self._show_mode()
        if had_focus:
            target = f"#{'data' if self.kind == 'snapshot' else 'record'}-{self.mode}"
            self.query_one(target).focus()

    def action_toggle_view(self) -> None:
        self.mode = "text" if self.mode == "tree" else "tree"

    def _snapshot_shown(self) -> tuple[str, str, str] | None:
        """(tenant, entry, digest) of the snapshot version shown, or None (the data tree's blame)."""
        if self.kind != "snapshot" or self.tenant is None or self.entry is None or self.digest is None:
            return None
        return self.tenant, self.entry, self.digest

    @on(RecordTable.DetailWanted)
    def _detail_wanted(self) -> None:
        self.focus_record_detail()

    def focus_record_detail(self) -> None:
        """Focus the selected record's detail below the table (enter in read-only mode)."""
        if self.kind == "records":
            self.query_one(f"#record-{self.mode}").focus()

    @on(RecordTable.TitleChanged)
    def _record_title(self, event: RecordTable.TitleChanged) -> None:
        self.border_title = event.title

    @on(RecordTable.RecordHighlighted)
    def _record_highlighted(self, event: RecordTable.RecordHighlighted) -> None:
        key = event.key
        table = self.record_table
        value = table.value_of(key) if key is not None else None
        engine = self.engine
        self._text_for = None
        if key is None:
            self.query_one("#record-tree", JsonTree).show({}, {}, "no record")
        elif value is UNREADABLE:
            self.query_one("#record-tree", JsonTree).show_message(
                f"⚠ {display_safe(key)}: cannot be read, its bucket is damaged (V runs verify)")
            self.notify(f"Record {display_safe(key)} cannot be read: its bucket is damaged. V runs verify.",
                        severity="error", markup=False)
        else:
            self.query_one("#record-tree", JsonTree).show(value, collect_badges(engine, value, 50), key)
        self._show_mode()
