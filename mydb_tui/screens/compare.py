"""Side-by-side comparison of two versions of an entry (older left, newer right).

The comparison itself comes from the Textual-free `mydb_tui.model.compare`; this module
only draws it: a line-API `DiffView` that renders both columns of the visible rows (so
the two sides always scroll together and a large diff stays smooth) and a change list
that scrolls the diff to the selected change.
"""

from __future__ import annotations

import datetime as _dt
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.segment import Segment as RichSegment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer
from textual.worker import get_current_worker

from ..model.dates import INVALID_DATE, local_time
from ..widgets.change_list import ChangeList, change_text, short_value, summary_text
from ..widgets.loading import CalmLoadingIndicator
from ..widgets.palette import Palette, palette
from ..widgets.safe import invisible_re, safe_text
from ..widgets.themed_static import ThemedStatic

if TYPE_CHECKING:  # the model pulls in DeepDiff (~0.5 s): imported by the worker that compares
    from mydb_tui.model.compare import Comparison, DiffRow

__all__ = ["ChangeList", "CompareScreen", "DiffView", "change_text", "invisible_re", "meta_text",
           "safe_text", "short_value", "summary_text"]

#: A badge in a line of pretty JSON (`⟨py/date · 2026-01-05⟩`, `⟨set⟩ [`): not inside a string,
#: where a quote comes right before it (a non-string dict key `"⟨1⟩"`).
BADGE_RE = re.compile(r'(?<!")⟨[^⟩"]*⟩')
#: A header row that notes hidden lines or records, not a record's key (never sticky).
NOTE_RE = re.compile(r"^… [\d,]+ more (lines|changed records) not shown$")

