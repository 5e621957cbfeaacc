"""The footers: Textual's, rebuilt only when the keys it shows change, and the app's with
"? Help" first so a narrow terminal never cuts it off."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Actions whose keys lead the footer, in this order.
FIRST = ("help", "app.help")


class CalmFooter(Footer):
    """Textual's Footer, recomposed once per burst of binding updates and only when what it
    shows changed.

    Textual rebuilds every key widget on each update (a focus change, a screen pushed over
    it): four times while the compare screen opens, ~20 ms each, taken from the worker
    comparing the versions, plus once for the main screen's footer hidden under it.
    """

    _recompose_due = False
    _shown: Any = None

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_due:
            self._recompose_due = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._recompose_due = False
        if not self.is_attached or self._covered():
            return  # a covered screen's footer is looked at again when its screen resumes
        shown = self._what_shows()
        if shown == self._shown:
            return
        self._shown = shown
        await self.recompose()

    def _covered(self) -> bool:
        """True when an opaque screen above this footer's screen hides it."""
        stack = self.app.screen_stack
        screen = self.screen
        if screen not in stack:
            return False
        return any(above.styles.background.a == 1 for above in stack[stack.index(screen) + 1:])

    def _what_shows(self) -> tuple:
        """Everything `compose` reads: the shown bindings in order (and the command palette's),
        their state and key labels."""
        app = self.app
        palette = app.COMMAND_PALETTE_BINDING
        return (
            self.show_command_palette, app.ENABLE_COMMAND_PALETTE, palette,
            tuple((key, binding, enabled, tooltip, app.get_key_display(binding))
                  for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
                  if binding.show or key == palette),
        )


class AppFooter(CalmFooter):
    """The Footer with the help key first: the pane's keys follow, cut at the right
    edge when the terminal is narrow, and `?` always shows how to see them all."""

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        first = [w for w in widgets if isinstance(w, FooterKey) and w.action in FIRST]
        yield from first
        yield from (w for w in widgets if not any(w is f for f in first))
