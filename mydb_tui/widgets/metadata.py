"""The metadata strip of a version: digest, parents, user, date, restored-from, size."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from .palette import Palette, on_theme_change, palette
from .safe import literal


def local_time(moment: dt.datetime, seconds: bool = True) -> str:
    """`2026-04-26 18:59:00 +0100`: an aware date in local time with its offset.

    The timeline, the metadata strip and the compare screen all show dates this way
    (the timeline without seconds).
    """
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %z" if seconds else "%Y-%m-%d %H:%M %z")


def local_date(stored: object) -> str:
    """A stored `YYYYMMDD HH:MM:SS +zzzz` date in local time (see local_time)."""
    try:
        moment = dt.datetime.strptime(str(stored), "%Y%m%d %H:%M:%S %z")
    except ValueError:
        return str(stored)
    return local_time(moment)


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
    width: int | None = None,
) -> Text:
    """Lines describing a stored version document (never its data), laid out for `width` cells.

    Line 1 names the entry, line 2 gives the digest (cut with … when it does not fit);
    parent, user, date and restored-from follow, wrapped between items, never inside one.
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
        first.append(f" · {count:,} record{'' if count == 1 else 's'}", style="dim")
        first.append(f" · {len(document.get('__buckets__', {}))} buckets", style="dim")
    if digest == head:
        first.append("   ")
        first.append(" HEAD ", style=colors.head)
    shown = digest
    if width is not None and len("digest ") + len(digest) > width:
        shown = digest[: max(12, width - len("digest ") - 1)] + "…"
    second = _group("digest", Text(shown, style=colors.digest))
    parents = [p for p in document.get("__parent__", []) if p]
    groups = [
        _group("parent", Text(", ".join(p[:12] for p in parents) or "(none: first version)", style=colors.digest)),
        _group("user", literal(document.get("__user_id__", "?"), colors.user)),
        _group("date", literal(local_date(document.get("__date__")), colors.date)),
    ]
    restored = document.get("__restored_from__")
    if restored:
        groups.append(_group("↺ restored from", literal(str(restored)[:12], f"bold {colors.restored}"), colors.restored))
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, line in enumerate([first, second, *_pack(groups, width)]):
        if i:
            text.append("\n")
        text.append_text(line)
    return text


class MetadataStrip(Widget):
    """Shows metadata_text() of the selected version, apart from its data, fitted to its width."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[str, str, str, dict, str | None] | None = None
        self._message: Text = Text()

    def on_mount(self) -> None:
        on_theme_change(self, lambda: self.refresh(layout=True))

    def show(self, tenant: str, entry: str, digest: str, document: dict, head: str | None) -> None:
        self._shown = (tenant, entry, digest, document, head)
        self.refresh(layout=True)

    def show_text(self, message: str, style: str = "dim") -> None:
        self._shown = None
        self._message = literal(message, style)
        self.refresh(layout=True)

    def _text(self, width: int) -> Text:
        if self._shown is None:
            return self._message
        return metadata_text(*self._shown, palette(self.app), width=max(20, width))

    def render(self) -> Text:
        return self._text(self.size.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._text(width).plain.split("\n"))
