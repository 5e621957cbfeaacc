"""Crash safety: a writer killed with SIGKILL at random instants, many times.

After every kill the database must load, and every write the writer acknowledged
(printed after the call returned) must be there; at the end verify() must be clean.
Sized to ~10-20 s by default (tests/test_crash_ops.py adds 210 kills across several writers); MYDB_STRESS=N runs N times as many rounds.
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

T = "tenant_1"
ROUNDS = 15  # 30 before: cut to keep `make test` under 15 minutes; MYDB_STRESS=N for more

WRITER = r"""
import random, sys
from dbengine.dbengine import DbEngine

root, round_id, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
engine = DbEngine(root)
print("ready", flush=True)
live = []
for i in range(10**9):
    op = rng.random()
    key = f"r{round_id}-{i}"
    if op < 0.55:
        print("try put", key, flush=True)  # a kill after this line may or may not apply the put
        engine.put("tenant_1", "writer", "rec", key, {"round": round_id, "i": i, "pad": "x" * rng.randrange(200)})
        live.append(key)
        print("put", key, flush=True)  # acknowledged: the call returned
    elif op < 0.65 and live:
        gone = live.pop(rng.randrange(len(live)))
        print("try del", gone, flush=True)
        engine.delete("tenant_1", "writer", "rec", gone)
        print("del", gone, flush=True)
    elif op < 0.75:
        print("try many", key, flush=True)
        engine.put_many("tenant_1", "writer", "rec", {f"{key}-{j}": j for j in range(5)})
        print("many", key, flush=True)
    else:
        print("try save", i, flush=True)
        digest = engine.save("tenant_1", "writer", "snap", {"round": round_id, "i": i})
        print("save", digest, i, flush=True)
"""


def run_round(root: str, round_id: int, rng: random.Random) -> list[list[str]]:
    """Start a writer, SIGKILL it at a random instant, return its printed lines."""
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, root, str(round_id), str(rng.randrange(10**9))],
                            stdout=subprocess.PIPE, stderr=errors)
    try:
        if rng.random() < 0.1:
            time.sleep(rng.uniform(0, 0.15))  # sometimes during start-up
        else:
            assert proc.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0.005, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.stdout.read()  # buffered: keeps what readline() read ahead (communicate would not)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        errors.seek(0)
        err = errors.read()
        errors.close()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    proc.stdout.close()
    lines = out.decode().split("\n")
    lines.pop()  # an unterminated last line was never fully printed
    return [line.split() for line in lines if line and line != "ready"]


class Expectation:
    """What the acknowledged writes say the database must hold."""

    def __init__(self):
        self.records: dict[str, int | None] = {}  # key -> value for put_many keys, None for puts
        self.deleted: set[str] = set()
        self.maybe: set[str] = set()  # keys of the write in flight at a kill: either way is fine
        self.saves: dict[str, int] = {}

    def add_round(self, lines: list[list[str]]) -> None:
        pending = None
        for line in lines:
            if line[0] == "try":
                pending = line[1:]
                continue
            pending = None
            assert len(line) >= 2, (line, lines)
            op, arg = line[0], line[1]
            if op == "put":
                self.records[arg] = None
            elif op == "many":
                self.records.update({f"{arg}-{j}": j for j in range(5)})
            elif op == "del":
                self.records.pop(arg, None)
                self.deleted.add(arg)
            else:
                self.saves[arg] = int(line[2])
        if pending is not None:
            op, arg = pending
            if op == "put":
                self.maybe.add(arg)
            elif op == "many":
                self.maybe.update(f"{arg}-{j}" for j in range(5))
            elif op == "del":
                self.records.pop(arg, None)
                self.maybe.add(arg)

    def check(self, engine: DbEngine) -> None:
        if engine.exists(T, "rec"):
            records = engine.read_records(T, engine.get_digest(T, "rec"))
        else:
            records = {}
        lost = set(self.records) - set(records)
        assert not lost, f"acknowledged puts lost: {sorted(lost)[:5]}"
        for key, value in self.records.items():
            if value is None:
                assert records[key]["i"] == int(key.rsplit("-", 1)[1])
            else:
                assert records[key] == value
        unexpected = set(records) - set(self.records) - self.maybe
        assert not unexpected, f"records nobody wrote or deleted ones back: {sorted(unexpected)[:5]}"
        assert not (self.deleted & set(records)), "acknowledged deletes lost"
        if self.saves:
            history = set(engine.history(T, "snap", max_items=None))
            for digest, i in self.saves.items():
                assert digest in history, f"acknowledged save {digest[:12]} lost"
                assert engine.load(T, "snap", digest=digest)["i"] == i


def chain_from_objects(engine: DbEngine, entry: str) -> list[str]:
    chain, cursor = [], engine.get_digest(T, entry)
    while cursor:
        chain.append(cursor)
        cursor = engine.read_snapshot(T, cursor)["__parent__"][0]
    return chain


@pytest.mark.slow
def test_sigkill_at_random_instants(make_engine, stress_factor):
    engine = make_engine(durable=True)
    engine.init(T)
    seed = int(os.environ.get("MYDB_CRASH_SEED", "0")) or random.randrange(10**9)
    print(f"MYDB_CRASH_SEED={seed}")  # shown on failure: rerun the same kill instants
    rng = random.Random(seed)
    rounds = ROUNDS * stress_factor
    expected = Expectation()
    total_acks = 0
    for round_id in range(rounds):
        lines = run_round(engine.root, round_id, rng)
        total_acks += sum(1 for line in lines if line[0] != "try")
        expected.add_round(lines)
        cold = DbEngine(engine.root, durable=False)  # a fresh process's view
        for entry in cold.entries(T):  # every head loads
            if cold.entry_kind(T, entry) == "records":
                cold.get(T, entry)
            else:
                cold.load(T, entry)
        expected.check(cold)
        if round_id % 10 == 9:
            report = cold.verify()
            assert report.ok, [str(p) for p in report.problems]
    final = DbEngine(engine.root)
    report = final.verify()
    assert report.ok, [str(p) for p in report.problems]
    assert total_acks > rounds  # the writer did get work done between kills
    for entry in final.entries(T):
        assert final.history(T, entry, max_items=None) == chain_from_objects(final, entry)
    records = final.read_records(T, final.get_digest(T, "rec"))
    assert final.read_snapshot(T, final.get_digest(T, "rec"))["__count__"] == len(records)
    # The database stays writable after all those kills.
    final.put(T, "after", "rec", "after", 1)
    assert final.get(T, "rec", key="after") == 1
