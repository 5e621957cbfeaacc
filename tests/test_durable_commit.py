"""The shortcuts of the durable commit path (issue 12 §4): a commit's object looked for only
when its file is written, and a save comparing its data with the bytes it last saved; and
the index line appended only once the head is in.
"""

from __future__ import annotations

import errno
import os
import shutil

import pytest
from dbengine import journal_store
from dbengine.errors import StorageError
from dbengine.index_format import parse_index

T, E = "tenant_1", "config"


@pytest.fixture
def durable(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    return engine


def index_digests(engine) -> list[str]:
    with open(engine.storage.index_path(T, E), "rb") as handle:
        chunk = parse_index(handle.read())
    assert chunk.clean
    return chunk.digests


def test_the_index_line_is_appended_after_the_head_is_in(durable, monkeypatch):
    engine = durable
    storage = engine.storage
    seen: list[bytes] = []
    append = storage.append_index

    def watching(tenant, entry, data, *args, **kwargs):
        seen.append(storage.read_head(T)[0])  # (a durable commit's head is in its journal record, not the head file)
        return append(tenant, entry, data, *args, **kwargs)

    monkeypatch.setattr(storage, "append_index", watching)
    digest = engine.save(T, "alice", E, {"n": 1})
    assert len(seen) == 1 and digest.encode() in seen[0]  # the new head was in when the line went on
    assert index_digests(engine)[-1] == digest
    state = engine.index.states[(T, E)]  # taken in as written: the next commit reads nothing back
    assert state.digests[-1] == digest and state.token == storage.index_token(T, E)


def test_a_head_that_fails_to_go_in_leaves_the_index_line_out(durable, monkeypatch):
    engine = durable
    lines = index_digests(engine)

    def failing(fd):  # the journal record (which holds the head) fails to be synced
        raise OSError(errno.EIO, "injected")

    monkeypatch.setattr(journal_store, "_datasync", failing)
    with pytest.raises(StorageError):
        engine.save(T, "alice", E, {"n": 1})
    monkeypatch.undo()
    assert index_digests(engine) == lines  # never appended
    assert engine.load(T, E) == {"n": 0}
    digest = engine.save(T, "alice", E, {"n": 2})
    assert index_digests(engine) == [*lines, digest]
    assert engine.verify(T).ok


@pytest.mark.parametrize("durable_mode", [True, False])
def test_an_object_file_holding_other_bytes_is_replaced_by_a_commit_and_equal_bytes_are_kept(
        make_engine, tmp_path, durable_mode):
    def fresh(name):
        engine = make_engine(str(tmp_path / name), durable=durable_mode)
        engine.init(T)
        engine.save(T, "alice", E, {"n": 0})
        return engine

    probe = fresh("probe")
    digest = probe.save(T, "alice", E, {"n": 1})  # the fixed clock: the same save makes the same object
    data = probe.storage.read_object(T, digest)  # durable: in the journal, no file
    for name, planted in (("torn", data[: len(data) // 2]), ("equal", data)):
        engine = fresh(name)
        path = engine.storage.object_path(T, digest)
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as handle:
            handle.write(planted)
        inode = os.stat(path).st_ino
        assert engine.save(T, "alice", E, {"n": 1}) == digest
        assert open(path, "rb").read() == data
        assert (os.stat(path).st_ino == inode) == (name == "equal")  # equal bytes are not rewritten
        assert engine.verify(T).ok
    shutil.rmtree(probe.root)


def test_the_saved_bytes_shortcut_follows_the_head_another_writer_moved(make_engine):
    first, second = make_engine(durable=True), make_engine(durable=True)
    first.init(T)
    x = first.save(T, "alice", E, {"v": "x"})
    y = second.save(T, "bob", E, {"v": "y"})
    assert y != x
    assert first.save(T, "alice", E, {"v": "y"}) == y  # the head holds it: unchanged, nothing written
    assert first.save(T, "alice", E, {"v": "x"}) not in (x, y)  # a new version, though x was its last
    assert first.history(T, E, max_items=None)[1:] == [y, x]


def test_the_saved_bytes_kept_for_the_next_save_are_bounded_in_bytes(make_engine, monkeypatch):
    """The JSON of each entry's last save is kept for the next save's comparison: bounded in
    bytes for all entries together (snapshots may be megabytes), not only in entries."""
    from dbengine import commits

    monkeypatch.setattr(commits, "SAVED_BYTES", 4000)
    engine = make_engine()
    engine.init(T)
    for i in range(12):
        engine.save(T, "alice", f"e{i}", {"blob": "x" * 600, "i": i})
        assert sum(size for _data, size in engine.commits._saved._items.values()) <= 4000
    assert engine.commits._saved._items  # still used
    engine.save(T, "alice", "big", {"blob": "x" * 2000})  # over a quarter of the bound: not kept
    assert engine.commits._saved.get((T, engine.get_digest(T, "big"))) is None
    head = engine.get_digest(T, "e11")
    assert engine.save(T, "alice", "e11", {"blob": "x" * 600, "i": 11}) == head  # unchanged: nothing written
    assert engine.save(T, "alice", "big", {"blob": "x" * 2000}) == engine.get_digest(T, "big")
    assert engine.save(T, "alice", "e0", {"blob": "y"}) == engine.get_digest(T, "e0")
    assert engine.load(T, "e0") == {"blob": "y"}
