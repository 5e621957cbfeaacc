"""A cursor list that renders only its visible lines (the Toolong `log_lines` shape).

Subclasses say how many rows there are and how one row looks; the base keeps a
fixed header line, a cursor, vim keys and a small cache of rendered strips, so a
list of 100,000 rows costs what its 40 visible rows cost. Rows take their colours
from `self.palette` (the theme's) and are drawn again when the theme changes.
"""

from __future__ import annotations

from typing import ClassVar

from rich.color import Color
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .keys import VIM_CURSOR_KEYS
from .palette import Palette, on_theme_change, palette


def _recolored(text: Text, color: Color | None) -> Text:
    """`text` with its foreground colours set to `color` (the cursor row's) and nothing dim, so
    that no colour meant for the list's background is drawn on the cursor's; badges with a
    background keep theirs."""
    if color is None or not text.spans:
        return text
    result = text.copy()
    override = Style(color=color, dim=False)
    spans = []
    for span in result.spans:
        style = span.style if isinstance(span.style, Style) else Style.parse(span.style)
        spans.append(Span(span.start, span.end, style if style.bgcolor is not None else style + override))
    result.spans = spans
    return result


class LineList(ScrollView, can_focus=True):
    """A scrolling list of `row_count` one-line rows under one fixed header line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("home", "cursor_first", "First", show=False),
        Binding("end", "cursor_last", "Last", show=False),
        *VIM_CURSOR_KEYS,
        Binding("pageup", "page_up_rows", "Page up", show=False),
        Binding("pagedown", "page_down_rows", "Page down", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-list--header",
        "line-list--cursor",
        "line-list--empty",
    }

    DEFAULT_CSS = """
    LineList {
        background: $surface;
    }
    LineList > .line-list--header {
        text-style: bold;
        color: $text-muted;
        background: $panel;
    }
    LineList > .line-list--cursor {
        background: $block-cursor-blurred-background;
    }
    LineList:focus > .line-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    LineList > .line-list--empty {
        color: $text-muted;
        text-style: italic;
    }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self._cache: LRUCache[tuple, Strip] = LRUCache(512)
        self.empty_message = ""

    @property
    def palette(self) -> Palette:
        """Colours for rows, from the app's current theme."""
        return palette(self.app)

    # -------------------------------------------------------------- for subclasses
    @property
    def row_count(self) -> int:
        return 0

    def render_row(self, index: int) -> Text:
        """The text of row `index` (no cursor styling)."""
        return Text("")

    def render_header(self) -> Text:
        return Text("")

    def row_width(self) -> int:
        """The width of the widest row, for horizontal scrolling."""
        return self.size.width

    def on_cursor_moved(self, index: int) -> None:
        """Called after the cursor lands on `index` (post a message here)."""

    # -------------------------------------------------------------- data changes
    def reset_rows(self, cursor: int = 0) -> None:
        """Call after the rows changed: forget cached lines, resize, place the cursor."""
        self._cache.clear()
        self.virtual_size = Size(max(self.row_width(), 1), self.row_count + 1)
        self.cursor = max(0, min(cursor, self.row_count - 1))
        self.refresh()

    def refresh_rows(self) -> None:
        """Re-render every row (the data behind them changed, not their number)."""
        self._cache.clear()
        self.refresh()

    # -------------------------------------------------------------- rendering
    @property
    def visible_rows(self) -> int:
        """Rows that fit under the header, scrollbars excluded."""
        return max(1, self.scrollable_content_region.height - 1)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            text = self.render_header()
            style = base + self.get_component_rich_style("line-list--header")
            return self._strip(text, style, scroll_x, width)
        index = scroll_y + y - 1
        if index >= self.row_count:
            if index == 0 and self.empty_message:
                text = Text(self.empty_message)
                return self._strip(text, base + self.get_component_rich_style("line-list--empty"), 0, width)
            return Strip.blank(width, base)
        is_cursor = index == self.cursor
        key = (index, is_cursor, self.has_focus, scroll_x, width)
        strip = self._cache.get(key)
        if strip is None:
            style = base
            text = self.render_row(index)
            if is_cursor:
                style = base + self.get_component_rich_style("line-list--cursor")
                text = _recolored(text, style.color)
            strip = self._strip(text, style, scroll_x, width)
            self._cache[key] = strip
        return strip

    def _strip(self, text: Text, style: Style, scroll_x: int, width: int) -> Strip:
        text = text.copy()
        text.no_wrap = True
        text.end = ""
        text.stylize_before(style)
        segments = list(text.render(self.app.console))
        strip = Strip(segments)
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    # -------------------------------------------------------------- cursor
    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        if 0 <= new < self.row_count:
            self.on_cursor_moved(new)

    def _scroll_to_cursor(self) -> None:
        visible = self.visible_rows
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def _move(self, index: int) -> None:
        if self.row_count:
            self.cursor = max(0, min(index, self.row_count - 1))

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_cursor_first(self) -> None:
        self._move(0)

    def action_cursor_last(self) -> None:
        self._move(self.row_count - 1)

    def action_page_up_rows(self) -> None:
        self._move(self.cursor - max(1, self.visible_rows - 1))

    def action_page_down_rows(self) -> None:
        self._move(self.cursor + max(1, self.visible_rows - 1))

    def on_click(self, event: events.Click) -> None:
        """Select the row clicked; the header line and the border select nothing (event.y
        counts from the border, so rows are found from the content offset)."""
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self._move(self.scroll_offset.y + offset.y - 1)

    def on_mount(self) -> None:
        on_theme_change(self, self.refresh_rows)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(max(self.row_width(), 1), self.row_count + 1)
        self.call_after_refresh(self._scroll_to_cursor)  # a pane that shrank keeps its cursor in view
