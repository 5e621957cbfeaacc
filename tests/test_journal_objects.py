"""Objects of durable commits live in the tenant's journal until a checkpoint: every read
path finds them (this process, a fresh engine, another process), a checkpoint gives them
their files before it empties the journal, forged journal bytes are CorruptObjectError
naming the journal, a writer killed between its append and its head write leaves a
readable database, and verify checks journal-only objects."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys

import pytest
from dbengine import journal
from dbengine.dbengine import DbEngine
from dbengine.errors import CorruptObjectError

T = "tenant_1"
HERE = os.path.dirname(os.path.abspath(__file__))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(os.path.dirname(HERE), "engine"),
                                                    os.environ.get("PYTHONPATH", "")])}


def loose_files(engine: DbEngine) -> list[str]:
    folder = os.path.join(engine.storage.tenant_dir(T), "objects")
    return [name for _dirs, _sub, names in os.walk(folder) for name in names]


@pytest.fixture
def written(make_engine):
    """Durable saves (5 versions of `doc`) and puts (a record entry), no checkpoint."""
    engine = make_engine(durable=True)
    engine.init(T)
    versions = [engine.save(T, "alice", "doc", {"n": i, "body": "x" * 300}) for i in range(5)]
    engine.put_many(T, "bob", "users", {f"u{i}": {"age": i} for i in range(30)})
    engine.put(T, "bob", "users", "u3", {"age": 33})
    return engine, versions


def test_durable_commits_write_no_object_file_and_a_fresh_engine_reads_every_version(written, make_engine):
    engine, versions = written
    assert loose_files(engine) == []
    assert os.path.getsize(engine.storage.journal_path(T)) > 0
    fresh = make_engine(engine.root)
    assert [fresh.load(T, "doc", v)["n"] for v in versions] == list(range(5))
    assert [v.digest for v in fresh.log(T, "doc")] == versions[::-1]
    assert fresh.get(T, "users", "u3") == {"age": 33} and len(fresh.get(T, "users")) == 30
    assert set(versions) <= set(fresh.storage.iter_objects(T))
    assert all(fresh.storage.has_object(T, v) for v in versions)
    assert fresh.verify().ok


def test_another_process_reads_what_a_durable_writer_keeps_in_the_journal(written):
    engine, versions = written
    script = ("import json, sys\nfrom dbengine.dbengine import DbEngine\n"
              "db = DbEngine(sys.argv[1], durable=False)\n"
              "print(json.dumps([[db.load('tenant_1', 'doc', v)['n'] for v in sys.argv[2:]],"
              " db.get('tenant_1', 'users', 'u3'), db.verify().ok]))")
    out = subprocess.run([sys.executable, "-c", script, engine.root, *versions], env=ENV,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [list(range(5)), {"age": 33}, True]
    # the reader keeps its index: later commits are found by reading on from where it stopped
    later = engine.save(T, "alice", "doc", {"n": 5})
    out = subprocess.run([sys.executable, "-c", script, engine.root, *versions, later], env=ENV,
                         capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)[0] == list(range(6)), out.stderr


def test_a_checkpoint_gives_every_journal_object_its_file_then_empties_the_journal(written, make_engine):
    engine, versions = written
    reader = make_engine(engine.root)
    assert reader.load(T, "doc", versions[0])["n"] == 0  # its journal index now knows the old offsets
    engine.storage.checkpoint(T)
    assert os.path.getsize(engine.storage.journal_path(T)) == 0
    for digest in versions:
        assert os.path.isfile(engine.storage.object_path(T, digest))
    # new commits reuse the journal's offsets: a reader's stale index must not mislead it
    newer = [engine.save(T, "alice", "doc", {"n": i, "body": "y" * 300}) for i in range(5, 8)]
    assert [reader.storage.read_object(T, d) == engine.storage.read_object(T, d) for d in versions + newer] == [True] * 8
    assert [make_engine(engine.root).load(T, "doc", v)["n"] for v in newer] == [5, 6, 7]
    assert make_engine(engine.root).verify().ok


def forge(path: str, digest: str) -> None:
    """Replace an object's bytes in the journal by other bytes of the same length, with the
    frame's checksum recomputed (a well-checksummed forgery)."""
    with open(path, "r+b") as handle:
        data = bytearray(handle.read())
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack(">I", data[offset + 4:offset + 8])
            record = journal.decode(bytes(data[offset + 8:offset + 8 + length]), offset + 8)
            for (name, item), at in zip(record.objects, record.object_offsets, strict=True):
                if name == digest:
                    data[at:at + len(item)] = b" " * len(item)
                    start, end = offset + 8 + length, offset + 8 + length + 32
                    data[start:end] = hashlib.sha256(bytes(data[offset:offset + 8 + length])).digest()
                    handle.seek(0)
                    handle.write(data)
                    return
            offset += length + journal.OVERHEAD
    raise AssertionError("object not in the journal")


