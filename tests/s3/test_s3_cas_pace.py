"""Compare-and-swap fairness: a writer that wins while others write the same entry pauses
before its next write of it, so the writers that lost get a turn (bench/cas_fairness.py
measures the spread with six processes)."""

from __future__ import annotations

import time

import dbengine.heads as heads_module
from dbengine.dbengine import DbEngine


def test_winner_paces_only_when_others_write_the_entry(make_engine, monkeypatch):
    alice, bob = make_engine(), make_engine()
    alice.init("t")
    alice.put("t", "alice", "shared", "k", 0)
    alice.put("t", "alice", "shared", "k", 1)
    assert alice.heads.pace == {}  # alone on the entry: no pause

    bob.put("t", "bob", "shared", "k", 2)
    alice.put("t", "alice", "shared", "k", 3)  # the head moved since alice's last write
    pace = alice.heads.pace[("t", "shared")]
    assert 0 < pace <= heads_module.CAS_MAX_PACE

    pauses: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(heads_module.time, "sleep", lambda s: (pauses.append(s), real_sleep(0))[1])
    alice.put("t", "alice", "shared", "k", 4)
    assert pauses and pace <= pauses[0] <= 2 * pace
    assert ("t", "shared") not in alice.heads.pace  # nobody else wrote meanwhile: no more pauses
    assert [alice.get("t", "shared", "k")] == [4]
    assert len(alice.log("t", "shared")) == 5


def test_local_writers_never_pause(tmp_path):
    first, second = (DbEngine(str(tmp_path), durable=False) for _ in range(2))
    first.init("t")
    first.put("t", "a", "e", "k", 0)
    second.put("t", "b", "e", "k", 1)
    first.put("t", "a", "e", "k", 2)
    assert first.heads.pace == {}  # a file lock orders local writers: no race to lose
