"""`make bench`: the history questions (key_history, blame, search, as_of) at size.

A record entry of `MYDB_BENCH_Q_RECORDS` records (100,000) with `MYDB_BENCH_Q_VERSIONS`
versions (10,000): one put_many of all records, then single-record puts of random keys by
five users, some values holding the word "needle". Built once into a cache folder
(`MYDB_BENCH_CACHE`, default /tmp/mydb-bench-cache) and reused. Each question is timed
cold (a new DbEngine: empty in-memory caches; the OS page cache is warm) against the naive
loop it replaces (load each version and compare), in the same run. `as_of` runs on the
largest history entry present (the 1,000,000-version fixture of bench/history_scale.py when
it was built, else this one). The timeline filter by user runs on a snapshot entry of
`MYDB_BENCH_Q_FILTER_VERSIONS` versions (100,000; cached too). Results go to
bench/RESULTS-queries.md.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

from dbengine.dbengine import DbEngine
from dbengine.queries import _history
from timing import write_results

from mydb_tui.model.activity import FULL_READ, day_counts, read_days

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDS = int(os.environ.get("MYDB_BENCH_Q_RECORDS", "100000"))
VERSIONS = int(os.environ.get("MYDB_BENCH_Q_VERSIONS", "10000"))
CACHE = os.environ.get("MYDB_BENCH_CACHE", "/tmp/mydb-bench-cache")
FILTER_VERSIONS = int(os.environ.get("MYDB_BENCH_Q_FILTER_VERSIONS", "100000"))
FIND_RECORDS = int(os.environ.get("MYDB_BENCH_Q_FIND_RECORDS", "1000000"))
T, E, FEED, BIG = "bench", "people", "feed", "big"
USERS = ["alice", "bob", "carol", "dave", "deploy-bot"]
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=7)
        return self.now


def _key(i: int) -> str:
    return f"user-{i:07d}"


def build(root: str) -> None:
    """The fixture: all records in one version, then VERSIONS - 1 single-record puts."""
    tmp = root + ".building"
    shutil.rmtree(tmp, ignore_errors=True)
    engine = DbEngine(tmp, durable=False, clock=_Clock())
    engine.init(T)
    rng = random.Random(7)
    engine.put_many(T, USERS[0], E, {_key(i): {"name": f"person {i}", "n": 0, "city": "Oslo"}
                                     for i in range(RECORDS)})
    for v in range(1, VERSIONS):
        i = rng.randrange(RECORDS)
        city = "needle" if v % 97 == 0 else rng.choice(["Oslo", "Lyon", "Rome"])
        engine.put(T, USERS[v % len(USERS)], E, _key(i), {"name": f"person {i}", "n": v, "city": city})
    os.rename(tmp, root)


def paired(new, old, reps: int = 7) -> tuple[float, float]:
    """Medians of `new()` and `old()` run in turns (the machine's load changes under a run:
    both see the same), each after a full garbage collection."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(reps):
        for run, out in ((new, samples[0]), (old, samples[1])):
            gc.collect()
            start = time.perf_counter()
            run()
            out.append(time.perf_counter() - start)
    return statistics.median(samples[0]), statistics.median(samples[1])


def build_feed(root: str) -> None:
    """The timeline-filter fixture: a snapshot entry of FILTER_VERSIONS small versions by the five users."""
    tmp = root + ".building"
    shutil.rmtree(tmp, ignore_errors=True)
    engine = DbEngine(tmp, durable=False, clock=_Clock())
    engine.init(T)
    for v in range(FILTER_VERSIONS):
        engine.save(T, USERS[v % len(USERS)], FEED, {"n": v, "status": "ok" if v % 3 else "degraded"})
    os.rename(tmp, root)