def test_a_forged_journal_object_is_corrupt_naming_the_journal(written, make_engine):
    engine, versions = written
    path = engine.storage.journal_path(T)
    warm = make_engine(engine.root)
    assert warm.storage.read_object(T, versions[1])  # indexed before the forgery
    forge(path, versions[1])
    for reader in (make_engine(engine.root), warm):
        with pytest.raises(CorruptObjectError) as caught:
            reader.storage.read_object(T, versions[1])
        assert caught.value.path == path and path in str(caught.value)
    report = make_engine(engine.root).verify()
    kinds = {problem.kind for problem in report.problems}
    # the head's version is in a later record, read past the damage (as readers read it): the
    # forged record's version is what is missing, as the parent of the one after it
    assert "journal-damaged" in kinds and "missing-parent" in kinds and "missing-object" not in kinds, report.problems


def test_verify_checks_the_bytes_of_journal_only_objects(written, make_engine):
    engine, _versions = written
    report = make_engine(engine.root).verify()
    assert report.ok and report.objects_checked >= 6
    # a well-framed record whose object hashes right but is no object of the engine
    bogus = b"[1, 2, 3]"
    digest = hashlib.sha256(bogus).hexdigest()
    head = open(engine.storage.head_path(T), "rb").read()
    frame = journal.encode(journal.Record(boot=journal.boot_id(), objects=[(digest, bogus)], head=head))
    with open(engine.storage.journal_path(T), "ab") as handle:
        handle.write(frame)
    report = make_engine(engine.root).verify()
    bad = [p for p in report.problems if digest in p.path or engine.storage.journal_path(T) in p.path]
    assert [p.kind for p in bad] == ["corrupt-object"] and "offset" in bad[0].path, report.problems


