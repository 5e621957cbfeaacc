"""Make user strings safe to print: no terminal control sequences, no Rich markup, no bidi tricks.

The CLI's names for the one escaping shared with the TUI (`mydb_tui.model.escape`).
"""

from __future__ import annotations

from mydb_tui.model.escape import display_safe, json_escapes

#: `text` with every control, format or invisible character as a visible escape (`\x1b`, `\u202e`).
safe_text = display_safe
#: JSON text with the characters json.dumps leaves raw \u-escaped (still the same JSON value).
safe_json = json_escapes

__all__ = ["display_safe", "safe_json", "safe_text"]
