"""Rendering: rich tables and highlighted JSON on a terminal, plain text when piped.

Rich is optional (the `[tui]` extra): without it a terminal gets the same layout as plain
text (tables as aligned columns under a header, no colours). Every user string goes
through `safe_text` / `safe_json` first and reaches Rich only as `Text` (never as
markup), so names and values cannot style or control the terminal.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from .safe import safe_json, safe_text

HIGHLIGHT_LIMIT = 2_000_000  # characters of JSON above which a terminal gets it unhighlighted

Cell = str | tuple[str, str]  # text, or (text, rich style)


@dataclass(frozen=True)
class Column:
    """A table column: header, and how the terminal table lays it out."""

    header: str
    justify: str = "left"
    style: str = ""
    no_wrap: bool = False


def to_json(data: Any) -> str:
    """Pretty, terminal-safe JSON text (valid JSON, same value as `data`)."""
    return safe_json(json.dumps(data, indent=2, ensure_ascii=False))


def rich_installed() -> bool:
    """True when Rich can be imported (it comes with the `[tui]` extra, not with the engine)."""
    try:
        import rich.console  # noqa: F401
    except ImportError:
        return False
    return True


class Output:
    """Where a command writes its results (stdout) and notes (stderr).

    `tty`: a person reads stdout (default: stdout is a terminal); `rich`: style it with Rich
    (default: on a terminal when Rich is installed), else plain text in the same layout.
    """

    def __init__(self, tty: bool | None = None, rich: bool | None = None):
        self.tty = sys.stdout.isatty() if tty is None else tty
        self._rich = rich
        self._console = None

    @property
    def rich(self) -> bool:
        """Whether output is styled by Rich (asked once, when first needed)."""
        if not self.tty:
            return False
        if self._rich is None:
            self._rich = rich_installed()
        return self._rich

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, markup=False, emoji=False)
        return self._console

    # ---------------------------------------------------------------- JSON
    def json(self, data: Any) -> None:
        """A `--json` result, or any JSON document."""
        self.json_text(to_json(data))

    def json_line(self, data: Any) -> None:
        """One compact JSON document on its own line (JSON Lines: streamed results)."""
        sys.stdout.write(safe_json(json.dumps(data, ensure_ascii=False, separators=(",", ":"))) + "\n")

    @staticmethod
    def flush() -> None:
        """Push what was printed so far to the reader (streamed results)."""
        sys.stdout.flush()

    def json_text(self, text: str) -> None:
        """Already safe JSON text: highlighted on a terminal, as is when piped."""
        if not self.rich:
            sys.stdout.write(text + "\n")
            return
        from rich.text import Text

        rendered = Text(text)
        if len(text) <= HIGHLIGHT_LIMIT:
            from rich.highlighter import JSONHighlighter

            JSONHighlighter().highlight(rendered)
        self.console.print(rendered, soft_wrap=True)

    # ---------------------------------------------------------------- text
    def line(self, text: str, style: str = "") -> None:
        """One line of text (made safe); `style` applies on a terminal only."""
        if not self.rich:
            sys.stdout.write(safe_text(text) + "\n")
            return
        from rich.text import Text

        self.console.print(Text(safe_text(text), style=style), soft_wrap=True)

    def styled(self, parts: list[Cell]) -> None:
        """One line made of differently styled pieces (plain: the pieces joined)."""
        pieces = [(p, "") if isinstance(p, str) else p for p in parts]
        if not self.rich:
            sys.stdout.write("".join(safe_text(text) for text, _ in pieces) + "\n")
            return
        from rich.text import Text

        line = Text()
        for text, style in pieces:
            line.append(safe_text(text), style=style or None)
        self.console.print(line, soft_wrap=True)

    def table(self, columns: list[Column], rows: list[list[Cell]], title: str = "") -> None:
        """A rich table on a terminal; tab-separated lines (no header) when piped."""
        if not self.tty:
            lines = []
            for row in rows:
                cells = [c if type(c) is str else c[0] for c in row]
                joined = "".join(cells)
                if joined.isascii() and joined.isprintable():  # nothing to escape (nearly every row)
                    lines.append("\t".join(cells))
                else:
                    lines.append("\t".join(map(safe_text, cells)))
            if lines:
                sys.stdout.write("\n".join(lines) + "\n")
            return
        if not self.rich:
            sys.stdout.write(plain_table(columns, rows, title))
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(title=safe_text(title) or None, title_justify="left", header_style="bold")
        for column in columns:
            table.add_column(column.header, justify=column.justify, style=column.style or None,
                             no_wrap=column.no_wrap)
        for row in rows:
            table.add_row(*(Text(safe_text(_cell_text(c)), style=_cell_style(c) or "") for c in row))
        self.console.print(table)

    @staticmethod
    def columns(columns: list[list[str]], known: frozenset[int] = frozenset()) -> None:
        """Piped table rows given column by column: tab-separated lines written in one go
        (a column made only of printable ASCII, nearly always all of them, is not escaped
        cell by cell; columns numbered in `known` hold only text the program made, e.g. digests)."""
        if not columns or not columns[0]:
            return
        safe = [column if i in known or _plain("".join(column)) else list(map(safe_text, column))
                for i, column in enumerate(columns)]
        sys.stdout.write("\n".join(map("\t".join, zip(*safe, strict=True))) + "\n")

    @staticmethod
    def note(text: str) -> None:
        """A side remark for humans, on stderr (never mixed into piped results)."""
        print(f"mydb: {safe_text(text)}", file=sys.stderr)


def plain_table(columns: list[Column], rows: list[list[Cell]], title: str = "") -> str:
    """A terminal table without Rich: title, header, then the rows in aligned columns
    (two spaces apart, right-justified where the column says so), no colours."""
    header = [column.header for column in columns]
    body = [[safe_text(_cell_text(cell)) for cell in row] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(columns))]

    def layout(cells: list[str]) -> str:
        shown = [cell.rjust(width) if column.justify == "right" else cell.ljust(width)
                 for cell, width, column in zip(cells, widths, columns, strict=True)]
        return "  ".join(shown).rstrip()

    lines = [safe_text(title)] if title else []
    lines.append(layout(header))
    lines.extend(layout(cells) for cells in body)
    return "\n".join(lines) + "\n"


def _cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]


def _cell_style(cell: Cell) -> str:
    return "" if isinstance(cell, str) else cell[1]


def _plain(text: str) -> bool:
    """Printable ASCII with no tab: what a piped cell shows as is."""
    return text.isascii() and text.isprintable()
