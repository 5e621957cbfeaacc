"""`make bench` (TUI part): the speed targets of `mydb-tui` and its key latency under load.

Real apps on generated databases in bench/_work-tui-<timestamp>/ (deleted at the end):
- first full screen on 100 tenants x 100 entries, from process start: a real `mydb-tui`
  process on a pseudo-terminal (until the tenants are drawn on it), and a driver
  process running the app headless (until the tree widget holds every tenant);
- selecting an entry with 10,000 versions until its timeline shows, a record entry
  with 100,000 records until its table shows, and comparing two versions of that
  entry (1 % of the records changed) until the change list shows, against raw
  DeepDiff on the same pair; real key presses through the app's driver, waiting on
  the real widgets and on the next screen update, cold (fresh engine and app) and warm;
- key latency while a writer process adds 50 versions a second to the entry the app
  shows; at the end the timeline must equal the entry's history.
Results go to bench/RESULTS-tui.md.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime as dt
import fcntl
import json
import multiprocessing
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dbengine.dbengine import DbEngine
from timing import format_seconds, machine, write_results

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = (160, 45)
USER = "bench"
BIG, SMALL, HISTORY, RECORDS = "big", "a_small", "history", "records"
LIVE, FEED = "live", "feed"
POLL = 0.002  # seconds between looks at the widgets
TIMEOUT = 60.0  # no single wait may take longer (a hang fails the bench)
TARGETS = {"first screen": 1.0, "timeline 10,000 versions": 0.3, "record table 100,000 records": 0.5,
           "compare 100,000 records, 1 % changed": 0.5}

# A writer process: `rate` versions a second into live/feed for `seconds`, durable.
WRITER = """
import sys, time
from dbengine.dbengine import DbEngine
root, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
engine = DbEngine(root)
start = time.monotonic()
i = 0
while True:
    due = start + i / rate
    if due - start >= seconds:
        break
    pause = due - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    engine.save("live", "writer", "feed", {"n": i, "at": time.time(), "pad": "x" * 200})
    i += 1
print(i, time.monotonic() - start, flush=True)
"""

# A driver process: the app headless, from process start until the tree holds its tenants.
DRIVER = """
import asyncio, json, os, sys, time
t0 = float(os.environ["MYDB_BENCH_T0"])
from mydb_tui.__main__ import make_app
from mydb_tui.widgets.entry_tree import EntryData
root, tenants, entries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
app = make_app(root, user="bench")
out = {"imported": time.perf_counter() - t0}
async def main():
    async with app.run_test(size=(160, 45)) as pilot:
        out["running"] = time.perf_counter() - t0
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            nodes = app.tree.tenant_nodes()
            if len(nodes) == tenants and "tenants" not in out:
                out["tenants"] = time.perf_counter() - t0
            first = nodes.get("tenant_000")
            if first is not None and sum(isinstance(c.data, EntryData) for c in first.children) == entries \\
                    and app.timeline.row_count > 0:
                out["full"] = time.perf_counter() - t0
                break
            await asyncio.sleep(0.002)
