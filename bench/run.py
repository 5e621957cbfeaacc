"""`make bench`: time the engine against plain sqlite3 on growing histories and collections.

One snapshot entry grows to each size in `--sizes` (versions) and one record entry to
the same sizes (records); at each size the same operations run on the engine and on
sqlite, repeated, and the medians, 90th percentiles and ratios go to bench/RESULTS.md.
Everything is written under bench/_work-<timestamp>/, deleted only at the very end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from dbengine.dbengine import DbEngine
from sqlite_yardstick import SqliteStore
from timing import (
    Sample,
    file_stamps,
    format_bytes,
    format_seconds,
    machine,
    measure,
    write_results,
)

HERE = os.path.dirname(os.path.abspath(__file__))
USER = "bench"
SNAP_TENANT, SNAP_ENTRY = "snap", "settings"
REC_TENANT, REC_ENTRY = "rec", "people"
MANY = 100  # records per put_many


@dataclass
class Row:
    size: int
    operation: str
    fsync: str  # "on", "off" or "" (reads)
    engine: Sample
    sqlite: Sample


@dataclass
class Config:
    sizes: list[int]
    reps: int
    budget: float
    journal: str


def snapshot_value(i: int) -> dict:
    """A settings-like document of about 250 bytes; `i` makes each version distinct."""
    return {
        "title": f"quarterly report {i}",
        "counter": i,
        "owner": "alice",
        "tags": ["finance", "q3", "draft"],
        "settings": {"theme": "dark", "lang": "en", "page_size": 50 + i % 17},
        "notes": "numbers checked against the ledger; see the attached sheet",
        "ratio": i / 7,
    }


def record_value(i: int, version: int = 0) -> dict:
    """A record of about 100 bytes stored."""
    return {"name": f"user-{i:06d}", "email": f"user{i}@example.org", "age": 20 + i % 60,
            "team": "blue" if i % 2 else "green", "v": version}


def record_key(i: int) -> str:
    return f"user-{i:06d}"


class Bench:
    """The two databases under test and the operations timed on them."""

    def __init__(self, work: str, config: Config):
        self.config = config
        self.root = os.path.join(work, "db")
        self.setup_engine = DbEngine(self.root, durable=False)
        self.setup_engine.init(SNAP_TENANT)
        self.setup_engine.init(REC_TENANT)
        self.sql = SqliteStore(os.path.join(work, "yardstick.sqlite"), durable=False, journal=config.journal)
        self.versions = 0
        self.records = 0
        self.counter = 10_000_000  # distinct values for timed writes
        self.rows: list[Row] = []
        self.setup_notes: list[str] = []
        self.rng = random.Random(1234)

    # ------------------------------------------------------------------ setup
    def grow(self, size: int) -> None:
        """Bring the snapshot entry to `size` versions and the record entry to `size` records."""
        add = size - self.versions
        if add > 0:
            start = time.perf_counter()
            for i in range(self.versions, size):
                self.setup_engine.save(SNAP_TENANT, USER, SNAP_ENTRY, snapshot_value(i))
            engine_s = time.perf_counter() - start
            start = time.perf_counter()
            self.sql.save_bulk(USER, SNAP_ENTRY, (snapshot_value(i) for i in range(self.versions, size)), _date())
            sqlite_s = time.perf_counter() - start
            self.versions = size
            self.setup_notes.append(
                f"{add:,} versions added with engine.save(durable=False), one save each: "
                f"{engine_s:.1f} s ({engine_s / add * 1e3:.2f} ms/save); sqlite, one transaction: {sqlite_s:.2f} s"
            )
        add = size - self.records
        if add > 0:
            items = {record_key(i): record_value(i) for i in range(self.records, size)}
            start = time.perf_counter()
            self.setup_engine.put_many(REC_TENANT, USER, REC_ENTRY, items)
            engine_s = time.perf_counter() - start
            start = time.perf_counter()
            self.sql.put_many(USER, REC_ENTRY, items, _date())
            sqlite_s = time.perf_counter() - start
            self.records = size
            self.setup_notes.append(
                f"{add:,} records added with one engine.put_many(durable=False): {engine_s:.2f} s; "
                f"sqlite, one transaction: {sqlite_s:.2f} s"
            )

    # ------------------------------------------------------------------ helpers
    def _time(self, size: int, operation: str, fsync: str, engine: dict, sqlite: dict) -> None:
        reps, budget = self.config.reps, self.config.budget
        row = Row(size, operation, fsync,
                  measure(reps=reps, budget=budget, **engine),
                  measure(reps=reps, budget=budget, **sqlite))
        self.rows.append(row)
        print(_row_line(row), flush=True)

    def _entry_files(self, engine: DbEngine, tenant: str, entry: str) -> Callable[[], dict[str, tuple]]:
        """Sizes of the files a write of `entry` can create or change: head, index, head object, its buckets."""
        storage = engine.storage

        def files() -> dict[str, tuple]:
            head = engine.get_digest(tenant, entry)
            paths = [storage.head_path(tenant), storage.index_path(tenant, entry), storage.object_path(tenant, head)]
            document = engine.read_snapshot(tenant, head)
            for bucket in document.get("__buckets__", {}).values():
                paths.append(storage.object_path(tenant, bucket))
            return file_stamps(paths)

        return files

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    # ------------------------------------------------------------------ snapshot entry
    def snapshot_reads(self, n: int) -> None:
        root, sql = self.root, self.sql
        warm = DbEngine(root)
        warm.load(SNAP_TENANT, SNAP_ENTRY)
        warm.log(SNAP_TENANT, SNAP_ENTRY, max_items=None)
        fresh: list[DbEngine] = [warm]

        def new_engine(_i: int) -> None:
            fresh[0] = DbEngine(root)

        def reopen(_i: int) -> None:
            sql.reopen()

        self._time(n, "load head (warm instance)", "",
                   {"run": lambda i: warm.load(SNAP_TENANT, SNAP_ENTRY)},
                   {"run": lambda i: sql.load(SNAP_ENTRY)})
        self._time(n, "load head (cold: new instance)", "",
                   {"run": lambda i: fresh[0].load(SNAP_TENANT, SNAP_ENTRY), "setup": new_engine},
                   {"run": lambda i: sql.load(SNAP_ENTRY), "setup": reopen})
        digests = warm.history(SNAP_TENANT, SNAP_ENTRY, max_items=None)[::-1]
        ids = sql.version_ids(SNAP_ENTRY)
        picks = [self.rng.randrange(0, n // 2) for _ in range(self.config.reps)]
        self._time(n, "load an old version (not cached)", "",
                   {"run": lambda i: warm.load(SNAP_TENANT, SNAP_ENTRY, digests[picks[i]])},
                   {"run": lambda i: sql.load(SNAP_ENTRY, ids[picks[i]])})
        self._time(n, f"log, all {n:,} versions (cold: new instance)", "",
                   {"run": lambda i: fresh[0].log(SNAP_TENANT, SNAP_ENTRY, max_items=None), "setup": new_engine},
                   {"run": lambda i: sql.log(SNAP_ENTRY, 10**9), "setup": reopen})
        self._time(n, f"log, all {n:,} versions (cold), sqlite rows built into the same Version objects", "",
                   {"run": lambda i: fresh[0].log(SNAP_TENANT, SNAP_ENTRY, max_items=None), "setup": new_engine},
                   {"run": lambda i: sql.log_versions(SNAP_ENTRY, 10**9), "setup": reopen})
        self._time(n, f"log, all {n:,} versions (warm instance)", "",
                   {"run": lambda i: warm.log(SNAP_TENANT, SNAP_ENTRY, max_items=None)},
                   {"run": lambda i: sql.log(SNAP_ENTRY, 10**9)})
        self._time(n, "log, newest 1,000 versions (cold)", "",
                   {"run": lambda i: fresh[0].log(SNAP_TENANT, SNAP_ENTRY), "setup": new_engine},
                   {"run": lambda i: sql.log(SNAP_ENTRY, 1000), "setup": reopen})
        self._time(n, f"history (digests), all {n:,} (cold)", "",
                   {"run": lambda i: fresh[0].history(SNAP_TENANT, SNAP_ENTRY, max_items=None), "setup": new_engine},
                   {"run": lambda i: [r[0] for r in sql.log(SNAP_ENTRY, 10**9)], "setup": reopen})

    def snapshot_writes(self, n: int, durable: bool) -> None:
        fsync = "on" if durable else "off"
        engine = DbEngine(self.root, durable=durable)
        engine.load(SNAP_TENANT, SNAP_ENTRY)
        self.sql.set_durable(durable)
        files = self._entry_files(engine, SNAP_TENANT, SNAP_ENTRY)
        self._time(n, "save (new version)", fsync,
                   {"run": lambda i: engine.save(SNAP_TENANT, USER, SNAP_ENTRY, snapshot_value(self._next())),
                    "files": files},
                   {"run": lambda i: self.sql.save(USER, SNAP_ENTRY, snapshot_value(self._next()), _date())})
        same = snapshot_value(self._next())
        engine.save(SNAP_TENANT, USER, SNAP_ENTRY, same)
        self.sql.save(USER, SNAP_ENTRY, same, _date())
        self._time(n, "save (unchanged: no new version)", fsync,
                   {"run": lambda i: engine.save(SNAP_TENANT, USER, SNAP_ENTRY, same), "files": files},
                   {"run": lambda i: self.sql.save(USER, SNAP_ENTRY, same, _date())})

    # ------------------------------------------------------------------ record entry
    def record_reads(self, n: int) -> None:
        root, sql = self.root, self.sql
        warm = DbEngine(root)
        warm.get(REC_TENANT, REC_ENTRY)
        fresh: list[DbEngine] = [warm]

        def new_engine(_i: int) -> None:
            fresh[0] = DbEngine(root)

        def reopen(_i: int) -> None:
            sql.reopen()

        keys = [record_key(self.rng.randrange(n)) for _ in range(self.config.reps)]
        self._time(n, "get one record (warm instance)", "",
                   {"run": lambda i: warm.get(REC_TENANT, REC_ENTRY, keys[i])},
                   {"run": lambda i: sql.get(REC_ENTRY, keys[i])})
        self._time(n, "get one record (cold: new instance)", "",
                   {"run": lambda i: fresh[0].get(REC_TENANT, REC_ENTRY, keys[i]), "setup": new_engine},
                   {"run": lambda i: sql.get(REC_ENTRY, keys[i]), "setup": reopen})
        self._time(n, f"get all {n:,} records (warm instance)", "",
                   {"run": lambda i: warm.get(REC_TENANT, REC_ENTRY)},
                   {"run": lambda i: sql.get_all(REC_ENTRY)})
        self._time(n, f"get all {n:,} records (cold: new instance)", "",
                   {"run": lambda i: fresh[0].get(REC_TENANT, REC_ENTRY), "setup": new_engine},
                   {"run": lambda i: sql.get_all(REC_ENTRY), "setup": reopen})

    def record_writes(self, n: int, durable: bool) -> None:
        fsync = "on" if durable else "off"
        engine = DbEngine(self.root, durable=durable)
        engine.get(REC_TENANT, REC_ENTRY)
        self.sql.set_durable(durable)
        files = self._entry_files(engine, REC_TENANT, REC_ENTRY)
        keys = [record_key(self.rng.randrange(n)) for _ in range(self.config.reps)]

        def put_existing(i: int, target) -> None:
            value = record_value(i, self._next())
            if target is engine:
                engine.put(REC_TENANT, USER, REC_ENTRY, keys[i], value)
            else:
                self.sql.put_many(USER, REC_ENTRY, {keys[i]: value}, _date())

        def new_keys(count: int) -> list[str]:
            return [f"new-{self._next()}" for _ in range(count)]

        self._time(n, f"put: update 1 record of {n:,}", fsync,
                   {"run": lambda i: put_existing(i, engine), "files": files},
                   {"run": lambda i: put_existing(i, None)})
        self._time(n, f"put: add 1 record to {n:,}", fsync,
                   {"run": lambda i: engine.put(REC_TENANT, USER, REC_ENTRY, new_keys(1)[0], record_value(i)),
                    "files": files},
                   {"run": lambda i: self.sql.put_many(USER, REC_ENTRY, {new_keys(1)[0]: record_value(i)}, _date())})
        self._time(n, f"put_many: add {MANY} records to {n:,}", fsync,
                   {"run": lambda i: engine.put_many(REC_TENANT, USER, REC_ENTRY,
                                                     {k: record_value(i) for k in new_keys(MANY)}),
                    "files": files},
                   {"run": lambda i: self.sql.put_many(USER, REC_ENTRY,
                                                       {k: record_value(i) for k in new_keys(MANY)}, _date())})

    def run_size(self, n: int) -> None:
        self.grow(n)
        self.snapshot_reads(n)
        self.record_reads(n)
        for durable in (True, False):
            self.snapshot_writes(n, durable)
            self.record_writes(n, durable)


def _date() -> str:
    return dt.datetime.now().astimezone().strftime("%Y%m%d %H:%M:%S %z")


def _ratio(row: Row) -> str:
    return f"{row.engine.median / row.sqlite.median:.2f}" if row.sqlite.median else ""


def _row_line(row: Row) -> str:
    fsync = f" [fsync {row.fsync}]" if row.fsync else ""
    return (f"{row.size:>7,}  {row.operation + fsync:<52} engine {format_seconds(row.engine.median):>10} "
            f"sqlite {format_seconds(row.sqlite.median):>10}  x{_ratio(row)}")


def _machine() -> str:
    import sqlite3

    return machine(f"sqlite {sqlite3.sqlite_version}")


def render(bench: Bench, command: str, started: float, config: Config) -> str:
    rows = bench.rows
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %z}",
        f"- Machine: {_machine()}",
        f"- Command: `{command}`",
        f"- Total run time: {time.perf_counter() - started:.0f} s; load average at the end "
        f"(1/5/15 min): {' / '.join(f'{x:.1f}' for x in os.getloadavg())}: other processes on the "
        "machine add noise, compare medians from the same run only",
        f"- Repetitions: up to {config.reps} per operation (at least 3; fewer once {config.budget:g} s "
        "of timed work is spent); medians and 90th percentiles (p90) of those runs.",
        "",
        "How to read it:",
        "",
        "- *engine/sqlite* is the ratio of the medians (below 1: the engine is faster).",
        "- *fsync on*: the engine with `durable=True` against sqlite with `synchronous=FULL`; "
        "*fsync off*: `durable=False` against `synchronous=OFF`. Reads do not depend on it.",
        f"- sqlite: plain `sqlite3`, journal_mode={config.journal}, one table of versions "
        "(entry, parent, user, date, JSON data) and a table of current records upserted in the "
        "same transaction as the version row; one transaction per write. sqlite keeps no history "
        "of records (the engine keeps every version), so on puts it does less work.",
        "- *cold*: a new `DbEngine` instance (empty in-memory caches) or a new sqlite connection; "
        "the operating system's file cache is warm in both cases. *warm*: the same instance again.",
        "- *engine bytes*: size of the files the write created (new snapshot object, new bucket "
        "objects) plus the rewritten head and the bytes appended to the history index. "
        "*write() bytes*: bytes passed to write() by the process (`wchar` of /proc/self/io), for both.",
        "- Setup (untimed) builds the histories with `durable=False`: one `save()` per version for "
        "the snapshot entry, one `put_many()` per size step for the record entry; sqlite inserts "
        "the same data in one transaction. The entries grow from one size to the next (the "
        "timed writes add a few versions/records on the way).",
        "",
    ]
    lines += _headline(rows)
    for size in config.sizes:
        lines += [f"## {size:,} versions / records", "",
                  "| operation | fsync | engine median (p90) | sqlite median (p90) | engine/sqlite | engine bytes | write() bytes engine / sqlite |",
                  "|---|---|---|---|---|---|---|"]
        for row in (r for r in rows if r.size == size):
            engine_bytes = format_bytes(row.engine.median_file_bytes)
            wchar = ""
            if row.fsync:
                wchar = f"{format_bytes(row.engine.median_write_bytes)} / {format_bytes(row.sqlite.median_write_bytes)}"
            lines.append(
                f"| {row.operation} | {row.fsync or '–'} "
                f"| {format_seconds(row.engine.median)} ({format_seconds(row.engine.p90)}) "
                f"| {format_seconds(row.sqlite.median)} ({format_seconds(row.sqlite.p90)}) "
                f"| {_ratio(row)} | {engine_bytes} | {wchar} |"
            )
        lines.append("")
    lines += ["## Setup", ""] + [f"- {note}" for note in bench.setup_notes] + [""]
    return "\n".join(lines)


def _headline(rows: list[Row]) -> list[str]:
    """The numbers issue 2 asks about, picked from the tables."""
    def line(row: Row, what: str) -> str:
        text = (f"- {what}, {row.size:,}: engine {format_seconds(row.engine.median)}, "
                f"sqlite {format_seconds(row.sqlite.median)} (engine/sqlite {_ratio(row)})")
        if row.engine.median_file_bytes is not None:
            text += f"; engine writes {format_bytes(row.engine.median_file_bytes)} per call"
        return text

    picks = [
        ("log of all versions, cold", lambda r: r.operation.startswith("log, all") and "new instance" in r.operation),
        ("log of all versions, cold, against sqlite rows built into Versions",
         lambda r: r.operation.startswith("log, all") and "same Version" in r.operation),
        ("history (digests) of all versions, cold", lambda r: r.operation.startswith("history (digests)")),
        ("log of all versions, warm", lambda r: r.operation.startswith("log, all") and "warm" in r.operation),
        ("save, fsync on", lambda r: r.operation.startswith("save (new") and r.fsync == "on"),
        ("save, fsync off", lambda r: r.operation.startswith("save (new") and r.fsync == "off"),
        ("put (update 1 record), fsync on", lambda r: r.operation.startswith("put: update") and r.fsync == "on"),
        ("put (update 1 record), fsync off", lambda r: r.operation.startswith("put: update") and r.fsync == "off"),
        (f"put_many of {MANY}, fsync on", lambda r: r.operation.startswith("put_many") and r.fsync == "on"),
        (f"put_many of {MANY}, fsync off", lambda r: r.operation.startswith("put_many") and r.fsync == "off"),
        ("get one record, warm", lambda r: r.operation.startswith("get one record (warm")),
        ("get all records, warm", lambda r: r.operation.startswith("get all") and "warm" in r.operation),
        ("load an old version", lambda r: r.operation.startswith("load an old")),
    ]
    lines = ["## Headline", ""]
    for what, matches in picks:
        found = [r for r in rows if matches(r)]
        sizes = {10_000, max(r.size for r in found)} if found and what.startswith(("log", "history")) else \
            {max(r.size for r in found)} if found else set()
        lines += [line(r, what) for r in found if r.size in sizes]
    return lines + [""]


def parse_args(argv: list[str]) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="comma-separated sizes (default 1000,10000,100000)")
    parser.add_argument("--quick", action="store_true", help="sizes 1000,10000 and fewer repetitions (< 1 min)")
    parser.add_argument("--reps", type=int, default=None, help="maximum repetitions per operation")
    parser.add_argument("--journal", default="delete", help="sqlite journal_mode (default: delete, sqlite's own)")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"), help="markdown output file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    sizes_text = args.sizes or ("1000,10000" if args.quick else "1000,10000,100000")
    sizes = sorted(int(s.replace("_", "")) for s in sizes_text.split(",") if s.strip())
    if not sizes or sizes[0] < 10:
        parser.error("--sizes: give sizes of at least 10")
    reps = args.reps or (8 if args.quick else 25)
    budget = 0.25 if args.quick else 1.0
    return Config(sizes, reps, budget, args.journal), args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config, args = parse_args(argv)
    started = time.perf_counter()
    work = os.path.join(HERE, f"_work-{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}")
    os.makedirs(work)
    command = " ".join(["python bench/run.py", *argv]).strip()
    try:
        bench = Bench(work, config)
        for size in config.sizes:
            bench.run_size(size)
        bench.sql.close()
        report = render(bench, command, started, config)
        write_results(args.out, report)
        print()
        print(report)
        print(f"written to {os.path.relpath(args.out)}")
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            print(f"deleting {os.path.relpath(work)} ...", flush=True)
            start = time.perf_counter()
            shutil.rmtree(work, ignore_errors=True)
            print(f"deleted in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
