"""The one escaping of text shown to a person, shared by the `mydb` CLI and the TUI.

A name, user or value may hold characters that draw nothing, move the cursor, reorder
the line or make two different names look the same. Those are written as visible
escapes instead (``\\x1b``, ``\\u200b``, ``\\U000e0041``), everything else as itself:

- controls: C0, DEL and C1 (``\\t``, ``\\n`` and ``\\r`` by name);
- lone surrogates (text read from JSON may hold them);
- line and paragraph separators (U+2028, U+2029) and every format character (Cf): bidi
  controls and marks, zero-width space and joiners, word joiner, BOM, soft hyphen,
  Unicode tag characters;
- the rest of Unicode's default-ignorable code points (characters a terminal draws as
  nothing): Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), the combining grapheme
  joiner, Khmer inherent vowels, variation selectors (U+FE00-FE0F, the Mongolian ones and
  U+E0100-E01EF: an emoji's VS16 shows as ``❤\\ufe0f``; two names that differ only by
  one must not look alike) and the reserved ranges (U+2065, U+FFF0-FFF8, U+E0000-E0FFF).

No Rich and no Textual here: the TUI (`widgets.safe.literal`) and the CLI (`cli.safe`)
show text through `display_safe`. A test checks the table below against `unicodedata` (Cc, Cf, Cs,
Zl, Zp) of the running Python.
"""

from __future__ import annotations

import re

__all__ = ["HIDDEN_RANGES", "display_safe", "escape_char", "hidden_in_json", "json_escapes"]

#: Code point ranges (inclusive) never shown as themselves. Cf as of Unicode 16, plus the
#: Default_Ignorable_Code_Point characters of other categories (PropList.txt, DerivedCoreProperties).
HIDDEN_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F), (0x007F, 0x009F),  # C0, DEL, C1
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2),
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x2028, 0x202E),  # line/paragraph separators, bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated format
    (0x3164, 0x3164),  # Hangul filler
    (0xD800, 0xDFFF),  # lone surrogates
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFFB),  # reserved default-ignorable, interlinear annotation
    (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tag characters, variation selectors 17-256, reserved
)

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "[" + "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]"


_HIDDEN = re.compile(_char_class(HIDDEN_RANGES))
# Escaped inside JSON text: the same, less C0 (json.dumps escapes those inside strings;
# outside strings they are the document's own newlines and indentation).
_JSON_HIDDEN = re.compile(_char_class(tuple(r for r in HIDDEN_RANGES if r[0] >= 0x20)))
# The hidden characters str.isprintable() calls printable (Mn and Lo default-ignorables):
# printable text is checked against these only.
_PRINTABLE_HIDDEN = re.compile(_char_class((
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180D), (0x180F, 0x180F),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF),
)))

_ESCAPES: dict[str, str] = {}


def escape_char(char: str) -> str:
    """The visible escape of one character: ``\\n``, ``\\x1b``, ``\\u200b`` or ``\\U000e0041``."""
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape_match(match: re.Match) -> str:
    char = match.group()
    shown = _ESCAPES.get(char)
    if shown is None:
        shown = _ESCAPES[char] = escape_char(char)
    return shown


def display_safe(value: object) -> str:
    """`value` (a string, or any value as `str()` writes it) with every hidden character
    (see the module docstring) written as an escape: what the CLI and the TUI show.

    Newlines become ``\\n`` too, so the result is one line.
    """
    text = value if type(value) is str else str(value)
    if text.isprintable() and (text.isascii() or not _PRINTABLE_HIDDEN.search(text)):
        return text  # nearly every name: two C-level scans, no regex substitution
    return _HIDDEN.sub(_escape_match, text)


def _json_escape_match(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_escapes(text: str) -> str:
    """JSON text with the hidden characters json.dumps leaves raw written as JSON escapes.

    Still valid JSON with the same value (astral characters as surrogate pairs, lone
    surrogates as ``\\udxxx``): only escapes are added inside strings. C0 controls are left
    alone (json.dumps already escapes them inside strings).
    """
    return _JSON_HIDDEN.sub(_json_escape_match, text)


def hidden_in_json() -> re.Pattern[str]:
    """The pattern `json_escapes` replaces (hidden characters other than C0)."""
    return _JSON_HIDDEN
