"""Text colours taken from the current Textual theme, kept readable on light and dark themes.

Widgets build their Rich `Text` with `palette(app).digest`, `.added` and so on instead
of fixed colour names ("yellow" is unreadable on `textual-light`), and redraw when the
theme changes (see `on_theme_change`). Each colour is the theme's own (success, error,
warning, primary, secondary, accent), darkened or lightened just enough to reach a
WCAG contrast of `MIN_CONTRAST` on the theme's background, surface and panel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.color import Color, ColorParseError
from textual.theme import Theme

MIN_CONTRAST = 4.5  # WCAG AA for normal text
NOT_DIM = Style(dim=False)  # stylize a cursor line with it: dim text reads badly on a cursor


@dataclass(frozen=True)
class Palette:
    """Rich style strings by role (hex colours, or ANSI names on ANSI themes)."""

    added: str
    removed: str
    changed: str
    ok: str
    error: str
    warning: str
    digest: str
    date: str
    user: str
    key: str
    string: str
    number: str
    literal: str
    tag: str
    snapshot: str
    records: str
    restored: str
    marked: str
    head: str  # the " HEAD " badge: text on the theme's success colour
    dark: bool

    def kind(self, kind: str) -> str:
        """The colour of an entry pattern name ('snapshot' or 'records')."""
        return self.snapshot if kind == "snapshot" else self.records

    def change(self, kind: str) -> str:
        """The colour of a change kind ('added', 'removed', 'changed')."""
        return {"added": self.added, "removed": self.removed, "changed": self.changed}.get(kind, self.marked)


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)


def contrast(a: Color, b: Color) -> float:
    """WCAG contrast ratio of two opaque colours (1 to 21)."""
    low, high = sorted((_luminance(a), _luminance(b)))
    return (high + 0.05) / (low + 0.05)


def readable(color: Color, backgrounds: list[Color], minimum: float = MIN_CONTRAST) -> Color:
    """`color`, blended toward black or white just enough to reach `minimum` on every background."""
    dark = sum(_luminance(b) for b in backgrounds) / len(backgrounds) < 0.18
    target = Color(255, 255, 255) if dark else Color(0, 0, 0)
    for step in range(21):
        candidate = color.blend(target, step / 20)
        if all(contrast(candidate, b) >= minimum for b in backgrounds):
            return candidate
    return target


def _solid(value: str, under: Color) -> Color:
    """A colour variable made opaque over `under`."""
    color = Color.parse(value)
    return under + color if color.a < 1 else color


def palette_for(theme: Theme) -> Palette:
    """The palette of `theme` (cached: call `palette(app)` from widgets)."""
    key = (theme.name, id(theme))
    cached = _CACHE.get(key)
    if cached is None or cached[0] is not theme:
        cached = _CACHE[key] = (theme, _build(theme))
    return cached[1]


_CACHE: dict[tuple[str, int], tuple[Theme, Palette]] = {}


def _build(theme: Theme) -> Palette:
    if getattr(theme, "ansi", False):
        return _ansi_palette(theme.dark)
    variables = theme.to_color_system().generate()
    try:
        background = Color.parse(variables["background"])
        backgrounds = [background, _solid(variables["surface"], background), _solid(variables["panel"], background)]
        base = {name: Color.parse(variables[name])
                for name in ("success", "error", "warning", "primary", "secondary", "accent")}
    except (ColorParseError, KeyError, ValueError):
        return _ansi_palette(theme.dark)
    text = {name: readable(color, backgrounds).hex for name, color in base.items()}
    success = base["success"]
    head = f"bold {success.get_contrast_text(1.0).hex} on {success.hex}"
    return Palette(
        added=text["success"], removed=text["error"], changed=text["warning"],
        ok=text["success"], error=text["error"], warning=text["warning"],
        digest=text["warning"], date=text["primary"], user=text["success"],
        key=text["primary"], string=text["success"], number=text["secondary"], literal=text["accent"],
        tag=text["warning"], snapshot=text["primary"], records=text["warning"],
        restored=text["secondary"], marked=text["accent"], head=head, dark=theme.dark,
    )


def _ansi_palette(dark: bool) -> Palette:
    """For ANSI themes (colours chosen by the terminal): the terminal's named colours."""
    return Palette(
        added="green", removed="red", changed="yellow", ok="green", error="red", warning="yellow",
        digest="yellow", date="blue", user="green", key="blue", string="green", number="cyan",
        literal="magenta", tag="yellow", snapshot="blue", records="yellow", restored="magenta",
        marked="magenta", head="bold reverse green", dark=dark,
    )


def palette(app: Any) -> Palette:
    """The palette of `app`'s current theme."""
    return palette_for(app.current_theme)


def on_theme_change(widget: Any, callback: Callable[[], object]) -> None:
    """Call `callback()` on `widget` whenever the app's theme changes (call from on_mount)."""
    widget.app.theme_changed_signal.subscribe(widget, lambda _theme: callback())
