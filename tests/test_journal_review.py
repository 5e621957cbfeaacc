"""Review of "the head lives in the journal" (issue 12 §4): a journal rewritten to the same
size within one mtime tick (a coarse-timestamp file system), the kept append fds of engines
that are dropped, and a head item that the journal's checks and the head's reader disagree on.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import signal
import threading
import time

import pytest
from dbengine import journal

T, E = "tenant_1", "doc"


@pytest.fixture
def db(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    engine.storage.checkpoint(T)  # an empty journal: the next commit is its first frame
    return engine


def same_tick(path: str, info: os.stat_result) -> None:
    """Give the file the mtime it had: what a file system with coarse timestamps (1 s on
    ext4 with small inodes, 2 s on FAT, a jiffy elsewhere) shows for writes within one tick."""
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_a_journal_refilled_to_the_same_size_in_one_mtime_tick_is_read_again(db, make_engine):
    """A reader (here also a writer) that read the journal at (size, mtime) must not take its
    cached head when a checkpoint emptied it and another commit refilled it to that size."""
    durable, loose = db, make_engine(db.root, durable=False)
    reader = make_engine(db.root, durable=True)
    path = db.storage.journal_path(T)
    first = durable.save(T, "alice", E, {"n": 1})
    info = os.stat(path)
    assert reader.get_digest(T, E) == first
    loose.save(T, "bob", E, {"n": 2})  # checkpoints the journal (emptied), then the head file
    third = durable.save(T, "alice", E, {"n": 3})  # the first frame again: same size
    assert os.stat(path).st_size == info.st_size and os.stat(path).st_ino == info.st_ino
    same_tick(path, info)
    assert reader.get_digest(T, E) == third and reader.load(T, E) == {"n": 3}
    reader.save(T, "carol", "other", {"n": 4})  # built on the head it read: nothing lost
    fresh = make_engine(db.root)
    assert fresh.get_digest(T, E) == third
    assert [fresh.load(T, E, d)["n"] for d in fresh.history(T, E, max_items=3)] == [3, 2, 1]
    assert fresh.verify().ok


def test_a_record_taken_back_then_another_of_its_size_in_one_tick_is_read_again(db, make_engine):
    """A commit whose fdatasync failed is truncated away; a reader that saw its head must not
    keep it once another commit of the same size took its place."""
    reader = make_engine(db.root, durable=True)
    path = db.storage.journal_path(T)
    base = os.stat(path)
    db.save(T, "alice", E, {"n": 1})
    info = os.stat(path)
    assert reader.load(T, E) == {"n": 1}
    os.truncate(path, base.st_size)  # as a failed commit's take-back leaves it
    db2 = make_engine(db.root, durable=True)
    second = db2.save(T, "alice", E, {"n": 2})
    assert os.stat(path).st_size == info.st_size
    same_tick(path, info)
    assert reader.get_digest(T, E) == second


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_engines_that_are_dropped_close_their_kept_journal_fds(db, make_engine):
    gc.collect()
    before = open_fds()
    for n in range(40):
        engine = make_engine(db.root, durable=True)
        engine.save(T, "alice", E, {"n": n})
        assert engine.load(T, E) == {"n": n}
        del engine
    gc.collect()
    assert open_fds() - before <= 2


@pytest.mark.parametrize("encoded", [
    lambda text: text.encode("utf-16"),
    lambda text: b"\xef\xbb\xbf" + text.encode(),
], ids=["utf-16", "utf-8-bom"])
def test_a_linked_last_record_whose_head_is_not_plain_utf8_json_is_damage(db, make_engine, encoded):
    """The engine writes its heads as UTF-8 JSON: a head item in another encoding is a record
    the engine did not write (the head before it stays the head), never a head every reader
    fails on with a message naming the head file."""
    good = db.save(T, "alice", E, {"n": 1})
    path = db.storage.journal_path(T)
    found: list[journal.Record] = []
    with open(path, "rb") as handle:
        journal.scan(handle.fileno(), os.fstat(handle.fileno()).st_size, found.append)
    head = encoded(json.dumps({E: good}))
    with pytest.raises(journal.JournalError):
        journal.check_head(head)
    with open(path, "ab") as handle:
        handle.write(journal.encode(journal.Record(boot=journal.boot_id(), head=head,
                                                   base=hashlib.sha256(found[-1].head).digest())))
    fresh = make_engine(db.root)
    assert fresh.get_digest(T, E) == good
    assert [p.kind for p in fresh.verify().problems] == ["journal-damaged"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_a_thread_holds_the_tenant_lock_neither_keeps_it_nor_hangs(db, make_engine):
    """A process forked (a multiprocessing worker, say) while another of its threads holds the
    tenant lock and is inside a journal read must not keep the lock's flock for its lifetime
    (every writer would wait on it), nor hang on the locks it inherited held."""
    storage = db.storage
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with storage.lock(T), storage.journals.kept.guard:  # a commit, in the middle of a journal read
            holding.set()
            release.wait(20)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(20)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reads with the engine it inherited, then works on for a while
        try:
            os.close(read)
            signal.alarm(20)
            os.write(write, b"1" if db.load(T, E) == {"n": 0} and db.save(T, "kid", "child", {"n": 1}) else b"0")
            time.sleep(60)  # (killed once checked)
        finally:
            os._exit(0)
    try:
        os.close(write)
        release.set()
        thread.join(20)
        assert os.read(read, 1) == b"1"  # the child read and wrote: nothing it inherited held it up
        other = make_engine(db.root, durable=True, lock_timeout=1.0)
        assert other.save(T, "bob", E, {"n": 2})  # while the child lives: the lock is free
        assert other.load(T, "child") == {"n": 1}
    finally:
        os.close(read)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_verify_names_the_head_file_when_its_own_read_replayed_the_journal(db, make_engine):
    """A journal of an earlier boot is replayed by the first read of the head, verify's own:
    the head then comes from the head file, and verify's messages name that file."""
    path, head_path = db.storage.journal_path(T), db.storage.head_path(T)
    missing = hashlib.sha256(b"nowhere").hexdigest()
    base = hashlib.sha256(open(head_path, "rb").read()).digest()
    with open(path, "ab") as handle:  # the journal is empty (checkpointed): one record of another boot
        handle.write(journal.encode(journal.Record(boot=bytes(range(1, 17)), base=base,
                                                   head=json.dumps({E: missing}).encode())))
    problems = make_engine(db.root).verify().problems
    assert os.path.getsize(path) == 0  # replayed
    found = [p for p in problems if p.kind == "missing-object"]
    assert found and head_path in found[0].message and path not in found[0].message, [str(p) for p in problems]


