"""The tenant/entry tree: tenants at the top level, their entries loaded in a worker.

A tenant's entries load behind a "loading…" node, in chunks, the first time it is
opened (the Harlequin `database_tree` shape), so 100 tenants × 100 entries open at
once. A tenant of more than `model.entries.LAZY_ENTRIES` entries shows its names a page (PAGE) at a time
(the next page comes when the "… more" row scrolls into view, or on enter there; `goto`
and the filter reach any entry) and reads the details (kind, versions) of the rows on
screen only, in a worker: 100,000 entries open in a fraction of a second (Textual's Tree
re-lays out every node on each change, so it never holds them all). `/` filters entry names; `refresh_all()` follows writes by other processes.
An entry that cannot be read (a damaged head, a forged name that is not a valid entry
name) is listed as "⚠ unreadable"; its error shows when it is selected. A failure of
any kind in a worker is shown where it happened and never stops the app.
"""

from __future__ import annotations

import bisect
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode
from textual.worker import get_current_worker

from ..model import entries as listing
from ..model.entries import EntryData, EntryDetails, NodeData, NoteData, TenantData
from ..model.errors import error_text
from ..model.escape import display_safe
from .keys import VIM_CURSOR_KEYS
from .loading import DelayedLoading
from .palette import NOT_DIM, Palette, on_theme_change, palette
from .safe import literal

_DETAILS_WIDTH = (len("  snapshot · 9,999 versions"), len("  snapshot · 9,999"))  # until details come


def tenant_label(data: TenantData) -> Text:
    text = Text(no_wrap=True, end="")
    text.append_text(literal(data.tenant, "bold"))
    if data.count is not None:
        text.append(f"  {data.count} entr{'y' if data.count == 1 else 'ies'}", style="dim")
    return text


def entry_label(data: EntryData, colors: Palette | None = None, compact: bool = False,
                max_width: int | None = None) -> Text:
    """`name  pattern · N versions`; `compact` drops the word "versions" (narrow panes).

    With `max_width`, the details go first (the count, then the pattern: the name matters
    most); only a name that alone does not fit is cut with "…". Without `colors` the label
    is plain (to measure it).
    """
    tail = Text(no_wrap=True, end="")
    if data.error:
        tail.append("  ⚠ unreadable", style=f"bold {colors.error}" if colors else "bold")
    elif data.info is not None:
        kind = data.info.kind
        tail.append("  ")
        tail.append(kind, style=colors.kind(kind) if colors else "")
        n = data.info.versions
        tail.append(f" · {n:,}" if compact else f" · {n:,} version{'' if n == 1 else 's'}", style="dim")
    name = display_safe(data.entry) or '""'  # an empty name (forged: never valid) shows as ""
    if max_width is not None and len(name) + tail.cell_len > max_width and data.info is not None \
            and not data.error:
        kind_only = Text(no_wrap=True, end="")
        kind_only.append("  ")
        kind_only.append(data.info.kind, style=colors.kind(data.info.kind) if colors else "")
        tail = kind_only if len(name) + kind_only.cell_len <= max_width else Text(no_wrap=True, end="")
    if max_width is not None and len(name) + tail.cell_len > max_width:
        keep = max(6, max_width - tail.cell_len - 1)
        if keep < len(name):
            name = name[:keep] + "…"
    text = Text(name, no_wrap=True, end="")
    text.append_text(tail)
    return text


def label_widths(data: EntryData) -> tuple[int, int]:
    """Cells of entry_label(data) in full and compact form."""
    full = entry_label(data).cell_len
    if data.error or data.info is None:
        return full, full
    return full, full - len(" version" if data.info.versions == 1 else " versions")


#: Cells of the pane around the labels: border (2), the vertical scrollbar (1), a margin (1).
PANE_CHROME = 4
MIN_WIDTH = 26
MAX_WIDTH = 64
MAX_SHARE = 0.38  # of the screen width


