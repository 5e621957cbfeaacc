"""Screenshots for the README: build the demo database, drive the app, save SVG + PNG.

Run with `make screenshots`. The demo is built in a temporary folder and opened by
a relative name with a fixed user and TZ=UTC, so the pictures do not depend on the
machine. PNGs are rendered with cairosvg using an installed monospace font (the SVG
names Fira Code, which cairosvg cannot fetch).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (160, 45)
USER = "alice"
MONO = '"DejaVu Sans Mono", "Liberation Mono", "Menlo", monospace'


def svg_to_png(svg: str, png_path: Path) -> None:
    import cairosvg

    fixed = svg.replace("font-family: Fira Code, monospace;", f"font-family: {MONO};")
    fixed = fixed.replace('font-family: "Fira Code";', f"font-family: {MONO};")
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


async def main_screen(pilot) -> None:
    from mydb_tui.widgets.timeline import Timeline

    timeline = pilot.app.query_one(Timeline)
    timeline.focus()
    await pilot.press("j")
    await settle(pilot)
    await pilot.press("k")


async def records_screen(pilot) -> None:
    from mydb_tui.widgets.record_table import RecordTable

    pilot.app.goto_entry("acme-corp", "users")
    await settle(pilot)
    pilot.app.query_one(RecordTable).focus()
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


async def help_screen(pilot) -> None:
    await pilot.press("question_mark")


SHOTS = {
    "main": main_screen,
    "records": records_screen,
    "compare": compare_screen,
    "compare-records": compare_records_screen,
    "restore": restore_screen,
    "editor": editor_screen,
    "conflict": conflict_screen,
    "help": help_screen,
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
