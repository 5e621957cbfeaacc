"""A Static whose text is built from the theme's palette and rebuilt when the theme changes."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import RenderableType
from textual.widgets import Static

from .palette import Palette, on_theme_change, palette

Builder = Callable[[Palette], RenderableType]


class ThemedStatic(Static):
    """Shows `build(palette)`; `show(build)` replaces it, a theme change rebuilds it."""

    def __init__(self, build: Builder | None = None, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self._build = build

    def on_mount(self) -> None:
        on_theme_change(self, self._rebuild)
        self._rebuild()

    def show(self, build: Builder) -> None:
        """Show what `build` makes from the current palette (and again after a theme change)."""
        self._build = build
        if self.is_mounted:
            self._rebuild()

    def _rebuild(self) -> None:
        if self._build is not None:
            self.update(self._build(palette(self.app)))
