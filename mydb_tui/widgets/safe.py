"""Literal, terminal-safe text for user-controlled strings (names, users, values).

Everything the database holds is shown through `rich.text.Text` (never markup), and
control or bidi-override characters are escaped so they cannot move the cursor,
change colours or reorder the screen.
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    char = match.group()
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char)
    if named:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def clean(value: object) -> str:
    """`value` as a one-line string with control characters written as escapes."""
    return _UNSAFE.sub(_escape, str(value))


def literal(value: object, style: str | Style = "") -> Text:
    """A Text showing `value` exactly (no markup), control characters escaped."""
    return Text(clean(value), style=style, no_wrap=True, end="")
