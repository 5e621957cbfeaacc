"""Durable writes against the fsync floor: `python bench/durable.py [--reps N] [--out FILE]`.

In one run, interleaved in rounds so that a noisy neighbour hurts every row alike:
- the engine's durable `save()` of a 1 KB document (a new version each time);
- the floor: write a 1 KB temp file, fsync it, rename it over one file (no folder fsync);
- sqlite `synchronous=FULL` (rollback journal, and WAL) inserting one 1 KB row per transaction.
Medians go to bench/RESULTS-durable.md with the ratio floor/engine (1.0 = as fast as the
floor; the target is 0.5 or more) and the fsync calls one save makes. Then a checkpoint is
timed, and reads of an entry of `--read-versions` (1,000) durable saves by fresh processes:
its objects only in the journal vs the same database after a checkpoint; and `--head-reads`
fresh processes reading the head from a full (2 MB) journal vs the head file, and
`mydb entries` on both. Everything is
written under bench/_work-durable-<time>/, deleted only at the end.
MYDB_BENCH_BASELINE=<engine folder> (e.g. /path/to/main/engine) adds a row timing that
engine's durable save, turn by turn with this one's (a before/after in the same run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "engine"))

import dbengine  # noqa: E402
from dbengine import journal_store, storage  # noqa: E402
from dbengine.dbengine import DbEngine  # noqa: E402
from timing import Sample, format_seconds, load_baseline, machine, write_results  # noqa: E402

BASELINE_FOLDER = os.environ.get("MYDB_BENCH_BASELINE")
BASELINE = load_baseline(BASELINE_FOLDER)
BASELINE_ROW = "baseline engine save (durable, MYDB_BENCH_BASELINE)"
FILE_OPS_ROW = "a durable save's file operations alone (no engine code)"
TENANT, ENTRY, USER = "bench", "doc", "bench"
READ_VERSIONS, READ_REPS = 1000, 5
HEAD_READS = 5  # fresh processes reading the head of a full journal, and after a checkpoint (--head-reads)
ROUND = 5  # operations per row per round (small: a burst of load from elsewhere hits every row alike)


def document(i: int) -> dict:
    """A JSON document of about 1 KB; `i` makes each one distinct."""
    return {"counter": i, "title": f"document {i}", "body": "x" * 950}


class Rows:
    """The timed operations, each a callable doing one durable write numbered `i`."""

    def __init__(self, work: str):
        self.work = work
        self.engine = DbEngine(os.path.join(work, "db"), durable=True)
        self.engine.init(TENANT)
        self.loose = DbEngine(os.path.join(work, "db-loose"), durable=False)
        self.loose.init(TENANT)
        self.baseline = BASELINE(os.path.join(work, "db-baseline"), durable=True) if BASELINE else None
        if self.baseline is not None:
            self.baseline.init(TENANT)
        self.floor_dir = os.path.join(work, "floor")
        os.makedirs(self.floor_dir)
        self.payload = os.urandom(512).hex().encode()  # 1 KB
        self.ops_dir = os.path.join(work, "file-operations")
        self.ops_objects = os.path.join(self.ops_dir, "objects")
        os.makedirs(self.ops_objects)
        self.ops_lock, self.ops_head, self.ops_journal, self.ops_index = (
            os.path.join(self.ops_dir, name) for name in ("head.lock", "head", "journal", "index"))
        # sizes of what one save of document() writes: version object, head, journal frame, index line
        self.object, self.head, self.frame, self.line = b"o" * 1170, b"h" * 72, b"j" * 1416, b"i" * 204
        with open(self.ops_head, "wb") as handle:
            handle.write(self.head)
        self.ops_fd: int | None = None  # the journal kept open, as the engine keeps it
        self.ops_inode = 0
        self.ops_lock_fd: int | None = None  # the lock file and the index kept open too
        self.ops_index_fd: int | None = None
        self.sqlite = {mode: self._sqlite(mode) for mode in ("delete", "wal")}

    def _sqlite(self, mode: str) -> sqlite3.Connection:
        conn = sqlite3.connect(os.path.join(self.work, f"yardstick-{mode}.sqlite"), isolation_level=None)
        conn.execute(f"PRAGMA journal_mode={mode}")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, data TEXT NOT NULL)")
        return conn

    def engine_save(self, i: int) -> None:
        self.engine.save(TENANT, USER, ENTRY, document(i))

    def engine_save_inline(self, i: int) -> None:
        """The durable save with the journal's fdatasync run before the file writes, not beside them."""
        journal_store.OVERLAP_SYNC = False
        try:
            self.engine.save(TENANT, USER, ENTRY, document(i))
        finally:
            journal_store.OVERLAP_SYNC = True

    def baseline_save(self, i: int) -> None:
        self.baseline.save(TENANT, USER, ENTRY, document(i))

    def engine_save_loose(self, i: int) -> None:
        self.loose.save(TENANT, USER, ENTRY, document(i))

    def floor(self, i: int) -> None:
        temp = os.path.join(self.floor_dir, f".tmp-{i}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, self.payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, os.path.join(self.floor_dir, "file"))

    def file_operations(self, i: int, before: bool = False) -> None:
        """The system calls of one durable save, in its order, with no engine code: the tenant
        folder checked (lstat: still a folder, not a symlink out of the root), the lock
        (its file kept open between saves: flock, lstat that the path still names it), the
        head's token (lstat of the journal, stat of the head file) and the head read from the
        journal's last frame (one pread), the object looked for (faccessat), the journal append
        (its fd kept open, checked with the token's lstat) + fdatasync, the index append (its
        folder checked: lstat; its fd kept open: lstat, write, fstat), the unlock. The object and the head stay in the
        journal until a checkpoint. `before`: as the engine did before the head stayed in the
        journal (lock file opened per save; head file read; journal opened and closed per save;
        the head's temp file and its rename over the old head after the sync; index opened per
        save)."""
        if before:
            lock = os.open(self.ops_lock, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(lock, fcntl.LOCK_EX)
        else:
            os.lstat(self.ops_dir)  # (the tenant folder, checked once a hold)
            if self.ops_lock_fd is None:
                self.ops_lock_fd = os.open(self.ops_lock, os.O_RDWR | os.O_CREAT, 0o644)
            lock = self.ops_lock_fd
            fcntl.flock(lock, fcntl.LOCK_EX)
            os.lstat(self.ops_lock)
        try:
            if before:
                fd = os.open(self.ops_head, os.O_RDONLY)
                os.read(fd, 4096)
                os.close(fd)
                fd = os.open(self.ops_journal, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            else:
                info = os.lstat(self.ops_journal) if self.ops_fd is not None else None
                if info is not None and info.st_size:
                    os.pread(self.ops_fd, 32, info.st_size - 32)  # the last frame's checksum (the head: cached by then)
                os.stat(self.ops_head)
                os.access(os.path.join(self.ops_objects, f"{i:064x}"), os.F_OK, follow_symlinks=False)
                if self.ops_fd is None or info.st_ino != self.ops_inode:
                    self.ops_fd = os.open(self.ops_journal, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
                    self.ops_inode = os.fstat(self.ops_fd).st_ino
                fd = self.ops_fd
            os.write(fd, self.frame)
            os.fdatasync(fd)
            if before:
                os.close(fd)
                temp = os.path.join(self.ops_dir, f".tmp-{i}")
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                os.write(fd, self.head)
                os.close(fd)
                os.replace(temp, self.ops_head)
                fd = os.open(self.ops_index, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                os.write(fd, self.line)
                os.close(fd)
            else:
                if self.ops_index_fd is None:
                    self.ops_index_fd = os.open(self.ops_index, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                os.lstat(self.ops_dir)  # (the index folder, checked once a hold; here the same folder)
                os.lstat(self.ops_index)
                os.write(self.ops_index_fd, self.line)
                os.fstat(self.ops_index_fd)
        finally:
            if before:
                os.close(lock)
            else:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def sqlite_insert(self, mode: str) -> Callable[[int], None]:
        conn = self.sqlite[mode]
        text = self.payload.decode()

        def insert(i: int) -> None:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO docs (data) VALUES (?)", (text + str(i),))
            conn.execute("COMMIT")

        return insert

    def close(self) -> None:
        for conn in self.sqlite.values():
            conn.close()
        for fd in (self.ops_fd, self.ops_lock_fd, self.ops_index_fd):
            if fd is not None:
                os.close(fd)


def count_syncs(run: Callable[[int], None], first: int, n: int) -> float:
    """fsync + fdatasync calls per run of `run` (the os functions wrapped meanwhile)."""
    calls = [0]
    real = {name: getattr(os, name) for name in ("fsync", "fdatasync") if hasattr(os, name)}

    def counting(function):
        def wrapper(*args):
            calls[0] += 1
            return function(*args)
        return wrapper

    for name, function in real.items():
        setattr(os, name, counting(function))
    try:
        for i in range(first, first + n):
            run(i)
    finally:
        for name, function in real.items():
            setattr(os, name, function)
    return calls[0] / n


def time_checkpoint(engine: DbEngine) -> str:
    """The checkpoint the journal needs every JOURNAL_LIMIT bytes, timed once on the journal the run left."""
    store = engine.storage
    if not hasattr(store, "checkpoint"):
        return ""
    size = os.path.getsize(store.journal_path(TENANT))
    start = time.perf_counter()
    store.checkpoint(TENANT)
    elapsed = time.perf_counter() - start
    return (f"Checkpoint (the files of the journal's objects written, one syncfs, then the journal emptied) "
            f"of the {size / 1e6:.2f} MB journal the run left: "
            f"{format_seconds(elapsed)}; it runs once per {journal_store.JOURNAL_LIMIT / 1e6:.1f} MB of journal.")


READER = r"""
import json, sys, time
from dbengine.dbengine import DbEngine
root, durable, tenant, entry = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
times = {}
start = time.perf_counter()
engine = DbEngine(root, durable=durable)
versions = engine.log(tenant, entry, max_items=None)
times["log"] = time.perf_counter() - start
start = time.perf_counter()
engine.load(tenant, entry)
times["head"] = time.perf_counter() - start
start = time.perf_counter()
for version in versions:
    engine.load(tenant, entry, version.digest)
times["load"] = time.perf_counter() - start
times["versions"] = len(versions)
print(json.dumps(times))
"""
READ_ROWS = ("log", "head", "load")

HEAD_READER = r"""
import json, os, sys, time
from dbengine import journal
from dbengine.dbengine import DbEngine
root, tenant = sys.argv[1], sys.argv[2]
engine = DbEngine(root)
start = time.perf_counter()
data = engine.storage.read_head(tenant)[0]
read = time.perf_counter() - start
start = time.perf_counter()
head = engine.heads.head(tenant)
cached = time.perf_counter() - start
path = engine.storage.journal_path(tenant)
scan = 0.0
if os.path.getsize(path):  # what a reader pays when the last frame is not linked (a torn tail): a scan
    with open(path, "rb") as handle:
        start = time.perf_counter()
        journal.scan(handle.fileno(), os.fstat(handle.fileno()).st_size, lambda record: None)
        scan = time.perf_counter() - start
print(json.dumps({"read": read, "cached": cached, "scan": scan, "entries": len(head), "bytes": len(data)}))
"""


def time_head_reads(work: str, reps: int) -> str:
    """The head read by a fresh process from a journal of ~2 MB of 1 KB saves (its last frame)
    vs the same database after a checkpoint (the head file), and `mydb entries` on both."""
    journal_root, file_root = os.path.join(work, "heads-journal"), os.path.join(work, "heads-file")
    engine = DbEngine(journal_root, durable=True)
    engine.init(TENANT)
    path = os.path.join(journal_root, TENANT, "journal")
    i = 0
    while i == 0 or os.path.getsize(path) < journal_store.JOURNAL_LIMIT - 4 * 1024:
        engine.save(TENANT, USER, f"{ENTRY}-{i % 50}", document(i))
        i += 1
    shutil.copytree(journal_root, file_root)
    storage.LocalStorage(file_root).checkpoint(TENANT)
    size = os.path.getsize(path)
    package = os.path.dirname(os.path.dirname(os.path.abspath(dbengine.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package, os.path.dirname(package)])}
    samples: dict[str, dict[str, list[float]]] = {"journal": {}, "file": {}}
    for _ in range(reps):
        for where, root in (("journal", journal_root), ("file", file_root)):
            out = subprocess.run([sys.executable, "-c", HEAD_READER, root, TENANT], env=env, capture_output=True,
                                 text=True, timeout=300, check=True).stdout
            for key, value in json.loads(out).items():
                samples[where].setdefault(key, []).append(value)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mydb_tui.cli", "entries", TENANT, "--root", root], env=env,
                           capture_output=True, timeout=300, check=True)
            samples[where].setdefault("entries_cli", []).append(time.perf_counter() - start)

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    journal_rows, file_rows = ({k: median(v) for k, v in samples[w].items()} for w in ("journal", "file"))
    return "\n".join([
        "", f"The head read by a fresh process (medians of {reps} processes, interleaved): a tenant of 50 entries "
        f"after {i:,} durable 1 KB saves, its head in the last of the journal's records ({size / 1e6:.2f} MB), "
        "vs the same database after a checkpoint (the head file).", "",
        "| head from | `read_head` (first, cold) | `heads.head` after it | whole-journal scan (not linked) "
        "| `mydb entries` (process) |", "|---|---|---|---|---|",
        f"| journal | {format_seconds(journal_rows['read'])} | {format_seconds(journal_rows['cached'])} "
        f"| {format_seconds(journal_rows['scan'])} | {format_seconds(journal_rows['entries_cli'])} |",
        f"| head file | {format_seconds(file_rows['read'])} | {format_seconds(file_rows['cached'])} | - "
        f"| {format_seconds(file_rows['entries_cli'])} |",
    ])


def time_reads(work: str, versions: int, reps: int) -> str:
    """An entry of `versions` durable saves read by a fresh process (its journal index is
    built once per process): its objects only in the journal vs the same database after a
    checkpoint (loose files), each by a durable and a durable=False engine, interleaved."""
    journal_root, loose_root = os.path.join(work, "reads-journal"), os.path.join(work, "reads-loose")
    engine = DbEngine(journal_root, durable=True)
    engine.init(TENANT)
    for i in range(versions):
        engine.save(TENANT, USER, ENTRY, document(i))
    shutil.copytree(journal_root, loose_root)
    storage.LocalStorage(loose_root).checkpoint(TENANT)
    journal_size = os.path.getsize(os.path.join(journal_root, TENANT, "journal"))
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(dbengine.__file__)))}
    cases = {(where, durable): root for where, root in (("journal", journal_root), ("loose", loose_root))
             for durable in (True, False)}
    samples: dict[tuple, dict[str, list[float]]] = {case: {row: [] for row in READ_ROWS} for case in cases}
    for _ in range(reps):
        for (where, durable), root in cases.items():
            out = subprocess.run([sys.executable, "-c", READER, root, "1" if durable else "0", TENANT, ENTRY],
                                 env=env, capture_output=True, text=True, timeout=300, check=True).stdout
            times = json.loads(out)
            assert times["versions"] == versions, times
            for row in READ_ROWS:
                samples[(where, durable)][row].append(times[row])

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    lines = ["", f"Reads of an entry of {versions:,} durable saves by a fresh process (medians of {reps} processes "
             f"per row, interleaved): its objects only in the journal ({journal_size / 1e6:.2f} MB) vs the same "
             "database after a checkpoint (loose files). `log`: open + `log()` of every version; `get`: the "
             "head's value (`load()`; a snapshot entry has no `get()`); `load`: every version by digest "
             "(each object read).", "",
             "| objects | engine | log | load head | load all | load all / loose |", "|---|---|---|---|---|---|"]
    for (where, durable) in cases:
        mine = {row: median(samples[(where, durable)][row]) for row in READ_ROWS}
        loose = median(samples[("loose", durable)]["load"])
        lines.append(f"| {where} | {'durable' if durable else 'durable=False'} | {format_seconds(mine['log'])} "
                     f"| {format_seconds(mine['head'])} | {format_seconds(mine['load'])} | {mine['load'] / loose:.2f} |")
    return "\n".join(lines)


def run(reps: int, folder: str = HERE) -> tuple[dict[str, Sample], float, str]:
    """Time every row `reps` times, interleaved by rounds; also the fsyncs per save and a checkpoint."""
    work = os.path.join(folder, f"_work-durable-{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}")
    os.makedirs(work)
    try:
        rows = Rows(work)
        timed: dict[str, Callable[[int], None]] = {
            "engine save (durable)": rows.engine_save,
            **({"engine save (durable, journal sync not overlapped)": rows.engine_save_inline}
               if hasattr(storage, "OVERLAP_SYNC") else {}),
            **({BASELINE_ROW: rows.baseline_save} if rows.baseline is not None else {}),
            "floor: temp write + fsync + rename": rows.floor,
            FILE_OPS_ROW: rows.file_operations,
            "file operations as before (the head file read, then written: temp file + rename; journal "
            "opened per save)": lambda i: rows.file_operations(i, before=True),
            "engine save (durable=False: no sync at all)": rows.engine_save_loose,
            "sqlite FULL insert (rollback journal)": rows.sqlite_insert("delete"),
            "sqlite FULL insert (WAL)": rows.sqlite_insert("wal"),
        }
        for function in timed.values():  # warm up: first writes create files and folders
            for i in range(5):
                function(10**8 + i)
        samples = {name: Sample() for name in timed}
        names = list(timed)
        done = 0
        while done < reps:
            batch = min(ROUND, reps - done)
            # each round starts one row later: a row's first write pays for the row before it (its
            # syncs' journal commit: ~30 µs in two runs with the two engines' rows swapped), so every row follows every other alike
            shift = (done // ROUND) % len(names)
            for name in names[shift:] + names[:shift]:
                function = timed[name]
                for i in range(done, done + batch):
                    start = time.perf_counter()
                    function(i)
                    samples[name].seconds.append(time.perf_counter() - start)
            done += batch
        syncs = count_syncs(rows.engine_save, 2 * 10**8, 20)
        checkpoint = time_checkpoint(rows.engine)
        rows.close()
        if READ_VERSIONS and hasattr(storage.LocalStorage, "journal_objects"):
            checkpoint += "\n" + time_reads(work, READ_VERSIONS, READ_REPS)
        if HEAD_READS and hasattr(storage.LocalStorage, "head_source"):
            checkpoint += "\n" + time_head_reads(work, HEAD_READS)
        return samples, syncs, checkpoint
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render(samples: dict[str, Sample], syncs: float, checkpoint: str, command: str, reps: int, label: str,
           folder: str = HERE) -> str:
    engine = samples["engine save (durable)"].median
    floor = samples["floor: temp write + fsync + rename"].median
    where = os.path.dirname(os.path.dirname(dbengine.__file__)) + (f" ({label})" if label else "")
    lines = [
        "# Durable writes against the fsync floor",
        "",
        f"`{command}` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}; "
        f"engine from {where}.",
        "",
        f"Medians of {reps} writes per row, interleaved in rounds of {ROUND}, each round starting one row later "
        f"(same run, same file system"
        + ("" if folder == HERE else f": {folder}") + ").",
        "",
        "| operation | median | p90 | floor / operation |",
        "|---|---|---|---|",
    ]
    for name, sample in samples.items():
        lines.append(f"| {name} | {format_seconds(sample.median)} | {format_seconds(sample.p90)} "
                     f"| {floor / sample.median:.2f}x |")
    lines += [
        "",
        f"**Engine durable save / floor: {floor / engine:.2f}x** (target: 0.5x or better); "
        f"{1 / engine:,.0f} durable saves/s; {syncs:g} fsync/fdatasync calls per save.",
        f"What durability adds to a save (durable minus durable=False medians): "
        f"{format_seconds(max(engine - samples['engine save (durable=False: no sync at all)'].median, 0))}, "
        f"against {format_seconds(floor)} for the floor.",
        *([checkpoint] if checkpoint else []),
        "",
        "- engine: `DbEngine(root, durable=True).save()` of a ~1 KB JSON document, a new version each time.",
        "- engine durable=False: the same save with no fsync at all (what the engine costs besides syncing).",
        "- floor: a 1 KB temp file written, fsynced and renamed over one file (no folder fsync).",
        "- file operations alone: the system calls one durable save makes, in its order, with the same "
        "sizes and no engine code (the lock file kept open: flock + lstat; the head's token: lstat "
        "of the journal, a pread of its last frame's checksum, stat of the head file; faccessat of the "
        "object's path; append + fdatasync on the journal kept open; the index kept open: lstat, "
        "write, fstat; unlock; the object and the head stay in the journal until a checkpoint): the "
        "best a save can do with these files. As before: the lock file opened per save, the head "
        "file read, the journal opened and closed, the head's temp file and rename after the sync, "
        "the index opened per save.",
        "- sqlite: one `INSERT` of a 1 KB row per transaction, `PRAGMA synchronous=FULL`.",
    ]
    if BASELINE_ROW in samples:
        lines.append(f"- baseline: the same durable save by the engine in {BASELINE_FOLDER}, "
                     "timed turn by turn with this one.")
    if any("not overlapped" in name for name in samples):
        lines.append("- not overlapped: the same durable save with `journal_store.OVERLAP_SYNC = False` "
                     "(the journal's fdatasync first, then the files).")
    return "\n".join(lines) + "\n"


def io_pressure() -> str:
    """Linux's `some avg10` of /proc/pressure/io (percent of the last 10 s a task waited on
    I/O), or "n/a" where there is none."""
    try:
        with open("/proc/pressure/io", encoding="ascii") as handle:
            return handle.readline().split()[1].split("=")[1] + "%"
    except (OSError, IndexError):
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500, help="writes per row (default 500)")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS-durable.md"))
    parser.add_argument("--label", default="", help="a word on the engine measured (e.g. its commit)")
    parser.add_argument("--folder", default=HERE, help="where to write (default: bench/; e.g. /dev/shm, "
                                                       "a tmpfs, to time the engine's own cost without a disk)")
    parser.add_argument("--read-versions", type=int, default=1000,
                        help="versions of the entry read from the journal vs loose files (0: skip)")
    parser.add_argument("--head-reads", type=int, default=HEAD_READS,
                        help="fresh processes reading a head from a full journal vs the head file (0: skip)")
    args = parser.parse_args(argv)
    globals()["READ_VERSIONS"] = args.read_versions
    globals()["HEAD_READS"] = args.head_reads
    load_before, io_before = os.getloadavg()[0], io_pressure()
    samples, syncs, checkpoint = run(args.reps, args.folder)
    command = " ".join(["python bench/durable.py", *argv]).strip()
    report = render(samples, syncs, checkpoint, command, args.reps, args.label, args.folder)
    report = report.replace("\nMedians of", f"\nMachine load (1-minute average) {load_before:.1f} before the run, "
                                             f"{os.getloadavg()[0]:.1f} after it (2 cores shared); share of the last "
                                             f"10 s some task waited on I/O (Linux PSI): {io_before} before, "
                                             f"{io_pressure()} after. Others' syncs on the same disk slow every "
                                             "fsync: the ratios mean something only when these are near 0."
                                             "\n\nMedians of", 1)
    write_results(args.out, report)
    print(report)
    print(f"written to {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
