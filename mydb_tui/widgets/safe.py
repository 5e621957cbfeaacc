"""Literal, terminal-safe text for user-controlled strings (names, users, values).

Everything the database holds is shown through `rich.text.Text` (never markup), and
control, format and invisible characters are escaped (one escaping for the TUI and the
CLI: `mydb_tui.model.escape`) so they cannot move the cursor, change colours, reorder the
screen or make two names look alike.
"""

from __future__ import annotations

import functools
import re

from rich.style import Style
from rich.text import Text

from mydb_tui.model.escape import escape_text, hidden_in_json


def clean(value: object) -> str:
    """`value` as a one-line string with control and invisible characters written as escapes."""
    return escape_text(value if type(value) is str else str(value))


def literal(value: object, style: str | Style = "") -> Text:
    """A Text showing `value` exactly (no markup), control and invisible characters escaped."""
    return Text(clean(value), style=style, no_wrap=True, end="")


@functools.cache
def invisible_re() -> re.Pattern[str]:
    """The characters to escape inside JSON text: DEL, C1 controls, surrogates, format and
    invisible characters (everything `clean` escapes but C0, which json.dumps escapes).

    Replace matches with `mydb_tui.model.escape.json_escapes` (astral characters need a
    surrogate pair to stay the same JSON value).
    """
    return hidden_in_json()


def safe_text(text: str) -> str:
    """`text` with every control and invisible format character (newlines too) as an escape."""
    return escape_text(text)
