"""Load: a writer process adds ~50 versions a second to the entry the app shows.

Afterwards the timeline holds exactly the entry's history, the app is alive and its
keys still work; during the load every key press moves the cursor within 3 s (Pilot's press itself waits
for the app to be idle, so this bounds responsiveness, it does not measure it).
The load lasts 8 s (MYDB_STRESS=N: 8*N s); `bench/tui_bench.py` measures the latency.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from dbengine.dbengine import DbEngine
from tui_helpers import SIZE, settle

from mydb_tui.widgets.timeline import Timeline

RATE = 50.0

WRITER = """
import sys, time
from dbengine.dbengine import DbEngine
root, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
engine = DbEngine(root)
start = time.monotonic()
i = 0
while i / rate < seconds:
    pause = start + i / rate - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    engine.save("acme", "writer", "config", {"n": i, "pad": "x" * 100})
    i += 1
print(i, flush=True)
"""


def load_seconds() -> float:
    try:
        return 8.0 * max(1, int(os.environ.get("MYDB_STRESS", "1")))
    except ValueError:
        return 8.0


async def wait_until(pilot, condition, what: str, timeout: float) -> float:
    """Poll `condition()` every 10 ms; seconds it took (fails after `timeout`)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await pilot.pause(0.01)
    return time.perf_counter() - start


async def test_timeline_stays_complete_and_keys_respond_under_a_writer(small_db, app_factory, tui_root) -> None:
    seconds = load_seconds()
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.wait_for(settle(pilot), 30)
        timeline = app.query_one(Timeline)
        assert (timeline.tenant, timeline.entry) == ("acme", "config")
        timeline.focus()
        writer = subprocess.Popen([sys.executable, "-c", WRITER, tui_root, str(RATE), str(seconds)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            presses, slowest, key = 0, 0.0, "j"
            while writer.poll() is None:
                target = timeline.cursor + (1 if key == "j" else -1)
                if 0 <= target < timeline.row_count:
                    expected = timeline.versions[target].digest
                    pressed = time.perf_counter()
                    await asyncio.wait_for(pilot.press(key), 10)
                    await wait_until(pilot, lambda e=expected: timeline.selected is not None
                                     and timeline.selected.digest == e, f"cursor after {key!r}", 3.0)
                    slowest = max(slowest, time.perf_counter() - pressed)
                    presses += 1
                key = "k" if key == "j" else "j"
                await pilot.pause(0.2)
            out, err = writer.communicate(timeout=30)
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
        assert writer.returncode == 0, err
        written = int(out.split()[0])
        assert written >= RATE * seconds * 0.9, f"the writer made only {written} versions"
        assert presses >= seconds * 2, presses
        history = DbEngine(tui_root).history("acme", "config", max_items=None)
        assert len(history) == written + 3
        # Within the app's 1 s poll (plus slack) the timeline is exactly the history.
        await wait_until(pilot, lambda: [v.digest for v in timeline.versions] == history,
                         "timeline equal to the history", 5.0)
        assert timeline.head == history[0]
        assert app.is_running and app._exception is None
        # Keys still work: last, first, and the viewer follows.
        await pilot.press("G")
        await asyncio.wait_for(settle(pilot), 30)
        assert timeline.cursor == len(history) - 1
        assert app.viewer.digest == history[-1] and app.viewer.document is not None
        await pilot.press("g")
        await asyncio.wait_for(settle(pilot), 30)
        assert app.viewer.digest == history[0]
        assert app.viewer.document["__data__"]["n"] == written - 1
        print(f"{written} versions in {seconds:.0f} s, {presses} key presses, slowest cursor move {slowest:.3f} s")
