"""Record entries at scale (issue 12 §1): puts, put_many, get(), compare and browsing a
record entry of MYDB_BENCH_RECORDS records (default 1,000,000), stored as record trees.

Every engine row has its sqlite yardstick (bench/sqlite_yardstick.py) measured in the same
process; durable=False on both sides, random keys, records of about 100 bytes. Results go
to bench/RESULTS-records.md. Run: `python bench/records_scale.py` (MYDB_BENCH_RECORDS=100000
for a short run). Each run works in a fresh temporary folder, removed at the end.
MYDB_BENCH_CACHE=<folder> keeps the built big database (engine root and sqlite file) there
and copies it into the run's folder instead of building it again (the build row then says so);
the cached copy is named after the sources that spell record-tree nodes (`writer_stamp`), so a
database written by an engine that spelled them otherwise is never timed by mistake.
MYDB_BENCH_BASELINE=<engine folder> (e.g. /path/to/main/engine) also times that engine's writes,
turn by turn with this one's and sqlite's (see load_baseline). The baseline writes and reads an
entry of its own that starts at the same version (`alias_entry`): an engine of format 0.5 does
not read packs (format 0.6), so it must never read a node this engine wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "engine"))

import dbengine  # noqa: E402
import dbengine.packs  # noqa: E402,F401  (format 0.6: PACK_MIN, see build)
from dbengine.dbengine import DbEngine  # noqa: E402
from sqlite_yardstick import SqliteStore  # noqa: E402
from timing import load_baseline, write_results  # noqa: E402

BASELINE = load_baseline(os.environ.get("MYDB_BENCH_BASELINE"))

T, E, U = "bench", "records", "bench"
E_BASE = "records-baseline"  # the baseline engine's entry: the same records, its own writes
SMALL = 10_000
REPS = int(os.environ.get("MYDB_BENCH_REPS", "15"))
COMPARE_REPS = int(os.environ.get("MYDB_BENCH_COMPARE_REPS", "7"))  # cold changed_records per engine
GET_REPS = int(os.environ.get("MYDB_BENCH_GET_REPS", "3"))  # cold get() of every record, per engine
CHUNK = 100_000  # records per put_many while building
DATE = "20250101 10:00:00 +0000"


def record_key(i: int) -> str:
    return f"user-{i:08d}"


def record_value(i: int, version: int = 0) -> dict:
    """About 100 bytes of JSON."""
    return {"name": f"User number {i}", "email": f"user{i}@example.com", "age": 20 + i % 60,
            "city": "Paris", "v": version}


class Counter:
    """Bytes the engine's storage writes (objects and heads), by wrapping its write calls, the
    files it creates (each file is renamed into place: `RootFiles.install`), and, with
    `merges`, the bytes of the packs its pack merges rewrite (`packs.choose_merge`'s choices)."""

    def __init__(self, engine: DbEngine, merges: bool = False):
        self.bytes = 0
        self.files = 0
        self.merged = self.merges = 0
        packs_module = sys.modules.get(type(getattr(engine.storage, "packs", None)).__module__)
        if merges and hasattr(packs_module, "choose_merge"):
            choose = packs_module.choose_merge

            def counted_choose(candidates: list) -> list:
                chosen = choose(candidates)
                self.merged += sum(pack.size for pack in chosen)
                self.merges += len(chosen) >= 2
                return chosen

            packs_module.choose_merge = counted_choose
        for name in ("write_object", "write_head"):
            original = getattr(engine.storage, name)
            setattr(engine.storage, name, self._wrap(original))
        files = getattr(engine.storage, "files", None)
        if files is not None and hasattr(files, "install"):
            install = files.install

            def counted_install(temp: str, path: str) -> None:
                self.files += 1
                install(temp, path)

            files.install = counted_install

    def _wrap(self, original: Callable) -> Callable:
        def counted(tenant, *args, **kwargs):
            data = args[1] if len(args) > 1 else args[0]
            self.bytes += len(data)
            return original(tenant, *args, **kwargs)
        return counted


def writer_stamp() -> str:
    """12 hex of the sha256 of the engine modules that decide a record tree's bytes: a cache
    built by another spelling (say compact order leaves, rewritten whole by every write) is not reused."""
    folder = os.path.dirname(dbengine.__file__)
    digest = hashlib.sha256()
    for name in ("node_bytes.py", "records_tree.py", "order_tree.py", "key_tree.py", "record_entries.py", "layout.py",
                 "utils.py"):
        with open(os.path.join(folder, name), "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()[:12]


def alias_entry(engine: DbEngine, entry: str, alias: str) -> None:
    """Make `alias` a second entry whose head is `entry`'s version (the same records and
    nodes, shared on disk), for a baseline engine to write and read on its own."""
    header = {"type": "mydb-export", "version": 1, "tenant": T, "entry": alias}
    head = {"type": "head", "entry": alias, "digest": engine.get_digest(T, entry)}
    engine.import_jsonl([json.dumps(header), json.dumps(head)])


class Bench:
    def __init__(self, work: str, size: int):
        self.work = work
        self.size = size
        self.rows: list[tuple[str, str, str, str]] = []  # operation, engine, sqlite, note
        self.rng = random.Random(1234)
        self.version = 0
        self.fresh = 0
        self.extra = 0  # records of the big entry written by the baseline engine only

    def build_cached(self, root: str, sql_path: str, n: int) -> tuple[DbEngine, SqliteStore]:
        """The big database, copied from MYDB_BENCH_CACHE when built there before (built
        there first otherwise); without a cache, built in the run's folder."""
        cache = os.environ.get("MYDB_BENCH_CACHE")
        if not cache:
            sql = SqliteStore(sql_path, durable=False)
            self.build(root, sql, n)
            # As for a copy below: the build's ~580 MB are written back before any timed write,
            # and the writes are timed on a new engine, as with a copy (the building engine's
            # caches hold the build's nodes parsed: not the state of an application's engine).
            os.sync()
            return DbEngine(root, durable=False), sql
        cached = os.path.join(cache, f"records-{n}-{writer_stamp()}")
        if not os.path.isfile(os.path.join(cached, "done")):
            shutil.rmtree(cached, ignore_errors=True)
            os.makedirs(cached)
            sql = SqliteStore(os.path.join(cached, "db.sqlite"), durable=False)
            self.build(os.path.join(cached, "db"), sql, n)
            sql.close()
            open(os.path.join(cached, "done"), "w").close()
        else:
            self.rows.append((f"build {n:,} records (put_many of {CHUNK:,})", "copied from MYDB_BENCH_CACHE", "", ""))
        shutil.copytree(os.path.join(cached, "db"), root)
        shutil.copyfile(os.path.join(cached, "db.sqlite"), sql_path)
        # The copy (~580 MB, ~57,500 files, each in its folder) is written back for a minute after it is
        # made: timed writes would wait behind it (put_many add measured 38 ms on a fresh copy,
        # 25 ms once synced). Every write timed below starts with it on disk.
        os.sync()
        return DbEngine(root, durable=False), SqliteStore(sql_path, durable=False)

    def build(self, root: str, sql: SqliteStore, n: int) -> DbEngine:
        engine = DbEngine(root, durable=False)
        engine.init(T)
        packs = getattr(dbengine, "packs", None)
        pack_min = getattr(packs, "PACK_MIN", None)
        if BASELINE is not None and pack_min is not None:
            packs.PACK_MIN = 1 << 62  # loose nodes, as a 0.5 engine writes them: the baseline reads them
        start = time.perf_counter()
        try:
            for first in range(0, n, CHUNK):
                engine.put_many(T, U, E, {record_key(i): record_value(i) for i in range(first, min(n, first + CHUNK))})
        finally:
            if pack_min is not None:
                packs.PACK_MIN = pack_min
        built = time.perf_counter() - start
        start = time.perf_counter()
        for first in range(0, n, CHUNK):
            sql.put_many(U, E, {record_key(i): record_value(i) for i in range(first, min(n, first + CHUNK))}, DATE)
        self.rows.append((f"build {n:,} records (put_many of {CHUNK:,})", f"{built:.1f} s",
                          f"{time.perf_counter() - start:.1f} s", ""))
        return engine

    def writes(self, engine: DbEngine, sql: SqliteStore, n: int) -> None:
        counter = Counter(engine, merges=True)
        baseline = None
        if BASELINE is not None:
            alias_entry(engine, E, E_BASE)
            baseline = BASELINE(engine.root, durable=False)
            base_counter = Counter(baseline)
        self.extra = 0

        def timed(label: str, engine_run: Callable[..., object], sql_run: Callable[[int], object]) -> None:
            """Engine, sqlite (and the baseline engine) take turns, repetition by repetition."""
            times: dict[str, list[float]] = {"engine": [], "sqlite": [], "baseline": []}
            written = files = base_written = base_files = 0
            counter.merged = counter.merges = 0
            for i in range(REPS):
                counter.bytes = counter.files = 0
                start = time.perf_counter()
                engine_run(i, engine)
                times["engine"].append(time.perf_counter() - start)
                written += counter.bytes
                files += counter.files
                start = time.perf_counter()
                sql_run(i)
                times["sqlite"].append(time.perf_counter() - start)
                if baseline is not None:
                    base_counter.bytes = base_counter.files = 0
                    start = time.perf_counter()
                    engine_run(i, baseline)
                    times["baseline"].append(time.perf_counter() - start)
                    base_written += base_counter.bytes
                    base_files += base_counter.files
            engine_s, sql_s = statistics.median(times["engine"]), statistics.median(times["sqlite"])
            note = f"{engine_s / sql_s:.1f}x sqlite"
            if counter.merged:
                note += (f"; {counter.merges} pack merges in {REPS} writes rewrote "
                         f"{counter.merged / REPS / 1000:.0f} kB a write (mean)")
            if baseline is not None:
                base_s = statistics.median(times["baseline"])
                note += (f"; baseline engine {base_s * 1000:.2f} ms ({base_s / sql_s:.1f}x sqlite), "
                         f"{base_written / REPS / 1000:.1f} kB, {base_files / REPS:.1f} files")
            self.rows.append((label, f"{engine_s * 1000:.2f} ms, {written / REPS / 1000:.1f} kB written, "
                                     f"{files / REPS:.1f} files", f"{sql_s * 1000:.2f} ms", note))

        def next_version() -> int:
            self.version += 1
            return self.version

        def new_keys(count: int) -> list[str]:
            self.fresh += count
            return [f"new-{self.rng.random():.12f}-{self.fresh - j}" for j in range(count)]

        # Engine runs take (i, engine): the baseline engine gets keys of its own (the third set).
        picks = [[record_key(self.rng.randrange(n)) for _ in range(100)] for _ in range(3 * REPS)]

        def mine(i: int, eng: DbEngine) -> int:
            return i if eng is engine else 2 * REPS + i

        def entry(eng: DbEngine) -> str:
            return E if eng is engine else E_BASE

        timed(f"put: update 1 random record of {n:,}",
              lambda i, eng: eng.put(T, U, entry(eng), picks[mine(i, eng)][0], record_value(i, next_version())),
              lambda i: sql.put_many(U, E, {picks[REPS + i][0]: record_value(i, next_version())}, DATE))
        batches = [new_keys(100) for _ in range(3 * REPS)]
        timed(f"put_many: add 100 random new keys to {n:,}",
              lambda i, eng: eng.put_many(T, U, entry(eng), {k: record_value(i) for k in batches[mine(i, eng)]}),
              lambda i: sql.put_many(U, E, {k: record_value(i) for k in batches[REPS + i]}, DATE))
        timed(f"put_many: update 100 random records of {n:,}",
              lambda i, eng: eng.put_many(T, U, entry(eng), {k: record_value(i, next_version())
                                                             for k in picks[mine(i, eng)]}),
              lambda i: sql.put_many(U, E, {k: record_value(i, next_version()) for k in picks[REPS + i]}, DATE))

    def reads(self, engine_root: str, sql: SqliteStore, n: int) -> None:
        """changed_records of the last write (100 updates) and get() of every record, each on
        a cold engine; with MYDB_BENCH_BASELINE the baseline engine takes turns with this one
        (and, for get(), with sqlite), so both are timed under the same load."""
        engine = DbEngine(engine_root, durable=False)
        engines: dict[str, type] = {"engine": DbEngine, **({"baseline": BASELINE} if BASELINE else {})}
        entries = {"engine": E, "baseline": E_BASE}  # the baseline reads its own entry (no packs)
        heads = {name: (engine.resolve(T, entries[name], "HEAD~1"), engine.get_digest(T, entries[name]))
                 for name in engines}
        head = heads["engine"][1]
        times: dict[str, list[float]] = {name: [] for name in engines}
        changed = {}
        for _ in range(COMPARE_REPS):
            for name, cls in engines.items():
                cold = cls(engine_root, durable=False)
                start = time.perf_counter()
                before, after = cold.changed_records(T, *heads[name])
                times[name].append(time.perf_counter() - start)
                changed[name] = (before, after)
        assert all(len(pair[1]) == len(changed["engine"][1]) for pair in changed.values())
        note = "target < 100 ms" + (f"; baseline engine {statistics.median(times['baseline']) * 1000:.1f} ms"
                                    if BASELINE else "")
        self.rows.append((f"changed_records: {len(changed['engine'][1])} changed of "
                          f"{engine.read_snapshot(T, head)['__count__']:,} (cold engine, median of {COMPARE_REPS})",
                          f"{statistics.median(times['engine']) * 1000:.1f} ms", "", note))
        times = {name: [] for name in [*engines, "sqlite"]}
        for _ in range(GET_REPS):
            for name, cls in engines.items():
                start = time.perf_counter()
                values = cls(engine_root, durable=False).get(T, entries[name])
                times[name].append(time.perf_counter() - start)
                count = len(values)
                del values
            start = time.perf_counter()
            rows = sql.conn.execute("SELECT value FROM records WHERE entry = ? ORDER BY seq", (E,)).fetchall()
            sql_values = [json.loads(row[0]) for row in rows]
            times["sqlite"].append(time.perf_counter() - start)
            assert count == len(sql_values) + self.extra
            del sql_values, rows
        engine_s, sql_s = statistics.median(times["engine"]), statistics.median(times["sqlite"])
        note = f"{engine_s / sql_s:.2f}x sqlite" + (
            f"; baseline engine {statistics.median(times['baseline']):.2f} s "
            f"({statistics.median(times['baseline']) / sql_s:.2f}x sqlite)" if BASELINE else "")
        self.rows.append((f"get(): all {n:,}+ records (cold engine, median of {GET_REPS})", f"{engine_s:.2f} s",
                          f"{sql_s:.2f} s (SELECT + json.loads)", note))

    def browse(self, engine_root: str) -> None:
        """records_view in a fresh process (its memory is the browser's): first window,
        last window, a jump to a key."""
        script = f"""
import json, resource, sys, time, random
sys.path.insert(0, {os.path.join(os.path.dirname(HERE), 'engine')!r})
from dbengine.dbengine import DbEngine
t0 = time.perf_counter()
engine = DbEngine({engine_root!r})
view = engine.records_view({T!r}, engine.get_digest({T!r}, {E!r}))
keys = view.keys_list()
first = [view[k] for k in keys[:60]]
t1 = time.perf_counter()
last = [view[k] for k in keys[len(keys) - 60:]]
t2 = time.perf_counter()
down = [view[k] for k in keys[len(keys) // 3: len(keys) // 3 + 60]]
t3 = time.perf_counter()
target = {record_key(random.Random(7).randrange(self.size))!r}
at = keys.index(target)
window = [view[k] for k in keys[max(at - 30, 0): at + 30]]
t4 = time.perf_counter()
peak = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(json.dumps({{"first": t1 - t0, "last": t2 - t1, "page": t3 - t2, "jump": t4 - t3,
                  "rss_mb": (peak[0] if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024}}))
"""
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
        result = json.loads(out)
        self.rows.append(("records_view: first 60 rows (new process, engine open included)",
                          f"{result['first'] * 1000:.1f} ms", "", "target < 500 ms"))
        self.rows.append(("records_view: last 60 rows (G)", f"{result['last'] * 1000:.1f} ms", "", "target < 100 ms"))
        self.rows.append(("records_view: 60 rows a third in (PageDown far)", f"{result['page'] * 1000:.1f} ms", "",
                          "target < 100 ms"))
        self.rows.append(("records_view: jump to a key (index + 60 rows)", f"{result['jump'] * 1000:.1f} ms", "",
                          "target < 100 ms"))
        self.rows.append(("records_view: peak RSS of that process", f"{result['rss_mb']:.0f} MB", "", "target < 300 MB"))

    def run(self) -> None:
        small_root = os.path.join(self.work, "small")
        big_root = os.path.join(self.work, "big")
        small_sql = SqliteStore(os.path.join(self.work, "small.sqlite"), durable=False)
        self.build(small_root, small_sql, SMALL)
        os.sync()  # timed on a new engine after the build is on disk, as the big database is (like with like)
        self.writes(DbEngine(small_root, durable=False), small_sql, SMALL)
        big, big_sql = self.build_cached(big_root, os.path.join(self.work, "big.sqlite"), self.size)
        self.writes(big, big_sql, self.size)
        self.reads(big_root, big_sql, self.size)
        self.browse(big_root)
        small_sql.close()
        big_sql.close()


def main() -> None:
    size = int(os.environ.get("MYDB_BENCH_RECORDS", "1000000"))
    work = tempfile.mkdtemp(prefix="mydb-records-bench-")
    load_before = os.getloadavg()[0]
    try:
        bench = Bench(work, size)
        bench.run()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "# Record entries at scale",
        "",
        f"`python bench/records_scale.py`, MYDB_BENCH_RECORDS={size}, {REPS} repetitions per timed write "
        "(medians), durable=False, random keys, ~100-byte records; sqlite (bench/sqlite_yardstick.py, "
        "synchronous=OFF) in the same process.",
        f"Machine load (1-minute average): {load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after it "
        f"({os.cpu_count()} cores, shared).",
        "",
        "| operation | engine | sqlite | note |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in bench.rows),
        "",
    ]
    text = "\n".join(lines)
    write_results(os.path.join(HERE, "RESULTS-records.md"), text)
    print(text)


if __name__ == "__main__":
    main()