asyncio.run(main())
print(json.dumps(out))
"""


# ====================================================================== databases
def build_wide(root: str, tenants: int, entries: int) -> float:
    """`tenants` x `entries` snapshot entries of one version each (the tree's scale)."""
    start = time.perf_counter()
    engine = DbEngine(root, durable=False)
    for t in range(tenants):
        tenant = f"tenant_{t:03d}"
        engine.init(tenant)
        for e in range(entries):
            engine.save(tenant, "loader", f"entry_{e:03d}", {"n": e, "tenant": tenant})
    return time.perf_counter() - start


def build_big(root: str, versions: int, records: int, changed: int) -> float:
    """Tenant `big`: a_small (1 version), history (`versions`), records (`records`, 2 versions,
    `changed` records differ)."""
    start = time.perf_counter()
    engine = DbEngine(root, durable=False)
    engine.init(BIG)
    engine.save(BIG, USER, SMALL, {"hello": "world"})
    for v in range(versions):
        engine.save(BIG, f"user{v % 5}", HISTORY, {"v": v, "title": f"version {v}", "tags": ["a", "b"]})
    engine.put_many(BIG, USER, RECORDS, {_key(i): _record(i, 0) for i in range(records)})
    step = max(1, records // max(1, changed))
    engine.put_many(BIG, "editor", RECORDS, {_key(i): _record(i, 1) for i in range(0, records, step)[:changed]})
    return time.perf_counter() - start


def build_live(root: str, versions: int) -> float:
    start = time.perf_counter()
    engine = DbEngine(root, durable=False)
    engine.init(LIVE)
    for v in range(versions):
        engine.save(LIVE, "seed", FEED, {"n": -v})
    return time.perf_counter() - start


def _key(i: int) -> str:
    return f"user-{i:06d}"


def _record(i: int, version: int) -> dict:
    return {"name": f"user {i}", "email": f"user{i}@example.org", "age": 20 + i % 60,
            "team": "blue" if i % 2 else "green", "v": version}


# ====================================================================== first screen
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|P[^\x1b]*\x1b\\|[@-Z\\-_])")


def first_screen_pty(root: str, tenants: int) -> dict[str, float]:
    """A real `mydb-tui` on a pseudo-terminal: seconds from spawn until the tenants are drawn,
    and until the first tenant's entries and the timeline's HEAD row are drawn too."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(SIZE[0]), "LINES": str(SIZE[1])}
    command = [os.path.join(os.path.dirname(sys.executable), "mydb-tui"), root, "--user", USER]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                               start_new_session=True, close_fds=True)
    os.close(slave)
    seen = ""
    result: dict[str, float] = {}
    last = f"tenant_{tenants - 1:03d}" if tenants <= 30 else "tenant_000"
    try:
        while time.perf_counter() - start < TIMEOUT:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            seen += ANSI.sub("", chunk.decode("utf-8", "replace"))
            now = time.perf_counter() - start
            if "tenants" not in result and last in seen:
                result["tenants"] = now
            if "tenants" in result and "entry_000" in seen and "HEAD" in seen:
                result["full"] = now
                break
    finally:
        try:
            os.write(master, b"\x11")  # ctrl+q
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        _drain(master)
        os.close(master)
    if "full" not in result:
        raise RuntimeError(f"mydb-tui did not show its first screen within {TIMEOUT:.0f} s: {seen[-500:]!r}")
    return result


def _drain(fd: int) -> None:
    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 1 << 16):
                return
        except OSError:
            return


def first_screen_driver(root: str, tenants: int, entries: int) -> dict[str, float]:
    env = dict(os.environ)
    env["MYDB_BENCH_T0"] = repr(time.perf_counter())  # CLOCK_MONOTONIC: the same clock in every process
    done = subprocess.run([sys.executable, "-c", DRIVER, root, str(tenants), str(entries)], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT + 30)
    if done.returncode != 0 or "full" not in done.stdout:
        raise RuntimeError(f"driver failed: {done.stdout[-500:]} {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ====================================================================== in-process app
class Probe:
    """Waits on an app's widgets and notes when the screen is next updated."""

    def __init__(self, app) -> None:
        self.app = app
        self.displays = 0
        self.last_display = 0.0
        original = app._display

        def display(screen, renderable) -> None:
            original(screen, renderable)
            if renderable is not None:
                self.displays += 1
                self.last_display = time.perf_counter()

        app._display = display

    def key(self, key: str) -> float:
        """Send a key the way a terminal does (through the driver); the moment it was sent."""
        from textual import events

        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(self.app)
        sent = time.perf_counter()
        self.app._driver.send_message(event)
        return sent

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> float:
        """Wait until `condition()` holds and the screen was updated after that: the update's time."""
        deadline = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
            if self.app._exception is not None:
                raise RuntimeError(f"the app crashed: {self.app._exception!r}")
            await asyncio.sleep(POLL)
        held = time.perf_counter()
        while self.last_display <= held:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{what}: no screen update within {timeout:.0f} s")
            await asyncio.sleep(POLL)
        return self.last_display


def _app(root: str):
    from mydb_tui.__main__ import make_app

    return make_app(root, user=USER)


async def _opened(app, probe: Probe, tenant: str, entry: str) -> None:
    """The app's first screen, settled on `tenant`/`entry` (the auto-opened first entry)."""
    await probe.until(lambda: app.timeline.entry == entry and app.timeline.row_count > 0
                      and app.viewer.document is not None, f"first screen on {tenant}/{entry}")
    await asyncio.sleep(0.2)  # the tree's and viewer's follow-up work done


def _timeline_shows(app, entry: str, count: int) -> Callable[[], bool]:
    return lambda: app.timeline.entry == entry and app.timeline.row_count == count and not app.timeline.loading


def _table_shows(app, count: int) -> Callable[[], bool]:
    viewer = app.viewer
    return lambda: (viewer.entry == RECORDS and viewer.kind == "records" and viewer.document is not None
                    and viewer.record_table.row_count == count and not viewer.loading)


def _compare_shows(app, changes: int) -> Callable[[], bool]:
    def shown() -> bool:
        screen = app.screen
        comparison = getattr(screen, "comparison", None)
        if comparison is None:
            return False
        option_list = screen.query_one("#compare-changes")
        return len(comparison.changes) == changes and option_list.option_count == changes and \
            option_list.display and screen.query_one("#compare-changes-box").display
    return shown


@dataclass
class Selections:
    timeline_cold: list[float] = field(default_factory=list)
    timeline_warm: list[float] = field(default_factory=list)
    table_cold: list[float] = field(default_factory=list)
    table_warm: list[float] = field(default_factory=list)
    compare_cold: list[float] = field(default_factory=list)
    compare_warm: list[float] = field(default_factory=list)
    deepdiff: list[float] = field(default_factory=list)
    changes: int = 0


async def select_and_compare(root: str, versions: int, records: int, changed: int, warm: int,
                             result: Selections) -> None:
    """One cold round (fresh engine and app) and `warm` warm repetitions of each step."""
    app = _app(root)
    async with app.run_test(size=SIZE):
        probe = Probe(app)
        await _opened(app, probe, BIG, SMALL)
        # a_small -> history (j in the tree): the 10,000-version timeline
        sent = probe.key("j")
        result.timeline_cold.append(await probe.until(_timeline_shows(app, HISTORY, versions), "timeline") - sent)
        await asyncio.sleep(0.2)
        # history -> records: the 100,000-record table
        sent = probe.key("j")
        result.table_cold.append(await probe.until(_table_shows(app, records), "record table") - sent)
        await asyncio.sleep(0.2)
        # compare HEAD with its parent (d)
        sent = probe.key("d")
        result.compare_cold.append(await probe.until(_compare_shows(app, changed), "compare") - sent)
        result.changes = len(app.screen.comparison.changes)
        for _ in range(warm):
            probe.key("escape")
            await probe.until(lambda: app.screen is app.screen_stack[0], "compare closed")
            await asyncio.sleep(0.1)
            sent = probe.key("d")
            result.compare_warm.append(await probe.until(_compare_shows(app, changed), "compare") - sent)
        probe.key("escape")
        await probe.until(lambda: app.screen is app.screen_stack[0], "compare closed")
        for _ in range(warm):
            sent = probe.key("k")  # records -> history
            result.timeline_warm.append(await probe.until(_timeline_shows(app, HISTORY, versions), "timeline") - sent)
            await asyncio.sleep(0.15)
            sent = probe.key("j")
            result.table_warm.append(await probe.until(_table_shows(app, records), "record table") - sent)
            await asyncio.sleep(0.15)
        await app.action_quit()


def cold_round(root: str, versions: int, records: int, changed: int, warm: int) -> Selections:
    """select_and_compare() in this (fresh) process: cold means new imports, engine and app."""
    result = Selections()
    asyncio.run(select_and_compare(root, versions, records, changed, warm, result))
    return result


def deepdiff_import_seconds() -> float:
    """Time of the app's DeepDiff import (without pandas and numpy, see model.lean_import)."""
    code = ("import time; t = time.perf_counter(); from mydb_tui.model.lean_import import import_deepdiff; "
            "import_deepdiff(); print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def raw_deepdiff(root: str) -> float:
    """DeepDiff of the two versions' records as plain dicts (what the compare avoids)."""
    from deepdiff import DeepDiff

    engine = DbEngine(root)
    new, old = (v.digest for v in engine.log(BIG, RECORDS, max_items=2))
    old_records = engine.read_records(BIG, old)
    new_records = engine.read_records(BIG, new)
    start = time.perf_counter()
    diff = DeepDiff(old_records, new_records)
    elapsed = time.perf_counter() - start
    if not diff:
        raise RuntimeError("raw DeepDiff found no difference")
    return elapsed


# ====================================================================== load
@dataclass
class LoadResult:
    seconds: float
    written: int = 0
    writer_seconds: float = 0.0
    cursor: list[float] = field(default_factory=list)
    quiet_cursor: list[float] = field(default_factory=list)
    quiet_viewer: list[float] = field(default_factory=list)
    viewer: list[float] = field(default_factory=list)
    missed: int = 0
    timeline_rows: int = 0
    history: int = 0
    complete: bool = False
    sync_seconds: float = 0.0
    crashed: str = ""


async def _press_keys(probe: Probe, running: Callable[[], bool], interval: float,
                      cursor: list[float], shown: list[float]) -> int:
    """j/k on the timeline every `interval` s while `running()`: latencies appended; returns misses."""
    app = probe.app
    timeline, viewer = app.timeline, app.viewer
    key, missed = "j", 0
    while running():
        target = timeline.cursor + (1 if key == "j" else -1)
        if not 0 <= target < timeline.row_count:
            key = "j" if key == "k" else "k"
            continue
        expected = timeline.versions[target].digest
        document = viewer.document
        sent = probe.key(key)
        try:
            moved = await probe.until(lambda e=expected: timeline.selected is not None
                                      and timeline.selected.digest == e, "cursor", timeout=10)
            cursor.append(moved - sent)
            loaded = await probe.until(lambda e=expected, d=document: viewer.digest == e
                                       and viewer.document is not d and not viewer.loading, "viewer", timeout=10)
            shown.append(loaded - sent)
        except TimeoutError:
            missed += 1
        key = "k" if key == "j" else "j"
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - sent)))
    return missed


