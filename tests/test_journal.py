"""The durable-commit journal: a simulated power loss is replayed, torn and forged journals
are handled, concurrent writers in real processes keep one ordered journal.

A power loss is simulated the way it can strike: every file the journal covers (objects,
refs, their folders, the head's renames since the last checkpoint) may be lost or cut
short, and the machine comes back with another boot id (`reboot`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time

import pytest
from dbengine import journal, journal_store, storage
from dbengine.errors import StorageError
from ref_values import Blob

T = "tenant_1"


def records_of(path: str) -> tuple[list[journal.Record], journal.ScanResult]:
    found: list[journal.Record] = []
    with open(path, "rb") as handle:
        result = journal.scan(handle.fileno(), os.fstat(handle.fileno()).st_size, found.append)
    return found, result


def reboot(monkeypatch) -> None:
    """The next reads happen in a new boot (what a power loss leads to)."""
    monkeypatch.setattr(journal, "_boot_id", os.urandom(16))


def lose_unsynced(root: str, head_bytes: bytes | None, *, truncate: bool = False) -> int:
    """What a power loss may do to files written since the last checkpoint: objects and
    refs the journal covers vanish (or are cut short), the head goes back to `head_bytes`
    (None: the head file is empty, a rename whose data never reached the disk)."""
    engine_storage = storage.LocalStorage(root)
    recs, _ = records_of(engine_storage.journal_path(T))
    lost = 0
    # a durable commit's objects have no file until a checkpoint: the replay must write them too
    journal_only = {engine_storage.object_path(T, d) for record in recs for d, _ in record.objects
                    if not os.path.exists(engine_storage.object_path(T, d))}
    for record in recs:
        paths = [engine_storage.object_path(T, d) for d, _ in record.objects]
        paths += [engine_storage.ref_path(d) for d, _ in record.refs]
        for path in paths:
            if not os.path.exists(path):
                continue
            lost += 1
            if truncate and lost % 2:
                with open(path, "r+b") as handle:
                    handle.truncate(os.path.getsize(path) // 2)
            else:
                shutil.rmtree(os.path.dirname(path))  # the prefix folder's entry was never synced either
    with open(engine_storage.head_path(T), "wb") as handle:
        handle.write(head_bytes or b"")
    return lost + len(journal_only)


@pytest.fixture
def durable(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", "config", {"n": 0})
    engine.storage.checkpoint(T)  # everything so far is on disk; the journal is empty
    with open(engine.storage.head_path(T), "rb") as handle:
        base = handle.read()
    return engine, base


def test_a_power_loss_is_replayed_and_every_acknowledged_write_reads_back(durable, make_engine, monkeypatch):
    engine, base = durable
    digests = [engine.save(T, "alice", "config", {"n": i, "blob": Blob(list(range(i)))}) for i in range(1, 6)]
    engine.put_many(T, "bob", "users", {f"u{i}": {"age": i} for i in range(20)})
    engine.put(T, "bob", "users", "u3", {"age": 33})
    engine.delete(T, "bob", "users", "u4")
    assert os.path.getsize(engine.storage.journal_path(T)) > 0
    for truncate, head in ((False, base), (True, None)):
        root = engine.root + f"-{truncate}"
        shutil.copytree(engine.root, root)
        assert lose_unsynced(root, head, truncate=truncate) > 10
        with monkeypatch.context() as patch:
            reboot(patch)
            cold = make_engine(root)
            assert cold.history(T, "config", max_items=None) == digests[::-1] + [cold.history(T, "config")[-1]]
            assert cold.load(T, "config")["n"] == 5
            assert cold.load(T, "config")["blob"].payload == list(range(5))
            users = cold.read_records(T, cold.get_digest(T, "users"))
            assert users["u3"] == {"age": 33} and "u4" not in users and len(users) == 19
            report = cold.verify()
            assert report.ok, [str(p) for p in report.problems]
            assert os.path.getsize(cold.storage.journal_path(T)) == 0  # replayed, synced, emptied


def test_no_replay_in_the_same_boot_and_a_reader_never_waits(durable, make_engine, monkeypatch):
    engine, base = durable
    engine.save(T, "alice", "config", {"n": 1})
    journal_path = engine.storage.journal_path(T)
    size = os.path.getsize(journal_path)
    make_engine().load(T, "config")  # same boot: the page cache holds every write, nothing to do
    assert os.path.getsize(journal_path) == size
    reboot(monkeypatch)
    with engine.storage.lock(T):  # a writer holds the tenant: the reader skips the replay
        assert make_engine().load(T, "config") == {"n": 1}
        assert os.path.getsize(journal_path) == size
    assert make_engine().load(T, "config") == {"n": 1}
    assert os.path.getsize(journal_path) == 0


def test_a_torn_tail_is_ignored_and_never_hides_later_records(durable, make_engine, monkeypatch):
    engine, _base = durable
    engine.save(T, "alice", "config", {"n": 1})
    path = engine.storage.journal_path(T)
    frame = journal.encode(journal.Record(boot=journal.boot_id(), head=b"{}"))
    with open(path, "ab") as handle:
        handle.write(frame[: len(frame) // 2])  # a writer killed mid-append
    report = make_engine().verify()
    assert report.ok and [p.kind for p in report.notes if p.kind.startswith("journal")] == ["journal-torn"]
    # The next writer (another process: it did not append last) repairs the tail first.
    with open(engine.storage.head_path(T), "rb") as handle:
        synced = handle.read()  # the repair syncs everything before the torn record
    fresh = make_engine(durable=True)
    last = fresh.save(T, "alice", "config", {"n": 2})
    recs, result = records_of(path)
    assert not result.torn and not result.damage and recs[-1].head is not None
    lose_unsynced(engine.root, synced)
    reboot(monkeypatch)
    cold = make_engine()
    assert cold.get_digest(T, "config") == last and cold.load(T, "config") == {"n": 2}
    assert cold.verify().ok


def forge(path: str, record: journal.Record, *, corrupt_checksum: bool = False) -> None:
    frame = bytearray(journal.encode(record))
    if corrupt_checksum:
        frame[12] ^= 0xFF
    with open(path, "ab") as handle:
        handle.write(bytes(frame))


@pytest.mark.parametrize("how", ["bad-checksum", "bytes-not-their-digest", "head-not-a-head"])
def test_a_forged_journal_is_not_trusted_and_verify_reports_it(durable, make_engine, monkeypatch, how):
    engine, base = durable
    good = engine.save(T, "alice", "config", {"n": 1})
    path = engine.storage.journal_path(T)
    evil = b'{"n": "evil"}'
    evil_digest = hashlib.sha256(evil).hexdigest()
    head = f'{{"config": "{evil_digest}"}}'.encode()
    boot = journal.boot_id()
    if how == "bad-checksum":
        forge(path, journal.Record(boot=boot, objects=[(evil_digest, evil)], head=head), corrupt_checksum=True)
    elif how == "bytes-not-their-digest":
        forge(path, journal.Record(boot=boot, objects=[(hashlib.sha256(b"other").hexdigest(), evil)], head=head))
    else:
        forge(path, journal.Record(boot=boot, head=b'{"config": "../../etc/passwd"}'))
    # One more valid-looking record after it: a damaged middle is not a torn tail.
    forge(path, journal.Record(boot=boot, objects=[(evil_digest, evil)], head=head))
    report = make_engine().verify()
    # the record after the damage is read (and would be kept) as acknowledged: its object,
    # not one of the engine's, is corrupt-object at its place in the journal
    assert sorted(p.kind for p in report.problems) == ["corrupt-object", "journal-damaged"], \
        [str(p) for p in report.problems]
    assert [p.path for p in report.problems if p.kind == "corrupt-object"][0].startswith(path + " (offset")
    reboot(monkeypatch)
    cold = make_engine()
    assert cold.get_digest(T, "config") == good  # the forged head was not applied
    assert not os.path.exists(cold.storage.object_path(T, hashlib.sha256(b"other").hexdigest()))
    assert not os.path.exists(path) and os.path.exists(path + ".damaged")  # set aside for inspection
    # The valid record after the damage keeps its (well-hashed) object, as a checkpoint keeps
    # it: such a record is normally a commit acknowledged after a bad sector. This one is not
    # the engine's, and verify says so once the set-aside journal is deleted.
    evil_path = cold.storage.object_path(T, evil_digest)
    assert open(evil_path, "rb").read() == evil
    report = cold.verify()
    assert sorted(p.kind for p in report.problems) == ["corrupt-object", "journal-damaged"]
    os.unlink(path + ".damaged")
    assert [(p.kind, p.path) for p in cold.verify().problems] == [("corrupt-object", evil_path)]


def test_a_journal_symlinked_out_of_the_root_is_refused(durable, tmp_path):
    engine, _base = durable
    outside = tmp_path / "outside"
    outside.write_bytes(b"")
    path = engine.storage.journal_path(T)
    os.unlink(path)
    os.symlink(outside, path)
    with pytest.raises(StorageError, match="symbolic link"):
        engine.save(T, "alice", "config", {"n": 1})
    assert outside.read_bytes() == b""
    assert engine.load(T, "config") == {"n": 0}


def test_a_writer_without_journal_checkpoints_it_first(durable, make_engine, monkeypatch):
    engine, _base = durable
    engine.save(T, "alice", "config", {"n": 1})
    path = engine.storage.journal_path(T)
    assert os.path.getsize(path) > 0
    make_engine(durable=False).save(T, "bob", "config", {"n": 2})
    assert os.path.getsize(path) == 0  # synced and emptied: its heads stay one chain
    reboot(monkeypatch)
    assert make_engine().load(T, "config") == {"n": 2}  # nothing replayed over the newer head


def test_the_journal_is_checkpointed_past_its_limit(durable, monkeypatch):
    engine, _base = durable
    monkeypatch.setattr(journal_store, "JOURNAL_LIMIT", 4000)
    sizes = []
    for i in range(12):
        engine.save(T, "alice", "config", {"n": i, "pad": "x" * 500})
        sizes.append(os.path.getsize(engine.storage.journal_path(T)))
    assert max(sizes) <= 4000 + 2000 and 0 in sizes


def test_a_big_object_is_synced_in_place_not_journaled(durable, monkeypatch):
    engine, _base = durable
    monkeypatch.setattr(journal_store, "OBJECT_JOURNAL_LIMIT", 1000)
    engine.save(T, "alice", "config", {"n": 1, "pad": "x" * 2000})
    recs, _ = records_of(engine.storage.journal_path(T))
    assert recs[-1].head is not None and recs[-1].objects == []


WRITER = r"""
import os, sys, time
from dbengine.dbengine import DbEngine

root, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
engine = DbEngine(root)
while not os.path.exists(os.path.join(root, "go")):
    time.sleep(0.001)
for i in range(count):
    engine.put("tenant_1", f"w{worker}", "shared", f"p{worker}-{i}", {"p": worker, "i": i})
    print(f"p{worker}-{i}", flush=True)
"""


def test_concurrent_writers_in_processes_survive_a_power_loss(durable, make_engine, monkeypatch):
    engine, base = durable
    root = engine.root
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, root, str(w), "15"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w in range(3)]
    time.sleep(0.3)
    open(os.path.join(root, "go"), "w").close()
    acknowledged = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        acknowledged += out.split()
    os.unlink(os.path.join(root, "go"))
    assert len(acknowledged) == 45
    lose_unsynced(root, base)
    reboot(monkeypatch)
    cold = make_engine()
    records = cold.read_records(T, cold.get_digest(T, "shared"))
    assert sorted(records) == sorted(acknowledged)
    assert len(cold.history(T, "shared", max_items=None)) == 45
    assert cold.verify().ok


def test_objects_of_a_commit_stay_in_the_journal_and_read_back_before_and_after(durable):
    engine, _base = durable
    store = engine.storage
    loose, held = b'{"outside": 1}', b'{"inside": 2}'
    loose_digest, held_digest = (hashlib.sha256(data).hexdigest() for data in (loose, held))
    assert store.write_object(T, loose_digest, loose)  # outside a commit: on disk at once
    assert os.path.exists(store.object_path(T, loose_digest))
    with store.lock(T):
        assert store.write_object(T, held_digest, held)
        assert not os.path.exists(store.object_path(T, held_digest))  # this thread's, unwritten
        assert store.has_object(T, held_digest) and store.read_object(T, held_digest) == held
        head = store.read_head(T)[0]
        store.write_head(T, head)
    assert store.read_object(T, held_digest) == held  # from the journal: a durable commit writes no object file
    assert not os.path.exists(store.object_path(T, held_digest))
    recs, _ = records_of(store.journal_path(T))
    assert {d for d, _ in recs[-1].objects} == {loose_digest, held_digest}


def test_without_a_boot_id_every_journal_found_is_replayed(durable, make_engine, monkeypatch):
    engine, base = durable
    monkeypatch.setattr(journal, "_boot_id", journal.NO_BOOT)  # a system without /proc boot_id
    engine.save(T, "alice", "config", {"n": 1})
    lose_unsynced(engine.root, base)
    cold = make_engine()
    assert cold.load(T, "config") == {"n": 1}
    assert os.path.getsize(cold.storage.journal_path(T)) == 0
