"""Crashes across every write operation, with several writers at once.

Each round starts WRITERS processes that save, restore, put, put_many, delete and import
into the same tenant (and entries) and SIGKILLs each at its own random instant. Every
writer prints what it is about to do and, once the call returned, the acknowledgement;
after every round a fresh engine must load every head and hold every acknowledged write
(tests/test_crash.py's Expectation checks the records and saves), and verify() must be
clean. Default: 15 rounds x 3 writers = 45 SIGKILLs (~20 s); MYDB_STRESS=N runs N times
as many rounds. MYDB_CRASH_SEED replays the same kill instants.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from dbengine.dbengine import DbEngine
from test_crash import Expectation, chain_from_objects

T = "tenant_1"
ROUNDS = 15  # 70, 40 and 25 before: cut to keep `make test` under 15 minutes; MYDB_STRESS=N for more
WRITERS = 3

WRITER = r"""
import random, sys
from dbengine.dbengine import DbEngine
from dbengine.errors import ConflictError

root, name, seed, export = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
engine = DbEngine(root)
print("ready", flush=True)
live, saved = [], []
for i in range(10**9):
    op = rng.random()
    key = f"r{name}-{i}"
    if op < 0.40:
        print("try put", key, flush=True)
        engine.put("tenant_1", name, "rec", key, {"i": i, "pad": "x" * rng.randrange(200)})
        live.append(key)
        print("put", key, flush=True)
    elif op < 0.50 and live:
        gone = live.pop(rng.randrange(len(live)))
        print("try del", gone, flush=True)
        engine.delete("tenant_1", name, "rec", gone)
        print("del", gone, flush=True)
    elif op < 0.60:
        print("try many", key, flush=True)
        engine.put_many("tenant_1", name, "rec", {f"{key}-{j}": j for j in range(5)})
        print("many", key, flush=True)
    elif op < 0.80:
        print("try save", i, flush=True)
        digest = engine.save("tenant_1", name, "snap", {"round": name, "i": i})
        saved.append(digest)
        print("save", digest, i, flush=True)
    elif op < 0.90 and saved:
        source = rng.choice(saved)
        print("try restore", source, flush=True)
        try:
            digest = engine.restore("tenant_1", name, "snap", source)
        except ConflictError:  # it is already the head
            print("noop restore", source, flush=True)
            continue
        print("restore", digest, source, flush=True)
    else:
        tenant = f"imp-{name}-{i}"
        print("try import", tenant, flush=True)
        with open(export) as lines:
            engine.import_jsonl(lines, tenant_id=tenant)
        print("import", tenant, flush=True)
