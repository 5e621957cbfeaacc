"""Make user strings safe to print: no terminal control sequences, no Rich markup, no bidi tricks.

A thin user of `mydb_tui.model.escape`, the one escaping shared with the TUI.
"""

from __future__ import annotations

from mydb_tui.model.escape import escape_text, json_escapes


def safe_text(text: str) -> str:
    """`text` with every control, format or invisible character written as a visible escape
    (`\\x1b`, `\\u202e`, `\\u200b`)."""
    return escape_text(text)


def safe_json(text: str) -> str:
    """JSON text with the characters json.dumps leaves raw (DEL, C1, format and invisible
    characters, surrogates) \\u-escaped.

    The result is still valid JSON with the same value: only escapes are added inside strings.
    """
    return json_escapes(text)