def reboot(path: str) -> None:
    """Rewrite the journal's records as an earlier boot's (same records, same links): the
    next process to touch the tenant replays it."""
    records: list[journal.Record] = []
    with open(path, "rb") as handle:
        journal.scan(handle.fileno(), os.fstat(handle.fileno()).st_size, records.append)
    with open(path, "wb") as handle:
        for record in records:
            record.boot = bytes(range(1, 17))
            handle.write(journal.encode(record))


@pytest.mark.parametrize("how", ["checkpoint", "replay"])
def test_a_commit_after_a_damaged_record_keeps_its_objects_through_a_checkpoint_and_a_replay(db, make_engine, how):
    """The last record is acknowledged but not linked to a valid one (the record before it is
    damaged): the head goes back to before the damage, and the last commit's objects get their
    files whether a checkpoint or a replay (after a reboot) sets the journal aside."""
    path = db.storage.journal_path(T)
    digests = [db.save(T, "alice", E, {"n": n, "body": "y" * 200}) for n in range(1, 4)]
    if how == "replay":
        reboot(path)
    with open(path, "rb") as handle:
        fd, size = handle.fileno(), os.fstat(handle.fileno()).st_size
        second_end = journal.frame_before(fd, size)[0]
        second_start = journal.frame_before(fd, second_end)[0]
    with open(path, "r+b") as handle:  # a flipped byte inside the second of three records
        at = (second_start + second_end) // 2
        handle.seek(at)
        byte = handle.read(1)
        handle.seek(at)
        handle.write(bytes([byte[0] ^ 0xFF]))
    if how == "checkpoint":
        db.storage.checkpoint(T)
    fresh = make_engine(db.root)  # a replay, when the journal is an earlier boot's
    assert fresh.get_digest(T, E) == digests[0]
    assert os.path.exists(path + ".damaged")
    assert fresh.load(T, E, digests[2])["n"] == 3  # acknowledged: its objects have files


def test_a_durable_commit_on_a_head_a_durable_false_writer_left_syncs_what_that_head_names(db, make_engine, monkeypatch):
    """The first record of an empty journal stands on the head file: when a durable=False
    writer wrote it, the objects it names were written without sync too, so the durable
    commit syncs the file system (else a power loss could take the versions the acknowledged
    commit builds on); when this engine's own checkpoint synced it, nothing more."""
    from dbengine import journal_store
    calls: list[int] = []
    real = journal_store._syncfs
    monkeypatch.setattr(journal_store, "_syncfs", lambda fd: calls.append(fd) or real(fd))
    db.save(T, "alice", E, {"n": 1})  # on the head its own checkpoint synced
    assert calls == []
    make_engine(db.root, durable=False).save(T, "bob", E, {"n": 2})  # checkpoints, then its own files, no sync
    calls.clear()
    db.save(T, "alice", E, {"n": 3})
    assert len(calls) == 1 and make_engine(db.root).load(T, E) == {"n": 3}


def test_without_syncfs_the_durable_base_syncs_every_file_system_not_only_the_head(db, make_engine, monkeypatch):
    """Where there is no syncfs (macOS), an fsync of the head and its folder alone left the
    objects and packs of the durable=False writer that wrote that head unsynced: sync(2) runs
    first."""
    from dbengine import journal_store
    make_engine(db.root, durable=False).put_many(T, "bob", "rec", {f"k{i}": i for i in range(40)})  # a pack, no sync
    order: list[str] = []
    monkeypatch.setattr(journal_store, "_syncfs", lambda fd: False)
    real_sync, real_fsync = os.sync, os.fsync
    monkeypatch.setattr(os, "sync", lambda: (order.append("sync"), real_sync())[1])
    monkeypatch.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    db.save(T, "alice", E + "2", {"n": 3})
    assert order[:2] == ["sync", "fsync"], order
    assert make_engine(db.root).get(T, "rec", "k39") == 39