def build_big_records(root: str) -> None:
    """The find fixture: one record entry of FIND_RECORDS records (~100 bytes each), one put_many
    per 100,000; one record in 10,000 lives in "Lyon"."""
    tmp = root + ".building"
    shutil.rmtree(tmp, ignore_errors=True)
    engine = DbEngine(tmp, durable=False, clock=_Clock())
    engine.init(T)
    for start in range(0, FIND_RECORDS, 100_000):
        engine.put_many(T, USERS[0], BIG, {
            f"user-{i:08d}": {"name": f"User number {i}", "email": f"user{i}@example.com", "age": 20 + i % 60,
                              "city": "Lyon" if i % 10_000 == 7 else "Paris"}
            for i in range(start, min(start + 100_000, FIND_RECORDS))})
    os.rename(tmp, root)


def timed(run, reps: int = 5) -> float:
    """Median seconds of `run()` over `reps` runs (each gets a fresh engine where it asks)."""
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    root = os.path.join(CACHE, f"queries-{RECORDS}-{VERSIONS}")
    if not os.path.isdir(root):
        os.makedirs(CACHE, exist_ok=True)
        print(f"building {root} (once) ...", flush=True)
        start = time.perf_counter()
        build(root)
        print(f"built in {time.perf_counter() - start:.0f} s", flush=True)
    fresh = lambda: DbEngine(root, durable=False)  # noqa: E731
    engine = fresh()
    log = engine.log(T, E, max_items=None)
    change_sets = [keys for _version, keys in _history(engine, T, E)]
    changed = [keys for keys in change_sets if keys]
    # the most changed key makes the longest record history
    counts: dict[str, int] = {}
    for keys in change_sets[:-1]:
        for key in keys or ():
            counts[key] = counts.get(key, 0) + 1
    key = max(counts, key=counts.get) if counts else _key(0)
    rows: list[tuple[str, str, str, str]] = []

    # history of one record
    history_s = timed(lambda: fresh().key_history(T, E, key))
    hist_len = len(engine.key_history(T, E, key))

    def naive_history() -> int:
        e = fresh()
        found = 0
        for version in e.log(T, E, max_items=None):
            parent = version.parents[0] if version.parents else None
            if _record(e, parent, key) != _record(e, version.digest, key):
                found += 1
        return found

    naive_s = timed(naive_history, reps=1)
    rows.append((f"history of one record ({hist_len} changes) over {len(log):,} versions, cold",
                 _s(history_s), _s(naive_s) + " (read the record in every version)", "< 0.1 s"))

    # blame of 40 visible rows, and of everything (the CLI)
    visible = [_key(i) for i in range(40)]
    blame40_s = timed(lambda: fresh().blame(T, E, keys=visible))
    rows.append((f"blame of 40 visible records of {RECORDS:,}, cold", _s(blame40_s), "", "< 0.2 s"))
    env = dict(os.environ, MYDB_ROOT=root)
    outputs: list[bytes] = []

    def cli_blame() -> None:
        outputs.append(subprocess.run([sys.executable, "-m", "mydb_tui.cli", "blame", T, E, "--json"], env=env,
                                      capture_output=True, check=True).stdout)

    cli_s = timed(cli_blame, reps=3)
    lines = len(json.loads(outputs[-1])["lines"])
    rows.append((f"`mydb blame --json` of all {lines:,} records over {len(log):,} versions (process, median of 3)",
                 _s(cli_s), "", "< 3 s"))

    # pickaxe: first hit, whole scan, cancel
    def first_hit() -> None:
        next(iter(fresh().search(T, E, "needle", pickaxe=True)))

    first_s = timed(first_hit)
    scan_s = timed(lambda: sum(1 for _ in fresh().search(T, E, "needle", pickaxe=True)), reps=3)
    sample = log[: min(50, len(log))]

    def naive_pickaxe() -> None:
        e = fresh()
        for version in sample:
            text = json.dumps(e.read_records(T, version.digest, copy=False))
            text.count("needle")

    per_version = timed(naive_pickaxe, reps=1) / len(sample)
    naive_scan = per_version * len(log)
    flag = threading.Event()
    stopped: list[float] = []

    def cancel_run() -> None:
        hits = fresh().search(T, E, "n", pickaxe=False, cancelled=flag.is_set)
        next(hits)
        flag.set()
        start = time.perf_counter()
        for _ in hits:
            pass
        stopped.append(time.perf_counter() - start)

    cancel_run()
    rows.append(("pickaxe `needle`: first hit, cold", _s(first_s), "", "< 0.3 s"))
    rows.append((f"pickaxe `needle`: whole scan of {len(log):,} versions, cold", _s(scan_s),
                 f"{_s(naive_scan)} (serialize and count every version: {_s(per_version)} × {len(log):,}, "
                 f"measured on {len(sample)}); ×{naive_scan / scan_s:.0f}", "≥ 10× faster"))
    rows.append(("search cancelled after its first hit: time to stop", _s(stopped[0]), "", "< 0.1 s"))

    # as_of on the longest history available
    big = _longest_history()
    if big is not None:
        big_root, tenant, entry, n = big
    else:
        big_root, tenant, entry, n = root, T, E, len(log)
    probe = DbEngine(big_root, durable=False)
    first, last = probe.log(tenant, entry, max_items=1)[0].date, START
    when = first - (first - last) / 3 if first and last else dt.datetime.now(dt.UTC)
    as_of_s = timed(lambda: DbEngine(big_root, durable=False).as_of(tenant, entry, when))
    rows.append((f"as_of on {n:,} versions, cold", _s(as_of_s), "", "< 5 ms"))
    strip_s = timed(lambda: read_days(DbEngine(big_root, durable=False), tenant, entry, n))
    rows.append((f"activity strip: the dates of {n:,} versions (model.activity.read_days{', sampled' if n > FULL_READ else ''}), cold",
                 _s(strip_s), "", "(the strip fills in a worker)"))
    rows += filter_rows()
    rows += find_rows()

    lines_out = [
        "# Benchmark: history questions",
        "",
        f"- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `python bench/queries_bench.py`; "
        f"{RECORDS:,} records, {len(log):,} versions ({len(changed):,} with a change set), "
        "medians of 5 cold runs (a new DbEngine each) unless said (rows with a yardstick of their own: 7 runs of each, in turns); load average at the end "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "| question | engine | naive loop | target |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
    ]
    text = "\n".join(lines_out)
    write_results(os.path.join(HERE, "RESULTS-queries.md"), text)
    print(text)


