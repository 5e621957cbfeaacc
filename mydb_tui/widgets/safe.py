"""Literal, terminal-safe text for user-controlled strings (names, users, values).

Everything the database holds is shown through `rich.text.Text` (never markup), and
control or bidi-override characters are escaped so they cannot move the cursor,
change colours or reorder the screen.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from rich.style import Style
from rich.text import Text

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Control characters (C0, DEL, C1) are shown as escapes, never sent to the terminal.
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


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


@functools.cache
def invisible_re() -> re.Pattern[str]:
    """DEL, C1 controls and the format/separator characters (bidi overrides, U+2028…)."""
    spans: list[list[int]] = [[0x7F, 0x9F]]
    # Planes 0, 1 and 14 hold every Cf/Zl/Zp character (planes 2-3 are CJK, 15-16 private
    # use); scanning only them takes a tenth of the time of all 1.1 million code points.
    for c in (*range(0xA0, 0x20000), *range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp"):
            if spans[-1][1] == c - 1:
                spans[-1][1] = c
            else:
                spans.append([c, c])
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in spans) + "]")


def safe_text(text: str) -> str:
    """`text` with every control and invisible format character (newlines too) as an escape."""
    text = text.translate(_CONTROL)
    return invisible_re().sub(lambda m: f"\\u{ord(m.group()):04x}", text)
