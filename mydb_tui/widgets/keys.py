"""Vim keys shared by the lists, trees and views: declared once, added to their BINDINGS."""

from __future__ import annotations

from textual.binding import Binding, BindingType

#: j/k move the cursor, g/G (and Home/End) jump to the first and last line: trees and lists.
VIM_CURSOR_KEYS: list[BindingType] = [
    Binding("k", "cursor_up", "Up", show=False),
    Binding("j", "cursor_down", "Down", show=False),
    Binding("g,home", "cursor_first", "First", show=False),
    Binding("G,end", "cursor_last", "Last", show=False),
]

#: j/k scroll by a line, g/G to the top and the bottom: views without a cursor.
VIM_SCROLL_KEYS: list[BindingType] = [
    Binding("j", "scroll_down", "Down", show=False),
    Binding("k", "scroll_up", "Up", show=False),
    Binding("g", "scroll_home", "Top", show=False),
    Binding("G", "scroll_end", "Bottom", show=False),
]
