"""Make user strings safe to print: no terminal control sequences, no Rich markup, no bidi tricks."""

from __future__ import annotations

import re

# C0/C1 controls and DEL, lone surrogates, line/paragraph separators, bidi overrides.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str) -> str:
    """`text` with every control/bidi character written as a visible escape (`\\x1b`, `\\u202e`)."""
    return _UNSAFE.sub(_escape, text)


def safe_json(text: str) -> str:
    """JSON text with the characters json.dumps leaves raw (DEL, C1, bidi, surrogates) \\u-escaped.

    The result is still valid JSON with the same value: only escapes are added inside strings.
    """
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
