"""A collapsible tree of a stored JSON value, with badges for `__special__` values.

Children are created when a node opens (and at most `PAGE` at a time), so a
snapshot with thousands of keys opens fast. Tagged values show as badges; `v`
decodes one on request (pickles only if the app trusts them). A dict with non-string
keys (`py/dict`) opens to its entries, each non-string key shown as its Python form in
⟨⟩ in the badge colour (`⟨1⟩`, `⟨None⟩`), never like the string key `1`.
"""

from __future__ import annotations

import datetime as dt
import json
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dbengine.errors import DbEngineError, UntrustedPickleError
from dbengine.pointer import is_leaf, parse_pointer
from dbengine.serializer import DIGEST, SPECIAL, TAG_PICKLE
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.strip import Strip
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from mydb_tui.model.history import GUTTER_WIDTH, gutter_text, node_pointer
from mydb_tui.model.pickle_scan import pickle_globals
from mydb_tui.model.values import DictKey, describe_special, dict_entries, is_special

from ..model.escape import display_safe
from .blame import BlameAsking
from .decoded import safe_repr
from .keys import VIM_CURSOR_KEYS
from .palette import NOT_DIM, Palette, on_theme_change, palette
from .safe import literal

PAGE = 500
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 300
_REPR.maxlist = _REPR.maxdict = 20
AUTO_EXPAND_NODES = 300


@dataclass
class JsonNode:
    key: str | None
    value: Any
    filled: bool = False
    shown: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class MoreNode:
    """"… N more": enter shows the next page."""

    parent: TreeNode


def scalar_text(value: Any, colors: Palette, limit: int = 200) -> Text:
    """A JSON scalar, coloured by type, control characters escaped."""
    if isinstance(value, str):
        shown = json.dumps(value[:limit], ensure_ascii=False) + ("…" if len(value) > limit else "")
        return literal(shown, colors.string)
    if value is None or isinstance(value, bool):
        return Text(json.dumps(value), style=colors.literal)
    return Text(json.dumps(value), style=colors.number)


def collect_badges(engine: Any, value: Any, limit: int = 2000) -> dict[int, str]:
    """Badges of the tagged values inside `value` (id -> badge); does I/O, call in a worker."""
    badges: dict[int, str] = {}
    stack = [value]
    while stack and len(badges) < limit:
        item = stack.pop()
        if type(item) is dict:
            if is_special(item):
                try:
                    badges[id(item)] = describe_special(engine, item)
                except Exception as error:  # a malformed tag must not break the viewer
                    badges[id(item)] = f"⟨{item.get(SPECIAL)!s} · {error}⟩"
                # tagged values nest (a pickled field in a py/object's state): badge those too
                stack.extend(v for k, v in item.items() if k != SPECIAL)
                continue
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return badges


