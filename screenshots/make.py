"""Screenshots for the README: build the demo database, drive the app, save SVG + PNG.

Run with `make screenshots`. The demo is built in a temporary folder and opened by
a relative name with a fixed user and TZ=UTC, so the pictures do not depend on the
machine. PNGs are rendered with cairosvg using an installed monospace font (the SVG
names Fira Code, which cairosvg cannot fetch).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (160, 45)
USER = "alice"
MONO = '"DejaVu Sans Mono", "Liberation Mono", "Menlo", monospace'


#: Block elements drawn as rectangles in the PNG: (left, top, width, height) in cell units.
#: The font's glyphs are shorter than the SVG's line height (thin gaps in borders) and
#: cairosvg ignores `textLength` (a long run ends short of the next cell).
BLOCKS = {
    "█": (0, 0, 1, 1), "▀": (0, 0, 1, 0.5), "▄": (0, 0.5, 1, 0.5), "▌": (0, 0, 0.5, 1),
    "▐": (0.5, 0, 0.5, 1), "▔": (0, 0, 1, 0.125), "▁": (0, 0.875, 1, 0.125),
    "▊": (0, 0, 0.75, 1), "▎": (0, 0, 0.25, 1), "▏": (0, 0, 0.125, 1), "▕": (0.875, 0, 0.125, 1),
}
#: Rich's SVG cells: 20 px font, 0.61 aspect, 1.22 line height; rows start 1.5 px down.
CELL_W, CELL_H, BASELINE, ROW_TOP = 12.2, 24.4, 20, 1.5
_TEXT_RE = re.compile(r'<text class="([^"]+)" x="([0-9.]+)" y="([0-9.]+)" textLength="[0-9.]+" '
                      r'clip-path="[^"]+">([^<]+)</text>')
_FILL_RE = re.compile(r"\.([\w-]+) \{ fill: (#[0-9a-fA-F]+)")


def _blocks_as_rects(svg: str) -> str:
    """Runs of one block element (borders, bars) as rectangles of the exact cell size."""
    fills = dict(_FILL_RE.findall(svg))

    def rect(match: re.Match) -> str:
        cls, x, y, text = match.group(1), float(match.group(2)), float(match.group(3)), match.group(4)
        shape = BLOCKS.get(text[0])
        if shape is None or text != text[0] * len(text) or cls not in fills:
            return match.group(0)
        left, top, width, height = shape
        row = y - BASELINE + ROW_TOP
        if width == 1:
            return (f'<rect fill="{fills[cls]}" x="{x:.2f}" y="{row + top * CELL_H:.2f}" width="{CELL_W * len(text):.2f}" '
                    f'height="{CELL_H * height + 0.25:.2f}" shape-rendering="crispEdges"/>')
        return "".join(
            f'<rect fill="{fills[cls]}" x="{x + (i + left) * CELL_W:.2f}" y="{row + top * CELL_H:.2f}" '
            f'width="{CELL_W * width:.2f}" height="{CELL_H * height + 0.25:.2f}" shape-rendering="crispEdges"/>'
            for i in range(len(text)))

    return _TEXT_RE.sub(rect, svg)


def svg_to_png(svg: str, png_path: Path) -> None:
    """Render the SVG with an installed monospace font, its cells as wide as Rich's."""
    import cairosvg

    fixed = svg.replace("font-family: Fira Code, monospace;",
                        f"font-family: {MONO}; letter-spacing: {CELL_W - 0.602 * BASELINE:.2f}px;")
    fixed = fixed.replace('font-family: "Fira Code";', f"font-family: {MONO};")
    fixed = _blocks_as_rects(fixed).replace(">⭘</text>", ">○</text>")  # no ⭘ in DejaVu Sans Mono
    cairosvg.svg2png(bytestring=fixed.encode("utf-8"), write_to=str(png_path))


async def settle(pilot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.2)


