"""View models of the history questions: rows of a record's or path's history, search hits
with the match marked, blame gutters and JSON Pointers of tree nodes (Textual-free).

Values are shown as one-line JSON of their stored form, escaped (model.escape) and cut;
an old → new pair has its differing words marked as the compare marks them (align.word_marks).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from dbengine import Version
from dbengine.pointer import format_pointer

from .align import Segment, word_marks
from .dates import local_time
from .escape import display_safe
from .values import is_plain_dict

VALUE_LIMIT = 200  # characters of one side's JSON kept for a row
NOTHING = "∅"  # the side where the record or value was absent


def one_line(value: Any, limit: int = VALUE_LIMIT) -> str:
    """Compact one-line JSON of a stored value, escaped for the screen and cut to `limit`."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    text = display_safe(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class HistoryRow:
    """One version where a record or path changed, as the history screen shows it."""

    digest: str
    short: str
    user: str
    date: str
    kind: str  # "added" | "changed" | "removed"
    old: tuple[Segment, ...]  # words that differ from `new` are marked
    new: tuple[Segment, ...]


def change_segments(old: Any, new: Any, kind: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Both sides of a change as segments, the differing words marked ("∅" for an absent side;
    of two objects only the differing fields)."""
    if kind == "added":
        return (Segment(NOTHING, False),), (Segment(one_line(new), True),)
    if kind == "removed":
        return (Segment(one_line(old), True),), (Segment(NOTHING, False),)
    return word_marks(*_differing(old, new))


def history_row(change: Any) -> HistoryRow:
    """The row of one engine KeyChange (version, kind, old, new in stored form)."""
    version: Version = change.version
    old, new = change_segments(change.old, change.new, change.kind)
    return HistoryRow(
        digest=version.digest, short=version.digest[:7], user=display_safe(version.user_id),
        date=local_time(version.date, seconds=False, offset=False), kind=change.kind, old=old, new=new,
    )


def _differing(old: Any, new: Any) -> tuple[str, str]:
    """One-line JSON of both sides; of two objects only the fields that differ, `…` for the
    others (a record's row then shows what changed, not its first fields)."""
    plain = is_plain_dict(old) and is_plain_dict(new)
    if not plain:
        return one_line(old), one_line(new)
    keys = [k for k in {**old, **new} if k not in old or k not in new or old[k] != new[k]
            or type(old[k]) is not type(new[k])]
    if not keys or len(keys) == len(old.keys() | new.keys()):
        return one_line(old), one_line(new)

    def part(side: dict) -> str:
        inner = one_line({k: side[k] for k in keys if k in side})[1:-1]
        return "{…" + (", " + inner if inner else "") + "}"

    return part(old), part(new)


def place_name(key: str | None, path: str | None) -> str:
    """`users/u03`, `u03 /name`, `/servers/0/port` or `(whole value)`: what a history is of."""
    if key is not None and path:
        return f"{display_safe(key)} {display_safe(path)}"
    if key is not None:
        return display_safe(key)
    return display_safe(path) if path else "(whole value)"


def snippet_segments(snippet: str, text: str) -> tuple[Segment, ...]:
    """The snippet of a search hit, every occurrence of `text` marked (escaped for the screen)."""
    parts: list[Segment] = []
    start = 0
    while text:
        at = snippet.find(text, start)
        if at < 0:
            break
        if at > start:
            parts.append(Segment(display_safe(snippet[start:at]), False))
        parts.append(Segment(display_safe(text), True))
        start = at + len(text)
    if start < len(snippet):
        parts.append(Segment(display_safe(snippet[start:]), False))
    return tuple(parts)


@dataclass(frozen=True)
class HitRow:
    """One search hit as the search screen shows it."""

    entry: str
    digest: str
    short: str
    date: str
    user: str
    place: str  # the record key or JSON Pointer
    counts: str  # "1→2" occurrences before → after
    snippet: tuple[Segment, ...]


def hit_row(hit: Any, text: str) -> HitRow:
    """The row of one engine SearchHit."""
    version: Version = hit.version
    return HitRow(
        entry=display_safe(hit.entry), digest=version.digest, short=version.digest[:7],
        date=local_time(version.date, seconds=False, offset=False), user=display_safe(version.user_id),
        place=place_name(hit.key, hit.path) if hit.key is not None or hit.path else "(whole value)",
        counts=f"{hit.before}→{hit.after}", snippet=snippet_segments(hit.snippet, text),
    )


def relative_age(moment: dt.datetime | None, now: dt.datetime) -> str:
    """`now`, `5m`, `3h`, `2d`, `7w`, `4mo`, `2y`: how long ago, in at most 4 characters."""
    if moment is None:
        return "?"
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "now"
    for size, unit in ((365 * 86400, "y"), (30 * 86400, "mo"), (7 * 86400, "w"), (86400, "d"), (3600, "h")):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds // 60)}m"


GUTTER_WIDTH = 24  # "a1b2c3d user____ 12mo │ "


def gutter_text(version: Version | None, now: dt.datetime, user_width: int = 9) -> str:
    """The blame gutter of one line: short digest, user, relative date ("" while unknown)."""
    if version is None:
        return ""
    user = display_safe(version.user_id)
    if len(user) > user_width:
        user = user[: user_width - 1] + "…"
    return f"{version.digest[:7]} {user:<{user_width}} {relative_age(version.date, now):>4}"


def node_pointer(steps: list[tuple[str, Any]]) -> str | None:
    """The JSON Pointer of a tree node from its steps root → node, each (label key, parent
    value); None inside a tagged value (a `{"__special__": ...}` is one place)."""
    tokens: list[str] = []
    for key, parent in steps:
        if type(parent) is list:
            if not (isinstance(key, str) and key.startswith("[") and key.endswith("]")):
                return None
            tokens.append(key[1:-1])
        elif is_plain_dict(parent):
            tokens.append(str(key))
        else:
            return None
    return format_pointer(tokens)


def _bare(path: str) -> str:
    """`['servers'][0]['port']` → `[servers][0][port]` (quotes of the compare's notation dropped)."""
    return re.sub(r"\[(['\"])(.*?)\1\]", r"[\2]", path)


def change_index(changes: list[Any], key: str | None, pointer: str | None) -> int | None:
    """The first change of a comparison (model.compare.Change) at record `key` and/or inside
    the value at `pointer`: where the compare opened from a history scrolls to; None if none."""
    from dbengine.pointer import parse_pointer

    try:
        tokens = parse_pointer(pointer) if pointer else []
    except ValueError:
        tokens = []
    prefix = (f"[{key}]" if key is not None else "") + "".join(f"[{t}]" for t in tokens)
    for index, change in enumerate(changes):
        if key is not None and change.record_key != key:
            continue
        path = _bare(change.path)
        if path == prefix or path.startswith(prefix + "[") or prefix.startswith(path + "[") or not tokens \
                or path == "(root)":
            return index
    return None