class JsonTree(BlameAsking, Tree[Any]):
    """The stored data of a version (or of one record) as a collapsible tree."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *VIM_CURSOR_KEYS,
        Binding("v", "decode", "Decode value"),
        Binding("h", "app.key_history", "History of this"),
        Binding("b", "toggle_blame", "Blame"),
    ]

    def __init__(self, engine: Any, *, id: str | None = None,
                 version: Callable[[], tuple[str, str, str] | None] = lambda: None,
                 toggle_blame: Callable[[], None] | None = None) -> None:
        """`version()`: (tenant, entry, digest) of the snapshot shown (None: no blame gutter);
        `toggle_blame`: what `b` does instead of the gutter (a record's tree: the table's column)."""
        super().__init__("data", id=id)
        self.engine = engine
        self._version = version
        self._toggle_blame = toggle_blame
        self.badges: dict[int, str] = {}
        self.guide_depth = 3
        self.init_blame()  # `blame`: JSON Pointer -> Version (None: not found)

    def on_mount(self) -> None:
        on_theme_change(self, self._relabel)

    def render_label(self, node: TreeNode, base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        if style.bgcolor is not None:  # the cursor line: nothing dim on the cursor's colour
            label.stylize(NOT_DIM)
        return label

    def _relabel(self) -> None:
        """Label every node again with the new theme's colours (nodes exist only once opened)."""
        for node in list(self._tree_nodes.values()):
            data = node.data
            if not isinstance(data, JsonNode):
                continue
            if "role" in data.extra:  # a decoded value
                node.set_label(self._decoded_label(data.value, data.extra["role"]))
            elif "names" in data.extra:  # the classes a pickle names (None: still scanning)
                if data.extra["names"] is not None:
                    node.set_label(self._names_label(data.extra["names"]))
            else:
                node.set_label(self._label(data.key, data.value))

    def show(self, value: Any, badges: dict[int, str] | None = None, label: str = "data") -> None:
        """Replace the tree with `value`; small values open fully, big ones one level."""
        if self.blame_on:
            self.schedule_blame()
        self.badges = badges or {}
        self.clear()
        self.root.set_label(self._label(label, value))
        self.root.data = JsonNode(label, value)
        self.root.allow_expand = _container(value)
        self._fill(self.root)
        self.root.expand()
        budget = AUTO_EXPAND_NODES - len(self.root.children)
        for child in list(self.root.children):
            size = _size(child.data.value) if isinstance(child.data, JsonNode) else 0
            if child.allow_expand and 0 < size <= budget and not is_special(child.data.value):
                budget -= size
                self._fill(child)
                child.expand()
        self.cursor_line = 0

    def show_message(self, message: str) -> None:
        """Replace the tree with a one-line message in the error colour (a value that cannot be read)."""
        self.badges = {}
        self.clear()
        self.root.set_label(Text(message, style=palette(self.app).error, no_wrap=True, end=""))
        self.root.data = JsonNode(None, None)
        self.root.allow_expand = False
        self.cursor_line = 0

    # -------------------------------------------------------------- building
    def _label(self, key: str | None, value: Any) -> Text:
        colors = palette(self.app)
        text = Text(no_wrap=True, end="")
        if key is not None:
            # a key that is not a string (⟨1⟩, ⟨None⟩ in a py/dict) in the badge colour
            text.append_text(literal(key, f"bold {colors.tag if type(key) is DictKey else colors.key}"))
            text.append(": ")
        if is_special(value):
            text.append_text(literal(self.badges.get(id(value)) or describe_special(None, value), f"bold {colors.tag}"))
        elif type(value) is dict:
            text.append(f"{{{len(value)} key{'' if len(value) == 1 else 's'}}}", style="dim")
        elif type(value) is list:
            text.append(f"[{len(value)} item{'' if len(value) == 1 else 's'}]", style="dim")
        else:
            text.append_text(scalar_text(value, colors))
        return text

    def _items(self, value: Any) -> list[tuple[str, Any]]:
        if is_special(value):
            entries = dict_entries(value)  # a dict with non-string keys: key -> value, like `mydb show`
            if entries is not None:
                return entries
            return [(k, v) for k, v in value.items() if k != SPECIAL]
        if type(value) is dict:
            return list(value.items())
        if type(value) is list:
            return [(f"[{i}]", v) for i, v in enumerate(value)]
        return []

    def _fill(self, node: TreeNode) -> None:
        data = node.data
        if not isinstance(data, JsonNode) or data.filled:
            return
        data.filled = True
        items = self._items(data.value)
        start, stop = data.shown, min(len(items), data.shown + PAGE)
        for key, value in items[start:stop]:
            child = JsonNode(key, value)
            if _container(value):
                node.add(self._label(key, value), child, allow_expand=True)
            else:
                node.add_leaf(self._label(key, value), child)
        data.shown = stop
        if stop < len(items):
            node.add_leaf(Text(f"… {len(items) - stop:,} more (enter to show)", style="dim italic"), MoreNode(node))
        if is_special(data.value) and data.value.get(SPECIAL) == TAG_PICKLE:
            scanning = JsonNode("names", None, filled=True, extra={"names": None})
            leaf = node.add_leaf(Text("names: scanning…", style="dim italic"), scanning)
            self._scan_pickle(leaf, data.value)

    def _scan_pickle(self, leaf: TreeNode, stored: dict) -> None:
        """List the classes a pickled ref names (opcode scan in a worker, nothing executed)."""
        engine = self.engine
        digest = stored.get(DIGEST)

        def scan() -> None:
            try:
                names = pickle_globals(engine.read_ref(digest)) if isinstance(digest, str) else []
                shown = ", ".join(names) or "(none found)"
            except (DbEngineError, OSError) as error:
                shown = f"unreadable: {error}"
            self.app.call_from_thread(self._set_names, leaf, shown)

        self.run_worker(scan, thread=True, group="pickle-scan")

    def _names_label(self, shown: str) -> Text:
        colors = palette(self.app)
        return Text.assemble(("names: ", f"bold {colors.key}"), literal(shown, colors.tag))

    def _set_names(self, leaf: TreeNode, shown: str) -> None:
        if isinstance(leaf.data, JsonNode):
            leaf.data.extra["names"] = shown
        leaf.set_label(self._names_label(shown))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        self._fill(event.node)
        if self.blame_on:
            self.schedule_blame()

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        data = event.node.data
        if isinstance(data, MoreNode):
            parent = data.parent
            event.node.remove()
            parent.data.filled = False
            self._fill(parent)

    # -------------------------------------------------------------- places
    def node_pointer(self, node: TreeNode | None) -> str | None:
        """The JSON Pointer of `node` into the shown value ("" the root; None inside a tagged
        value, or on a line that is no value: "… more", a decoded result)."""
        steps: list[tuple[str, Any]] = []
        while node is not None and node.parent is not None:
            data, parent = node.data, node.parent.data
            if not isinstance(data, JsonNode) or not isinstance(parent, JsonNode) or data.extra:
                return None
            steps.append((data.key, parent.value))
            node = node.parent
        return node_pointer(steps[::-1])

    @property
    def cursor_pointer(self) -> str | None:
        """The JSON Pointer of the node under the cursor (see node_pointer)."""
        return self.node_pointer(self.cursor_node)

    def select_pointer(self, pointer: str) -> bool:
        """Open the tree down to the value at `pointer` and put the cursor on it (False: not there)."""
        try:
            tokens = parse_pointer(pointer)
        except DbEngineError:
            return False
        node = self.root
        for token in tokens:
            self._fill(node)
            node.expand()
            while True:
                match = next((c for c in node.children if isinstance(c.data, JsonNode) and not c.data.extra
                              and _token(c.data.key, node.data.value) == token), None)
                more = next((c for c in node.children if isinstance(c.data, MoreNode)), None)
                if match is not None or more is None:
                    break
                more.remove()  # the value is further down the list: show the next page
                node.data.filled = False
                self._fill(node)
            if match is None:
                return False
            node = match
        self.call_after_refresh(self._cursor_to, node)
        return True

    def _cursor_to(self, node: TreeNode) -> None:
        if node.tree is self and node.line >= 0:
            self.move_cursor(node, animate=False)

    # -------------------------------------------------------------- blame gutter
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_blame":
            return self.id in ("data-tree", "record-tree")  # a record's tree: the table's column
        return True

    def action_toggle_blame(self) -> None:
        """`b`: a gutter with the version that last changed each value line (snapshot entries)."""
        if self._toggle_blame is not None:  # a record's detail: the table's "last changed" column
            self._toggle_blame()
            return
        if not self.blame_on and self._version() is None:
            self.notify("The blame gutter shows in a snapshot entry's tree", severity="warning", timeout=3)
            return
        self.blame_on = not self.blame_on
        if self.blame_on:
            self.schedule_blame()
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.blame_on:
            self.schedule_blame()

    def visible_pointers(self) -> list[str]:
        """The JSON Pointers of the value lines on screen (leaves: scalars, tagged values, empty ones)."""
        top = self.scroll_offset.y
        out = []
        for line in range(top, top + max(1, self.size.height)):
            node = self.get_node_at_line(line)
            if node is None:
                break
            if isinstance(node.data, JsonNode) and is_leaf(node.data.value):
                pointer = self.node_pointer(node)
                if pointer is not None:
                    out.append(pointer)
        return out

    def blame_source(self) -> tuple[str, str, str] | None:
        return self._version()

    def blame_keys(self) -> list[str]:
        return self.visible_pointers()

    def blame_arrived(self) -> None:
        self.refresh()

    def blame_stopped(self) -> None:
        self.refresh()

    def blame_gutter(self, line: int) -> Text:
        """The blame gutter of tree line `line` ("…" while its answer is on its way)."""
        node = self.get_node_at_line(line)
        text = Text(no_wrap=True, end="")
        if node is not None and isinstance(node.data, JsonNode) and is_leaf(node.data.value):
            pointer = self.node_pointer(node)
            if pointer in self.blame:
                version = self.blame[pointer]
                shown = gutter_text(version, dt.datetime.now(dt.UTC)) if version is not None else "?"
                colors = palette(self.app)
                text.append(shown[:7], style=colors.digest)
                text.append(shown[7:], style=colors.user)
            elif pointer is not None:
                text.append("…", style="dim")
        text.pad_right(GUTTER_WIDTH - 2 - text.cell_len)
        text.append("│ ", style="dim")
        return text

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if not self.blame_on:
            return strip
        gutter = Strip(list(self.blame_gutter(y + self.scroll_offset.y).render(self.app.console)))
        return Strip.join([gutter, strip]).crop(0, self.size.width)

    # -------------------------------------------------------------- actions
    def action_cursor_first(self) -> None:
        self.cursor_line = 0

    def action_cursor_last(self) -> None:
        self.cursor_line = self.last_line

    def action_decode(self) -> None:
        """Decode the tagged value under the cursor with the registered handlers.

        Without --trust-pickle the result is shown by safe_repr(): no method of the decoded
        value's classes runs (a database may name any loaded class).
        """
        node = self.cursor_node
        if node is not None and isinstance(node.data, JsonNode) and node.data.key == "decoded":
            node = node.parent  # `v` on a result decodes its value again
        if node is None or not isinstance(node.data, JsonNode) or not is_special(node.data.value):
            self.notify("Put the cursor on a ⟨tagged⟩ value to decode it", severity="warning", timeout=3)
            return
        stored = node.data.value
        app, engine = self.app, self.engine
        trusted = getattr(app, "trust_pickle", False)
        if stored.get(SPECIAL) == TAG_PICKLE and not trusted:
            self.notify("Pickles are not unpickled: start mydb-tui with --trust-pickle to decode them",
                        severity="warning", markup=False)
            return

        def decode() -> None:
            error_text = None
            try:
                value = engine.decode(stored)
                shown = "= " + (_REPR.repr(value) if trusted else safe_repr(value))
                role = "ok"
            except UntrustedPickleError:
                shown, role = "⚠ holds a pickle: start with --trust-pickle to decode it", "error"
            except Exception as error:  # handler errors are the user's code: show them
                error_text = f"{type(error).__name__}: {error}"
                shown, role = f"⚠ cannot decode: {error_text}", "error"
            app.call_from_thread(self._add_decoded, node, shown, role, error_text)

        self.run_worker(decode, thread=True, group="decode")

    def _show_result(self, leaf: TreeNode) -> None:
        """Scroll a decoded result into view once the tree has laid out its line (the cursor
        stays on the decoded value)."""
        if leaf.tree is self and leaf.line >= 0:
            self.scroll_to_node(leaf, animate=False)

    def _decoded_label(self, shown: str, role: str) -> Text:
        return Text(display_safe(shown)[:2000], style=f"bold {getattr(palette(self.app), role)}")

    def _add_decoded(self, node: TreeNode, shown: str, role: str, error: str | None = None) -> None:
        self._fill(node)
        for child in list(node.children):
            if isinstance(child.data, JsonNode) and child.data.key == "decoded":
                child.remove()  # one result per value, the latest
        data = JsonNode("decoded", shown, filled=True, extra={"role": role})
        leaf = node.add_leaf(self._decoded_label(shown, role), data)
        node.expand()
        self.call_after_refresh(self._show_result, leaf)
        if error is not None:
            self.notify(display_safe(error), title="Cannot decode", severity="error", markup=False)


def _token(key: Any, parent: Any) -> str | None:
    """The pointer token of a child labelled `key` in `parent` (`[3]` in a list is `3`)."""
    if type(parent) is list and isinstance(key, str) and key.startswith("["):
        return key[1:-1]
    if type(parent) is dict and not is_special(parent):
        return str(key)
    return None


def _container(value: Any) -> bool:
    return (type(value) in (dict, list) and len(value) > 0) or is_special(value)


def _size(value: Any) -> int:
    return len(value) if type(value) in (dict, list) else 0