def filter_rows() -> list[tuple[str, str, str, str]]:
    """The timeline filter (`/` in History) by one user over FILTER_VERSIONS versions, cold:
    run_filter on the index columns against the way it was done before (log() of every
    version, then the filter over the Versions)."""
    from mydb_tui.model.timeline_filter import filter_versions, parse_filter, run_filter

    root = os.path.join(CACHE, f"feed-{FILTER_VERSIONS}")
    if not os.path.isdir(root):
        print(f"building {root} (once) ...", flush=True)
        build_feed(root)
    fresh = lambda: DbEngine(root, durable=False)  # noqa: E731
    rows = []
    strip_new, strip_old = paired(lambda: read_days(fresh(), T, FEED, FILTER_VERSIONS),
                                  lambda: day_counts(v.date for v in fresh().log(T, FEED, max_items=None)))
    rows.append((f"activity strip: the dates of {FILTER_VERSIONS:,} versions (index date column), cold",
                  _s(strip_new), f"{_s(strip_old)} (log() of every version); ×{strip_old / strip_new:.1f}", ""))
    for text in ("user:carol", "user:carol >=2025-06-01"):
        query = parse_filter(text)
        kept = len(run_filter(fresh(), T, FEED, query).found)
        new_s, old_s = paired(lambda: run_filter(fresh(), T, FEED, query),  # noqa: B023
                              lambda: filter_versions(fresh().log(T, FEED, max_items=None), query))  # noqa: B023
        rows.append((f"timeline filter `{text}` over {FILTER_VERSIONS:,} versions ({kept:,} kept), cold",
                     _s(new_s), f"{_s(old_s)} (log() of every version, then filter); ×{old_s / new_s:.1f}",
                     "< 0.3 s"))
    after_strip = []
    for _ in range(7):  # the TUI's order: the strip reads the columns when the entry opens
        engine = fresh()
        read_days(engine, T, FEED, FILTER_VERSIONS)
        gc.collect()
        start = time.perf_counter()
        run_filter(engine, T, FEED, parse_filter("user:carol"))
        after_strip.append(time.perf_counter() - start)
    rows.append((f"timeline filter `user:carol` over {FILTER_VERSIONS:,} versions, the index columns read "
                 "before by the activity strip (the TUI's order)", _s(statistics.median(after_strip)), "", "< 0.3 s"))
    return rows


