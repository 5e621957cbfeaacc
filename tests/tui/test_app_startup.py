"""The first screen does not wait for DeepDiff: it is imported in the background afterwards.

Run in a fresh interpreter, since the test process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys

from tui_helpers import build_small_db

SCRIPT = """
import asyncio, sys
from mydb_tui.__main__ import make_app

HEAVY = ("deepdiff", "numpy", "pandas", "mydb_tui.model.compare")
print("startup", [m for m in HEAVY if m in sys.modules])

async def main():
    app = make_app(sys.argv[1], user="tester")
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(100):
            await pilot.pause(0.1)
            if app.viewer.document is not None:
                break
        print("shown", app.viewer.digest is not None)
        for _ in range(200):  # the warm-up worker: both imported and the pattern built
            if "mydb_tui.model.compare" in sys.modules:
                break
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        print("after", [m for m in HEAVY if m in sys.modules])

asyncio.run(main())
"""


def test_startup_path_skips_deepdiff_and_warms_it_after_the_first_screen(tui_engine) -> None:
    build_small_db(tui_engine)
    result = subprocess.run([sys.executable, "-c", SCRIPT, tui_engine.root], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "startup []" in lines
    assert "shown True" in lines
    after = next(line for line in lines if line.startswith("after "))
    assert "'deepdiff'" in after and "'mydb_tui.model.compare'" in after
