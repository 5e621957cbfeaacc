"""Literal, terminal-safe Rich text for user-controlled strings (names, users, values).

Everything the database holds is shown through `rich.text.Text` (never markup), escaped
by the one escaping of the TUI and the CLI (`mydb_tui.model.escape.display_safe`), so it
cannot move the cursor, change colours, reorder the screen or make two names look alike.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from mydb_tui.model.escape import display_safe


def literal(value: object, style: str | Style = "") -> Text:
    """A Text showing `value` exactly (no markup), control and invisible characters escaped."""
    return Text(display_safe(value), style=style, no_wrap=True, end="")