def find_rows() -> list[tuple[str, str, str, str]]:
    """`/` in the record table on a version of FIND_RECORDS records: the scan the table's
    worker runs (model.record_find.find_chunks) for a rare text, once, against the loop it
    replaced (each record's JSON searched alone), and how soon a cancel stops it."""
    from mydb_tui.model.record_find import find_chunks, row_matches

    root = os.path.join(CACHE, f"records-{FIND_RECORDS}")
    if not os.path.isdir(root):
        print(f"building {root} (once) ...", flush=True)
        build_big_records(root)

    def view():
        engine = DbEngine(root, durable=False)
        records = engine.records_view(T, engine.get_digest(T, BIG))
        return records, records.keys_list()

    records, keys = view()
    start = time.perf_counter()
    found = [key for _scanned, matches in find_chunks(records, keys, "lyon") for key in matches]
    new_s = time.perf_counter() - start
    records, keys = view()
    start = time.perf_counter()
    old = [key for key in keys if row_matches(key, records[key], "lyon")]
    old_s = time.perf_counter() - start
    if old != found:
        raise SystemExit("find_chunks and the per-record loop disagree")
    records, keys = view()
    chunks = find_chunks(records, keys, "lyon")
    start = time.perf_counter()
    next(chunks)
    first_s = time.perf_counter() - start
    return [
        (f"record find `/lyon` in one version of {len(keys):,} records ({len(found)} match), whole scan, cold",
         _s(new_s), f"{_s(old_s)} (each record's JSON alone); ×{old_s / new_s:.1f}", "streams; esc cancels"),
        ("record find: the first chunk of 512 records (the worker can stop between chunks)", _s(first_s), "",
         "cancel < 0.1 s"),
    ]


def _record(engine: DbEngine, digest: str | None, key: str):
    if digest is None:
        return None
    try:
        return engine.read_record(T, E, key, digest)
    except LookupError:
        return None


def _longest_history() -> tuple[str, str, str, int] | None:
    """(root, tenant, entry, versions) of the biggest cached history fixture, if any."""
    best = None
    roots = [os.path.join(HERE, "_work-history-cache", "db")]  # bench/history_scale.py's fixture
    if os.path.isdir(CACHE):
        roots += [os.path.join(CACHE, name) for name in os.listdir(CACHE) if name.startswith("history")]
    for path in roots:
        if not os.path.isdir(path):
            continue
        try:  # entry_info reads each index's end; entry_infos could rewrite a tenant's entries cache,
            engine = DbEngine(path, durable=False)  # and the fixture is another bench's: read only
            for tenant in engine.tenants():
                names = engine.entries(tenant)
                for entry in names if len(names) <= 1000 else ():  # (a wide tenant: one version each)
                    info = engine.entry_info(tenant, entry)
                    if best is None or info.versions > best[3]:
                        best = (path, tenant, entry, info.versions)
        except Exception:  # noqa: BLE001 - a fixture being built or of another format: skip it
            continue
    return best


def _s(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