async def key_latency_under_load(root: str, seconds: float, rate: float, interval: float,
                                 baseline: float = 3.0) -> LoadResult:
    """A writer process at `rate` versions/s into the shown entry; j/k every `interval` s
    (first `baseline` s without the writer, for comparison)."""
    result = LoadResult(seconds)
    app = _app(root)
    async with app.run_test(size=SIZE):
        probe = Probe(app)
        await _opened(app, probe, LIVE, FEED)
        timeline = app.timeline
        timeline.focus()
        await asyncio.sleep(0.1)
        quiet_until = time.perf_counter() + baseline
        await _press_keys(probe, lambda: time.perf_counter() < quiet_until, interval,
                          result.quiet_cursor, result.quiet_viewer)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, root, str(rate), str(seconds)],
                                  stdout=subprocess.PIPE, text=True)
        started = time.perf_counter()
        try:
            result.missed = await _press_keys(
                probe, lambda: writer.poll() is None and time.perf_counter() - started < seconds + 30, interval,
                result.cursor, result.viewer)
            out, _ = writer.communicate(timeout=60)
            result.written, result.writer_seconds = int(out.split()[0]), float(out.split()[1])
            # The timeline must catch up with the complete history.
            history = DbEngine(root).history(LIVE, FEED, max_items=None)
            result.history = len(history)
            done = time.perf_counter()
            try:
                await probe.until(lambda: [v.digest for v in timeline.versions] == history, "complete timeline",
                                  timeout=10)
                result.complete = True
            except TimeoutError:
                pass
            result.sync_seconds = time.perf_counter() - done
            result.timeline_rows = timeline.row_count
            probe.key("G")  # keys still work
            await probe.until(lambda: timeline.cursor == timeline.row_count - 1, "G after the load", timeout=10)
        except RuntimeError as error:
            result.crashed = str(error)
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
        if app._exception is not None:
            result.crashed = repr(app._exception)
        await app.action_quit()
    return result