KILLED_AT_HEAD = r"""
import os, signal, sys
from dbengine import journal_store
from dbengine.dbengine import DbEngine

write_all, datasync = journal_store._write_all, journal_store._datasync
def torn(fd, data):
    if sys.argv[2] == "before" and bytes(data[:4]) == b"MJR1":
        write_all(fd, data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)  # killed mid-append: half a record, not acknowledged
    write_all(fd, data)
def synced(fd):
    datasync(fd)
    os.kill(os.getpid(), signal.SIGKILL)  # the record (the head) is in and synced, the index line not appended
journal_store._write_all, journal_store._datasync = torn, synced
DbEngine(sys.argv[1]).save("tenant_1", "alice", "doc", {"n": 99})
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_writer_killed_around_its_head_write_leaves_a_readable_database(written, make_engine, when):
    engine, versions = written
    size = os.path.getsize(engine.storage.journal_path(T))
    proc = subprocess.run([sys.executable, "-c", KILLED_AT_HEAD, engine.root, when], env=ENV,
                          capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert os.path.getsize(engine.storage.journal_path(T)) > size  # its record is in the journal
    cold = make_engine(engine.root)
    expected = [99] if when == "after" else []
    assert [cold.load(T, "doc", v.digest)["n"] for v in cold.log(T, "doc")] == expected + [4, 3, 2, 1, 0]
    assert cold.get(T, "users", "u3") == {"age": 33}
    assert cold.verify().ok
    assert cold.save(T, "alice", "doc", {"n": 100}) and cold.load(T, "doc")["n"] == 100
    cold.storage.checkpoint(T)
    assert make_engine(engine.root).verify().ok and os.path.isfile(cold.storage.object_path(T, versions[0]))


def test_a_reader_reads_on_past_later_commits_and_a_torn_tail(written, make_engine):
    engine, versions = written
    reader = make_engine(engine.root)
    assert reader.storage.read_object(T, versions[0])  # its index now ends where the journal did
    later = [engine.save(T, "alice", "doc", {"n": i}) for i in range(5, 8)]
    assert [reader.load(T, "doc", v)["n"] for v in later] == [5, 6, 7]  # read forwards
    frame = journal.encode(journal.Record(boot=journal.boot_id(), objects=[("0" * 64, b"x")]))
    with open(engine.storage.journal_path(T), "ab") as handle:
        handle.write(frame[: len(frame) // 2])  # a writer killed mid-append
    fresh = make_engine(engine.root)
    assert [fresh.load(T, "doc", v)["n"] for v in versions + later] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert not fresh.storage.has_object(T, "0" * 64)
    report = fresh.verify()
    assert report.ok and [note.kind for note in report.notes] == ["journal-torn"]


def test_export_and_import_see_journal_only_objects(written, make_engine, tmp_path):
    engine, versions = written
    lines = list(make_engine(engine.root).export_jsonl(T))
    target = make_engine(str(tmp_path / "copy"), durable=True)
    result = target.import_jsonl(lines)
    assert result.heads_updated == 2 and result.objects_written == len(loose_files(target)) > 0
    again = make_engine(engine.root, durable=True).import_jsonl(lines)  # into the source: found in its journal
    assert (again.objects_written, again.heads_updated, again.heads_unchanged) == (0, 0, 2)
    assert again.objects_present == result.objects_written and loose_files(engine) == []
    copy = make_engine(str(tmp_path / "copy"))
    assert [copy.load(T, "doc", v)["n"] for v in versions] == list(range(5)) and copy.verify().ok


KILLED_IN_CHECKPOINT = r"""
import os, signal, sys
from dbengine import journal_checkpoint, root_files, storage

write, count = root_files.RootFiles.write_new, [0]
def die_after_some(self, path, data):
    count[0] += 1
    if count[0] > int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # some objects have their files, the journal is whole
    return write(self, path, data)
