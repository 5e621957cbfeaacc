"""The journal's last doubts (issue 12): `has_object` answers from bytes that are in the
journal now and hash to the digest (never from a stale or forged index), a whole last frame
whose checksum fails is damage unless it shows the zeroed pages of a lost append, and a fork
while another thread opens the tenant's lock file leaks no lock into the child."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import threading
import time

import pytest
from dbengine import journal, tenant_lock
from dbengine.errors import DbEngineError
from dbengine.transfer import ImportFormatError

T, E = "tenant_1", "doc"


@pytest.fixture
def db(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    engine.storage.checkpoint(T)  # an empty journal: the next commits are its frames
    return engine


def records_of(path: str) -> tuple[list[journal.Record], journal.ScanResult]:
    found: list[journal.Record] = []
    with open(path, "rb") as handle:
        result = journal.scan(handle.fileno(), os.fstat(handle.fileno()).st_size, found.append)
    return found, result


def import_head(engine, digest: str) -> None:
    """An import stream naming `digest` as a head (the have-check decides whether it is taken)."""
    lines = [json.dumps({"type": "mydb-export", "version": 1, "tenant": T, "entry": None}),
             json.dumps({"type": "head", "entry": "imported", "digest": digest})]
    engine.import_jsonl(lines)


# ---------------------------------------------------------------- 1. has_object


def test_has_object_is_false_once_another_process_took_back_the_record_it_indexed(db, make_engine):
    """A commit whose fdatasync failed is truncated away; a reader that indexed its objects
    meanwhile must not answer True for them (an import would skip or link to them)."""
    path = db.storage.journal_path(T)
    before = os.path.getsize(path)
    taken = db.save(T, "alice", E, {"n": 1, "body": "x" * 200})
    reader = make_engine(db.root, durable=True)
    assert reader.storage.has_object(T, taken) and reader.storage.read_object(T, taken)
    os.truncate(path, before)  # as the failed commit's take-back leaves it
    assert not reader.storage.has_object(T, taken)
    with pytest.raises(ImportFormatError, match="unknown object"):
        import_head(reader, taken)


def test_has_object_is_false_after_a_take_back_and_a_larger_commit_past_the_same_offsets(db, make_engine):
    path = db.storage.journal_path(T)
    before = os.path.getsize(path)
    taken = db.save(T, "alice", E, {"n": 1})
    reader = make_engine(db.root, durable=True)
    assert reader.storage.has_object(T, taken)
    os.truncate(path, before)
    other = make_engine(db.root, durable=True)
    other.save(T, "bob", E, {"n": 2, "body": "y" * 2000})  # refills the journal past the old end
    assert os.path.getsize(path) > before + 200
    assert not reader.storage.has_object(T, taken)
    assert taken not in set(reader.storage.iter_objects(T))


def test_has_object_is_false_once_the_journal_was_replaced_by_another_file(db, make_engine, tmp_path):
    path = db.storage.journal_path(T)
    copy = str(tmp_path / "journal-before")
    shutil.copyfile(path, copy)  # the journal before the commit (empty)
    taken = db.save(T, "alice", E, {"n": 1})
    reader = make_engine(db.root, durable=True)
    assert reader.storage.read_object(T, taken)  # indexed, its journal held open
    data = reader.storage.read_object(T, taken)
    loose = make_engine(db.root)
    assert loose.storage.read_object(T, taken) == data
    os.replace(copy, path)  # another file in its place: the readers' fds still hold the old one
    assert not reader.storage.has_object(T, taken)
    # a write (an import's) of that object is not skipped as "already in the journal"
    assert loose.storage.write_object(T, taken, data)
    assert os.path.isfile(loose.storage.object_path(T, taken))


def test_a_frame_whose_checksum_holds_but_whose_object_bytes_do_not_hash_is_never_had(db, make_engine):
    """A forged frame (any checksum can be computed) whose object item names a digest its
    bytes do not hash to: no reader may answer True for that digest, list it, or read it."""
    good = db.save(T, "alice", E, {"n": 1})
    path = db.storage.journal_path(T)
    recs, _ = records_of(path)
    claimed = hashlib.sha256(b'{"n": "real"}').hexdigest()
    forged = journal.Record(boot=journal.boot_id(), objects=[(claimed, b'{"n": "evil"}')],
                            head=json.dumps({E: good}).encode(), base=hashlib.sha256(recs[-1].head).digest())
    with open(path, "ab") as handle:
        handle.write(journal.encode(forged))
    for reader in (make_engine(db.root, durable=True), db):
        assert not reader.storage.has_object(T, claimed)
        assert claimed not in set(reader.storage.iter_objects(T))
        with pytest.raises(DbEngineError):
            reader.storage.read_object(T, claimed)
        with pytest.raises(ImportFormatError, match="unknown object"):
            import_head(reader, claimed)
    assert make_engine(db.root).get_digest(T, E) == good


@pytest.mark.parametrize("importer_kind", ["durable=False", "durable, a big import (its pending writes flushed)"])
def test_an_import_never_skips_an_object_found_only_in_a_record_whose_fdatasync_then_fails(db, make_engine, monkeypatch,
                                                                                             importer_kind):
    """Another engine's record is visible in the journal before its fdatasync returns; when
    that sync fails the record is taken back. An import that found an object only in it (its
    have-check) must still give it a file (`durable=False`) or journal it (durable, even once
    a big import's pending writes were flushed in place): its head names the object."""
    from dbengine import journal_store
    from dbengine.errors import StorageError

    writer = make_engine(db.root, durable=True)
    importer = make_engine(db.root, durable=importer_kind.startswith("durable,"))
    path = db.storage.journal_path(T)
    asked, failed, outcome = threading.Event(), threading.Event(), {}
    real_sync = journal_store._datasync

    def lines(digest: str, data: bytes):
        yield json.dumps({"type": "mydb-export", "version": 1, "tenant": T, "entry": None})
        yield json.dumps({"type": "object", "digest": digest, "text": data.decode()})
        asked.set()  # the object line is done: its have-check found it in the journal
        assert failed.wait(20)
        yield json.dumps({"type": "head", "entry": "imported", "digest": digest})

    def run_import(digest: str, data: bytes) -> None:
        if importer_kind.startswith("durable,"):  # (the writer's record is in: its sync runs)
            monkeypatch.setattr(journal_store, "PENDING_LIMIT", 0)  # every write flushed in place at once
        try:
            outcome["result"] = importer.import_jsonl(lines(digest, data))
        except Exception as exc:  # noqa: BLE001 (reported below)
            outcome["error"] = exc

    def failing_sync(fd: int) -> None:
        if "thread" not in outcome:  # the commit's sync: the import runs meanwhile, then it fails
            recs, _ = records_of(path)
            digest = json.loads(recs[-1].head)[E]
            data = dict(recs[-1].objects)[digest]
            outcome["thread"] = threading.Thread(target=run_import, args=(digest, data))
            outcome["thread"].start()
            assert asked.wait(20)
            raise OSError(5, "Input/output error")
        real_sync(fd)

    monkeypatch.setattr(journal_store, "_datasync", failing_sync)
    with pytest.raises(StorageError):
        writer.save(T, "alice", E, {"n": 5})
    monkeypatch.setattr(journal_store, "_datasync", real_sync)
    failed.set()
    outcome["thread"].join(20)
    assert "error" not in outcome, outcome.get("error")
    cold = make_engine(db.root)
    assert cold.load(T, "imported") == {"n": 5}  # the object the imported head names is there
    assert cold.verify().ok, [str(p) for p in cold.verify().problems]


# ---------------------------------------------------------------- 2. a whole last frame failing its checksum


def last_frame_bounds(path: str) -> tuple[int, int]:
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        found = journal.frame_before(handle.fileno(), size)
    assert found is not None
    return found[0], size


def flip(path: str, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def test_a_whole_last_frame_with_a_wrong_checksum_is_damage_and_nothing_of_it_is_applied(db, make_engine):
    first = db.save(T, "alice", E, {"n": 1})
    kept = db.save(T, "alice", "other", {"n": 7})
    last = db.save(T, "alice", E, {"n": 2, "body": "z" * 100})
    path = db.storage.journal_path(T)
    start, end = last_frame_bounds(path)
    flip(path, (start + end) // 2)  # one bit of the last record's payload: its length fits the file
    _, result = records_of(path)
    assert result.damage and not result.torn
    problems = make_engine(db.root).verify().problems
    # (the history index names the lost version too: it was acknowledged, then damaged)
    assert [(p.kind, p.path) for p in problems if p.kind != "index-mismatch"] == [("journal-damaged", path)], \
        [str(p) for p in problems]
    reader = make_engine(db.root)
    assert reader.get_digest(T, E) == first and reader.load(T, "other") == {"n": 7}
    # the next writer (another process) sets the journal aside, keeps every earlier record
    writer = make_engine(db.root, durable=True)
    newer = writer.save(T, "bob", E, {"n": 3})
    assert os.path.exists(path + ".damaged")
    cold = make_engine(db.root)
    assert [cold.load(T, E, d)["n"] for d in cold.history(T, E, max_items=3)] == [3, 1, 0]
    assert cold.get_digest(T, E) == newer and cold.get_digest(T, "other") == kept
    assert not cold.storage.has_object(T, last)
    assert [p.kind for p in cold.verify().problems] == ["journal-damaged"]  # the set-aside journal, until deleted


def append_unacknowledged(path: str, head: dict) -> None:
    """Append a linked record holding a 20 kB object and a head naming it, as a commit whose
    fdatasync never returned leaves it (no history index line follows it)."""
    recs, _ = records_of(path)
    body = json.dumps({"__kind__": "snapshot", "body": "z" * 20000}).encode()
    digest = hashlib.sha256(body).hexdigest()
    record = journal.Record(boot=journal.boot_id(), objects=[(digest, body)], base=hashlib.sha256(recs[-1].head).digest(),
                            head=json.dumps({**head, "lost": digest}).encode())
    with open(path, "ab") as handle:
        handle.write(journal.encode(record))


def test_a_whole_last_frame_showing_a_zeroed_page_is_a_torn_append(db, make_engine):
    """A power loss during an append can leave the file extended with pages never written,
    which read as zeros: that frame was never acknowledged (its fdatasync did not return)."""
    first = db.save(T, "alice", E, {"n": 1})
    path = db.storage.journal_path(T)
    append_unacknowledged(path, {E: first})
    start, end = last_frame_bounds(path)
    page = (start // journal.PAGE + 1) * journal.PAGE  # a whole file page inside the frame
    assert page + journal.PAGE < end - 64
    with open(path, "r+b") as handle:
        handle.seek(page)
        handle.write(bytes(journal.PAGE))
    _, result = records_of(path)
    assert result.torn and not result.damage
    report = make_engine(db.root).verify()
    assert report.ok and [p.kind for p in report.notes] == ["journal-torn"]
    writer = make_engine(db.root, durable=True)
    assert writer.get_digest(T, E) == first
    writer.save(T, "bob", E, {"n": 3})
    assert not os.path.exists(path + ".damaged") and make_engine(db.root).verify().ok


def test_a_last_frame_whose_first_page_lost_its_new_bytes_is_a_torn_append(db, make_engine):
    """The first page of an append also holds the frame before it; when the new bytes of that
    page were lost, they read as zeros up to the page's end (the header among them)."""
    first = db.save(T, "alice", E, {"n": 1, "body": "a" * 1000})
    path = db.storage.journal_path(T)
    append_unacknowledged(path, {E: first})
    start, end = last_frame_bounds(path)
    stop = (start // journal.PAGE + 1) * journal.PAGE
    with open(path, "r+b") as handle:
        handle.seek(start)
        handle.write(bytes(stop - start))
    _, result = records_of(path)
    assert result.torn and not result.damage
    assert make_engine(db.root).get_digest(T, E) == first
    assert make_engine(db.root).verify().ok


@pytest.mark.parametrize("shape", ["header and trailer pages lost", "size cut after a later page",
                                   "header across a page boundary, its second page lost"])
def test_an_append_whose_header_page_was_lost_is_torn_whatever_its_later_pages_hold(db, make_engine, shape):
    """A power loss can write a later page of an append (or extend the file's size past it)
    and lose the page holding its header: the header reads as zeros from the frame's start
    to that page's end while later bytes are there; no frame ends the file after it. That
    append was never acknowledged: torn (the next writer empties the journal), not damage."""
    if shape.startswith("header across"):  # the frame starts 4 bytes before a page boundary
        for _ in range(4):  # each save's frame grows by the pad's length (timestamps may shift it a little)
            size = os.path.getsize(db.storage.journal_path(T))
            db.save(T, "alice", E, {"n": 1, "pad": ""})
            grown = os.path.getsize(db.storage.journal_path(T)) - size
            if (size + grown) % journal.PAGE == journal.PAGE - 4:
                break
            db.save(T, "alice", E, {"n": 1, "pad": "p" * ((journal.PAGE - 4 - size - 2 * grown) % journal.PAGE)})
            if os.path.getsize(db.storage.journal_path(T)) % journal.PAGE == journal.PAGE - 4:
                break
        assert os.path.getsize(db.storage.journal_path(T)) % journal.PAGE == journal.PAGE - 4
        first = db.get_digest(T, E)
    else:
        first = db.save(T, "alice", E, {"n": 2})
    path = db.storage.journal_path(T)
    append_unacknowledged(path, {E: first})
    start, end = last_frame_bounds(path)
    header_page = start // journal.PAGE * journal.PAGE
    assert not shape.startswith("header across") or start == header_page + journal.PAGE - 4
    with open(path, "r+b") as handle:
        if shape.startswith("header across"):  # "MJR1" stays, the length's page is lost
            handle.seek(header_page + journal.PAGE)
            handle.write(bytes(journal.PAGE))
        else:
            handle.seek(start)
            handle.write(bytes(header_page + journal.PAGE - start))
        if shape == "header and trailer pages lost":
            handle.seek((end - 1) // journal.PAGE * journal.PAGE)
            handle.write(bytes(end - (end - 1) // journal.PAGE * journal.PAGE))
    if shape == "size cut after a later page":
        os.truncate(path, header_page + 3 * journal.PAGE)
    _, result = records_of(path)
    assert result.torn and not result.damage, result.damage
    assert make_engine(db.root).get_digest(T, E) == first
    assert [p.kind for p in make_engine(db.root).verify().notes] == ["journal-torn"]
    writer = make_engine(db.root, durable=True)
    writer.save(T, "bob", E, {"n": 3})
    assert not os.path.exists(path + ".damaged") and make_engine(db.root).verify().ok


def test_verify_sees_the_objects_readers_and_a_checkpoint_take_past_a_damaged_record(db, make_engine):
    """Past a damaged record, the valid records found back from the journal's end were
    acknowledged: readers read their objects and the head they give, a checkpoint gives those
    objects files. `verify` must see them too (it reported the heads' objects missing)."""
    for n in (1, 2, 3):
        db.save(T, "alice", E, {"n": n})
    other = db.save(T, "alice", "other", {"k": 1})
    path = db.storage.journal_path(T)
    with open(path, "rb") as handle:
        first_end = journal.frame_at(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)[0]
        second_end = journal.frame_at(handle.fileno(), first_end, os.fstat(handle.fileno()).st_size)[0]
    flip(path, (first_end + second_end) // 2)  # the second record (n=2) is damaged
    reader = make_engine(db.root)
    assert reader.load(T, E) == {"n": 3} and reader.get_digest(T, "other") == other
    kinds = sorted(p.kind for p in reader.verify().problems)
    assert "missing-object" not in kinds and "journal-damaged" in kinds, kinds
    assert "missing-parent" in kinds  # the damaged record's version: the chain of "doc" passes through it
    make_engine(db.root, durable=True).storage.checkpoint(T)  # the same objects get their files
    after = make_engine(db.root)
    assert after.load(T, E) == {"n": 3} and after.load(T, "other") == {"k": 1}
    assert sorted(p.kind for p in after.verify().problems) == kinds


def test_a_lost_header_page_before_valid_records_is_damage_even_when_the_journal_ends_torn(db, make_engine):
    """Zeros where a record's header was, valid records after it, then a torn tail: not one
    lost append (that is the last thing in the file), so damage: the journal is set aside
    with the acknowledged records after the zeros, never emptied as a torn tail."""
    db.save(T, "alice", E, {"n": 1, "body": "a" * 3000})
    path = db.storage.journal_path(T)
    start = os.path.getsize(path)
    db.save(T, "alice", E, {"n": 2, "body": "b" * 3000})
    later = db.save(T, "alice", "other", {"k": 1, "body": "c" * 6000})
    size = os.path.getsize(path)
    stop = (start // journal.PAGE + 1) * journal.PAGE
    assert stop < size - 2000
    with open(path, "r+b") as handle:
        handle.seek(start)
        handle.write(bytes(stop - start))  # the second record's header page lost
    frame = journal.encode(journal.Record(boot=journal.boot_id(), head=b"{}"))
    with open(path, "ab") as handle:
        handle.write(frame[: len(frame) // 2])  # and a writer killed mid-append
    _, result = records_of(path)
    assert result.damage and not result.torn
    writer = make_engine(db.root, durable=True)
    writer.save(T, "bob", "third", {"k": 3})
    assert os.path.exists(path + ".damaged")  # set aside, not emptied: the later records are in it
    with open(path + ".damaged", "rb") as handle:
        assert later.encode() in handle.read()
    assert make_engine(db.root).get_digest(T, "third") is not None


# ---------------------------------------------------------------- 3. fork between open and flock


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_fork_while_another_thread_opened_the_lock_file_but_not_locked_it_leaks_no_lock(db, make_engine, monkeypatch):
    """Thread A has opened head.lock and is about to flock it when another thread forks: the
    child must not keep a copy of that open file (flock belongs to the open file, so the lock A
    then takes would live on in the child until it exits, and every writer would wait)."""
    opened, go = threading.Event(), threading.Event()
    real_flock = tenant_lock.fcntl.flock

    def slow_flock(fd: int, how: int) -> None:
        if threading.current_thread().name == "locker" and not go.is_set():
            opened.set()
            go.wait(20)
        real_flock(fd, how)

    monkeypatch.setattr(tenant_lock.fcntl, "flock", slow_flock)
    fresh = make_engine(db.root, durable=True)
    done = threading.Event()

    def lock_and_commit() -> None:
        fresh.save(T, "alice", E, {"n": 1})
        done.set()

    thread = threading.Thread(target=lock_and_commit, name="locker")
    thread.start()
    assert opened.wait(20)  # the locker has opened head.lock and not yet locked it
    pid = os.fork()
    if pid == 0:  # the child: tries the lock while the parent's commit runs, reports, lives on
        try:
            signal.alarm(30)
            read, write = CHILD_PIPE
            os.close(read)
            try:
                with make_engine(db.root, durable=True).storage.lock(T, timeout=3.0):
                    os.write(write, b"1")
            except DbEngineError:
                os.write(write, b"0")
            time.sleep(60)  # (killed once checked)
        finally:
            os._exit(0)
    go.set()
    assert pid > 0
    try:
        thread.join(20)
        assert done.is_set()
        os.close(CHILD_PIPE[1])
        assert os.read(CHILD_PIPE[0], 1) == b"1"  # the child took the lock: nothing held it
        other = make_engine(db.root, durable=True, lock_timeout=2.0)
        assert other.save(T, "bob", E, {"n": 2})  # while the child lives: the lock is free
    finally:
        os.close(CHILD_PIPE[0])
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


CHILD_PIPE: tuple[int, int] = (-1, -1)


@pytest.fixture(autouse=True)
def child_pipe():
    global CHILD_PIPE
    CHILD_PIPE = os.pipe()
    yield
    for fd in CHILD_PIPE:
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_fork_never_waits_for_a_thread_waiting_for_the_tenant_lock(db, make_engine):
    """A fork waits only for a lock file's open or close (the guard): a thread waiting for a
    tenant lock another process holds (its flock retried) must not hold the fork up."""
    import fcntl

    lock_path = os.path.join(db.storage.tenant_dir(T), "head.lock")
    holder = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as another process holding the tenant lock
    waiter = make_engine(db.root, durable=True, lock_timeout=20.0)
    saved = threading.Event()
    thread = threading.Thread(target=lambda: (waiter.save(T, "alice", E, {"n": 9}), saved.set()))
    unlock = threading.Timer(8, fcntl.flock, (holder, fcntl.LOCK_UN))  # a fork held up fails, never hangs
    try:
        thread.start()
        unlock.start()
        deadline = time.monotonic() + 10
        while not tenant_lock._LOCK_FDS and time.monotonic() < deadline:  # its lock file is open: it waits
            time.sleep(0.005)
        assert tenant_lock._LOCK_FDS and not saved.is_set()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os._exit(0 if not tenant_lock._LOCK_FDS else 1)  # the child closed its copies
        _, status = os.waitpid(pid, 0)
        assert time.monotonic() - started < 5 and os.WEXITSTATUS(status) == 0
    finally:
        unlock.cancel()
        os.close(holder)  # the lock is free: the waiting save goes on
        thread.join(20)
    assert saved.is_set() and make_engine(db.root).load(T, E) == {"n": 9}
