"""Side-by-side comparison of two versions of an entry (older left, newer right).

The comparison itself comes from the Textual-free `mydb_tui.model.compare`; this module
only draws it: a line-API `DiffView` that renders both columns of the visible rows (so
the two sides always scroll together and a large diff stays smooth) and a change list
that scrolls the diff to the selected change.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen

from ..model.dates import INVALID_DATE, local_time
from ..model.escape import display_safe
from ..widgets.change_list import ChangeList, summary_text
from ..widgets.diff_view import DiffView
from ..widgets.footer import CalmFooter
from ..widgets.loading import CalmLoadingIndicator
from ..widgets.palette import Palette
from ..widgets.themed_static import ThemedStatic
from .loading import load_in_worker

if TYPE_CHECKING:  # the model pulls in DeepDiff (~0.5 s): imported by the worker that compares
    from mydb_tui.model.compare import Comparison

def _date_text(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        return local_time(value)
    return "" if value is None else str(value)


def _with_date(meta: dict, version: Any) -> dict:
    """`meta` with the version's own date (aware), shown with its offset like everywhere else."""
    date = getattr(version, "date", None)
    return {**meta, "date": date} if isinstance(date, _dt.datetime) else meta


def meta_text(label: str, meta: dict | None, colors: Palette) -> Text:
    """The metadata block shown above one side: digest, user, date, parent, restored-from,
    and a fourth line with the damage of a version whose metadata is damaged."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{label}  ", style="bold")
    if not meta or not meta.get("digest"):
        text.append("(nothing: empty side)", style="dim italic")
        return text
    text.append(display_safe(str(meta["digest"])[:12]), style=f"bold {colors.digest}")
    text.append("\n")
    text.append(display_safe(str(meta.get("user") or "?")), style=colors.user)
    text.append(" · ")
    date = _date_text(meta.get("date"))
    text.append(display_safe(date), style=f"bold {colors.error}" if date == INVALID_DATE else colors.date)
    parents = [p for p in (meta.get("parents") or []) if p]
    text.append("\nparent ", style="dim")
    text.append(display_safe(str(parents[0])[:7]) if parents else "none", style=colors.digest if parents else "dim")
    restored = meta.get("restored_from")
    if restored:
        text.append(" · restored from ", style="dim")
        text.append(display_safe(str(restored)[:7]), style=colors.restored)
    damage = meta.get("damage")
    if damage:
        text.append("\n⚠ damaged: ", style=f"bold {colors.error}")
        text.append(display_safe(str(damage)), style=colors.error)
    return text


class CompareScreen(Screen[None]):
    """Two versions side by side with the list of their changes; escape or q closes it.

    Tagged values show as badges, as in the viewer; `t` shows the stored JSON instead.
    `compute` replaces the comparison of two stored versions (the editor compares the
    head with an unsaved edit); `labels` name the two sides.
    """

    CSS_PATH = "compare.tcss"
    BINDINGS = [
        Binding("n", "next_change", "Next change"),
        Binding("p", "previous_change", "Prev change"),
        Binding("N", "previous_change", "Prev change", show=False),
        Binding("t", "show_raw", "Raw JSON"),
        Binding("t", "show_badges", "Badges"),
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(
        self, engine: Any, tenant: str, entry: str, old_digest: str | None, new_digest: str | None,
        *, compute: Callable[[bool], Comparison] | None = None, labels: tuple[str, str] = ("OLDER", "NEWER"),
        title: str = "Compare", start_at: Callable[[list], int | None] | None = None,
    ) -> None:
        """`start_at(changes)`: the index of the change the screen opens on (default the first)."""
        super().__init__()
        self.start_at = start_at
        self.engine = engine
        self.tenant = tenant
        self.entry = entry
        self.old_digest = old_digest
        self.new_digest = new_digest
        self.compute = compute
        self.labels = labels
        self.title_word = title
        self.badges = True  # tagged values as badges (t: the stored JSON)
        self.comparison: Comparison | None = None
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield ThemedStatic(self._title_text, id="compare-title")
        with Horizontal(id="compare-meta"):
            yield ThemedStatic(partial(meta_text, self.labels[0], {"digest": self.old_digest}), id="meta-old")
            yield ThemedStatic(partial(meta_text, self.labels[1], {"digest": self.new_digest}), id="meta-new")
        yield CalmLoadingIndicator(id="compare-loading")
        yield DiffView(id="compare-diff")
        with Vertical(id="compare-changes-box"):
            yield ChangeList(id="compare-changes")
        yield CalmFooter()

    def on_mount(self) -> None:
        self.query_one("#compare-diff").display = False
        self.query_one("#compare-changes-box").display = False
        self._load(self.badges)

    def _title_text(self, colors: Palette) -> Text:
        comparison = self.comparison
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{self.title_word} ", style="bold")
        text.append(display_safe(f"{self.tenant} / {self.entry}"), style=f"bold {colors.key}")
        if comparison is not None:
            text.append("   ")
            text.append_text(summary_text(comparison, colors))
            if not self.badges:
                text.append("   raw JSON", style="dim")
        return text

    def _load(self, badges: bool, keep: int | None = None) -> None:
        """Compare in a worker (DeepDiff over large values takes seconds), then show it."""
        load_in_worker(self, partial(self._compare, badges), lambda found: self._show(*found, keep),
                       self._show_error, group="compare", indicator="#compare-loading")

    def _compare(self, badges: bool) -> tuple[Comparison, tuple[int, int, int]]:
        """(In the worker) the comparison in the order shown, and its measured widths."""
        from mydb_tui.model.compare import compare_versions, in_shown_order

        if self.compute is not None:
            comparison = self.compute(badges)
        else:
            comparison = compare_versions(
                self.engine, self.tenant, self.entry, self.old_digest, self.new_digest, badges=badges
            )
        comparison = in_shown_order(comparison)
        return comparison, DiffView.measure(comparison.rows)

    def _show_error(self, error: Exception) -> None:
        self.error = f"{type(error).__name__}: {error}"
        error_text = self.error

        def message(colors: Palette) -> Text:
            text = Text("Comparison failed: ", style=f"bold {colors.error}")
            text.append(display_safe(error_text))
            return text

        self.query_one("#compare-title", ThemedStatic).show(message)
        self.notify(display_safe(self.error), title="Comparison failed", severity="error")

    def _show(self, comparison: Comparison, measured: tuple[int, int, int] | None = None,
              keep: int | None = None) -> None:
        self.comparison = comparison
        self.query_one("#compare-title", ThemedStatic).show(self._title_text)
        old_meta = _with_date(comparison.old_meta, comparison.old)
        new_meta = _with_date(comparison.new_meta, comparison.new)
        self.query_one("#meta-old", ThemedStatic).show(partial(meta_text, self.labels[0], old_meta))
        self.query_one("#meta-new", ThemedStatic).show(partial(meta_text, self.labels[1], new_meta))
        diff = self.query_one(DiffView)
        diff.display = True
        diff.set_rows(comparison.rows, measured)
        changes = self.query_one(ChangeList)
        self.query_one("#compare-changes-box").display = True
        changes.set_changes(comparison.changes)
        start = keep if keep is not None else (self.start_at(comparison.changes) if self.start_at else None)
        first = min(start or 0, len(comparison.changes) - 1)
        if comparison.changes:
            if keep is None:
                changes.focus()
            changes.cursor = first
            # The diff has just been shown: scroll to the change once it is laid out.
            self.call_after_refresh(self._go_to, first)
        elif keep is None:
            diff.focus()

    def on_change_list_highlighted(self, event: ChangeList.Highlighted) -> None:
        event.stop()
        self._go_to(event.index)

    def _go_to(self, index: int) -> None:
        if self.comparison is None or not 0 <= index < len(self.comparison.changes):
            return
        row = self.comparison.changes[index].row
        diff = self.query_one(DiffView)
        diff.current_row = row
        if row is not None:
            diff.scroll_to_row(row)

    @property
    def selected_change(self) -> int | None:
        """Index of the highlighted change in the change list (None before loading)."""
        if self.comparison is None or not self.comparison.changes:
            return None
        return self.query_one(ChangeList).cursor

    def _step(self, delta: int) -> None:
        if self.comparison is None or not self.comparison.changes:
            return
        changes = self.query_one(ChangeList)
        target = changes.cursor + delta
        if not 0 <= target < len(self.comparison.changes):
            self.notify("No more changes" if delta > 0 else "First change", timeout=2)
            return
        changes.cursor = target
        self._go_to(target)

    def action_next_change(self) -> None:
        self._step(1)

    def action_previous_change(self) -> None:
        self._step(-1)

    def action_show_raw(self) -> None:
        """t: tagged values as their stored JSON (the selected change stays selected)."""
        self._set_badges(False)

    def action_show_badges(self) -> None:
        """t again: tagged values as badges."""
        self._set_badges(True)

    def _set_badges(self, badges: bool) -> None:
        if self.comparison is None or self.badges == badges:
            return
        self.badges = badges
        self.refresh_bindings()
        self._load(badges, self.selected_change or 0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_raw":
            return self.badges
        if action == "show_badges":
            return not self.badges
        return True

    def system_commands(self) -> Iterable[SystemCommand]:
        """The command palette's entries for this screen (the app lists them)."""
        yield SystemCommand("Next change", "Scroll to the next change (n)", self.action_next_change)
        yield SystemCommand("Previous change", "Scroll to the previous change (p)", self.action_previous_change)
        if self.badges:
            yield SystemCommand("Show raw JSON", "Tagged values as stored (t)", self.action_show_raw)
        else:
            yield SystemCommand("Show badges", "Tagged values as badges, as the viewer shows them (t)",
                                self.action_show_badges)
        yield SystemCommand("Close comparison", "Back to where you were (esc)", self.action_close)

    def action_close(self) -> None:
        self.dismiss(None)
