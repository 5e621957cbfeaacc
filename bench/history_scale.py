"""Long histories and big tenants (issue 12 §3): windowed log reads, the TUI timeline and
entry tree, `mydb entries`, at 1,000,000 versions and 100,000 entries.

Knobs (environment): MYDB_BENCH_VERSIONS (default 1,000,000), MYDB_BENCH_ENTRIES
(default 100,000), MYDB_BENCH_REPEAT (default 5 timed runs per row, medians reported).

The fixture is built once into bench/_work-history-cache/db/ ($MYDB_BENCH_CACHE/db) and
reused by later runs; a partial build resumes (delete the folder to rebuild it; it takes
~9 GB and ~2,200,000 inodes at the defaults: one folder and one file per object):
- tenant `hist`, entry `long`: `versions` versions written by `save()` (durable=False),
  the engine's real write path, one after the other (~10 minutes for 1,000,000);
- tenant `wide`: `entries` snapshot entries of one version each. Their objects and index
  lines are written by the same functions `save()` uses (`_write_object`, `_index_append`),
  but the head map is written once at the end: 100,000 saves would rewrite a head of
  100,000 names each time (quadratic: ~450 GB).
Each timed run uses a fresh engine (cold in-memory caches; the OS file cache is warm).
TUI rows drive the real app headless with Textual's `run_test`: it opens hist/a_small by
itself; then `tree.goto(hist, long)` until the timeline holds its first 40 rows, `G` and
`g` sent through the app's driver as a terminal sends them, until the rows are read. Results go to bench/RESULTS-history.md.

`python bench/history_scale.py entries` times only the big-tenant rows (`mydb entries`, the
TUI's tenant expansion) on a database holding the `wide` tenant alone ($MYDB_BENCH_CACHE/db,
built in ~30 s) and replaces those rows in bench/RESULTS-history.md.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "engine"), ROOT]

from dbengine.dbengine import DbEngine  # noqa: E402
from dbengine.utils import format_date  # noqa: E402
from timing import write_results  # noqa: E402

VERSIONS = int(os.environ.get("MYDB_BENCH_VERSIONS", "1000000"))
ENTRIES = int(os.environ.get("MYDB_BENCH_ENTRIES", "100000"))
REPEAT = int(os.environ.get("MYDB_BENCH_REPEAT", "5"))
HIST, LONG, SMALL, WIDE = "hist", "long", "a_small", "wide"
USERS = ("alice", "bob", "carol", "dave")
TARGETS = {"timeline first rows": 0.3, "timeline G (oldest)": 0.5, "tenant expand": 0.5, "mydb entries": 2.0,
           "app peak RSS MB": 300}


def cache_dir() -> str:
    """The fixture's folder: $MYDB_BENCH_CACHE, or bench/_work-history-cache/."""
    return os.environ.get("MYDB_BENCH_CACHE") or os.path.join(HERE, "_work-history-cache")


def build_long(root: str, versions: int) -> float:
    """`versions` saves of a small document to hist/long (resumes a partial build)."""
    start = time.perf_counter()
    engine = DbEngine(root, durable=False)
    engine.init(HIST)
    done = engine.entry_info(HIST, LONG).versions if engine.exists(HIST, LONG) else 0
    for i in range(done, versions):
        engine.save(HIST, USERS[i % len(USERS)], LONG, {"n": i, "status": ("open", "closed")[i % 7 == 0],
                                                         "tags": ["a", "b"][: i % 3]})
        if i % 50_000 == 0:
            print(f"  {i:,} versions", flush=True)
    return time.perf_counter() - start


def build_wide(root: str, entries: int) -> float:
    """`entries` one-version snapshot entries in tenant `wide`, head written once."""
    start = time.perf_counter()
    engine = DbEngine(root, durable=False)
    engine.init(WIDE)
    head: dict[str, str] = {}
    date = format_date(engine.clock())
    for i in range(entries):
        name = f"entry_{i:06d}"
        document = engine._envelope("snapshot", None, USERS[i % 4], date)
        document["__data__"] = {"n": i, "name": name}
        digest = engine._write_object(WIDE, document)
        engine._index_append(WIDE, name, None, None, digest, document, _first_summary(document))
        head[name] = digest
    with engine.storage.lock(WIDE):
        _data, token = engine._read_head(WIDE)
        engine.storage.write_head(WIDE, json.dumps(head, sort_keys=True, separators=(",", ":")).encode(), expected=token)
    return time.perf_counter() - start


