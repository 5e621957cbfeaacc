"""Verify database (`V`): the engine's read-only fsck in a worker, its report in a modal.

Every problem and note is listed with its kind, file and message, all shown literally
(paths and messages come from the database and may hold markup or control characters);
the list renders only its visible lines, so a badly damaged database lists quickly.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from ..model.escape import display_safe
from ..widgets.line_list import LineList
from ..widgets.loading import CalmLoadingIndicator
from ..widgets.palette import Palette
from ..widgets.themed_static import ThemedStatic
from .loading import load_in_worker


@dataclass(frozen=True)
class ReportLine:
    """One line of the report list: a section title, a problem's kind and message, or its file."""

    section: str  # "problems" | "notes"
    part: str  # "title" | "message" | "path"
    text: str
    kind: str = ""


def report_lines(report: Any, root: str = "") -> list[ReportLine]:
    """The problems, then the notes, of a VerifyReport: a title line, then two lines each.

    Files under `root` are shown relative to it (the root is in the dialog's title).
    """
    prefix = root.rstrip("/\\") + os.sep if root else None
    lines: list[ReportLine] = []
    for section, items in (("problems", report.problems), ("notes", report.notes)):
        if not items:
            continue
        n = len(items)
        label = ("problem" if section == "problems" else "note") + ("s" if n != 1 else "")
        lines.append(ReportLine(section, "title", f"{n:,} {label}"))
        for problem in items:
            path = str(problem.path)
            if prefix and path.startswith(prefix):
                path = path[len(prefix):]
            lines.append(ReportLine(section, "message", str(problem.message), kind=str(problem.kind)))
            lines.append(ReportLine(section, "path", path))
    return lines


class ReportList(LineList):
    """The report's problems and notes: kind and message on one line, the file under them."""

    DEFAULT_CSS = """
    ReportList {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[ReportLine] = []
        self._kind_width = 0
        self._widest = 0

    def set_lines(self, lines: list[ReportLine]) -> None:
        self.lines = lines
        self._kind_width = max((len(display_safe(line.kind)) for line in lines), default=0)
        self._widest = max((self._indent(line) + len(display_safe(line.text)) for line in lines), default=0)
        self.reset_rows(1)  # the first problem (or note), under its section title

    @property
    def row_count(self) -> int:
        return len(self.lines)

    def render_header(self) -> Text:
        return Text(f"{'kind':<{self._kind_width}}  message, and the file under it")

    def row_width(self) -> int:
        return self._widest

    def _indent(self, line: ReportLine) -> int:
        return {"title": 0, "message": self._kind_width + 2}.get(line.part, 4)

    def render_row(self, index: int) -> Text:
        line = self.lines[index]
        colors = self.palette
        color = colors.error if line.section == "problems" else colors.warning
        if line.part == "title":
            return Text.assemble((line.text, f"bold underline {color}"))
        text = Text(no_wrap=True, end="")
        if line.part == "message":
            text.append(display_safe(line.kind).ljust(self._kind_width), style=f"bold {color}")
            text.append("  ")
            text.append(display_safe(line.text))
        else:
            text.append(" " * self._indent(line))  # files are long (a 64-digit digest): a short indent
            text.append(display_safe(line.text), style=colors.date)
        return text


class VerifyScreen(ModalScreen[None]):
    """Runs `engine.verify()` and shows what it found; escape or q closes, r runs it again."""

    CSS_PATH = "verify.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun", "Run again"),
        Binding("escape,q", "close", "Close", key_display="esc"),
    ]

    def __init__(self, engine: Any) -> None:
        super().__init__()
        self.engine = engine
        self.report: Any = None  # the VerifyReport once the check finished
        self.error: str | None = None
        self.seconds = 0.0

    def compose(self) -> ComposeResult:
        root = display_safe(getattr(self.engine, "root", ""))
        with Vertical(id="verify-dialog"):
            yield ThemedStatic(lambda colors: Text.assemble(("Verify database ", "bold"), (root, colors.date)),
                               id="verify-title")
            yield ThemedStatic(id="verify-summary")
            yield CalmLoadingIndicator(id="verify-loading")
            yield ReportList(id="verify-report")
            yield Static(Text.assemble(("r", "bold"), " run again   ", ("esc", "bold"), " close"),
                         id="verify-hint")
        yield Footer()

    def on_mount(self) -> None:
        self._run()

    @property
    def running(self) -> bool:
        return any(w.group == "verify" and not w.is_finished for w in self.workers)

    def _run(self) -> None:
        self.report = None
        self.error = None
        self.query_one("#verify-summary", ThemedStatic).show(
            lambda _colors: Text("Re-hashing and cross-checking every object, ref, head and index…", style="dim"))
        self.query_one("#verify-loading").display = True
        self.query_one(ReportList).display = False
        self._verify()

    def _verify(self) -> None:
        """Verify in a worker (it reads every object); the report or the failure shows in the dialog."""
        load_in_worker(self, self._timed_verify, lambda found: self._show(*found), self._show_error,
                       group="verify", indicator="#verify-loading")

    def _timed_verify(self) -> tuple[Any, float]:
        start = time.perf_counter()
        report = self.engine.verify()
        return report, time.perf_counter() - start

    def _show_error(self, error: Exception) -> None:
        self.error = f"{type(error).__name__}: {error}"
        shown = display_safe(self.error)
        self.query_one("#verify-summary", ThemedStatic).show(
            lambda colors: Text.assemble(("Verify failed: ", f"bold {colors.error}"), shown))

    def _show(self, report: Any, seconds: float) -> None:
        self.report = report
        self.seconds = seconds
        self.query_one("#verify-summary", ThemedStatic).show(lambda colors: summary_text(report, seconds, colors))
        lines = report_lines(report, str(getattr(self.engine, "root", "")))
        report_list = self.query_one(ReportList)
        report_list.set_lines(lines)
        report_list.display = bool(lines)
        if lines:
            report_list.focus()

    def action_rerun(self) -> None:
        if self.running:
            self.notify("Still verifying…", timeout=2)
            return
        self._run()

    def action_close(self) -> None:
        self.dismiss(None)


def summary_text(report: Any, seconds: float, colors: Palette) -> Text:
    """The verdict and the counts of a VerifyReport."""
    problems, notes = len(report.problems), len(report.notes)
    text = Text()
    if problems:
        text.append(f"✗ {problems:,} problem{'s' if problems != 1 else ''} found", style=f"bold {colors.error}")
    else:
        text.append("✓ No problems found", style=f"bold {colors.ok}")
    if notes:
        text.append(f"   {notes:,} note{'s' if notes != 1 else ''} (harmless or repaired on the next read)",
                    style=colors.warning)
    tenants = getattr(report, "tenants_checked", 0)
    text.append(f"\nChecked {report.objects_checked:,} objects and {report.refs_checked:,} refs "
                f"in {tenants:,} tenant{'s' if tenants != 1 else ''} ({seconds:.2f} s).", style="dim")
    return text