def fit_width(full: int, compact: int, screen: int) -> tuple[int, bool]:
    """(pane width, compact labels?) for the widest full/compact tree line and the screen width.

    The pane is as wide as its widest full label, up to MAX_SHARE of the screen; when that is
    not enough the labels go compact ("snapshot · 14"), and a label still too long loses its
    details before its name is cut (see entry_label).
    """
    cap = max(MIN_WIDTH, min(MAX_WIDTH, int(screen * MAX_SHARE)))
    if full + PANE_CHROME <= cap:
        return max(MIN_WIDTH, full + PANE_CHROME), False
    return max(MIN_WIDTH, min(cap, compact + PANE_CHROME)), True


def _head(data: EntryData) -> str | None:
    return data.info.head if data.info is not None else None


class EntryTree(DelayedLoading, Tree[NodeData]):
    """Tenants, then their entries with pattern and number of versions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("/", "filter", "Filter"),
        *VIM_CURSOR_KEYS,
        Binding("c", "copy_name", "Copy name", show=False),
        Binding("left,h", "collapse", "Close tenant", show=False),
        Binding("right,l", "expand", "Open tenant", show=False),
    ]

    class EntryHighlighted(Message):
        """The cursor is on an entry."""

        def __init__(self, tenant: str, entry: str, head: str | None = None) -> None:
            super().__init__()
            self.tenant, self.entry = tenant, entry
            self.head = head  # the head the tree last saw: lets the viewer start loading early

    class EntryChosen(EntryHighlighted):
        """Enter was pressed on an entry (`clicked`: it was clicked instead)."""

        def __init__(self, tenant: str, entry: str, clicked: bool = False) -> None:
            super().__init__(tenant, entry)
            self.clicked = clicked

    class LoadFailed(Message):
        def __init__(self, what: str, error: Exception) -> None:
            super().__init__()
            self.what, self.error = what, error

    compact = False  # labels without the word "versions" (set by fit_pane)
    _label_budget: int | None = None  # cells an entry label may take in compact mode
    _panes_width: int | None = None  # width of the panes at the last fit (None: the screen's)
    _stacked = False  # the panes are stacked: the Entries pane has the whole width
    _filter_width: int | None = None  # the pane width when the filter opened (kept while it is on)

    def __init__(self, engine: Any, *, auto_open: bool = True, wait: bool = False, id: str | None = None) -> None:
        """`wait`: show "connecting…" and load nothing until `reload()` is called."""
        super().__init__("tenants", id=id)
        self.engine = engine
        self.show_root = False
        self.guide_depth = 3
        self.auto_open = auto_open
        self.wait = wait
        self.filter_text = ""
        self._pending: tuple[str, str] | None = None
        self._tenants_shown = False  # the tenant list of the last reload is in the tree
        self.details = EntryDetails(engine)
        self._clicked = False  # the next NodeSelected comes from a click, not from enter
        self._wanted: dict[int, TreeNode[NodeData]] = {}  # entry rows on screen whose details are not read
        self._asked: set[int] = set()  # node ids whose details a worker is reading

    # -------------------------------------------------------------- queries
    def tenant_nodes(self) -> dict[str, TreeNode[NodeData]]:
        return {n.data.tenant: n for n in self.root.children if isinstance(n.data, TenantData)}

    def entry_node(self, tenant: str, entry: str) -> TreeNode[NodeData] | None:
        node = self.tenant_nodes().get(tenant)
        if node is None:
            return None
        for child in node.children:
            if isinstance(child.data, EntryData) and child.data.entry == entry:
                return child
        return None

    @property
    def selected_entry(self) -> tuple[str, str] | None:
        node = self.cursor_node
        if node is not None and isinstance(node.data, EntryData):
            return node.data.tenant, node.data.entry
        return None

    # -------------------------------------------------------------- width
    def render_label(self, node: TreeNode[NodeData], base_style, style) -> Text:
        if self.compact and isinstance(node.data, EntryData):
            label = entry_label(node.data, palette(self.app), compact=True, max_width=self._label_budget)
            label.stylize(style)
        else:
            label = super().render_label(node, base_style, style)
        if style.bgcolor is not None:  # the cursor line: nothing dim on the cursor's colour
            label.stylize(NOT_DIM)
        return label

    def line_widths(self) -> tuple[int, int]:
        """Cells of the widest tree line with full labels and with compact labels."""
        full = compact = 0
        indent = self.guide_depth
        for tenant in self.root.children:
            width = 2 + tenant.label.cell_len  # the ▶/▼ icon
            full, compact = max(full, width), max(compact, width)
            if isinstance(tenant.data, TenantData):
                full = max(full, indent + tenant.data.widths[0])
                compact = max(compact, indent + tenant.data.widths[1])
            for child in tenant.children:
                if isinstance(child.data, NoteData):  # loading…, an error
                    width = indent + child.label.cell_len
                    full, compact = max(full, width), max(compact, width)
        return full, compact

    @staticmethod
    def _note_widths(tenant: TenantData, entries: list[EntryData], reset: bool) -> None:
        widths = [label_widths(data) for data in entries]
        full = max([0 if reset else tenant.widths[0], *(w[0] for w in widths)])
        compact = max([0 if reset else tenant.widths[1], *(w[1] for w in widths)])
        tenant.widths = (full, compact)

    def fit_pane(self, panes_width: int | None = None, stacked: bool | None = None) -> None:
        """Size the pane to the labels (within limits of the panes' width); see fit_width().

        Called when the tree changes and on every resize (with the new `panes_width`).
        Stacked, the pane has the whole width. While a filter is on, the pane keeps the
        width it had (it only grows): typing must not make it jump.
        """
        pane = self.parent
        if not isinstance(pane, EntryPane) or not self.is_attached:
            return
        if panes_width is not None:
            self._panes_width = panes_width
        if stacked is not None:
            self._stacked = stacked
        screen = self._panes_width or self.app.size.width
        full, compact = self.line_widths()
        if self._stacked:
            width = screen
            form = full + PANE_CHROME > width
        else:
            width, form = fit_width(full, compact, screen)
            if self.filter_text and self._filter_width is not None:
                width = max(width, min(self._filter_width, max(MIN_WIDTH, int(screen * MAX_SHARE))))
        budget = width - PANE_CHROME - self.guide_depth if form else None
        if (form, budget) != (self.compact, self._label_budget):
            self.compact, self._label_budget = form, budget
            self._invalidate()
        pane.border_subtitle = "pattern · versions" if form else ""
        if self._stacked:
            if pane.styles.width is not None:
                pane.styles.width = None  # app.tcss: the whole width
        elif pane.styles.width is None or pane.styles.width.value != width:
            pane.styles.width = width
        if not self.filter_text and not self._stacked:
            self._filter_width = width

    # -------------------------------------------------------------- loading
    def on_mount(self) -> None:
        on_theme_change(self, self._relabel)
        if self.wait:
            self.root.add_leaf(Text("connecting…", style="dim italic"), NoteData("connecting"))
        else:
            self.reload()

    def _entry_label(self, data: EntryData) -> Text:
        return entry_label(data, palette(self.app))

    def _note(self, error: object) -> tuple[Text, NoteData]:
        """The label and data of a leaf that reports `error`."""
        message = error if isinstance(error, str) else error_text(error)
        return Text(f"⚠ {display_safe(message)}", style=palette(self.app).error), NoteData(message, error=True)

    def _relabel(self) -> None:
        """Label entries and error notes again with the new theme's colours."""
        for node in list(self._tree_nodes.values()):
            data = node.data
            if isinstance(data, EntryData):
                node.set_label(self._entry_label(data))
            elif isinstance(data, NoteData) and data.error:
                node.set_label(self._note(data.text)[0])

    def reload(self) -> None:
        """Rebuild the tree from the database (used at start and when the filter changes)."""
        self.wait = False
        self._tenants_shown = False
        self.show_loading()
        self._load_tenants(self.filter_text)

    @work(thread=True, exclusive=True, group="tree-tenants")
    def _load_tenants(self, text: str) -> None:
        engine = self.engine
        try:
            tenants = engine.tenants()
        except Exception as error:
            self.app.call_from_thread(self._tenants_failed, error)
            return
        matches: dict[str, list[str]] | None = None
        worker = get_current_worker()
        if text:
            matches = listing.matching_entries(engine, tenants, text, lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_tenants, tenants, matches)

    def _tenants_failed(self, error: Exception) -> None:
        self.hide_loading()
        self.clear()
        self.root.add_leaf(*self._note(error))
        self.post_message(self.LoadFailed("tenants", error))

    def _show_tenants(self, tenants: list[str], matches: dict[str, list[str]] | None) -> None:
        self._tenants_shown = True
        self.hide_loading()
        previous = self.selected_entry
        self.clear()
        self.cursor_line = -1
        if matches is not None:
            if matches and not (previous and previous[1] in matches.get(previous[0], [])):
                first = next(iter(matches.items()))
                previous = (first[0], first[1][0])
            self._pending = previous
            for tenant, names in matches.items():
                node = self.root.add(tenant_label(TenantData(tenant)), TenantData(tenant), allow_expand=True)
                self._fill(node, names)
            if not matches:
                self.root.add_leaf(Text(f"no entry matches {display_safe(self.filter_text)!r}", style="dim italic"),
                                   NoteData("empty"))
            return
        for tenant in tenants:
            self.root.add(tenant_label(TenantData(tenant)), TenantData(tenant), allow_expand=True)
        self.fit_pane()
        target = self._pending or previous
        if target is not None:
            self.goto(*target)
        elif self.auto_open and tenants:
            self._pending = None
            first = self.tenant_nodes()[tenants[0]]
            first.expand()
            self.move_cursor(first)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, TenantData) and not data.loaded:
            data.loaded = True
            event.node.remove_children()
            event.node.add_leaf(Text("loading…", style="dim italic"), NoteData("loading"))
            self._load_entries(event.node, data.tenant)

    def _load_entries(self, node: TreeNode[NodeData], tenant: str) -> None:
        self.run_worker(
            lambda: self._entries_worker(node, tenant), thread=True, group=f"tree:{tenant}", exclusive=True
        )

    def _entries_worker(self, node: TreeNode[NodeData], tenant: str) -> None:
        engine = self.engine
        try:
            names = engine.entries(tenant)
        except Exception as error:
            self.app.call_from_thread(self._entries_failed, node, tenant, error)
            return
        if not names:
            self.app.call_from_thread(self._add_chunk, node, [], True, True)
        if len(names) > listing.LAZY_ENTRIES:
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._add_names, node, tenant, names)
            return
        self._add_chunks(node, tenant, names)

    def _add_chunks(self, node: TreeNode[NodeData], tenant: str, names: list[str]) -> None:
        """(In a worker) read the details of `names` a chunk at a time, each chunk shown as it comes."""
        for start, chunk in listing.chunks(names):
            if get_current_worker().is_cancelled:
                return
            found = [self.details.read(tenant, name) for name in chunk]
            last = start + len(chunk) >= len(names)
            self.app.call_from_thread(self._add_chunk, node, found, start == 0, last, len(names))

    def _entries_failed(self, node: TreeNode[NodeData], tenant: str, error: Exception) -> None:
        node.remove_children()
        node.add_leaf(*self._note(error))
        node.data.loaded = False
        self.post_message(self.LoadFailed(f"tenant {tenant!r}", error))

    def _add_chunk(
        self, node: TreeNode[NodeData], chunk: list[EntryData], first: bool, last: bool, total: int = 0
    ) -> None:
        if node.tree is not self or node not in node.parent.children:
            return  # the tree was rebuilt meanwhile
        if first:
            node.remove_children()
            node.data.count = total
            node.set_label(tenant_label(node.data))
        self._note_widths(node.data, chunk, reset=first)
        for data in chunk:
            node.add_leaf(self._entry_label(data), data)
        if last:
            self.fit_pane()
        pending = self._pending
        if pending and pending[0] == node.data.tenant and (last or any(d.entry == pending[1] for d in chunk)):
            self.goto(*pending)
        elif first and self.auto_open and self.cursor_node is node and node.children:
            self.auto_open = False
            self._move_to(node.children[0])

    def _add_names(self, node: TreeNode[NodeData], tenant: str, names: list[str]) -> None:
        """A big tenant: its first page of entries, names only; the details of the rows on
        screen are read by `_read_wanted`, the next pages by `_show_more`."""
        if node.tree is not self or node not in node.parent.children:
            return  # the tree was rebuilt meanwhile
        node.remove_children()
        data = node.data
        data.count, data.names, data.shown = len(names), names, 0
        node.set_label(tenant_label(data))
        longest = max(map(len, names))  # (display_safe() escapes are rare; 100,000 calls cost a second)
        data.widths = (longest + _DETAILS_WIDTH[0], longest + _DETAILS_WIDTH[1])
        pending = self._pending
        upto = bisect.bisect_left(names, pending[1]) if pending and pending[0] == tenant else 0
        self._show_more(node, upto)
        self.fit_pane()
        if pending and pending[0] == tenant:
            self.goto(*pending)
        elif self.auto_open and self.cursor_node is node and node.children:
            self.auto_open = False
            self._move_to(node.children[0])

    def _show_more(self, node: TreeNode[NodeData], upto: int = 0) -> None:
        """Add the next page of a big tenant's entries (at least up to name number `upto`)."""
        data = node.data
        if not isinstance(data, TenantData) or data.names is None or node.tree is not self:
            return
        names = data.names
        end = min(len(names), max(data.shown + listing.PAGE, upto + 1))
        if node.children and isinstance(node.children[-1].data, NoteData):
            node.children[-1].remove()
        children = []
        for name in names[data.shown:end]:
            child = self._add_node(node, Text(display_safe(name) or '""', no_wrap=True, end=""), EntryData(data.tenant, name))
            child._allow_expand = child._expanded = False
            children.append(child)
        data.shown = end
        if end < len(names):
            more = self._add_node(node, Text(f"… {len(names) - end:,} more (enter; / filters)", style="dim italic"),
                                  NoteData("more"))
            more._allow_expand = more._expanded = False
            children.append(more)
        node._children.extend(children)  # one re-layout (Textual's add() re-lays out per node)
        node._updates += 1
        self._invalidate()

    def process_label(self, label: str | Text) -> Text:
        """A label as Tree shows it; one-line Text labels (all of ours) are taken as they are."""
        if isinstance(label, Text) and "\n" not in label.plain:
            return label
        return super().process_label(label)

    def render_line(self, y: int):
        """A line of the tree; an entry row on screen without its details asks for them."""
        strip = super().render_line(y)
        line = y + self.scroll_offset.y
        lines = self._tree_lines
        if 0 <= line < len(lines):
            node = lines[line].node
            data = node.data
            if isinstance(data, NoteData) and data.text == "more" and node.id not in self._asked:
                self._asked.add(node.id)  # once: the note is replaced by the next page
                self.call_later(self._show_more, node.parent)
            elif isinstance(data, EntryData) and data.info is None and data.error is None \
                    and node.id not in self._asked and node.id not in self._wanted:
                if not self._wanted:
                    self.call_later(self._read_wanted)
                self._wanted[node.id] = node
        return strip

    def _read_wanted(self) -> None:
        nodes = list(self._wanted.values())
        self._wanted.clear()
        self._asked.update(n.id for n in nodes)
        self.run_worker(lambda: self._details_worker(nodes), thread=True, group="tree-details")

    def _details_worker(self, nodes: list[TreeNode[NodeData]]) -> None:
        for start in range(0, len(nodes), 50):
            batch = nodes[start:start + 50]
            found = [(n, self.details.read(n.data.tenant, n.data.entry)) for n in batch]
            self.app.call_from_thread(self._details_read, found)

    def _details_read(self, found: list[tuple[TreeNode[NodeData], EntryData]]) -> None:
        for node, data in found:
            self._asked.discard(node.id)
            if node.tree is not self or not isinstance(node.data, EntryData) or node.data.entry != data.entry:
                continue
            node.data = data
            node.set_label(self._entry_label(data))

    def _fill(self, node: TreeNode[NodeData], names: list[str]) -> None:
        """Filtered view: show `names` under the tenant now, their counts when loaded."""
        node.data.loaded = True
        node.add_leaf(Text("loading…", style="dim italic"), NoteData("loading"))
        node.expand()
        tenant = node.data.tenant
        self.run_worker(lambda: self._add_chunks(node, tenant, names), thread=True, group=f"tree:{tenant}",
                        exclusive=True)

    # -------------------------------------------------------------- following changes
    def retry_failed(self) -> bool:
        """Read again what failed (the database answers again): the tenant list (True:
        the tree is reloaded whole), or the entries of opened tenants showing an error."""
        if self.wait:
            return False
        if not self._tenants_shown:
            self.reload()
            return True
        for node in self.tenant_nodes().values():
            failed = any(isinstance(c.data, NoteData) and c.data.error for c in node.children)
            if failed and not node.data.loaded:
                node.data.loaded = True
                node.remove_children()
                node.add_leaf(Text("loading…", style="dim italic"), NoteData("loading"))
                self._load_entries(node, node.data.tenant)
        return False

    def refresh_all(self) -> None:
        """Re-read tenants, and entries of opened tenants, keeping the cursor."""
        self._refresh_worker(self.filter_text)

    @work(thread=True, exclusive=True, group="tree-refresh")
    def _refresh_worker(self, text: str) -> None:
        engine = self.engine
        try:
            tenants = engine.tenants()
        except Exception:
            return
        loaded = self.app.call_from_thread(
            lambda: [n.data.tenant for n in self.root.children if isinstance(n.data, TenantData) and n.data.loaded]
        )
        fresh: dict[str, list[EntryData] | None] = {}
        for tenant in tenants:
            if tenant in loaded:
                try:
                    names = engine.entries(tenant)
                except Exception:
                    fresh[tenant] = None
                    continue
                names = listing.filter_names(names, text)
                if len(names) > listing.LAZY_ENTRIES:  # details are read again for the rows on screen
                    fresh[tenant] = [EntryData(tenant, n) for n in names]
                    continue
                fresh[tenant] = [self.details.read(tenant, n) for n in names]
            else:
                fresh[tenant] = None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._sync, tenants, fresh, text)

    def _sync(self, tenants: list[str], fresh: dict[str, list[EntryData] | None], text: str) -> None:
        if text != self.filter_text:
            return
        nodes = self.tenant_nodes()
        if not text:
            for name, node in nodes.items():
                if name not in tenants:
                    node.remove()
            for i, tenant in enumerate(tenants):
                if tenant not in nodes:
                    later = [nodes[t] for t in tenants[i + 1:] if t in nodes]
                    data = TenantData(tenant)
                    if later:
                        self.root.add(tenant_label(data), data, before=later[0], allow_expand=True)
                    else:
                        self.root.add(tenant_label(data), data, allow_expand=True)
            nodes = self.tenant_nodes()
        for tenant, entries in fresh.items():
            node = nodes.get(tenant)
            if node is None or entries is None:
                continue
            self._sync_entries(node, entries)
        self.fit_pane()

    def _sync_entries(self, node: TreeNode[NodeData], entries: list[EntryData]) -> None:
        if len(entries) > listing.LAZY_ENTRIES:
            names = [e.entry for e in entries]
            if node.data.names != names:
                self._add_names(node, node.data.tenant, names)
                return
            for child in node.children:  # read again when on screen; labels stay until then
                if isinstance(child.data, EntryData) and (child.data.info is not None or child.data.error is not None):
                    child.data = EntryData(child.data.tenant, child.data.entry)
            self.refresh()
            return
        current = {c.data.entry: c for c in node.children if isinstance(c.data, EntryData)}
        wanted = {e.entry for e in entries}
        for name, child in current.items():
            if name not in wanted:
                child.remove()
        for i, data in enumerate(entries):
            child = current.get(data.entry)
            if child is not None:
                child.data = data
                child.set_label(self._entry_label(data))
                continue
            later = [current[e.entry] for e in entries[i + 1:] if e.entry in current]
            if later:
                node.add_leaf(self._entry_label(data), data, before=later[0])
            else:
                node.add_leaf(self._entry_label(data), data)
        node.data.count = len(entries)
        node.set_label(tenant_label(node.data))
        self._note_widths(node.data, entries, reset=True)

    # -------------------------------------------------------------- navigation
    def goto(self, tenant: str, entry: str) -> None:
        """Move the cursor to an entry, opening its tenant (and loading it) as needed."""
        self.auto_open = False  # an explicit target: the first entry is no longer opened by itself
        node = self.entry_node(tenant, entry)
        if node is not None:
            self._pending = None
            node.parent.expand()
            self._move_to(node)
            return
        tenant_node = self.tenant_nodes().get(tenant)
        if tenant_node is None:
            if self.filter_text:
                self._pending = (tenant, entry)
                self.set_filter("")
            else:  # still loading the tenants: go there once they show (not to the first entry)
                self._pending = None if self._tenants_shown else (tenant, entry)
            return
        names = tenant_node.data.names
        if names is not None and tenant_node.data.shown < len(names):  # a big tenant: show its page
            at = bisect.bisect_left(names, entry)
            if at < len(names) and names[at] == entry:
                self._show_more(tenant_node, at)
                node = self.entry_node(tenant, entry)
                if node is not None:
                    self._pending = None
                    tenant_node.expand()
                    self._move_to(node)
                    return
        self._pending = (tenant, entry)
        if tenant_node.data.loaded and not any(isinstance(c.data, NoteData) and c.data.text != "more"
                                               for c in tenant_node.children):
            self._pending = None  # loaded, and the entry is not there
            return
        tenant_node.expand()

    def _move_to(self, node: TreeNode[NodeData]) -> None:
        """Move the cursor to `node` once the tree has laid out its new lines."""

        def move() -> None:
            if node.tree is self and node.line >= 0:
                self.move_cursor(node, animate=False)
                if isinstance(node.data, EntryData):  # also when the line number did not change
                    self.post_message(self.EntryHighlighted(node.data.tenant, node.data.entry, _head(node.data)))

        self.call_after_refresh(move)

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            if isinstance(self.parent, EntryPane):
                self.parent.border_title = f"Entries · filter {display_safe(text)!r}" if text else "Entries"
            self.reload()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, EntryData):
            self.post_message(self.EntryHighlighted(data.tenant, data.entry, _head(data)))

    def on_tree_node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, NoteData) and data.text == "more":
            self._show_more(event.node.parent)
            return
        clicked, self._clicked = self._clicked, False
        if isinstance(data, EntryData):
            self.post_message(self.EntryChosen(data.tenant, data.entry, clicked=clicked))

    def _on_click(self, event: events.Click) -> None:
        """Note that the NodeSelected Tree's own click handler (called after this one) posts
        comes from a click: the focus then stays in the tree."""
        meta = event.style.meta
        self._clicked = "line" in meta and not meta.get("toggle", False)

    def on_resize(self) -> None:
        """Keep the cursor line in view when the pane shrinks (stacked panes lose the focus)."""
        if self.cursor_line >= 0:
            self.call_after_refresh(self.scroll_to_line, self.cursor_line, False)

    def action_collapse(self) -> None:
        """← / h: close the tenant under the cursor, or go from an entry to its tenant."""
        node = self.cursor_node
        if node is None:
            return
        if isinstance(node.data, TenantData):
            if node.is_expanded:
                node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent, animate=False)

    def action_expand(self) -> None:
        """→ / l: open the tenant under the cursor; on an open one, go to its first entry."""
        node = self.cursor_node
        if node is None or not isinstance(node.data, TenantData):
            return
        if not node.is_expanded:
            node.expand()
        elif node.children:
            self.move_cursor(node.children[0], animate=False)

    def move_match(self, step: int) -> None:
        """Move the cursor to the next (`step` 1) or previous (-1) entry, over tenant rows."""
        line = self.cursor_line
        while 0 <= line + step <= self.last_line:
            line += step
            node = self.get_node_at_line(line)
            if node is not None and isinstance(node.data, EntryData):
                self.move_cursor(node, animate=False)
                return

    def action_cursor_first(self) -> None:
        self.cursor_line = 0

    def action_cursor_last(self) -> None:
        self.cursor_line = self.last_line

    def action_filter(self) -> None:
        pane = self.parent
        if isinstance(pane, EntryPane):
            pane.open_filter()

    def action_copy_name(self) -> None:
        node = self.cursor_node
        if node is not None and isinstance(node.data, EntryData):
            self.app.copy_to_clipboard(node.data.entry)
            self.notify(f"Copied {display_safe(node.data.entry)}", markup=False, timeout=3)


