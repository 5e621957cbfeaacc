"""The activity strip above the timeline: versions per day (or week) over the entry's life.

One line: a cell per day (per week, or per a few weeks, when the life is long; see
model.activity), shaded by the number of versions, "·" where there is none, and "◆"
where the selected version stands. The dates are read in a worker (model.activity.read_days:
every version's from the index's date column up to 200,000 versions, else evenly spread
samples). The Timeline drives it (load, select) and hides it when the pane is very small.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from rich.text import Text
from textual import work
from textual.color import Color
from textual.widget import Widget
from textual.worker import get_current_worker

from ..model.activity import LEVELS, Activity, activity_of_days, read_days, shade
from .palette import palette

MAX_CELL = 4  # characters per cell at most
LABEL = " ≈per 12 weeks"  # the longest unit label, kept free at the right (≈: sampled)


class ActivityStrip(Widget):
    """Versions per day of the entry shown in the timeline; the selected version marked."""

    def __init__(self, engine: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.key: tuple[str, str, str] | None = None  # tenant, entry, head read
        self.per_day: dict[_dt.date, int] = {}
        self.sampled = 1
        self.selected: _dt.datetime | None = None
        self._generation = 0

    @property
    def cells_width(self) -> int:
        return max(1, self.size.width - len(LABEL))

    @property
    def activity(self) -> Activity | None:
        return activity_of_days(self.per_day, self.cells_width, self.sampled)

    @property
    def marked_cell(self) -> int | None:
        """The cell of the selected version (None: none, or not read yet)."""
        strip = self.activity
        return strip.cell_of(self.selected) if strip is not None else None

    @property
    def cell_width(self) -> int:
        """Characters per cell: a short life is drawn wider (up to MAX_CELL), to fill the line."""
        strip = self.activity
        return max(1, min(MAX_CELL, self.cells_width // len(strip.counts))) if strip is not None else 1

    def load(self, tenant: str, entry: str, head: str | None, total: int) -> None:
        """Read the dates of the entry's versions (once per head) in a worker."""
        key = (tenant, entry, head or "")
        if key == self.key:
            return
        self.key = key
        self._generation += 1
        self.per_day = {}
        self.refresh()
        self._read(self._generation, tenant, entry, total)

    def clear(self) -> None:
        self._generation += 1
        self.key, self.per_day, self.selected = None, {}, None
        self.refresh()

    def select(self, when: _dt.datetime | None) -> None:
        if when != self.selected:
            self.selected = when
            self.refresh()

    @work(thread=True, exclusive=True, group="activity")
    def _read(self, generation: int, tenant: str, entry: str, total: int) -> None:
        worker = get_current_worker()
        try:
            read = read_days(self.engine, tenant, entry, total, lambda: worker.is_cancelled)
        except Exception:  # the timeline says what is wrong with the history; the strip stays empty
            return
        if read is not None and not worker.is_cancelled:
            self.app.call_from_thread(self._read_done, generation, *read)

    def _read_done(self, generation: int, per_day: dict[_dt.date, int], sampled: int) -> None:
        if generation == self._generation:
            self.per_day, self.sampled = per_day, sampled
            self.refresh()

    def render(self) -> Text:
        strip = self.activity
        if strip is None:
            return Text("")
        colors = palette(self.app)
        base = self.background_colors[1]
        tint = Color.parse(colors.added)
        styles = [f"{base.blend(tint, 0.25 + 0.75 * level / LEVELS).hex}" for level in range(LEVELS + 1)]
        mark = strip.cell_of(self.selected)
        top = strip.top
        wide = self.cell_width
        text = Text(no_wrap=True, end="")
        for i, count in enumerate(strip.counts):
            if i == mark:
                text.append("◆" * wide, style=f"bold {colors.marked}")
            elif count:
                text.append("█" * wide, style=styles[shade(count, top)])
            else:
                text.append("·" * wide, style="dim")
        label = (" ≈" if strip.sampled > 1 else " ") + f"per {strip.unit}"
        text.append(label, style="dim")
        return text