# ====================================================================== report
def _machine() -> str:
    import textual

    return machine(f"textual {textual.__version__}")


def _stats(values: list[float]) -> str:
    if not values:
        return "no sample"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"median {format_seconds(statistics.median(values))}, p90 {format_seconds(p90)}, "
            f"max {format_seconds(max(values))} (n={len(values)})")


def _verdict(value: float, target: float) -> str:
    return f"{'met' if value < target else 'MISSED'} (target < {target:g} s)"


@dataclass
class Report:
    command: str
    sizes: dict
    build: dict[str, float] = field(default_factory=dict)
    pty: list[dict] = field(default_factory=list)
    driver: list[dict] = field(default_factory=list)
    selections: Selections = field(default_factory=Selections)
    load: LoadResult | None = None
    deepdiff_import: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def render(self) -> str:
        s = self.sizes
        sel = self.selections
        pty_full = [r["full"] for r in self.pty]
        pty_tenants = [r["tenants"] for r in self.pty]
        med = statistics.median
        lines = [
            "# TUI benchmark results",
            "",
            f"- Date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %z}",
            f"- Machine: {_machine()}",
            f"- Command: `{self.command}`",
            f"- Total run time: {time.perf_counter() - self.started:.0f} s; load average at the end (1/5/15 min): "
            f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}: other processes on the machine add noise",
            f"- Databases (built with `DbEngine(durable=False)`): {s['tenants']} tenants x {s['entries']} entries "
            f"({self.build.get('wide', 0):.1f} s); one entry of {s['versions']:,} versions and one record entry of "
            f"{s['records']:,} records whose second version changes {s['changed']:,} records "
            f"({self.build.get('big', 0):.1f} s)",
            "- Every time is from the moment the key (or the process) started until the state is in the real "
            "widgets *and* the screen was updated after it (the widgets are polled every 2 ms). Key presses go "
            "through the app's driver, as a terminal's do. Cold: a fresh engine and app (the files are in the OS "
            "cache), each cold round in a new process (the app imports DeepDiff in the background once a "
            f"version is shown, without pandas and numpy: {format_seconds(self.deepdiff_import)} alone); "
            "warm: the same app again.",
            "",
            "## Speed targets (issue 3)",
            "",
            "| Measure | Cold | Warm | Target |",
            "|---|---|---|---|",
        ]
        if pty_full:
            lines.append(f"| First full screen, real `mydb-tui` on a pseudo-terminal, {s['tenants']}x{s['entries']}: "
                         f"tenants drawn / first tenant's entries and the timeline drawn | "
                         f"{_stats(pty_tenants)} / {_stats(pty_full)} | | {_verdict(med(pty_full), 1.0)} |")
        if self.driver:
            lines.append("| First screen, driver process running the app headless: tree holds all tenants / "
                         "first tenant's entries and the timeline loaded (imports alone: "
                         f"{format_seconds(med([r['imported'] for r in self.driver]))}) | "
                         f"{_stats([r['tenants'] for r in self.driver])} / {_stats([r['full'] for r in self.driver])}"
                         f" | | {_verdict(med([r['full'] for r in self.driver]), 1.0)} |")
        rows = [
            (f"Select the entry of {s['versions']:,} versions (j in the tree) until its timeline shows",
             sel.timeline_cold, sel.timeline_warm, 0.3),
            (f"Select the record entry of {s['records']:,} records until its table shows",
             sel.table_cold, sel.table_warm, 0.5),
            (f"Compare its two versions ({s['changed']:,} records changed; d) until the change list shows",
             sel.compare_cold, sel.compare_warm, 0.5),
        ]
        for label, cold, warm, target in rows:
            if cold:
                lines.append(f"| {label} | {_stats(cold)} | {_stats(warm)} | "
                             f"{_verdict(med(cold), target)}, warm {_verdict(med(warm), target) if warm else '-'} |")
        if sel.deepdiff and sel.compare_cold:
            ratio = med(sel.deepdiff) / med(sel.compare_cold)
            ratio_warm = med(sel.deepdiff) / med(sel.compare_warm) if sel.compare_warm else 0
            lines.append(f"| Raw `DeepDiff(old_records, new_records)` on the same pair (plain dicts, already read) | "
                         f"{_stats(sel.deepdiff)} | | ratio to the app's compare: x{ratio:.0f} cold, "
                         f"x{ratio_warm:.0f} warm: {'met' if ratio >= 20 else 'MISSED'} (target >= 20x) |")
        load = self.load
        if load is not None:
            rate = load.written / load.writer_seconds if load.writer_seconds else 0
            lines += [
                "",
                "## Key latency under load (issue 5)",
                "",
                f"A writer process made {load.written:,} versions in {load.writer_seconds:.1f} s "
                f"({rate:.1f} versions/s, durable saves) into the entry the app shows (`{LIVE}/{FEED}`, "
                f"{s['live']:,} versions before); meanwhile `j`/`k` were sent to the timeline every "
                f"{s['interval'] * 1e3:.0f} ms. The app polls the database every second and reloads the timeline.",
                "",
                f"- key -> the timeline's cursor row redrawn: {_stats(load.cursor)}",
                f"- key -> the viewer shows that version (read in a worker): {_stats(load.viewer)}",
                f"- the same without the writer (the first 3 s): cursor {_stats(load.quiet_cursor)}; "
                f"viewer {_stats(load.quiet_viewer)}",
                f"- key presses without a screen update within 10 s: {load.missed}",
                f"- at the end: timeline {load.timeline_rows:,} rows, history {load.history:,} versions; timeline "
                f"equal to `engine.history(..., max_items=None)`: {'yes' if load.complete else 'NO'} "
                f"(caught up {format_seconds(load.sync_seconds)} after the writer stopped)",
                f"- crash: {load.crashed or 'none'}; `G` still moved the cursor to the oldest version afterwards",
            ]
        return "\n".join(lines) + "\n"


