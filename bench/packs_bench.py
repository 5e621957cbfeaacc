"""Packs (format 0.6, docs/FORMAT.md §6c): the reader's order and the pause of a merge.

1. `read_object` of record-tree nodes on a cold engine, the storage's order (the packs
   open already, loose file, journal, packs listed again, loose file again) against the
   loose file first (then journal, packs): on an entry whose
   nodes are all in packs (written by this engine), and on one whose nodes are all loose
   files (as a 0.5 engine wrote them). Medians of MYDB_PACKS_REPS rounds of reading
   MYDB_PACKS_READS random nodes each.
2. The pause of merges: every `Packs.merge` that merged something during
   MYDB_PACKS_COMMITS put_many of 100 new keys into the packed entry, with the sizes merged.
3. Opening a pack (what a cold engine pays at its first miss): `_open_pack` of synthetic
   packs of MYDB_PACKS_OPEN objects (default 100,000 and 1,000,000; tiny objects), time
   (median of MYDB_PACKS_REPS opens, warm page cache) and memory kept (tracemalloc), per
   object; with MYDB_BENCH_BASELINE=<engine folder> (e.g. main's) that engine's packs are
   opened too, turn by turn. MYDB_PACKS_RECORDS=0 runs this part only.

MYDB_PACKS_RECORDS (default 200,000) records of ~100 bytes, durable=False. Results go to
bench/RESULTS-packs.md; the run works in a fresh temporary folder, removed at the end.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "engine"))

from dbengine import packs  # noqa: E402
from dbengine.dbengine import DbEngine  # noqa: E402
from dbengine.errors import DigestNotFoundError  # noqa: E402
from dbengine.storage import LocalStorage  # noqa: E402
from timing import load_baseline, write_results  # noqa: E402

T, U = "bench", "bench"
RECORDS = int(os.environ.get("MYDB_PACKS_RECORDS", "200000"))
READS = int(os.environ.get("MYDB_PACKS_READS", "2000"))
REPS = int(os.environ.get("MYDB_PACKS_REPS", "7"))
COMMITS = int(os.environ.get("MYDB_PACKS_COMMITS", "40"))
CHUNK = 20_000
OPEN_SIZES = [int(n) for n in os.environ.get("MYDB_PACKS_OPEN", "100000,1000000").split(",") if n]
BASELINE_FOLDER = os.environ.get("MYDB_BENCH_BASELINE")


class _Done(Exception):
    """MYDB_PACKS_RECORDS=0: the opening rows only."""


def value(i: int, entry: str = "") -> dict:
    """About 100 bytes; each entry's own (with keys of its own: no node shared between the two entries)."""
    return {"name": f"User number {i}", "email": f"user{i}@example.com", "age": 20 + i % 60, "city": entry}


def loose_first(self: LocalStorage, tenant: str, digest: str) -> bytes:
    """The other order: unwritten, loose file, journal, packs (for the comparison only)."""
    path = self.object_path(tenant, digest)
    unwritten = self.journals.unwritten(path)
    if unwritten is not None:
        return unwritten
    try:
        return self.files.read(path, digest)
    except DigestNotFoundError:
        pass
    data = self.journals.kept.read_object(tenant, digest)
    if data is not None:
        return data
    data = self.packs.read(tenant, digest)
    if data is not None:
        return data
    return self.files.read(path, digest)


def node_digests(engine: DbEngine, entry: str) -> list[str]:
    """Every node of the entry's head trees (walked once, before timing)."""
    head = engine.read_snapshot(T, engine.get_digest(T, entry))
    found, stack = [], [head["__order__"], head["__keys__"]]
    while stack:
        digest = stack.pop()
        found.append(digest)
        node = engine.objects.read(T, digest)
        stack.extend(child[1] for child in node.get("children", []))
    return found


def time_reads(root: str, digests: list[str]) -> tuple[float, float]:
    """Median seconds per read of READS random nodes on a cold storage, REPS rounds, the
    storage's order and `loose_first` taking turns on the same picks."""
    rng = random.Random(7)
    times: dict[str, list[float]] = {"storage": [], "loose": []}
    original = LocalStorage.read_object
    try:
        for _ in range(REPS):
            picks = [rng.choice(digests) for _ in range(READS)]
            for name, order in (("storage", original), ("loose", loose_first)):
                LocalStorage.read_object = order
                storage = LocalStorage(root, durable=False)
                storage.read_object(T, picks[0])  # the listing of packs/ is not what is timed
                start = time.perf_counter()
                for digest in picks:
                    storage.read_object(T, digest)
                times[name].append((time.perf_counter() - start) / READS)
    finally:
        LocalStorage.read_object = original
    return statistics.median(times["storage"]), statistics.median(times["loose"])


def pack_modules() -> dict[str, object]:
    """The packs module of this engine and (MYDB_BENCH_BASELINE) of the baseline engine."""
    found: dict[str, object] = {"this engine": packs}
    if BASELINE_FOLDER and load_baseline(BASELINE_FOLDER) is not None:
        import importlib

        found["baseline"] = importlib.import_module("dbengine_baseline.packs")
    return found


