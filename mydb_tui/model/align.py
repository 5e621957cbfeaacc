"""Side-by-side alignment of two lists of lines, with word-level marks in changed lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

MAX_LINE_CHARS = 2000  # longer lines are clipped for display
MAX_WORD_DIFF_CHARS = 4000  # longer line pairs are marked whole, not word by word
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
_KEY = re.compile(r'^(\s*)("(?:[^"\\]|\\.)*")\s*:')


@dataclass(frozen=True)
class Segment:
    """A piece of a line; `marked` = a changed word inside a changed line."""

    text: str
    marked: bool


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side view; a side is None where it has no line (blank filler)."""

    kind: str  # "same" | "removed" | "added" | "changed" | "header"
    left: tuple[Segment, ...] | None
    right: tuple[Segment, ...] | None
    left_no: int | None
    right_no: int | None


@dataclass
class Alignment:
    """Rows, plus the row index of every line of each side (to place changes)."""

    rows: list[DiffRow]
    left_row: list[int]
    right_row: list[int]


def clip_line(line: str) -> str:
    """A line short enough to display; the cut says how much is hidden."""
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + f"… (+{len(line) - MAX_LINE_CHARS} chars)"


def header_row(text: str, left: bool = True, right: bool = True) -> DiffRow:
    """A row that introduces a record (or notes hidden lines) on the given sides."""
    seg = (Segment(text, False),)
    return DiffRow("header", seg if left else None, seg if right else None, None, None)


def word_marks(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Segments of two changed lines, the differing words marked (difflib on tokens)."""
    if len(old) + len(new) > MAX_WORD_DIFF_CHARS:
        return (Segment(old, True),), (Segment(new, True),)
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    # Common leading and trailing tokens are unchanged; only the middle needs difflib.
    start, limit = 0, min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end = 0
    while end < limit - start and a[-1 - end] == b[-1 - end]:
        end += 1
    left: list[list] = []
    right: list[list] = []
    _push(left, "".join(a[:start]), False)
    _push(right, "".join(b[:start]), False)
    mid_a, mid_b = a[start : len(a) - end], b[start : len(b) - end]
    if len(mid_a) <= 2 or len(mid_b) <= 2:
        _push(left, "".join(mid_a), True)
        _push(right, "".join(mid_b), True)
    else:
        for tag, i1, i2, j1, j2 in SequenceMatcher(None, mid_a, mid_b, autojunk=False).get_opcodes():
            marked = tag != "equal"
            _push(left, "".join(mid_a[i1:i2]), marked)
            _push(right, "".join(mid_b[j1:j2]), marked)
    _push(left, "".join(a[len(a) - end :]), False)
    _push(right, "".join(b[len(b) - end :]), False)
    return tuple(Segment(t, m) for t, m in left), tuple(Segment(t, m) for t, m in right)


def _push(segments: list[list], text: str, marked: bool) -> None:
    if not text:
        return
    if segments and segments[-1][1] == marked:
        segments[-1][0] += text
    else:
        segments.append([text, marked])


def align(old: list[str], new: list[str], first_row: int = 0) -> Alignment:
    """Align two line lists (SequenceMatcher on lines); `first_row` offsets the row indices."""
    rows: list[DiffRow] = []
    left_row = [0] * len(old)
    right_row = [0] * len(new)

    def emit(i: int | None, j: int | None) -> None:
        index = first_row + len(rows)
        if i is not None and j is not None:
            a, b = clip_line(old[i]), clip_line(new[j])
            if old[i] == new[j]:
                seg_a = seg_b = (Segment(a, False),)
                kind = "same"
            elif a == b:  # the difference lies past the clip
                seg_a, seg_b = (Segment(a, True),), (Segment(b, True),)
                kind = "changed"
            else:
                seg_a, seg_b = word_marks(a, b)
                kind = "changed"
            rows.append(DiffRow(kind, seg_a, seg_b, i + 1, j + 1))
            left_row[i] = right_row[j] = index
        elif i is not None:
            rows.append(DiffRow("removed", (Segment(clip_line(old[i]), False),), None, i + 1, None))
            left_row[i] = index
        elif j is not None:
            rows.append(DiffRow("added", None, (Segment(clip_line(new[j]), False),), None, j + 1))
            right_row[j] = index

    if pairs_line_by_line(old, new):
        opcodes = [("replace", 0, len(old), 0, len(new))]  # same shape: pair line by line
    else:
        opcodes = SequenceMatcher(None, old, new, autojunk=len(old) + len(new) > 10_000).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            for k in range(i2 - i1):
                rows.append(DiffRow("same", (Segment(clip_line(old[i1 + k]), False),),
                                    (Segment(clip_line(new[j1 + k]), False),), i1 + k + 1, j1 + k + 1))
                left_row[i1 + k] = right_row[j1 + k] = first_row + len(rows) - 1
        elif tag == "delete":
            for i in range(i1, i2):
                emit(i, None)
        elif tag == "insert":
            for j in range(j1, j2):
                emit(None, j)
        elif len(opcodes) == 1 and tag == "replace" and len(old) == len(new):
            for k in range(i1, i2):
                emit(k, k)
        else:
            for i, j in _pair_block(old, i1, i2, new, j1, j2):
                emit(i, j)
    return Alignment(rows, left_row, right_row)


def pairs_line_by_line(old: list[str], new: list[str]) -> bool:
    """True when `align` pairs line k of `old` with line k of `new` (same length, same keys):
    its rows are then one per line, in order."""
    return len(old) == len(new) and all(map(_same_key, old, new))


def _same_key(a: str, b: str) -> bool:
    return a == b or _line_key(a) == _line_key(b)


def _line_key(line: str) -> str:
    """What makes two lines 'the same line, changed': indent + JSON key, or indent + shape."""
    match = _KEY.match(line)
    if match:
        return match.group(1) + match.group(2)
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    shape = stripped[:1] if stripped[:1] in "{}[]" else "·"
    return indent + shape


def _pair_block(old: list[str], i1: int, i2: int, new: list[str], j1: int, j2: int):
    """Pairs (i, j) of a replaced block: lines with the same key pair up, others stand alone."""
    keys_a = [_line_key(old[i]) for i in range(i1, i2)]
    keys_b = [_line_key(new[j]) for j in range(j1, j2)]
    for tag, a1, a2, b1, b2 in SequenceMatcher(None, keys_a, keys_b, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(a2 - a1):
                yield i1 + a1 + k, j1 + b1 + k
            continue
        if tag == "replace" and all(k.endswith("·") for k in keys_a[a1:a2] + keys_b[b1:b2]):
            # list items at one indent: pair them by position
            common = min(a2 - a1, b2 - b1)
            for k in range(common):
                yield i1 + a1 + k, j1 + b1 + k
            a1, b1 = a1 + common, b1 + common
        for i in range(a1, a2):
            yield i1 + i, None
        for j in range(b1, b2):
            yield None, j1 + j
