"""Several writers at once, in real processes and in threads: no update is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from dbengine.dbengine import DbEngine

T = "tenant_1"

WRITER = r"""
import os, sys, time
from dbengine.dbengine import DbEngine

root, worker, count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
engine = DbEngine(root)
go = os.path.join(root, "go")
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(count):
    if mode == "records":
        assert engine.put("tenant_1", f"w{worker}", "shared", f"p{worker}-{i:03d}", {"p": worker, "i": i})
        if i % 10 == 0:
            engine.save("tenant_1", f"w{worker}", f"own{worker}", {"i": i})
    else:
        engine.save("tenant_1", f"w{worker}", "snap", {"p": worker, "i": i})
print("done", flush=True)
"""


def run_writers(root: str, workers: int, count: int, mode: str) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, root, str(w), str(count), mode],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(workers)]
    time.sleep(0.3)  # let every process import and wait at the start line
    with open(os.path.join(root, "go"), "w"):
        pass
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    os.unlink(os.path.join(root, "go"))


def chain_from_objects(engine: DbEngine, entry: str) -> list[str]:
    chain, cursor = [], engine.get_digest(T, entry)
    while cursor:
        chain.append(cursor)
        cursor = engine.read_snapshot(T, cursor)["__parent__"][0]
    return chain


def test_four_processes_put_into_one_entry(engine):
    run_writers(engine.root, 4, 60, "records")
    fresh = DbEngine(engine.root)
    records = fresh.get(T, "shared")
    assert len(records) == 240
    assert sorted((r["p"], r["i"]) for r in records) == [(p, i) for p in range(4) for i in range(60)]
    for p in range(4):  # each writer's records appear in its own order
        assert [r["i"] for r in records if r["p"] == p] == list(range(60))
    history = fresh.history(T, "shared", max_items=None)
    assert len(history) == 240
    assert history == chain_from_objects(fresh, "shared")
    log = fresh.log(T, "shared", max_items=None)
    assert all(v.summary.added == 1 for v in log)
    assert sorted(v.user_id for v in log) == sorted(f"w{p}" for p in range(4) for _ in range(60))
    assert fresh.read_snapshot(T, history[0])["__count__"] == 240
    assert fresh.entries(T) == ["own0", "own1", "own2", "own3", "shared"]  # no head update lost
    assert all(len(fresh.history(T, f"own{p}")) == 6 for p in range(4))
    assert engine.get(T, "shared") == records  # a warm engine of this process sees the same
    assert fresh.verify().ok


def test_two_processes_save_the_same_entry(engine):
    run_writers(engine.root, 2, 50, "snapshot")
    fresh = DbEngine(engine.root)
    history = fresh.history(T, "snap", max_items=None)
    assert len(history) == 100
    assert history == chain_from_objects(fresh, "snap")
    values = [fresh.load(T, "snap", digest=d) for d in history]
    assert sorted((v["p"], v["i"]) for v in values) == [(p, i) for p in range(2) for i in range(50)]
    assert fresh.verify().ok


def test_threads_share_one_engine_and_use_their_own(engine):
    shared = DbEngine(engine.root, durable=False)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        try:
            mine = shared if worker % 2 else DbEngine(engine.root, durable=False)
            start.wait()
            for i in range(30):
                mine.put(T, f"t{worker}", "threads", f"t{worker}-{i}", i)
                if i % 6 == 0:
                    mine.save(T, f"t{worker}", "snap", {"w": worker, "i": i})
                    mine.get(T, "threads")
                    mine.log(T, "threads", max_items=5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    for eng in (shared, DbEngine(engine.root)):
        assert len(eng.get(T, "threads")) == 240
        assert len(eng.history(T, "threads", max_items=None)) == 240
        assert len(eng.history(T, "snap", max_items=None)) == 40
        assert eng.history(T, "threads", max_items=None) == chain_from_objects(eng, "threads")
    assert shared.verify().ok


def test_a_reader_never_keeps_a_stale_head(engine):
    """Heads are replaced by rename, so their inode numbers get reused and their size stays
    the same; a reader's cache must still notice every change, however fast they come."""
    reader = DbEngine(engine.root, durable=False)
    writer = DbEngine(engine.root, durable=False)
    writer.save(T, "w", "fast", 0)
    writer.put(T, "w", "recs", "k", 0)
    for i in range(1, 300):
        writer.save(T, "w", "fast", i)
        writer.put(T, "w", "recs", "k", i)
        assert reader.load(T, "fast") == i
        assert reader.get(T, "recs", key="k") == i
        assert reader.history(T, "fast", max_items=1) == [writer.get_digest(T, "fast")]