def _date_text(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        return local_time(value)
    return "" if value is None else str(value)


def _with_date(meta: dict, version: Any) -> dict:
    """`meta` with the version's own date (aware), shown with its offset like everywhere else."""
    date = getattr(version, "date", None)
    return {**meta, "date": date} if isinstance(date, _dt.datetime) else meta


def meta_text(label: str, meta: dict | None, colors: Palette) -> Text:
    """The metadata block shown above one side: digest, user, date, parent, restored-from,
    and a fourth line with the damage of a version whose metadata is damaged."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{label}  ", style="bold")
    if not meta or not meta.get("digest"):
        text.append("(nothing: empty side)", style="dim italic")
        return text
    text.append(safe_text(str(meta["digest"])[:12]), style=f"bold {colors.digest}")
    text.append("\n")
    text.append(safe_text(str(meta.get("user") or "?")), style=colors.user)
    text.append(" · ")
    date = _date_text(meta.get("date"))
    text.append(safe_text(date), style=f"bold {colors.error}" if date == INVALID_DATE else colors.date)
    parents = [p for p in (meta.get("parents") or []) if p]
    text.append("\nparent ", style="dim")
    text.append(safe_text(str(parents[0])[:7]) if parents else "none", style=colors.digest if parents else "dim")
    restored = meta.get("restored_from")
    if restored:
        text.append(" · restored from ", style="dim")
        text.append(safe_text(str(restored)[:7]), style=colors.restored)
    damage = meta.get("damage")
    if damage:
        text.append("\n⚠ damaged: ", style=f"bold {colors.error}")
        text.append(safe_text(str(damage)), style=colors.error)
    return text


class DiffView(ScrollView, can_focus=True):
    """Both sides of a comparison, one row per line, rendering only the visible rows."""

    COMPONENT_CLASSES = {
        "diffview--gutter",
        "diffview--separator",
        "diffview--filler",
        "diffview--removed",
        "diffview--removed-mark",
        "diffview--added",
        "diffview--added-mark",
        "diffview--header",
        "diffview--sticky",
        "diffview--cursor",
    }
    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    current_row: reactive[int | None] = reactive(None)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[DiffRow] = []
        self._left_len = 0
        self._right_len = 0
        self._gutter = 4
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._keys: list[int] = []  # rows that name a record (sticky while its lines scroll by)

    @classmethod
    def measure(cls, rows: list[DiffRow]) -> tuple[int, int, int]:
        """(left width, right width, gutter) of `rows`: a pass over every row, done by the
        loading worker rather than on the UI thread."""
        left = max((cls._side_len(r.left) for r in rows), default=0)
        right = max((cls._side_len(r.right) for r in rows), default=0)
        top = max([r.left_no or 0 for r in rows] + [r.right_no or 0 for r in rows] + [0])
        return left, right, max(3, len(str(top))) + 1

    def set_rows(self, rows: list[DiffRow], measured: tuple[int, int, int] | None = None) -> None:
        """Show `rows` (replacing any previous ones) from the top; `measured` is `measure(rows)`."""
        self.rows = rows
        self._left_len, self._right_len, self._gutter = measured or self.measure(rows)
        self._keys = [i for i, row in enumerate(rows) if row.kind == "header" and not self._is_note(row)]
        self._cache.clear()
        self._update_virtual_size()
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    @staticmethod
    def _side_len(segments: Any) -> int:
        return sum(len(s.text) for s in segments) if segments else 0

    def _columns(self, width: int | None = None) -> tuple[int, int]:
        """Content widths of the left and right columns for a view `width` cells wide."""
        if width is None:
            width = self.scrollable_content_region.width
        inner = max(2, width - 2 * self._gutter - 1)
        left = inner // 2
        return left, inner - left

    def _view_width(self) -> int:
        """The width rows are drawn in: the content width less a vertical scrollbar if one is due.

        Computed from the rows rather than read back from the scrollbars, so a vertical
        scrollbar appearing cannot make lines that fit look too wide (and add a needless
        horizontal scrollbar).
        """
        region = self.content_region
        vertical = self.styles.scrollbar_size_vertical if len(self.rows) > region.height else 0
        return max(1, region.width - vertical)

    def _update_virtual_size(self) -> None:
        width = self._view_width()
        left, right = self._columns(width)
        overflow = max(0, self._left_len - left, self._right_len - right)
        # Only as wide as the view when every line fits: no horizontal scrollbar then.
        self.virtual_size = Size(width + overflow if overflow else 1, len(self.rows))

    def on_resize(self) -> None:
        self._cache.clear()
        self._update_virtual_size()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def watch_current_row(self) -> None:
        self._cache.clear()
        self.refresh()

    @staticmethod
    def _is_note(row: DiffRow) -> bool:
        side = row.right or row.left or ()
        return bool(NOTE_RE.match("".join(s.text for s in side)))

    def key_row(self, index: int) -> int | None:
        """The row naming the record that row `index` belongs to (None: no record)."""
        at = bisect_right(self._keys, index)
        return self._keys[at - 1] if at else None

    def scroll_to_row(self, row: int) -> None:
        """Scroll so that `row` shows near the top, with a little context above it; its
        record's key row shows at the top when it is that close (else the sticky key does)."""
        top = max(0, row - 3)
        key = self.key_row(row)
        if key is not None and top < key <= row:
            top = key
        self.scroll_to(y=top, animate=False)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        if y == 0 and self._keys:
            key = self.key_row(index)
            if key is not None and key < index:  # the record's key scrolled off: it sticks on top
                return self._sticky(key, width)
        key = (index, width, scroll_x, index == self.current_row)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(self.rows[index], index == self.current_row, scroll_x, width)
            self._cache[key] = strip
        return strip

    def _sticky(self, key: int, width: int) -> Strip:
        cache_key = ("sticky", key, width)
        strip = self._cache.get(cache_key)
        if strip is None:
            strip = self._render_row(self.rows[key], False, 0, width, sticky=True)
            self._cache[cache_key] = strip
        return strip

    def _render_row(self, row: DiffRow, is_current: bool, scroll_x: int, width: int, sticky: bool = False) -> Strip:
        base = self.rich_style
        style = self.get_component_rich_style
        left_w, right_w = self._columns()
        gutter_style = style("diffview--cursor") if is_current else style("diffview--gutter")
        separator = Strip([RichSegment("│", style("diffview--separator"))])
        if row.kind == "header":
            blank = self._gutter_strip(None, gutter_style)
            parts = [
                blank,
                self._header_strip(row.left, left_w, sticky),
                separator,
                blank,
                self._header_strip(row.right, right_w, sticky),
            ]
            return Strip.join(parts).adjust_cell_length(width, base)
        left_kind = "removed" if row.kind in ("removed", "changed") else None
        right_kind = "added" if row.kind in ("added", "changed") else None
        parts = [
            self._gutter_strip(row.left_no, gutter_style),
            self._side_strip(row.left, left_kind, scroll_x, left_w, base),
            separator,
            self._gutter_strip(row.right_no, gutter_style),
            self._side_strip(row.right, right_kind, scroll_x, right_w, base),
        ]
        return Strip.join(parts).adjust_cell_length(width, base)

    def _gutter_strip(self, number: int | None, gutter_style: Style) -> Strip:
        label = "" if number is None else str(number)
        return Strip([RichSegment(label.rjust(self._gutter - 1) + " ", gutter_style)])

    def _header_strip(self, segments: Any, width: int, sticky: bool = False) -> Strip:
        if segments is None:
            return Strip([RichSegment("╱" * width, self.get_component_rich_style("diffview--filler"))])
        header = self.get_component_rich_style("diffview--sticky" if sticky else "diffview--header")
        label = safe_text("".join(s.text for s in segments))
        return Strip([RichSegment(f"▸ {label}", header)]).crop_extend(0, width, header)

    def _side_strip(self, segments: Any, kind: str | None, scroll_x: int, width: int, base: Style) -> Strip:
        style = self.get_component_rich_style
        if segments is None:
            filler = style("diffview--filler")
            return Strip([RichSegment("╱" * width, filler)])
        line_style = style(f"diffview--{kind}") if kind else base
        mark_style = style(f"diffview--{kind}-mark") if kind else base
        pieces = [
            RichSegment(safe_text(s.text), mark_style if s.marked else line_style)
            for s in segments
            if s.text
        ]
        if any("⟨" in piece.text for piece in pieces):
            pieces = self._badges(pieces)
        strip = Strip(pieces).crop_extend(scroll_x, scroll_x + width, line_style)
        return strip

    def _badges(self, pieces: list[RichSegment]) -> list[RichSegment]:
        """`pieces` with the badges of tagged values in the badge colour (on the line's background)."""
        spans = [m.span() for m in BADGE_RE.finditer("".join(p.text for p in pieces))]
        if not spans:
            return pieces
        badge = Style.parse(palette(self.app).tag)
        result: list[RichSegment] = []
        offset = 0
        for piece in pieces:
            start, end = offset, offset + len(piece.text)
            offset = end
            cuts = sorted({start, end, *(p for span in spans for p in span if start < p < end)})
            for a, b in zip(cuts, cuts[1:], strict=False):
                inside = any(s <= a and b <= e for s, e in spans)
                text = piece.text[a - start:b - start]
                result.append(RichSegment(text, piece.style + badge if inside else piece.style))
        return result


class CompareScreen(Screen[None]):
    """Two versions side by side with the list of their changes; escape or q closes it.

    Tagged values show as badges, as in the viewer; `t` shows the stored JSON instead.
    `compute` replaces the comparison of two stored versions (the editor compares the
    head with an unsaved edit); `labels` name the two sides.
    """

    CSS_PATH = "compare.tcss"
    BINDINGS = [
        Binding("n", "next_change", "Next change"),
        Binding("p", "previous_change", "Prev change"),
        Binding("N", "previous_change", "Prev change", show=False),
        Binding("t", "show_raw", "Raw JSON"),
        Binding("t", "show_badges", "Badges"),
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(
        self, engine: Any, tenant: str, entry: str, old_digest: str | None, new_digest: str | None,
        *, compute: Callable[[bool], Comparison] | None = None, labels: tuple[str, str] = ("OLDER", "NEWER"),
        title: str = "Compare", start_at: Callable[[list], int | None] | None = None,
    ) -> None:
        """`start_at(changes)`: the index of the change the screen opens on (default the first)."""
        super().__init__()
        self.start_at = start_at
        self.engine = engine
        self.tenant = tenant
        self.entry = entry
        self.old_digest = old_digest
        self.new_digest = new_digest
        self.compute = compute
        self.labels = labels
        self.title_word = title
        self.badges = True  # tagged values as badges (t: the stored JSON)
        self.comparison: Comparison | None = None
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield ThemedStatic(self._title_text, id="compare-title")
        with Horizontal(id="compare-meta"):
            yield ThemedStatic(partial(meta_text, self.labels[0], {"digest": self.old_digest}), id="meta-old")
            yield ThemedStatic(partial(meta_text, self.labels[1], {"digest": self.new_digest}), id="meta-new")
        yield CalmLoadingIndicator(id="compare-loading")
        yield DiffView(id="compare-diff")
        with Vertical(id="compare-changes-box"):
            yield ChangeList(id="compare-changes")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-diff").display = False
        self.query_one("#compare-changes-box").display = False
        self._load(self.badges)

    def _title_text(self, colors: Palette) -> Text:
        comparison = self.comparison
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{self.title_word} ", style="bold")
        text.append(safe_text(f"{self.tenant} / {self.entry}"), style=f"bold {colors.key}")
        if comparison is not None:
            text.append("   ")
            text.append_text(summary_text(comparison, colors))
            if not self.badges:
                text.append("   raw JSON", style="dim")
        return text

    @work(thread=True, exclusive=True, group="compare")
    def _load(self, badges: bool, keep: int | None = None) -> None:
        worker = get_current_worker()
        try:
            if self.compute is not None:
                comparison = self.compute(badges)
            else:
                from mydb_tui.model.compare import compare_versions

                comparison = compare_versions(
                    self.engine, self.tenant, self.entry, self.old_digest, self.new_digest, badges=badges
                )
            from mydb_tui.model.compare import in_shown_order

            comparison = in_shown_order(comparison)
            measured = DiffView.measure(comparison.rows)
        except Exception as error:  # any failure is shown in place; the app keeps running
            if not worker.is_cancelled:
                self.app.call_from_thread(self._show_error, error)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, comparison, measured, keep)

    def _show_error(self, error: Exception) -> None:
        if not self.is_attached:
            return
        self.error = f"{type(error).__name__}: {error}"
        self.query_one("#compare-loading").display = False
        error_text = self.error

        def message(colors: Palette) -> Text:
            text = Text("Comparison failed: ", style=f"bold {colors.error}")
            text.append(safe_text(error_text))
            return text

        self.query_one("#compare-title", ThemedStatic).show(message)
        self.notify(safe_text(self.error), title="Comparison failed", severity="error")

    def _show(self, comparison: Comparison, measured: tuple[int, int, int] | None = None,
              keep: int | None = None) -> None:
        if not self.is_attached:
            return
        self.comparison = comparison
        self.query_one("#compare-loading").display = False
        self.query_one("#compare-title", ThemedStatic).show(self._title_text)
        old_meta = _with_date(comparison.old_meta, comparison.old)
        new_meta = _with_date(comparison.new_meta, comparison.new)
        self.query_one("#meta-old", ThemedStatic).show(partial(meta_text, self.labels[0], old_meta))
        self.query_one("#meta-new", ThemedStatic).show(partial(meta_text, self.labels[1], new_meta))
        diff = self.query_one(DiffView)
        diff.display = True
        diff.set_rows(comparison.rows, measured)
        changes = self.query_one(ChangeList)
        self.query_one("#compare-changes-box").display = True
        changes.set_changes(comparison.changes)
        start = keep if keep is not None else (self.start_at(comparison.changes) if self.start_at else None)
        first = min(start or 0, len(comparison.changes) - 1)
        if comparison.changes:
            if keep is None:
                changes.focus()
            changes.cursor = first
            # The diff has just been shown: scroll to the change once it is laid out.
            self.call_after_refresh(self._go_to, first)
        elif keep is None:
            diff.focus()

    def on_change_list_highlighted(self, event: ChangeList.Highlighted) -> None:
        event.stop()
        self._go_to(event.index)

    def _go_to(self, index: int) -> None:
        if self.comparison is None or not 0 <= index < len(self.comparison.changes):
            return
        row = self.comparison.changes[index].row
        diff = self.query_one(DiffView)
        diff.current_row = row
        if row is not None:
            diff.scroll_to_row(row)

    @property
    def selected_change(self) -> int | None:
        """Index of the highlighted change in the change list (None before loading)."""
        if self.comparison is None or not self.comparison.changes:
            return None
        return self.query_one(ChangeList).cursor

    def _step(self, delta: int) -> None:
        if self.comparison is None or not self.comparison.changes:
            return
        changes = self.query_one(ChangeList)
        target = changes.cursor + delta
        if not 0 <= target < len(self.comparison.changes):
            self.notify("No more changes" if delta > 0 else "First change", timeout=2)
            return
        changes.cursor = target
        self._go_to(target)

    def action_next_change(self) -> None:
        self._step(1)

    def action_previous_change(self) -> None:
        self._step(-1)

    def action_show_raw(self) -> None:
        """t: tagged values as their stored JSON (the selected change stays selected)."""
        self._set_badges(False)

    def action_show_badges(self) -> None:
        """t again: tagged values as badges."""
        self._set_badges(True)

    def _set_badges(self, badges: bool) -> None:
        if self.comparison is None or self.badges == badges:
            return
        self.badges = badges
        self.refresh_bindings()
        self._load(badges, self.selected_change or 0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_raw":
            return self.badges
        if action == "show_badges":
            return not self.badges
        return True

    def system_commands(self) -> Iterable[SystemCommand]:
        """The command palette's entries for this screen (the app lists them)."""
        yield SystemCommand("Next change", "Scroll to the next change (n)", self.action_next_change)
        yield SystemCommand("Previous change", "Scroll to the previous change (p)", self.action_previous_change)
        if self.badges:
            yield SystemCommand("Show raw JSON", "Tagged values as stored (t)", self.action_show_raw)
        else:
            yield SystemCommand("Show badges", "Tagged values as badges, as the viewer shows them (t)",
                                self.action_show_badges)
        yield SystemCommand("Close comparison", "Back to where you were (esc)", self.action_close)

    def action_close(self) -> None:
        self.dismiss(None)