class FilterInput(Input):
    """The filter box: ↓ and ↑ move through the matching entries while typing goes on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "next_match", "Next match"),
        Binding("up", "previous_match", "Previous match", show=False),
    ]

    def action_next_match(self) -> None:
        if isinstance(self.parent, EntryPane):
            self.parent.tree.move_match(1)

    def action_previous_match(self) -> None:
        if isinstance(self.parent, EntryPane):
            self.parent.tree.move_match(-1)


class EntryPane(Vertical):
    """The tree with its filter input (hidden until `/`); `+` zooms the pane as a whole."""

    ALLOW_MAXIMIZE = True

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close_filter", "Clear filter", show=False)]

    def __init__(self, engine: Any, *, auto_open: bool = True, wait: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self._auto_open = auto_open
        self._wait = wait

    def compose(self) -> ComposeResult:
        # Disabled while hidden: Textual's auto-focus could otherwise pick the hidden input
        # at start (it did once in CI), and the next printable key became a filter.
        yield FilterInput(placeholder="filter entries…", id="entry-filter", disabled=True)
        yield EntryTree(self.engine, auto_open=self._auto_open, wait=self._wait, id="entry-tree")

    @property
    def tree(self) -> EntryTree:
        return self.query_one(EntryTree)

    def open_filter(self) -> None:
        box = self.query_one("#entry-filter", Input)
        box.disabled = False
        box.display = True
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#entry-filter", Input)
        box.value = ""
        box.display = False
        box.disabled = True
        self.tree.set_filter("")
        self.tree.focus()

    @on(Input.Changed, "#entry-filter")
    def _changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.set_timer(0.15, lambda: self._apply(value))

    def _apply(self, value: str) -> None:
        box = self.query_one("#entry-filter", Input)
        if box.value.strip() == value:  # debounce: only the latest text counts
            self.tree.set_filter(value)

    @on(Input.Submitted, "#entry-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        self.tree.set_filter(event.value.strip())
        self.tree.focus()
        if not event.value.strip():
            event.input.display = False
            event.input.disabled = True