"""


class OpsExpectation(Expectation):
    """Expectation of test_crash.py, plus acknowledged restores and imports."""

    def __init__(self, export_heads: dict[str, str]):
        super().__init__()
        self.export_heads = export_heads
        self.restores: list[tuple[str, str]] = []  # (new digest, restored digest)
        self.imports: list[str] = []

    def add_round(self, lines: list[list[str]]) -> None:
        plain = []
        for line in lines:
            if line[0] == "restore":
                self.restores.append((line[1], line[2]))
            elif line[0] == "import":
                self.imports.append(line[1])
            elif line[0] == "noop" or (line[0] == "try" and line[1] in ("restore", "import")):
                continue
            else:
                plain.append(line)
        super().add_round(plain)

    def check(self, engine: DbEngine) -> None:
        super().check(engine)
        if self.restores:
            history = set(engine.history(T, "snap", max_items=None))
            for digest, source in self.restores:
                assert digest in history, f"acknowledged restore {digest[:12]} lost"
                assert engine.load(T, "snap", digest=digest) == engine.load(T, "snap", digest=source)
                assert engine.version(T, "snap", digest).restored_from == source
        for tenant in self.imports:
            for entry, head in self.export_heads.items():
                assert engine.get_digest(tenant, entry) == head, f"acknowledged import {tenant} lost"


def make_export(path: str, base: str) -> dict[str, str]:
    source = DbEngine(os.path.join(base, "source"), durable=False)
    source.init("src")
    for i in range(3):
        source.save("src", "s", "cfg", {"i": i, "blob": b"x" * 100})
    source.put_many("src", "s", "people", {f"p{i}": i for i in range(20)})
    with open(path, "w") as out:
        out.writelines(source.export_jsonl("src"))
    return {entry: source.get_digest("src", entry) for entry in source.entries("src")}


def run_writers(root: str, round_id: int, export: str, rng: random.Random) -> tuple[list[list[list[str]]], int]:
    """Start the writers, SIGKILL each at its own random instant; their printed lines, and kills."""
    procs, outs = [], []
    folder = tempfile.mkdtemp()
    for w in range(WRITERS):
        name = f"{round_id}w{w}"
        outs.append(os.path.join(folder, name))
        with open(outs[-1], "ab") as out:  # O_APPEND: the child's writes never race our reads
            procs.append(subprocess.Popen(
                [sys.executable, "-c", WRITER, root, name, str(rng.randrange(10**9)), export],
                stdout=out, stderr=subprocess.STDOUT))
    try:
        if rng.random() < 0.1:
            time.sleep(rng.uniform(0, 0.15))  # sometimes during start-up
        else:
            deadline = time.monotonic() + 30
            for out in outs:
                while not _started(out):
                    assert time.monotonic() < deadline, "writer did not start"
                    time.sleep(0.005)
        start = time.monotonic()
        for when, proc in sorted((rng.uniform(0.01, 0.35), i) for i, _ in enumerate(procs)):
            time.sleep(max(0.0, start + when - time.monotonic()))
            os.kill(procs[proc].pid, signal.SIGKILL)
        for proc in procs:
            proc.wait(30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    results = []
    for proc, out in zip(procs, outs, strict=True):
        with open(out, "rb") as handle:
            text = handle.read().decode()
        os.remove(out)
        assert proc.returncode == -signal.SIGKILL, text  # killed, never failed on its own
        lines = text.split("\n")
        lines.pop()  # an unterminated last line was never fully printed
        results.append([line.split() for line in lines if line and line != "ready"])
    os.rmdir(folder)
    return results, len(procs)


def _started(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(6) == b"ready\n"


@pytest.mark.slow
def test_sigkill_of_several_writers_across_all_operations(tmp_path, stress_factor):
    root = str(tmp_path / "db")
    DbEngine(root).init(T)
    export = str(tmp_path / "export.jsonl")
    expected = OpsExpectation(make_export(export, str(tmp_path)))
    seed = int(os.environ.get("MYDB_CRASH_SEED", "0")) or random.randrange(10**9)
    print(f"MYDB_CRASH_SEED={seed}")
    rng = random.Random(seed)
    rounds = ROUNDS * stress_factor
    kills = acks = 0
    started = time.monotonic()
    for round_id in range(rounds):
        per_writer, killed = run_writers(root, round_id, export, rng)
        kills += killed
        for lines in per_writer:
            acks += sum(1 for line in lines if line[0] not in ("try", "noop"))
            expected.add_round(lines)
        cold = DbEngine(root, durable=False)
        for tenant in cold.tenants():
            for entry in cold.entries(tenant):  # every head loads
                if cold.entry_kind(tenant, entry) == "records":
                    cold.get(tenant, entry)
                else:
                    cold.load(tenant, entry)
        expected.check(cold)
        if round_id % 10 == 9:
            report = cold.verify()
            assert report.ok, [str(p) for p in report.problems]
    final = DbEngine(root)
    report = final.verify()
    assert report.ok, [str(p) for p in report.problems]
    for entry in final.entries(T):
        assert final.history(T, entry, max_items=None) == chain_from_objects(final, entry)
    assert acks > kills, "the writers got work done between kills"
    assert expected.restores and expected.imports and expected.saves and expected.deleted
    final.put(T, "after", "rec", "after", 1)
    assert final.get(T, "rec", key="after") == 1
    print(f"{kills} SIGKILLs over {rounds} rounds of {WRITERS} writers, {acks} acknowledged writes "
          f"({len(expected.records)} records, {len(expected.saves)} saves, {len(expected.restores)} restores, "
          f"{len(expected.imports)} imports, {len(expected.deleted)} deletes) all present, "
          f"{time.monotonic() - started:.1f} s")