async def shoot(name: str, steps: Callable[[object], Awaitable[None]]) -> None:
    """Open the app, run `steps`, save screenshots/<name>.svg and .png."""
    from mydb_tui.__main__ import make_app

    app = make_app("demo_db", user=USER, poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await steps(pilot)
        await settle(pilot)
        svg = app.export_screenshot(title=f"mydb-tui — {name}")
    (HERE / f"{name}.svg").write_text(svg, encoding="utf-8")
    svg_to_png(svg, HERE / f"{name}.png")
    print(f"screenshots/{name}.svg, .png")


async def open_entry(pilot, tenant: str, entry: str, widget: str) -> None:
    """Select an entry in the tree and focus one of its widgets (a CSS query)."""
    pilot.app.goto_entry(tenant, entry)
    await settle(pilot)
    pilot.app.query_one(widget).focus()


async def main_screen(pilot) -> None:
    from mydb_tui.widgets.timeline import Timeline

    timeline = pilot.app.query_one(Timeline)
    timeline.focus()
    await pilot.press("j")
    await settle(pilot)
    await pilot.press("k")


async def records_screen(pilot) -> None:
    await open_entry(pilot, "acme-corp", "users", "RecordTable")
    await pilot.press("j", "j", "j")


async def compare_screen(pilot) -> None:
    from mydb_tui.widgets.timeline import Timeline

    pilot.app.query_one(Timeline).focus()
    await pilot.press("j", "j", "j", "space", "g", "d")


async def compare_records_screen(pilot) -> None:
    """A record entry's compare: records and field changes counted, Money values as badges."""
    pilot.app.goto_entry("acme-corp", "users")
    await settle(pilot)
    await pilot.press("2", "d")
    await settle(pilot)
    await pilot.press("n")


async def restore_screen(pilot) -> None:
    from mydb_tui.widgets.timeline import Timeline

    pilot.app.query_one(Timeline).focus()
    await pilot.press("j", "j", "j", "r")


async def editor_screen(pilot) -> None:
    from mydb_tui.widgets.timeline import Timeline

    pilot.app.query_one(Timeline).focus()
    await pilot.press("e")


async def conflict_screen(pilot) -> None:
    """Another writer saves app-config while alice edits it: the dialog her ctrl+s opens."""
    import json

    from dbengine.dbengine import DbEngine
    from textual.widgets import TextArea

    from mydb_tui.widgets.timeline import Timeline

    app = pilot.app
    app.query_one(Timeline).focus()
    await pilot.press("e")
    await settle(pilot)
    other = DbEngine("demo_db", clock=lambda: app.engine.log("acme-corp", "app-config")[0].date)
    data = other.read_snapshot("acme-corp", other.get_digest("acme-corp", "app-config"))["__data__"]
    other.commit_document("acme-corp", "bob", "app-config",
                          {"__data__": {**data, "service": {**data["service"], "replicas": 9}}})
    mine = {**data, "database": {**data["database"], "pool_size": 30}}
    app.screen.query_one("#editor-text", TextArea).load_text(json.dumps(mine, indent=2))
    await pilot.press("ctrl+s")


async def record_history_screen(pilot) -> None:
    """`h` on a record of acme-corp/users: the versions where it changed, old -> new."""
    await open_entry(pilot, "acme-corp", "users", "RecordTable")
    await pilot.press("j", "j", "j", "h")
    await settle(pilot)
    await pilot.press("j")


async def blame_records_screen(pilot) -> None:
    """`b` in the record table: a "last changed" column (short digest, user, age)."""
    await open_entry(pilot, "acme-corp", "users", "RecordTable")
    await pilot.press("b")
    await settle(pilot)
    await pilot.pause(0.3)  # the blame fills in from a worker after a short settle timer


async def blame_tree_screen(pilot) -> None:
    """`b` in a snapshot entry's JSON tree: the blame gutter beside each value."""
    await open_entry(pilot, "acme-corp", "app-config", "#data-tree")
    await pilot.press("b")
    await settle(pilot)
    await pilot.pause(0.3)


async def search_screen(pilot) -> None:
    """`ctrl+f`: a pickaxe search through the history of acme-corp/users, hits streamed in."""
    pilot.app.goto_entry("acme-corp", "users")
    await settle(pilot)
    await pilot.press("ctrl+f", *"enterprise", "enter")
    await settle(pilot)
    await pilot.press("down", "j")


async def activity_filter_screen(pilot) -> None:
    """The activity strip (versions per week, the selected one marked) above a History
    filtered by `/` to one user's versions since a date."""
    await open_entry(pilot, "acme-corp", "users", "Timeline")
    await pilot.press("slash", *"user:carol >=2026-03-01", "enter")
    await settle(pilot)
    await pilot.press("j", "j", "j", "j", "j")


async def help_screen(pilot) -> None:
    await pilot.press("question_mark")


SHOTS = {  # conflict last: it saves a version of app-config that the others would show
    "main": main_screen,
    "records": records_screen,
    "compare": compare_screen,
    "compare-records": compare_records_screen,
    "restore": restore_screen,
    "editor": editor_screen,
    "help": help_screen,
    "record-history": record_history_screen,
    "blame-records": blame_records_screen,
    "blame-tree": blame_tree_screen,
    "search": search_screen,
    "activity-filter": activity_filter_screen,
    "conflict": conflict_screen,
}


def main() -> int:
    os.environ["TZ"] = "UTC"
    time.tzset()
    from mydb_tui.demo import build_demo

    with tempfile.TemporaryDirectory(prefix="mydb-shots-") as folder:
        os.chdir(folder)
        build_demo("demo_db")
        for name, steps in SHOTS.items():
            if len(sys.argv) > 1 and name not in sys.argv[1:]:
                continue
            asyncio.run(shoot(name, steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
