"""The metadata strip of a version: digest, parents, user, date, restored-from, size."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.widgets import Static

from .safe import literal


def local_date(stored: object) -> str:
    """A stored `YYYYMMDD HH:MM:SS +zzzz` date in local time (as the timeline shows it)."""
    try:
        moment = dt.datetime.strptime(str(stored), "%Y%m%d %H:%M:%S %z")
    except ValueError:
        return str(stored)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def metadata_text(tenant: str, entry: str, digest: str, document: dict, head: str | None) -> Text:
    """Two or three lines describing a stored version document (never its data)."""
    text = Text(no_wrap=True, end="")
    text.append_text(literal(tenant, "bold"))
    text.append(" / ", style="dim")
    text.append_text(literal(entry, "bold"))
    text.append("   ")
    kind = document.get("__kind__", "?")
    text.append_text(literal(kind, "cyan" if kind == "snapshot" else "yellow"))
    if kind == "records":
        count = document.get("__count__", 0)
        text.append(f" · {count:,} record{'' if count == 1 else 's'}", style="dim")
        text.append(f" · {len(document.get('__buckets__', {}))} buckets", style="dim")
    if digest == head:
        text.append("   ")
        text.append(" HEAD ", style="bold reverse green")
    text.append("\n")
    text.append("digest ", style="dim")
    text.append(digest, style="yellow")
    text.append("\n")
    parents = [p for p in document.get("__parent__", []) if p]
    text.append("parent ", style="dim")
    text.append(", ".join(p[:12] for p in parents) or "(none: first version)", style="yellow")
    text.append("   user ", style="dim")
    text.append_text(literal(document.get("__user_id__", "?"), "green"))
    text.append("   date ", style="dim")
    text.append_text(literal(local_date(document.get("__date__")), "cyan"))
    restored = document.get("__restored_from__")
    if restored:
        text.append("   ↺ restored from ", style="magenta")
        text.append_text(literal(str(restored)[:12], "bold magenta"))
    return text


class MetadataStrip(Static):
    """Shows metadata_text() of the selected version, apart from its data."""

    def show(self, tenant: str, entry: str, digest: str, document: dict, head: str | None) -> None:
        self.update(metadata_text(tenant, entry, digest, document, head))

    def show_text(self, message: str, style: str = "dim") -> None:
        self.update(literal(message, style))
