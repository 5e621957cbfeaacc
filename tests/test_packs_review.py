"""Review of the packs (rev7): durability of a pack that is already on disk, merges around
damage, verify and readers on odd things in packs/. Tiny node bounds, as tests/test_packs.py."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import test_packs
from dbengine import errors, packs
from dbengine.dbengine import DbEngine
from test_packs import E, T, U, pack_paths

tiny_nodes, db = test_packs.tiny_nodes, test_packs.db  # the same fixtures as test_packs.py (tiny_nodes autouse)


def nodes(tag: str, count: int = packs.PACK_MIN) -> dict[str, bytes]:
    """`count` distinct record-tree-node-shaped objects (a pack's content), by digest."""
    found = {}
    for i in range(count):
        data = b'{"__kind__":"rec-node","tag":"%s","i":%d}' % (tag.encode(), i)
        found[hashlib.sha256(data).hexdigest()] = data
    return found


@pytest.fixture
def fsynced(monkeypatch) -> list[str]:
    """The paths os.fsync is called on (files and folders), in order."""
    synced: list[str] = []
    fsync = os.fsync

    def recording(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return synced


def test_a_durable_pack_write_syncs_an_identical_pack_already_there_unsynced(db, fsynced):
    """A `durable=False` writer's pack (never synced) holding exactly the bytes a durable flush
    packs: the durable write must sync that file, not trust it (a power loss would take it)."""
    objects = nodes("a")
    path = db.storage.packs.write(T, objects, durable=False)
    assert path not in fsynced
    assert db.storage.packs.write(T, objects, durable=True) == path
    assert path in fsynced and os.path.dirname(path) in fsynced


def test_a_merge_whose_result_is_already_there_syncs_it_before_deleting_the_others(db, monkeypatch, fsynced):
    """Packs B and C, and a pack A (unsynced) holding exactly their objects: the merge's output
    is A's bytes. A must be fsynced before B and C (maybe the only durable copies) go."""
    monkeypatch.setattr(packs, "MERGE_FANOUT", 2)
    first, second = nodes("b"), nodes("c")
    store = db.storage.packs
    whole = store.write(T, first | second, durable=False)
    parts = [store.write(T, first, durable=True), store.write(T, second, durable=True)]
    unlink, order = os.unlink, []

    def recording(path, *args, **kwargs):
        order.append(("unlink", path, list(fsynced)))
        return unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", recording)
    assert sorted(store.merge(T)) == sorted(parts)
    assert [p for p in pack_paths(db)] == [Path(whole)]
    assert order and all(whole in synced_before for _unlink, _path, synced_before in order)


@pytest.mark.parametrize("kind", ["file", "link-to-a-file"])
def test_verify_reports_a_file_where_the_packs_folder_belongs(db, kind):
    """A regular file (or a link inside the root to one) named packs: every commit of PACK_MIN
    nodes fails on it, so verify must not call the database sound."""
    folder = Path(db.storage.packs.folder(T))
    if kind == "file":
        folder.write_text("not a folder")
    else:
        (folder.parent / "elsewhere").write_text("not a folder")
        folder.symlink_to(folder.parent / "elsewhere")
    report = DbEngine(db.root).verify()
    assert [(p.path, p.kind) for p in report.problems] == [(str(folder), "stray-file")]
    assert "folder" in report.problems[0].message
    with pytest.raises(errors.StorageError):
        db.put_many(T, U, E, {f"k{i}": i for i in range(40)})


def test_a_damaged_pack_does_not_stop_the_other_packs_from_merging(db, monkeypatch):
    """One flipped byte in one small pack: it is left alone (for verify), but the other packs
    still merge (before: every commit re-read all small packs, merged nothing, and the packs
    every read probes piled up without bound)."""
    monkeypatch.setattr(packs, "MERGE_FANOUT", 3)
    db.put_many(T, U, E, {f"a{i}": i for i in range(40)})
    [damaged] = pack_paths(db)
    data = bytearray(damaged.read_bytes())
    data[-4] ^= 1
    damaged.write_bytes(bytes(data))
    writer = DbEngine(db.root, durable=False)
    for n in range(8):  # other entries: never read the damaged pack
        writer.put_many(T, U, f"e{n}", {f"b{i}": n * 100 + i for i in range(40)})
    left = pack_paths(writer)
    assert damaged in left and len(left) <= 4, len(left)
    cold = DbEngine(db.root)
    assert all(cold.get(T, f"e{n}", "b39") == n * 100 + 39 for n in range(8))
    problems = cold.verify().problems
    assert {p.path.split(" at ")[0] for p in problems if p.kind == "hash-mismatch"} == {str(damaged)}
    assert all(p.kind in ("hash-mismatch", "missing-node", "tree-mismatch") for p in problems)


CHURN = r"""
import os, sys, time
from dbengine import packs, records_tree as r
from dbengine.dbengine import DbEngine
r.ORDER_LEAF, r.ORDER_FANOUT, r.KEY_LEAF, r.KEY_BITS = 4, 3, 4, 2
packs.MERGE_FANOUT = 2  # a merge at nearly every commit
role, root, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if role == "writer":
    db = DbEngine(root, durable=False)
    for n in range(count):
        db.put_many("t", "u", "rec", {f"k{n % 7}-{i}": [n, i] for i in range(30)})
    sys.exit(0)
kept, errors, reads = DbEngine(root), 0, 0
stop = os.path.join(root, "stop")
while not os.path.exists(stop):
    for engine in (kept, DbEngine(root)):  # one listing kept across merges, one fresh each time
        try:
            for version in engine.log("t", "rec"):
                engine.get("t", "rec", digest=version.digest)
            reads += 1
        except Exception as exc:  # any error at all is the failure this test looks for
            errors += 1
            print(type(exc).__name__, exc, file=sys.stderr)
print(reads, errors)
"""


def test_reader_processes_never_miss_an_object_while_a_writer_commits_and_merges(db, tmp_path):
    """A writer process committing packs with a merge at nearly every commit; two reader
    processes reading every version of the entry meanwhile (one engine kept across the
    merges, one fresh each pass): no read ever fails."""
    import subprocess
    import sys

    root_dir = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root_dir / "engine"), str(root_dir)])}
    db.put_many(T, U, E, {f"k{i}": i for i in range(30)})
    readers = [subprocess.Popen([sys.executable, "-c", CHURN, "reader", db.root, "0"], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        writer = subprocess.run([sys.executable, "-c", CHURN, "writer", db.root, "40"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert writer.returncode == 0, writer.stderr
    finally:
        Path(db.root, "stop").touch()
        outputs = [reader.communicate(timeout=60) for reader in readers]
    for out, err in outputs:
        reads, failed = map(int, out.split())
        assert reads >= 2 and failed == 0, err[-2000:]
    assert len(pack_paths(db)) < 10  # merged along the way (40 packing commits)
    assert len(DbEngine(db.root).log(T, E)) == 41 and DbEngine(db.root).verify().ok


def test_a_damaged_copy_in_one_pack_does_not_hide_a_good_copy_in_another(db):
    """The same node in two packs (a node written again by a later commit, a checkpoint
    re-packing journal nodes, a merge between its rename and its unlinks): a flipped byte in
    the larger pack's copy must not make the object unreadable."""
    shared = nodes("shared", 1)
    [digest] = shared
    store = db.storage.packs
    larger = Path(store.write(T, nodes("a", 30) | shared, durable=False))  # probed first (largest first)
    store.write(T, nodes("b") | shared, durable=False)
    data = bytearray(larger.read_bytes())
    data[data.index(shared[digest]) + 5] ^= 1
    larger.write_bytes(bytes(data))
    for storage in (db.storage, DbEngine(db.root).storage):
        assert storage.read_object(T, digest) == shared[digest]
        assert storage.packs.read(T, digest) == shared[digest]  # also asked of the packs alone


def test_a_fault_at_every_storage_call_of_a_checkpoint_that_packs_and_merges_loses_nothing(tmp_path, monkeypatch):
    """EIO at each os call of a durable database's checkpoint (no syncfs: an fsync of each file)
    that writes the journal's nodes as a pack and merges it with the packs there: StorageError
    or absorbed (a merge can wait), every version still read, verify clean, and the journal
    emptied only once its objects are in place; the next checkpoint then succeeds."""
    import shutil
    import sys

    from dbengine import journal_checkpoint

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fault_injection import Faults, each_fault, faulted

    monkeypatch.setattr(packs, "MERGE_FANOUT", 2)
    monkeypatch.setattr(journal_checkpoint, "_syncfs", lambda fd: False)
    template = tmp_path / "template"
    engine = DbEngine(str(template))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(40)})
    engine.storage.checkpoint(T)  # one pack there: the next checkpoint's pack merges with it
    engine.put_many(T, U, E, {f"k{i}": -i for i in range(0, 40, 3)} | {f"n{i}": i for i in range(8)})
    expected = engine.get(T, E)
    assert len(pack_paths(engine)) == 1 and os.path.getsize(engine.storage.journal_path(T)) > 0

    def run(root: Path, faults: Faults | None) -> Exception | None:
        return faulted(lambda: DbEngine(str(root)).storage.checkpoint(T), faults, errors.DbEngineError)

    counting = Faults()
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    assert run(reference, counting) is None
    assert len(pack_paths(DbEngine(str(reference)))) == 1 and os.path.getsize(DbEngine(str(reference)).storage.journal_path(T)) == 0
    journal_fsync = max(at for at, name in enumerate(counting.calls, 1) if name == "fsync")  # the emptied journal's
    journal_size = os.path.getsize(template / T / "journal")
    raised = 0
    for n, label, case, error in each_fault(template, tmp_path, len(counting.calls), run):
        if error is not None:
            raised += 1
            assert isinstance(error, errors.StorageError), (label, error)
            if n != journal_fsync:  # failed before everything was synced: the journal is kept whole
                assert os.path.getsize(case / T / "journal") == journal_size, label
        cold = DbEngine(str(case))
        assert cold.get(T, E) == expected and len(cold.log(T, E)) == 2, label
        assert cold.verify().ok, label
        assert run(case, None) is None, label
        after = DbEngine(str(case))
        assert after.get(T, E) == expected and after.verify().ok, label
        assert os.path.getsize(after.storage.journal_path(T)) == 0, label
    assert raised >= len(counting.calls) // 3
