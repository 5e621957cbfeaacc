"""Help (`?`, F1): every key of the app, pane by pane, built from the widgets' bindings.

The app hands its own bindings and its write actions to `HelpScreen` (this module never
imports the app).
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..widgets.palette import Palette
from ..widgets.themed_static import ThemedStatic

ANY_PANE_DESCRIPTIONS = {"Compare", "vs HEAD", "Restore", "Edit", "Add record", "Delete record"}

#: Keys Textual itself provides (not declared in our BINDINGS).
GENERAL = [
    ("tab / shift+tab", "Move between panes"),
    ("^p", "Command palette (every action, and go to entry)"),
]
TREE_NAV = [
    ("enter", "Open a tenant / show the entry's history"),
    ("space", "Open or close a tenant"),
]


#: A section's source of keys: a class (its own BINDINGS) or a list of bindings.
KeySource = type | list


def _sections(app_bindings: list[BindingType], read_only: bool = False) -> list[list[tuple[str, list[KeySource]]]]:
    """The help's columns, each a list of (section title, where its keys come from)."""
    from ..widgets.diff_view import DiffView
    from ..widgets.entry_tree import EntryPane, EntryTree, FilterInput
    from ..widgets.json_tree import JsonTree
    from ..widgets.line_list import LineList
    from ..widgets.record_table import RecordTable
    from ..widgets.timeline import Timeline
    from ..widgets.viewer import Viewer
    from .compare import CompareScreen
    from .conflict import ConflictScreen
    from .editor import EditorScreen
    from .key_history import KeyHistoryScreen
    from .search import HitList, SearchScreen

    first = [
        ("Everywhere", [app_bindings]),
        ("Entries", [EntryTree, EntryPane, FilterInput]),
        ("Compare screen", [CompareScreen, DiffView]),
    ]
    second = [
        ("History", [Timeline, LineList]),
        ("Version", [Viewer, JsonTree, RecordTable]),
    ]
    if not read_only:  # in the second column: the first is full at 160x45
        second.append(("Editor", [EditorScreen]))
        second.append(("Save conflict", [ConflictScreen]))
    second += [
        ("Record history", [KeyHistoryScreen]),
        ("Search (ctrl+f)", [SearchScreen, HitList]),
    ]
    return [first, second]


#: Actions listed on the row of another (ctrl+c quits, except over an editor; t toggles).
ALIASES = {"interrupt": "quit", "show_badges": "show_raw"}
#: Descriptions of a row that lists more than its first binding says.
DESCRIPTIONS = {"show_raw": "Raw JSON / badges"}

#: Actions shown together on one row: (actions, description).
PAIRS = [
    (("cursor_up", "cursor_down"), "Move up / down"),
    (("cursor_first", "cursor_last"), "First / last"),
    (("page_up_rows", "page_down_rows"), "Page up / down"),
    (("scroll_up", "scroll_down"), "Scroll up / down"),
    (("scroll_home", "scroll_end"), "Top / bottom"),
]


def _bindings(source: KeySource) -> list[BindingType]:
    return source if isinstance(source, list) else source.__dict__.get("BINDINGS", [])


def _rows(sources: list[KeySource], read_only: bool, get_key_display,
          write_actions: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(keys, description) of the bindings of `sources`, keys of one action joined; with
    `read_only`, the `write_actions` (with or without "app.") are left out."""
    grouped: dict[str, tuple[list[str], str]] = {}
    for source in sources:
        for binding in Binding.make_bindings(_bindings(source)):
            if read_only and binding.action.removeprefix("app.") in write_actions:
                continue
            action = ALIASES.get(binding.action, binding.action).removeprefix("app.")
            keys, _ = grouped.setdefault(action, ([], DESCRIPTIONS.get(action, binding.description or action)))
            for key in binding.key.split(","):
                shown = get_key_display(Binding(key.strip(), binding.action))
                if shown not in keys:
                    keys.append(shown)
    for actions, description in PAIRS:
        if all(a in grouped for a in actions):
            first, second = (grouped.pop(a)[0] for a in actions)
            grouped[actions[0]] = ([f"{a} {b}" for a, b in zip(first, second, strict=False)], description)
    return [(" / ".join(keys), description) for keys, description in grouped.values()]


def help_table(sections: list[tuple[str, list[KeySource]]], read_only: bool, get_key_display,
               write_actions: frozenset[str], colors: Palette) -> Table:
    """The keys of `sections` as one Rich table (shown literally, no markup)."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=False)
    table.add_column("key", style=f"bold {colors.key}", no_wrap=True, width=16)
    table.add_column("what")
    for title, classes in sections:
        table.add_row(Text(title, style="bold underline"), "")
        rows = _rows(classes, read_only, get_key_display, write_actions)
        if title == "Everywhere":
            # The version and record keys also work from any pane; they are listed below.
            rows = [r for r in rows if r[1] not in ANY_PANE_DESCRIPTIONS]
            rows = [*rows, *GENERAL, ("d D" if read_only else "d D r e a x", "Also work from any pane")]
        if title.startswith("Entries"):
            rows = [*rows, *TREE_NAV]
        for keys, description in rows:
            table.add_row(Text(keys), Text(description))
        table.add_row("", "")
    return table


#: Lines of the help box around its scrolling list: border (2), title (2), hint (2).
BOX_CHROME = 6
#: Below this many columns the two columns of keys become one.
ONE_COLUMN_BELOW = 100


class HelpScreen(ModalScreen[None]):
    """A scrollable list of every key; escape, q or ? closes it.

    The list scrolls (↓ ↑, PageDown PageUp, Home End, the mouse wheel) when the screen is
    too short for it, and its two columns become one on narrow terminals.
    """

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", key_display="esc"),
    ]

    def __init__(self, app_bindings: list[BindingType], write_actions: frozenset[str], read_only: bool = False) -> None:
        """`app_bindings`: the app's own keys (listed first); `write_actions`: the actions
        left out when `read_only`."""
        super().__init__()
        self.app_bindings = app_bindings
        self.write_actions = write_actions
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(Text("mydb-tui keys", style="bold"), id="help-title")
            read_only = self.read_only
            with VerticalScroll(id="help-scroll"), Horizontal(id="help-columns"):
                for column in _sections(self.app_bindings, read_only):
                    yield ThemedStatic(partial(help_table, column, read_only, self.app.get_key_display,
                                               self.write_actions), classes="help-column")
            yield Static(Text("escape closes · keys of the focused pane show in the footer", style="dim"),
                         id="help-hint")

    def on_mount(self) -> None:
        self._fit(self.app.size.width, self.app.size.height)
        self.query_one("#help-scroll", VerticalScroll).focus()

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """The list's height: what the box (at most 95 % of the screen) leaves it."""
        self.set_class(width < ONE_COLUMN_BELOW, "-narrow")
        self.query_one("#help-scroll", VerticalScroll).styles.max_height = max(3, int(height * 0.95) - BOX_CHROME)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