root_files.RootFiles.write_new = die_after_some
journal_checkpoint.JournalCheckpoints._sync_all = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # files written, not synced
storage.LocalStorage(sys.argv[1]).checkpoint("tenant_1")
"""


@pytest.mark.parametrize("files", [3, 10**6])
def test_a_checkpoint_killed_midway_loses_nothing(written, make_engine, files):
    engine, versions = written
    size = os.path.getsize(engine.storage.journal_path(T))
    proc = subprocess.run([sys.executable, "-c", KILLED_IN_CHECKPOINT, engine.root, str(files)], env=ENV,
                          capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert os.path.getsize(engine.storage.journal_path(T)) == size  # not emptied
    journaled = {digest for _where, digest, _data in engine.storage.journal_objects(T)}
    assert len(loose_files(engine)) == min(files, len(journaled))  # killed among the files, or before the sync
    cold = make_engine(engine.root)
    assert [cold.load(T, "doc", v)["n"] for v in versions] == list(range(5)) and cold.verify().ok
    cold.storage.checkpoint(T)
    assert os.path.getsize(engine.storage.journal_path(T)) == 0
    assert [make_engine(engine.root).load(T, "doc", v)["n"] for v in versions] == list(range(5))


def test_engine_checkpoint_of_one_tenant_or_all_gives_every_object_its_file(written, make_engine):
    engine, versions = written
    other = "tenant_2"
    engine.init(other)
    engine.save(other, "carol", "doc", {"n": 1})
    assert engine.checkpoint(T) == [T]
    assert len(loose_files(engine)) > len(versions) and os.path.getsize(engine.storage.journal_path(T)) == 0
    assert os.path.getsize(engine.storage.journal_path(other)) > 0  # only the tenant asked for
    assert sorted(engine.checkpoint()) == [T, other]
    assert os.path.getsize(engine.storage.journal_path(other)) == 0
    fresh = make_engine(engine.root)
    assert [fresh.load(T, "doc", v)["n"] for v in versions] == list(range(5)) and fresh.verify().ok


def test_engine_checkpoint_of_an_unknown_tenant_is_a_tenant_error(written):
    from dbengine.errors import NotInitializedError

    engine, _versions = written
    with pytest.raises(NotInitializedError):
        engine.checkpoint("nosuch")


def test_a_damaged_frame_mid_journal_loses_no_later_commit_at_the_checkpoint(written, make_engine):
    engine, versions = written
    path = engine.storage.journal_path(T)
    with open(path, "r+b") as handle:  # one flipped byte in the first record (a bad sector)
        handle.seek(30)
        byte = handle.read(1)
        handle.seek(30)
        handle.write(bytes([byte[0] ^ 0xFF]))
    reader = make_engine(engine.root)
    with pytest.raises(CorruptObjectError):
        reader.load(T, "doc", versions[0])  # its record is the damaged one: read from the start
    assert reader.load(T, "doc")["n"] == 4 and reader.get(T, "users", "u3") == {"age": 33}  # still read
    later = engine.save(T, "alice", "doc", {"n": 5})  # acknowledged after the damage
    engine.checkpoint(T)
    assert os.path.exists(path + ".damaged")
    cold = make_engine(engine.root)
    assert [cold.load(T, "doc", v)["n"] for v in versions[1:] + [later]] == [1, 2, 3, 4, 5]
    assert cold.get(T, "users", "u3") == {"age": 33} and len(cold.get(T, "users")) == 30
    kinds = {problem.kind for problem in cold.verify().problems}
    assert "journal-damaged" in kinds, kinds


def test_a_reader_of_many_tenants_keeps_a_bounded_number_of_journals_open(make_engine, monkeypatch):
    from dbengine import kept_journals

    monkeypatch.setattr(kept_journals, "JOURNAL_INDEX_MAX", 3)
    writer = make_engine(durable=True)
    saved = {}
    for i in range(8):
        writer.init(f"t{i}")
        saved[f"t{i}"] = writer.save(f"t{i}", "alice", "doc", {"n": i})
    reader = make_engine(writer.root)

    def open_journals() -> int:
        links = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                 if os.path.exists(f"/proc/self/fd/{fd}")]
        return sum(link.startswith(writer.root) and link.endswith("/journal") for link in links)

    before = open_journals()
    for _round in range(2):  # read again after eviction: reopened and indexed afresh
        assert [reader.load(t, "doc", d)["n"] for t, d in saved.items()] == list(range(8))
        assert open_journals() - before <= 3


def test_journal_reads_of_a_journal_emptied_under_them_find_nothing_and_raise_nothing(written):
    engine, _versions = written
    path = engine.storage.journal_path(T)
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.truncate(path, 0)  # a checkpoint in another process, after this reader took the size
        assert journal.frames_before(fd, size) is None
        assert journal.frame_before(fd, size) is None
        assert journal.records_back(fd, 0, size) == []
        assert not journal.tail_is_whole(fd, size)
        result = journal.scan(fd, size)
        assert (result.records, result.damage) == (0, None) and result.torn
    finally:
        os.close(fd)


def test_has_object_during_a_checkpoint_in_another_process_finds_the_object(written, make_engine, monkeypatch):
    engine, versions = written
    reader = make_engine(engine.root)
    looked = reader.storage.journals.kept.has_object

    def checkpoint_first(tenant: str, digest: str) -> bool:
        engine.storage.checkpoint(T)  # between the reader's file check and its journal check
        return looked(tenant, digest)

    monkeypatch.setattr(reader.storage.journals.kept, "has_object", checkpoint_first)
    assert reader.storage.has_object(T, versions[-1])


@pytest.mark.parametrize("kind", ["symlink", "folder", "fifo"])
def test_a_journal_that_is_not_a_file_is_named_by_reads_and_verify(written, make_engine, kind):
    engine, versions = written
    path = engine.storage.journal_path(T)
    if kind == "symlink":  # even to a copy of itself inside the root: never followed
        os.replace(path, path + ".copy")
        os.symlink(path + ".copy", path)
    else:
        os.unlink(path)
        os.mkdir(path) if kind == "folder" else os.mkfifo(path)
    reader = make_engine(engine.root)
    with pytest.raises(CorruptObjectError) as caught:
        reader.storage.read_object(T, versions[0])
    assert caught.value.path == path and "not a regular file" in str(caught.value)
    problems = [(p.kind, p.path) for p in reader.verify().problems]
    assert ("journal-not-a-file", path) in problems, problems


CHECKPOINTING_WRITER = r"""
import sys
from dbengine import journal_store
journal_store.JOURNAL_LIMIT = 16 * 1024  # a checkpoint every ~20 saves
from dbengine.dbengine import DbEngine
db = DbEngine(sys.argv[1], durable=True)
for i in range(int(sys.argv[2])):
    db.save("tenant_1", "alice", "doc", {"n": i, "body": "x" * 500})
