"""A durable commit writes no head file (issue 12 §4): its head is the journal's last record's
head until a checkpoint writes the head file. Readers in other processes see each commit as
soon as its writer returns, durable and non-durable writers take turns on one tenant, a kill
at any step of a checkpoint leaves the same head, and a forged last record is handled by
the journal's damage rules.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys

import pytest
from dbengine import journal
from dbengine.errors import DigestNotFoundError

T, E = "tenant_1", "doc"
HERE = os.path.dirname(os.path.abspath(__file__))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(os.path.dirname(HERE), "engine"),
                                                    os.environ.get("PYTHONPATH", "")])}

# A writer driven line by line: each line of stdin is a number n; it saves {"n": n} and
# prints the new digest once save() returned. argv: root, durable (1/0), journal limit.
WRITER = r"""
import sys
from dbengine import journal_store
journal_store.JOURNAL_LIMIT = int(sys.argv[3])
from dbengine.dbengine import DbEngine
db = DbEngine(sys.argv[1], durable=sys.argv[2] == "1")
for line in sys.stdin:
    print(db.save("tenant_1", "w", "doc", {"n": int(line), "body": "x" * 300}), flush=True)
"""


def writer(root: str, durable: bool, limit: int = 2 * 1024 * 1024) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, root, "1" if durable else "0", str(limit)], env=ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def save_in(proc: subprocess.Popen, n: int) -> str:
    proc.stdin.write(f"{n}\n")
    proc.stdin.flush()
    line = proc.stdout.readline().strip()
    assert len(line) == 64, proc.stderr.read() if proc.poll() is not None else line
    return line


def finish(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()


@pytest.fixture
def db(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": -1})
    return engine


def test_a_reader_process_sees_each_commit_as_soon_as_its_writer_returns(db, make_engine):
    reader = make_engine(db.root)  # long-lived: its head cache, journal index and tip are warm
    assert reader.load(T, E) == {"n": -1}
    proc = writer(db.root, durable=True, limit=4096)  # a checkpoint every few saves, in between
    try:
        digests = []
        for n in range(25):
            digest = save_in(proc, n)
            digests.append(digest)
            assert reader.get_digest(T, E) == digest, n
            assert reader.load(T, E)["n"] == n
    finally:
        finish(proc)
    assert reader.history(T, E, max_items=None)[:25] == digests[::-1]
    assert make_engine(db.root).verify().ok


def test_durable_and_non_durable_writers_take_turns(db, make_engine):
    """The non-durable writer checkpoints a journal holding records before it replaces the
    head file, so a head file never hides behind the journal's head, nor the other way round."""
    reader = make_engine(db.root)
    durable, loose = writer(db.root, durable=True), writer(db.root, durable=False)
    digests = []
    try:
        for n in range(12):
            proc = durable if n % 3 else loose  # runs of two durable saves, then a non-durable one
            digests.append(save_in(proc, n))
            assert reader.get_digest(T, E) == digests[-1], n
            head_file = json.loads(open(db.storage.head_path(T), "rb").read())
            if proc is loose:  # its head is the head file, the journal empty
                assert head_file[E] == digests[-1] and os.path.getsize(db.storage.journal_path(T)) == 0
    finally:
        finish(durable)
        finish(loose)
    fresh = make_engine(db.root)
    assert fresh.history(T, E, max_items=None)[:12] == digests[::-1]
    assert [fresh.load(T, E, d)["n"] for d in digests] == list(range(12))
    assert fresh.verify().ok


def test_the_token_changes_on_every_commit_and_checkpoint(db):
    storage = db.storage
    tokens = [storage.head_token(T)]
    for n in range(20):
        db.save(T, "alice", E, {"n": n})
        tokens.append(storage.head_token(T))
    storage.checkpoint(T)
    tokens.append(storage.head_token(T))
    assert len(set(tokens)) == len(tokens)
    assert storage.read_head(T)[1] == tokens[-1]