def _first_summary(document: dict):
    from dbengine.dbengine import _ABSENT, _snapshot_summary

    return _snapshot_summary(_ABSENT, document["__data__"])


def fixture() -> tuple[str, dict[str, float]]:
    """The cached database, completed when it has fewer versions or entries than asked for
    (a partial build resumes), and the build times of this run."""
    root = os.path.join(cache_dir(), "db")
    os.makedirs(root, exist_ok=True)
    engine = DbEngine(root)
    times: dict[str, float] = {}
    have = len(engine.entries(WIDE)) if engine.is_initialized(WIDE) else 0
    if have != ENTRIES:
        print(f"building {ENTRIES:,} entries into {root}", flush=True)
        shutil.rmtree(os.path.join(root, WIDE), ignore_errors=True)
        times["build wide (s)"] = build_wide(root, ENTRIES)
    have = engine.entry_info(HIST, LONG).versions if engine.is_initialized(HIST) and engine.exists(HIST, LONG) else 0
    if have > VERSIONS:
        raise SystemExit(f"{root} holds {have:,} versions, more than {VERSIONS:,}: set MYDB_BENCH_CACHE to another folder")
    if have < VERSIONS:
        print(f"building {VERSIONS:,} versions into {root} (from {have:,})", flush=True)
        times["build long (s)"] = build_long(root, VERSIONS)
    if not engine.exists(HIST, SMALL):  # what the app opens first (the timeline rows are timed from it)
        engine.save(HIST, "bench", SMALL, {"hello": "world"})
    return root, times


# ====================================================================== timing
def timed(run, setup=None, repeat: int = REPEAT) -> list[float]:
    out = []
    for _ in range(repeat):
        state = setup() if setup else None
        gc.collect()
        start = time.perf_counter()
        run(state)
        out.append(time.perf_counter() - start)
    return out


