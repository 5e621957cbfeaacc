"""The status line above the footer: what the app is waiting for, shown only while it waits.

"connecting to s3://bucket/prefix…" while the database's first answer is awaited, and
"⚠ S3 unreachable since 12:03, retrying · <why>" while the change watcher's polls fail
or get no answer (also when the user is idle); hidden otherwise, so the panes keep the
row. One line, cut with "…" on narrow terminals: what and since when come first.
"""

from __future__ import annotations

from rich.text import Text

from ..model.escape import display_safe
from .palette import Palette
from .themed_static import ThemedStatic


class StatusLine(ThemedStatic):
    """One themed line; `show_connecting()` / `show_trouble()` / `hide()`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(None, id=id)
        self.plain = ""  # what it says now ("" while hidden), for tests and logs

    def show_connecting(self, root: str, waited: float = 0.0) -> None:
        """Waiting for the database's first answer; after a few seconds, for how long."""
        what = f"connecting to {display_safe(root)}…"
        more = f"  no answer for {waited:.0f} s · q quits" if waited >= 2 else "  q quits"

        def build(colors: Palette) -> Text:
            text = Text(what, style=f"bold {colors.warning}", no_wrap=True, end="")
            text.append(more, style="dim")
            return text

        self._set(what + more, build)

    def show_trouble(self, headline: str, reason: str | None) -> None:
        """`⚠ headline` (e.g. "S3 unreachable since 12:03, retrying"), then why, dimmer."""
        detail = f" · {display_safe(reason)}" if reason else ""

        def build(colors: Palette) -> Text:
            text = Text(f"⚠ {headline}", style=f"bold {colors.error}", no_wrap=True, end="")
            text.append(detail, style=colors.error)
            return text

        self._set(f"⚠ {headline}{detail}", build)

    def hide(self) -> None:
        self.plain = ""
        self.display = False

    def _set(self, plain: str, build) -> None:
        self.plain = plain
        self.show(build)
        self.display = True