KILLED_IN_CHECKPOINT = r"""
import os, signal, sys
from dbengine import journal_checkpoint
step = sys.argv[2]
def killing(name):
    real = getattr(journal_checkpoint.JournalCheckpoints, name)
    def run(self, *args):
        result = real(self, *args)
        os.kill(os.getpid(), signal.SIGKILL)
    setattr(journal_checkpoint.JournalCheckpoints, name, run)
killing(step)
from dbengine.dbengine import DbEngine
db = DbEngine(sys.argv[1])
print(db.save("tenant_1", "w", "doc", {"n": 99}), flush=True)
db.storage.checkpoint("tenant_1")
"""


@pytest.mark.parametrize("step", ["_put_head_file", "_materialise", "_sync_all"])
def test_a_kill_at_any_step_of_a_checkpoint_leaves_the_same_head(db, make_engine, step):
    versions = [db.save(T, "alice", E, {"n": n}) for n in range(3)]
    proc = subprocess.run([sys.executable, "-c", KILLED_IN_CHECKPOINT, db.root, step], env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    last = proc.stdout.strip()
    assert os.path.getsize(db.storage.journal_path(T)) > 0  # killed before the journal was emptied
    cold = make_engine(db.root)
    assert cold.get_digest(T, E) == last and cold.load(T, E) == {"n": 99}
    assert cold.history(T, E, max_items=4) == [last, *versions[::-1]]
    assert cold.verify().ok
    cold.storage.checkpoint(T)
    assert json.loads(open(db.storage.head_path(T), "rb").read())[E] == last
    assert make_engine(db.root).get_digest(T, E) == last and make_engine(db.root).verify().ok


def append(path: str, record: journal.Record) -> None:
    with open(path, "ab") as handle:
        handle.write(journal.encode(record))


def last_head(path: str) -> bytes:
    found: list[journal.Record] = []
    with open(path, "rb") as handle:
        journal.scan(handle.fileno(), os.fstat(handle.fileno()).st_size, found.append)
    return found[-1].head


def test_a_last_record_whose_head_is_not_json_is_damage_and_ignored(db, make_engine):
    good = db.save(T, "alice", E, {"n": 1})
    path = db.storage.journal_path(T)
    bad = b'{"doc": "not json'
    frame = bytearray(journal.encode(journal.Record(boot=journal.boot_id(), head=b"x" * len(bad))))
    at = len(frame) - journal._TRAILER.size - len(bad)
    frame[at:at + len(bad)] = bad  # then its item digest and the frame checksum made to match
    frame[at - journal._ITEM.size + 1:at - journal._ITEM.size + 33] = hashlib.sha256(bad).digest()
    stop = len(frame) - journal._TRAILER.size
    frame[stop:stop + 32] = hashlib.sha256(bytes(frame[:stop])).digest()
    with open(path, "ab") as handle:
        handle.write(bytes(frame))
    fresh = make_engine(db.root)
    assert fresh.get_digest(T, E) == good  # the record is not valid: the head before it
    report = fresh.verify()
    assert [p.kind for p in report.problems] == ["journal-damaged"], [str(p) for p in report.problems]
    assert fresh.save(T, "alice", E, {"n": 2})  # a writer sets the damaged journal aside first
    assert fresh.load(T, E) == {"n": 2} and os.path.exists(path + ".damaged")


def test_a_linked_last_record_naming_a_missing_object_is_the_head_and_verify_says_so(db, make_engine):
    db.save(T, "alice", E, {"n": 1})
    path = db.storage.journal_path(T)
    missing = hashlib.sha256(b"nowhere").hexdigest()
    head = json.dumps({E: missing}, separators=(",", ":")).encode()
    append(path, journal.Record(boot=journal.boot_id(), base=hashlib.sha256(last_head(path)).digest(), head=head))
    fresh = make_engine(db.root)
    with pytest.raises(DigestNotFoundError, match=missing[:12]):
        fresh.get_digest(T, E)
    for _ in range(2):  # from the journal, then from the head file after a checkpoint
        problems = [(p.kind, p.path) for p in make_engine(db.root).verify().problems]
        assert ("missing-object", db.storage.object_path(T, missing)) in problems, problems
        db.storage.checkpoint(T)
        assert open(db.storage.head_path(T), "rb").read() == head


def test_damage_before_a_linked_last_record_gives_the_same_head_before_and_after_the_checkpoint(db, make_engine):
    path = db.storage.journal_path(T)
    db.storage.checkpoint(T)
    digests = [db.save(T, "alice", E, {"n": n, "body": "y" * 200}) for n in range(3)]
    with open(path, "r+b") as handle:
        handle.seek(100)  # inside the first record: its checksum fails
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    before = make_engine(db.root)
    assert before.get_digest(T, E) == digests[-1]  # the last record is linked to the one before it
    db.storage.checkpoint(T)  # sets the damaged journal aside, after writing the head file from it
    assert os.path.exists(path + ".damaged") and not os.path.exists(path)
    after = make_engine(db.root)
    assert after.get_digest(T, E) == digests[-1] and after.load(T, E)["n"] == 2


def test_a_big_frame_is_read_in_chunks_for_its_head(db, monkeypatch):
    monkeypatch.setattr(journal, "READ_CHUNK", 4096)
    path = db.storage.journal_path(T)
    db.save(T, "alice", E, {"n": 1, "blob": "z" * 300_000})  # one frame of ~300 KB
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        found = journal.frame_head(handle.fileno(), size)
        assert found is not None and found[2] == last_head(path)
        with open(path, "r+b") as damaged:  # one flipped byte in the big object: not a valid record
            damaged.seek(size // 2)
            byte = damaged.read(1)
            damaged.seek(size // 2)
            damaged.write(bytes([byte[0] ^ 1]))
        assert journal.frame_head(handle.fileno(), size) is None


def mydb(root: str, *args: str) -> subprocess.CompletedProcess:
    env = {**ENV, "MYDB_ROOT": root, "PYTHONPATH": os.pathsep.join([os.path.dirname(HERE), ENV["PYTHONPATH"]])}
    return subprocess.run([sys.executable, "-m", "mydb_tui.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_cli_reads_the_journal_head_reports_a_forged_one_cleanly_and_checkpoint_gives_the_seed_layout(db):
    good = db.save(T, "alice", E, {"n": 1})
    assert json.loads(open(db.storage.head_path(T), "rb").read()).get(E) != good  # the head is in the journal
    listed = mydb(db.root, "entries", T, "--json")
    assert listed.returncode == 0 and good in listed.stdout, listed.stderr
    path = db.storage.journal_path(T)
    missing = hashlib.sha256(b"nowhere").hexdigest()
    append(path, journal.Record(boot=journal.boot_id(), base=hashlib.sha256(last_head(path)).digest(),
                                head=json.dumps({E: missing}).encode()))
    for args in (("entries", T), ("verify",), ("log", T, E)):
        result = mydb(db.root, *args)
        assert "Traceback" not in result.stderr and result.returncode in (1, 2), (args, result.stderr)
    assert "missing-object" in mydb(db.root, "verify").stdout
    assert mydb(db.root, "checkpoint").returncode == 0
    assert os.path.getsize(path) == 0  # the seed's layout: the head file holds the head
    assert json.loads(open(db.storage.head_path(T), "rb").read()) == {E: missing}


def test_the_kept_append_fd_follows_the_journal_path_not_a_renamed_file(db, make_engine):
    path = db.storage.journal_path(T)
    db.save(T, "alice", E, {"n": 1})  # the journal's fd is now kept for the next commit
    db.storage.checkpoint(T)
    os.replace(path, path + ".old")  # (an empty journal renamed away: nothing is lost)
    digest = db.save(T, "alice", E, {"n": 2})
    assert os.path.getsize(path + ".old") == 0 and os.path.getsize(path) > 0
    assert make_engine(db.root).get_digest(T, E) == digest


def test_the_compare_and_swap_token_covers_the_journal(db, make_engine):
    storage = db.storage
    data, token = storage.read_head(T)
    other = make_engine(db.root, durable=True)
    other.save(T, "bob", E, {"n": 5})  # another writer's durable commit: only the journal changed
    assert not storage.write_head(T, data, expected=token)  # refused: the head moved
    assert make_engine(db.root).load(T, E) == {"n": 5}
    data, token = storage.read_head(T)
    assert storage.write_head(T, data, expected=token)
