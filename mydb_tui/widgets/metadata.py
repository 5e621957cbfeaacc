"""The metadata strip of a version: digest, parents, user, date, restored-from, size,
and what is wrong with them when the version's metadata is damaged."""

from __future__ import annotations

import textwrap

from dbengine.names import DIGEST_RE
from dbengine.utils import parse_date
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from mydb_tui.model.dates import INVALID_DATE, local_time

from ..model.escape import display_safe
from .palette import Palette, on_theme_change, palette
from .safe import literal

DAMAGE_LINES = 3  # at most, the rest cut with …


def local_date(stored: object) -> str:
    """A stored `YYYYMMDD HH:MM:SS +zzzz` date in local time (model.dates.local_time, as the
    timeline and the compare screen show dates); "invalid date" for anything the engine's
    parse_date refuses (it never raises)."""
    if type(stored) is not str:
        return INVALID_DATE
    try:
        return local_time(parse_date(stored))
    except ValueError:  # InvalidDateError
        return INVALID_DATE


def version_damage(digest: str, document: dict) -> str | None:
    """What is wrong with a stored version's metadata, as the engine says it (its
    `Version.damage`), None when nothing is; never raises."""
    from dbengine.versions import version_from_document

    try:
        return version_from_document(digest, document, None).damage
    except Exception as error:  # a shape read_snapshot let through: say so, do not stop
        return f"metadata cannot be read: {type(error).__name__}: {error}"


def _pack(groups: list[Text], width: int | None, gap: str = "   ") -> list[Text]:
    """Lay `groups` out on as few lines as fit `width` (None: one line); a group is never split."""
    lines: list[Text] = []
    for group in groups:
        if lines and (width is None or lines[-1].cell_len + len(gap) + group.cell_len <= width):
            lines[-1].append(gap)
            lines[-1].append_text(group)
        else:
            lines.append(group.copy())
    return lines


def _group(label: str, value: Text, label_style: str = "dim") -> Text:
    text = Text()
    if label:
        text.append(label + " ", style=label_style)  # only the label is dim, not the value
    text.append_text(value)
    return text


def metadata_text(
    tenant: str, entry: str, digest: str, document: dict, head: str | None, colors: Palette,
    width: int | None = None, damage: str | None = None,
) -> Text:
    """Lines describing a stored version document (never its data), laid out for `width` cells.

    Line 1 names the entry, line 2 gives the digest (cut with … when it does not fit);
    parent, user, date and restored-from follow, wrapped between items, never inside one;
    then `damage` (what is wrong with the metadata), wrapped over up to DAMAGE_LINES lines.
    Fields of the wrong type (a forged document) show as "?" or "invalid date", never raise.
    """
    first = Text()
    first.append_text(literal(tenant, "bold"))
    first.append(" / ", style="dim")
    first.append_text(literal(entry, "bold"))
    first.append("   ")
    kind = document.get("__kind__", "?")
    first.append_text(literal(kind, colors.kind(str(kind))))
    if kind == "records":
        count = document.get("__count__", 0)
        buckets = document.get("__buckets__")  # format 0.4 only; record trees name two roots
        if type(count) is int:
            first.append(f" · {count:,} record{'' if count == 1 else 's'}", style="dim")
        if type(buckets) is dict:
            first.append(f" · {len(buckets)} buckets", style="dim")
    if document.get("__layout__") == "seed":  # read from the seed spec's flat layout
        first.append(" · seed layout", style="dim")
    if digest == head:
        first.append("   ")
        first.append(" HEAD ", style=colors.head)
    shown = digest
    if width is not None and len("digest ") + len(digest) > width:
        shown = digest[: max(12, width - len("digest ") - 1)] + "…"
    second = _group("digest", Text(shown, style=colors.digest))
    stored_parents = document.get("__parent__")
    parents = [p for p in stored_parents if _is_digest(p)] if type(stored_parents) is list else []
    user = document.get("__user_id__", "?")
    date = local_date(document.get("__date__"))
    groups = [
        _group("parent", Text(", ".join(p[:12] for p in parents) or "(none: first version)", style=colors.digest)),
        _group("user", literal(user if type(user) is str and user else repr(user), colors.user)),
        _group("date", literal(date, f"bold {colors.error}" if date == INVALID_DATE else colors.date)),
    ]
    restored = document.get("__restored_from__")
    if _is_digest(restored):
        groups.append(_group("↺ restored from", literal(restored[:12], f"bold {colors.restored}"), colors.restored))
    lines = [first, second, *_pack(groups, width)]
    if damage:
        lines.extend(_damage_lines(damage, width, colors))
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        text.append_text(line)
    return text


def _is_digest(value: object) -> bool:
    return type(value) is str and DIGEST_RE.fullmatch(value) is not None


def _damage_lines(damage: str, width: int | None, colors: Palette) -> list[Text]:
    """`⚠ damaged: <damage>` wrapped to `width` (one line when None), at most DAMAGE_LINES."""
    label = "⚠ damaged: "
    body = display_safe(damage)
    if width is None:
        chunks = [body]
    else:
        chunks = textwrap.wrap(body, max(10, width - len(label)), max_lines=DAMAGE_LINES, placeholder=" …",
                               break_long_words=True, break_on_hyphens=False) or [""]
    lines = []
    for i, chunk in enumerate(chunks):
        line = Text(label if i == 0 else " " * len(label), style=f"bold {colors.error}")
        line.append(chunk, style=colors.error)
        lines.append(line)
    return lines


class MetadataStrip(Widget):
    """Shows metadata_text() of the selected version, apart from its data, fitted to its width."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[str, str, str, dict, str | None] | None = None
        self.damage: str | None = None
        self._message: Text = Text()

    def on_mount(self) -> None:
        on_theme_change(self, lambda: self.refresh(layout=True))

    def show(self, tenant: str, entry: str, digest: str, document: dict, head: str | None,
             damage: str | None = None) -> None:
        """Show a version's metadata; `damage` is what is wrong with it (version_damage)."""
        self._shown = (tenant, entry, digest, document, head)
        self.damage = damage
        self.refresh(layout=True)

    def show_text(self, message: str, style: str = "dim") -> None:
        self._shown = None
        self.damage = None
        self._message = literal(message, style)
        self.refresh(layout=True)

    def _text(self, width: int) -> Text:
        if self._shown is None:
            return self._message
        return metadata_text(*self._shown, palette(self.app), width=max(20, width), damage=self.damage)

    def render(self) -> Text:
        return self._text(self.size.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._text(width).plain.split("\n"))