# ====================================================================== main
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs and an 8 s load (about a minute)")
    parser.add_argument("--load-seconds", type=float, default=None, help="length of the load test (default 60)")
    parser.add_argument("--runs", type=int, default=None, help="cold runs of each measure (default 5, quick 2)")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS-tui.md"), help="markdown output file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    sizes = {"tenants": 100, "entries": 100, "versions": 10_000, "records": 100_000, "changed": 1_000,
             "live": 500, "rate": 50.0, "interval": 0.2,
             "load": args.load_seconds if args.load_seconds is not None else (8.0 if args.quick else 60.0)}
    report = Report(" ".join(["python bench/tui_bench.py", *argv]).strip(), sizes)
    work = os.path.join(HERE, f"_work-tui-{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}")
    os.makedirs(work)
    os.environ["TZ"] = os.environ.get("TZ", "UTC")
    wide, big, live = (os.path.join(work, name) for name in ("wide", "big", "live"))
    try:
        print("building the databases ...", flush=True)
        with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
            wide_job = pool.submit(build_wide, wide, sizes["tenants"], sizes["entries"])
            big_job = pool.submit(build_big, big, sizes["versions"], sizes["records"], sizes["changed"])
            report.build["live"] = build_live(live, sizes["live"])
            report.build["wide"], report.build["big"] = wide_job.result(), big_job.result()
        print(f"  wide {report.build['wide']:.1f} s, big {report.build['big']:.1f} s", flush=True)
        for _ in range(runs):
            report.pty.append(first_screen_pty(wide, sizes["tenants"]))
            report.driver.append(first_screen_driver(wide, sizes["tenants"], sizes["entries"]))
            print(f"  first screen: pty {report.pty[-1]}, driver {report.driver[-1]}", flush=True)
        sel = report.selections
        spawn = multiprocessing.get_context("spawn")
        for i in range(runs):
            with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                one = pool.submit(cold_round, big, sizes["versions"], sizes["records"], sizes["changed"], 2).result()
            for name in ("timeline_cold", "timeline_warm", "table_cold", "table_warm", "compare_cold",
                         "compare_warm"):
                getattr(sel, name).extend(getattr(one, name))
            sel.changes = one.changes
            print(f"  round {i + 1}: timeline {sel.timeline_cold[-1]:.3f} s, table {sel.table_cold[-1]:.3f} s, "
                  f"compare {sel.compare_cold[-1]:.3f} s", flush=True)
        report.deepdiff_import = deepdiff_import_seconds()
        for _ in range(1 if args.quick else 2):
            sel.deepdiff.append(raw_deepdiff(big))
            print(f"  raw DeepDiff {sel.deepdiff[-1]:.2f} s", flush=True)
        print(f"load: {sizes['load']:.0f} s at {sizes['rate']:.0f} versions/s ...", flush=True)
        report.load = asyncio.run(key_latency_under_load(live, sizes["load"], sizes["rate"], sizes["interval"]))
        text = report.render()
        write_results(args.out, text)
        print()
        print(text)
        print(f"written to {os.path.relpath(args.out)}")
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if report.load is None or (report.load.complete and not report.load.crashed) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