def time_opens(work: str) -> list[tuple[str, str, str]]:
    """Rows: opening a synthetic pack of each of OPEN_SIZES objects with each engine's packs
    module (its own encode_pack: each engine reads its own layout), time and memory kept."""
    import tracemalloc

    rows = []
    modules = pack_modules()
    for count in OPEN_SIZES:
        objects = {}
        for i in range(count):
            item = b"%d" % i
            objects[hashlib.sha256(item).hexdigest()] = item
        paths = {}
        for name, module in modules.items():
            data = module.encode_pack(objects)
            paths[name] = os.path.join(work, f"{name.replace(' ', '-')}-{count}.pack")
            with open(paths[name], "wb") as handle:
                handle.write(data)
            del data
        del objects
        times: dict[str, list[float]] = {name: [] for name in modules}
        for _ in range(REPS):
            for name, module in modules.items():
                start = time.perf_counter()
                pack = module._open_pack(paths[name])
                times[name].append(time.perf_counter() - start)
                pack.close()
                del pack
        memory = {}
        for name, module in modules.items():
            tracemalloc.start()
            pack = module._open_pack(paths[name])
            kept, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            pack.close()
            del pack
            memory[name] = (kept, peak)
            os.unlink(paths[name])
        cells = []
        for name in modules:
            median = statistics.median(times[name])
            kept, peak = memory[name]
            cells.append(f"{median * 1000:.1f} ms ({median / count * 1e9:.0f} ns an object), "
                         f"{kept / count:.1f} bytes an object kept ({kept / 1e6:.1f} MB), peak {peak / 1e6:.1f} MB")
        rows.append((f"open a pack of {count:,} objects (`_open_pack`, median of {REPS})", cells[0],
                     cells[1] if len(cells) > 1 else "(MYDB_BENCH_BASELINE not set)"))
    return rows


def main() -> None:
    work = tempfile.mkdtemp(prefix="mydb-packs-bench-")
    rows, opens = [], []
    try:
        opens = time_opens(work)
        if RECORDS == 0:
            raise _Done
        root = os.path.join(work, "db")
        engine = DbEngine(root, durable=False)
        engine.init(T)
        saved = packs.PACK_MIN
        for entry, pack_min in (("packed", saved), ("loose", 1 << 62)):
            packs.PACK_MIN = pack_min
            for first in range(0, RECORDS, CHUNK):
                engine.put_many(T, U, entry, {f"{entry}-{i:08d}": value(i, entry) for i in range(first, first + CHUNK)})
        packs.PACK_MIN = saved
        os.sync()
        for entry in ("packed", "loose"):
            digests = node_digests(DbEngine(root, durable=False), entry)
            here, other = time_reads(root, digests)
            rows.append((f"read_object of a node, entry all {entry} ({len(digests):,} nodes, {READS:,} reads)",
                         f"{here * 1e6:.1f} µs", f"{other * 1e6:.1f} µs"))
        pauses: list[tuple[float, int, int]] = []
        merge = packs.Packs.merge

        def timed_merge(self, tenant):
            folder = self.folder(tenant)
            before = {name: os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder)}
            start = time.perf_counter()
            gone = merge(self, tenant)
            if gone:
                pauses.append((time.perf_counter() - start, len(gone), sum(before.get(os.path.basename(p), 0)
                                                                           for p in gone)))
            return gone

        packs.Packs.merge = timed_merge
        writer = DbEngine(root, durable=False)
        rng = random.Random(3)
        start = time.perf_counter()
        for i in range(COMMITS):
            writer.put_many(T, U, "packed", {f"new-{rng.random():.12f}": value(i) for _ in range(100)})
        total = time.perf_counter() - start
        packs.Packs.merge = merge
        count = len(os.listdir(writer.storage.packs.folder(T)))
        if pauses:
            worst = max(pauses)
            rows.append((f"merges in {COMMITS} put_many of 100 new keys ({total / COMMITS * 1000:.1f} ms each "
                         f"on average, merges included; {count} packs after)",
                         f"{len(pauses)} merges, median {statistics.median(p[0] for p in pauses) * 1000:.1f} ms",
                         f"longest {worst[0] * 1000:.1f} ms ({worst[1]} packs, {worst[2] / 1e6:.2f} MB merged)"))
    except _Done:
        pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "# Packs: opening, reader order and merge pauses",
        "",
        f"`python bench/packs_bench.py`, MYDB_PACKS_RECORDS={RECORDS}, MYDB_PACKS_OPEN={','.join(map(str, OPEN_SIZES))}, "
        f"MYDB_BENCH_BASELINE={BASELINE_FOLDER or '(none)'}, medians of {REPS} rounds, durable=False; "
        f"machine load (1-minute average) {os.getloadavg()[0]:.1f} after the run ({os.cpu_count()} cores, shared).",
        "",
        "| measure | this engine | baseline engine (MYDB_BENCH_BASELINE) |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in opens),
        "",
    ]
    if rows:
        lines += [
            "| measure | storage order: open packs, loose, journal, packs listed | loose, journal, packs |",
            "|---|---|---|",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows),
            "",
        ]
    text = "\n".join(lines)
    write_results(os.path.join(HERE, "RESULTS-packs.md"), text)
    print(text)


if __name__ == "__main__":
    main()