def engine_rows(root: str) -> list[tuple[str, list[float], str]]:
    rows = []
    fresh = lambda: DbEngine(root)  # noqa: E731
    rows.append(("log_window: newest 100 of the history (cold engine)",
                 timed(lambda e: e.log_window(HIST, LONG, 0, 100), fresh), ""))
    rows.append(("log_window: oldest 100 (cold engine)",
                 timed(lambda e: e.log_window(HIST, LONG, VERSIONS - 100, 100), fresh), ""))
    rows.append(("log_window: 100 from the middle (cold engine)",
                 timed(lambda e: e.log_window(HIST, LONG, VERSIONS // 2, 100), fresh), ""))
    rows.append(("log(): newest 1,000 (default max_items, cold engine)",
                 timed(lambda e: e.log(HIST, LONG), fresh), ""))
    rows.append(("entry_info (count from the index's end, cold engine)",
                 timed(lambda e: e.entry_info(HIST, LONG), fresh), ""))
    full = timed(lambda e: e.log(HIST, LONG, max_items=None), fresh, repeat=max(1, min(REPEAT, 3)))
    rows.append((f"log(max_items=None): all {VERSIONS:,} versions (cold engine)", full, ""))
    _cli(root, "entries", WIDE)  # the cache made current (and the bytecode cached)
    return rows + engine_rows_entries(root)


def _cli(root: str, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "engine"), ROOT])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed `mydb` runs: from cached bytecode
    result = subprocess.run([sys.executable, "-m", "mydb_tui.cli", "--root", root, *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode()[-500:])


# ====================================================================== the app
#: polls `check` until true in the app scripts below: the time it became true
UNTIL = r"""
async def until(check, what, limit=120):
    deadline = time.perf_counter() + limit
    while not check():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)
    return time.perf_counter()
"""

APP_DRIVER = r"""
import asyncio, json, resource, sys, time
from textual import events
from mydb_tui.__main__ import make_app
from mydb_tui.widgets.entry_tree import EntryData
root, tenant, entry, small, wide, entries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
app = make_app(root, user="bench")
out = {}
""" + UNTIL + r"""def key(name):  # as a terminal sends it: through the driver (Pilot.press would wait for idle)
    event = events.Key(name, name if len(name) == 1 else None)
    event.set_sender(app)
    sent = time.perf_counter()
    app._driver.send_message(event)
    return sent
async def main():
    async with app.run_test(size=(160, 45)) as pilot:
        tree, timeline = app.tree, app.timeline
        # the app opens the first tenant and its first entry (hist/a_small) by itself
        await until(lambda: timeline.entry == small and timeline.row_count > 0, "start-up")
        await asyncio.sleep(0.5)
        start = time.perf_counter()
        tree.goto(tenant, entry)
        done = await until(lambda: timeline.entry == entry and timeline.row_count > 0 and timeline.cached_rows(0, 40),
                           "first timeline rows")
        out["timeline first rows"] = done - start
        out["rows"] = timeline.row_count
        timeline.focus()
        await asyncio.sleep(0.5)
        last = timeline.row_count - 1
        sent = key("G")
        done = await until(lambda: timeline.cursor == last and timeline.cached_rows(last - 40, last + 1)
                           and timeline.selected is not None, "oldest rows")
        out["timeline G (oldest)"] = done - sent
        await asyncio.sleep(0.3)
        sent = key("g")
        done = await until(lambda: timeline.cursor == 0 and timeline.cached_rows(0, 40), "newest rows")
        out["timeline g (back to newest)"] = done - sent
        node = tree.tenant_nodes()[wide]
        start = time.perf_counter()
        node.expand()
        def shown():  # the tenant's rows on screen, with their details
            kids = [c for c in node.children if isinstance(c.data, EntryData)]
            return node.data.count == entries and len(kids) >= 25 and all(k.data.info is not None for k in kids[:25])
        out["tenant expand"] = await until(shown, "tenant expanded") - start
        # VmHWM: this process image's peak (ru_maxrss would count the parent's memory at fork)
        out["app peak RSS MB"] = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
asyncio.run(main())
print(json.dumps(out))
"""


APP_EXPAND = r"""
import asyncio, json, sys, time
from mydb_tui.__main__ import make_app
from mydb_tui.widgets.entry_tree import EntryData
root, small, wide, entries = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
app = make_app(root, user="bench")
""" + UNTIL + r"""async def main():
    async with app.run_test(size=(160, 45)):
        await until(lambda: app.timeline.entry == small and app.timeline.row_count > 0, "start-up")
        await asyncio.sleep(0.5)
        node = app.tree.tenant_nodes()[wide]
        start = time.perf_counter()
        node.expand()
        def shown():  # the tenant's rows on screen, with their details
            kids = [c for c in node.children if isinstance(c.data, EntryData)]
            return node.data.count == entries and len(kids) >= 25 and all(k.data.info is not None for k in kids[:25])
        done = await until(shown, "tenant expanded")
        print(json.dumps({"tenant expand": done - start}))
asyncio.run(main())
"""


def entries_only() -> None:
    """`python bench/history_scale.py entries`: only the big-tenant rows (`mydb entries`,
    the TUI's tenant expansion), on a database of the `wide` tenant alone (built when
    missing into $MYDB_BENCH_CACHE/db, ~30 s); their rows in RESULTS-history.md are replaced."""
    root = os.path.join(cache_dir(), "db")
    os.makedirs(root, exist_ok=True)
    engine = DbEngine(root)
    if (len(engine.entries(WIDE)) if engine.is_initialized(WIDE) else 0) != ENTRIES:
        shutil.rmtree(os.path.join(root, WIDE), ignore_errors=True)
        print(f"building {ENTRIES:,} entries into {root}", flush=True)
        build_wide(root, ENTRIES)
    if not engine.is_initialized(HIST) or not engine.exists(HIST, SMALL):  # what the app opens first
        engine.init(HIST)
        engine.save(HIST, "bench", SMALL, {"hello": "world"})
    _cli(root, "entries", WIDE)  # the cache made current (and the bytecode cached)
    rows = engine_rows_entries(root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "engine"), ROOT])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    runs = []
    for _ in range(max(1, min(REPEAT, 3))):
        result = subprocess.run([sys.executable, "-c", APP_EXPAND, root, SMALL, WIDE, str(ENTRIES)],
                                env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(result.stdout[-500:] + result.stderr[-2000:])
        runs.append(json.loads(result.stdout.strip().splitlines()[-1])["tenant expand"])
    rows.append((f"TUI: tenant expand ({ENTRIES:,} entries)", runs, "target 0.5 s"))
    path = os.path.join(HERE, "RESULTS-history.md")
    lines = open(path).read().split("\n") if os.path.exists(path) else ["# Long histories and big tenants", ""]
    for name, values, note in rows:
        line = f"| {name} | {fmt(statistics.median(values))} | {fmt(min(values))} | {fmt(max(values))} | {len(values)} | {note} |"
        at = [i for i, old in enumerate(lines) if old.startswith(f"| {name} |")]
        if at:
            lines[at[0]] = line
        else:
            lines.insert(len(lines) - 3 if len(lines) > 3 else len(lines), line)
        print(line)
    stamp = (f"- Rows `mydb entries` and `TUI: tenant expand` last timed {time.strftime('%Y-%m-%d %H:%M %z')} by "
             f"`python bench/history_scale.py entries` (fixture {root}, load average "
             f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}); the CLI runs from cached bytecode, as installed.")
    lines = [old for old in lines if not old.startswith("- Rows `mydb entries` and `TUI: tenant expand` last timed")]
    at = next((i for i, old in enumerate(lines) if old.startswith("| operation |")), len(lines)) - 1
    lines.insert(at, stamp)
    with open(path, "w") as f:
        f.write("\n".join(lines))


def engine_rows_entries(root: str) -> list[tuple[str, list[float], str]]:
    """The `mydb entries` rows: warm cache (REPEAT runs), then rebuilt (one run)."""
    cache = os.path.join(root, WIDE, "index", "entries")
    return [
        (f"`mydb entries {WIDE}` ({ENTRIES:,} entries, entries cache warm, subprocess)",
         timed(lambda _: _cli(root, "entries", WIDE)), "target 2 s"),
        (f"`mydb entries {WIDE}` ({ENTRIES:,} entries, no entries cache: rebuilt, subprocess)",
         timed(lambda _: _cli(root, "entries", WIDE), lambda: os.path.exists(cache) and os.remove(cache), repeat=1), ""),
    ]


def app_rows(root: str) -> list[tuple[str, list[float], str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "engine"), ROOT])}
    runs: list[dict] = []
    for _ in range(max(1, min(REPEAT, 3))):
        result = subprocess.run([sys.executable, "-c", APP_DRIVER, root, HIST, LONG, SMALL, WIDE, str(ENTRIES)],
                                env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(result.stdout[-500:] + result.stderr[-2000:])
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    rows = []
    for name in ("timeline first rows", "timeline G (oldest)", "timeline g (back to newest)", "tenant expand"):
        target = TARGETS.get(name)
        rows.append((f"TUI: {name} ({VERSIONS:,} versions)" if "timeline" in name else f"TUI: {name} ({ENTRIES:,} entries)",
                     [r[name] for r in runs], f"target {target} s" if target else ""))
    rows.append(("TUI: app peak RSS (MB, whole run)", [r["app peak RSS MB"] for r in runs], "target 300 MB"))
    return rows


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    """Build (or reuse) the fixture, time every row, write bench/RESULTS-history.md."""
    started = time.perf_counter()
    root, build = fixture()
    rows = engine_rows(root) + app_rows(root)
    lines = [
        "# Long histories and big tenants",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M %z')}; command: `python bench/history_scale.py` "
        f"(MYDB_BENCH_VERSIONS={VERSIONS}, MYDB_BENCH_ENTRIES={ENTRIES}, MYDB_BENCH_REPEAT={REPEAT})",
        f"- Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; load average at the end: "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}",
        f"- Fixture: {cache_dir()} ({'built in this run: ' + ', '.join(f'{k} {v:.0f}' for k, v in build.items()) if build else 'reused'})",
        "- Engine rows: a fresh DbEngine per run (cold in-memory caches, warm OS file cache). TUI rows: the real "
        "app headless (`run_test`), one process per run, from the action (tree.goto / key press / expand) until "
        "the rows are on the widget; RSS is the app process's peak (VmHWM).",
        "",
        "| operation | median | min | max | runs | note |",
        "|---|---|---|---|---|---|",
    ]
    for name, values, note in rows:
        is_mb = "MB" in name
        show = (lambda v: f"{v:.0f} MB") if is_mb else fmt
        lines.append(f"| {name} | {show(statistics.median(values))} | {show(min(values))} | {show(max(values))} "
                     f"| {len(values)} | {note} |")
    lines += ["", f"Total run time: {time.perf_counter() - started:.0f} s", ""]
    write_results(os.path.join(HERE, "RESULTS-history.md"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:] == ["build"]:
        print(fixture())
    elif sys.argv[1:] == ["entries"]:
        entries_only()
    else:
        main()
