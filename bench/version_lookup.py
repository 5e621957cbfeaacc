"""One version of a long history without reading its whole index (issue 12 §3): cold
`version()` of an old digest, `resolve("HEAD~N")`, `resolve(<prefix>)` and the TUI model's
compares (compare_versions, compare_with_parent) on the 1,000,000-version fixture of
bench/history_scale.py, each in a fresh process (cold engine, warm OS file cache), with the
process's peak memory (ru_maxrss).

The fixture is only read: the engine runs on a storage whose writes (objects, heads, index,
caches, locks) fail, so a repair never rewrites it. Knobs (environment):
MYDB_BENCH_HISTORY_DB (default bench/_work-history-cache/db, the folder history_scale.py
builds), MYDB_BENCH_REPEAT (default 5 runs per row, medians reported). Without the fixture
the bench says so and writes nothing. Results go to bench/RESULTS-version-lookup.md.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "engine"), ROOT]

from timing import write_results  # noqa: E402

HIST, LONG = "hist", "long"
REPEAT = int(os.environ.get("MYDB_BENCH_REPEAT", "5"))
RESULTS = os.path.join(HERE, "RESULTS-version-lookup.md")


def fixture_root() -> str:
    return os.environ.get("MYDB_BENCH_HISTORY_DB") or os.path.join(HERE, "_work-history-cache", "db")


def read_only_engine(root: str):
    """A DbEngine on `root` whose storage refuses every write (the fixture stays as it is)."""
    from dbengine.dbengine import DbEngine
    from dbengine.errors import StorageError
    from dbengine.storage import LocalStorage

    class ReadOnly(LocalStorage):
        def _refuse(self, *args, **kwargs):
            raise StorageError("read-only bench storage")

        write_object = write_ref = write_head = append_index = write_index = write_cache = lock = _refuse

    return DbEngine(root, storage=ReadOnly(root, durable=False))


OPS = {
    "version": lambda e, a: e.version(HIST, LONG, a["old"]),
    "resolve HEAD~500000": lambda e, a: e.resolve(HIST, LONG, "HEAD~500000"),
    "resolve prefix": lambda e, a: e.resolve(HIST, LONG, a["old"][:12]),
    "compare_versions": lambda e, a: _model().compare_versions(e, HIST, LONG, a["new"], a["old"]),
    "compare_with_parent": lambda e, a: _model().compare_with_parent(e, HIST, LONG, a["old"]),
}


def _model():
    from mydb_tui.model import compare

    return compare


def one(op: str, args: dict) -> None:
    """Child: run `op` once on a fresh engine; print its time and the process's peak RSS."""
    import resource

    engine = read_only_engine(fixture_root())
    if op.startswith("compare"):
        _model()  # (its import, of the model package, is not what is measured)
    start = time.perf_counter()
    OPS[op](engine, args)
    took = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": took, "rss_mb": rss}))


def main() -> None:
    root = fixture_root()
    if not os.path.isdir(os.path.join(root, HIST)):
        print(f"version_lookup: skipped, no fixture at {root} (build it with bench/history_scale.py, "
              "or point MYDB_BENCH_HISTORY_DB at one)")
        return
    engine = read_only_engine(root)
    window = engine.log_window(HIST, LONG, 0, 1)
    total = window.total
    old = engine.log_window(HIST, LONG, total - 1001, 1).versions[0].digest  # position 1,000
    new = engine.log_window(HIST, LONG, 1000, 1).versions[0].digest  # 1,000 below the head
    args = json.dumps({"old": old, "new": new})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "engine"), ROOT])}
    rows = []
    for op in OPS:
        runs = []
        for _ in range(REPEAT):
            out = subprocess.run([sys.executable, __file__, "--one", op, args], env=env, check=True,
                                 capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        seconds = statistics.median(r["seconds"] for r in runs)
        rss = statistics.median(r["rss_mb"] for r in runs)
        rows.append((op, seconds, rss, [r["seconds"] for r in runs]))
        print(f"{op:24} median {seconds * 1000:9.1f} ms   peak RSS {rss:7.1f} MB", flush=True)
    lines = [
        "# One version of a 1,000,000-version history (bench/version_lookup.py)", "",
        f"Fixture: `{root}`, entry {HIST}/{LONG}, {total:,} versions; `old` is the version at chain "
        f"position 1,000, `new` the one 1,000 below the head. Each run is a fresh process (cold engine, "
        f"warm OS file cache); medians of {REPEAT} runs; peak RSS is the whole process's ru_maxrss.", "",
        "| operation | median | peak RSS | runs (s) |", "|---|---|---|---|",
    ]
    for op, seconds, rss, runs in rows:
        lines.append(f"| {op} | {seconds * 1000:.1f} ms | {rss:.0f} MB | {', '.join(f'{r:.3f}' for r in runs)} |")
    write_results(RESULTS, "\n".join(lines))
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2], json.loads(sys.argv[3]))
    else:
        main()
