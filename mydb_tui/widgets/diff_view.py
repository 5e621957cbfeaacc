"""The two columns of a comparison: a line-API view that renders both sides of the
visible rows only, so the sides always scroll together and a large diff stays smooth.

Its colours are in `screens/compare.tcss` (the screen that shows it).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.segment import Segment as RichSegment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..model.escape import display_safe
from .keys import VIM_SCROLL_KEYS
from .palette import palette

if TYPE_CHECKING:  # the model pulls in DeepDiff (~0.5 s): imported by the worker that compares
    from mydb_tui.model.compare import DiffRow

#: A badge in a line of pretty JSON (`⟨py/date · 2026-01-05⟩`, `⟨set⟩ [`): not inside a string,
#: where a quote comes right before it (a non-string dict key `"⟨1⟩"`).
BADGE_RE = re.compile(r'(?<!")⟨[^⟩"]*⟩')
#: A header row that notes hidden lines or records, not a record's key (never sticky).
NOTE_RE = re.compile(r"^… [\d,]+ more (lines|changed records) not shown$")


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
    BINDINGS = VIM_SCROLL_KEYS

    current_row: reactive[int | None] = reactive(None)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: Sequence[DiffRow] = []
        self._left_len = 0
        self._right_len = 0
        self._gutter = 4
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._keys: list[int] = []  # rows that name a record (sticky while its lines scroll by)

    @classmethod
    def measure(cls, rows: Sequence[DiffRow]) -> tuple[int, int, int]:
        """(left width, right width, gutter) of `rows`: a pass over every row, done by the
        loading worker rather than on the UI thread."""
        extent = getattr(rows, "extent", None)  # LazyRows: measured without building its rows
        if extent is not None:
            left, right, top = extent()
            return left, right, max(3, len(str(top))) + 1
        left = max((cls._side_len(r.left) for r in rows), default=0)
        right = max((cls._side_len(r.right) for r in rows), default=0)
        top = max([r.left_no or 0 for r in rows] + [r.right_no or 0 for r in rows] + [0])
        return left, right, max(3, len(str(top))) + 1

    def set_rows(self, rows: Sequence[DiffRow], measured: tuple[int, int, int] | None = None) -> None:
        """Show `rows` (replacing any previous ones) from the top; `measured` is `measure(rows)`."""
        self.rows = rows
        self._left_len, self._right_len, self._gutter = measured or self.measure(rows)
        headers = getattr(rows, "header_rows", None)  # LazyRows: found without building its rows
        indices = headers() if headers is not None else (i for i, row in enumerate(rows) if row.kind == "header")
        self._keys = [i for i in indices if not self._is_note(rows[i])]
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

    def record_row_of(self, index: int) -> int | None:
        """The row naming the record that row `index` belongs to (None: no record)."""
        at = bisect_right(self._keys, index)
        return self._keys[at - 1] if at else None

    def scroll_to_row(self, row: int) -> None:
        """Scroll so that `row` shows near the top, with a little context above it; its
        record's key row shows at the top when it is that close (else the sticky key does)."""
        top = max(0, row - 3)
        key = self.record_row_of(row)
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
            key = self.record_row_of(index)
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
        label = display_safe("".join(s.text for s in segments))
        return Strip([RichSegment(f"▸ {label}", header)]).crop_extend(0, width, header)

    def _side_strip(self, segments: Any, kind: str | None, scroll_x: int, width: int, base: Style) -> Strip:
        style = self.get_component_rich_style
        if segments is None:
            filler = style("diffview--filler")
            return Strip([RichSegment("╱" * width, filler)])
        line_style = style(f"diffview--{kind}") if kind else base
        mark_style = style(f"diffview--{kind}-mark") if kind else base
        pieces = [
            RichSegment(display_safe(s.text), mark_style if s.marked else line_style)
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