"""


def test_a_reader_thread_pool_reads_while_another_process_commits_and_checkpoints(written, make_engine):
    import threading

    engine, _versions = written
    writer = subprocess.Popen([sys.executable, "-c", CHECKPOINTING_WRITER, engine.root, "250"], env=ENV,
                              stderr=subprocess.PIPE)
    reader, errors, reads = make_engine(engine.root), [], [0]

    def read() -> None:
        while writer.poll() is None:
            try:
                for digest in reader.history(T, "doc", max_items=3):
                    reader.load(T, "doc", digest)
                reads[0] += 1
            except Exception as exc:  # noqa: BLE001 - any error is the finding
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert writer.wait(timeout=120) == 0, writer.stderr.read()
    assert errors == [] and reads[0] > 0
    assert len(reader.history(T, "doc", max_items=None)) == 255 and make_engine(engine.root).verify().ok


def test_listing_and_verify_during_a_checkpoint_in_another_process_miss_no_object(written, make_engine, monkeypatch):
    engine, versions = written
    reader = make_engine(engine.root)
    listing, scanning = reader.storage.objects._iter_digests, reader.storage.scan_objects
    checkpoints = []

    def then_checkpoint(files):
        def listed(*args):
            yield from files(*args)
            engine.storage.checkpoint(T)  # the files are listed, the journal is emptied
            checkpoints.append(args)
        return listed

    monkeypatch.setattr(reader.storage.objects, "_iter_digests", then_checkpoint(listing))
    assert set(versions) <= set(reader.storage.iter_objects(T))
    assert len(checkpoints) == 1  # the patch took effect: the checkpoint ran between listing and journal
    monkeypatch.setattr(reader.storage, "scan_objects", then_checkpoint(scanning))
    engine.save(T, "alice", "doc", {"n": 5})  # back in the journal only
    report = reader.verify()
    assert report.ok, [str(p) for p in report.problems]
    assert len(checkpoints) == 2


@pytest.mark.parametrize("at", [2, 10])  # the first frame's magic, its boot id
def test_a_damaged_first_frame_header_makes_no_reader_replay_and_drop_the_journal(written, make_engine, at):
    engine, versions = written
    path = engine.storage.journal_path(T)
    with open(path, "r+b") as handle:
        handle.seek(at)
        byte = handle.read(1)
        handle.seek(at)
        handle.write(bytes([byte[0] ^ 0xFF]))
    reader = make_engine(engine.root)
    assert reader.load(T, "doc")["n"] == 4 and reader.get(T, "users", "u3") == {"age": 33}
    assert os.path.exists(path) and not os.path.exists(path + ".damaged")  # not replayed by a reader
    engine.checkpoint(T)
    cold = make_engine(engine.root)
    assert [cold.load(T, "doc", v)["n"] for v in versions[1:]] == [1, 2, 3, 4]


def test_a_first_frame_claiming_to_run_past_the_end_is_damage_not_a_torn_tail(written, make_engine):
    engine, versions = written
    path = engine.storage.journal_path(T)
    with open(path, "r+b") as handle:  # a damaged length field: whole frames follow it
        handle.seek(4)
        handle.write(b"\x00\xff\xff\xff")
    kinds = [p.kind for p in make_engine(engine.root).verify().problems]
    assert "journal-damaged" in kinds, kinds
    engine.checkpoint(T)  # was: emptied as if a torn tail, every journal-only object lost
    cold = make_engine(engine.root)
    assert [cold.load(T, "doc", v)["n"] for v in versions[1:]] == [1, 2, 3, 4]
    assert cold.get(T, "users", "u3") == {"age": 33}
