"""Writes never leave the database root, even when a folder the engine already wrote into is
swapped for a symbolic link to a folder outside the root while the engine runs (rev6): the
tenant folder (and with it the lock file's), its `index/`, `objects/<prefix>/` and `packs/`.

Each test: a long-lived engine writes (so the folder is known and fds are kept open), the
folder is moved out of the root and a symlink to it put in its place, the engine writes
again. Nothing outside the root may change; the write either lands inside or fails with a
StorageError naming the link; once the folder is put back, verify is clean."""

from __future__ import annotations

import os

import pytest
from dbengine.errors import StorageError

T, E = "tenant_1", "config"


def snapshot(folder) -> dict[str, bytes]:
    """Every file under `folder`, by relative path, with its bytes."""
    files = {}
    for parent, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, folder)] = handle.read()
    return files


def swap_out(folder: str, outside) -> str:
    """Move `folder` to `outside` (a new path) and put a symlink to it in its place."""
    os.replace(folder, outside)
    os.symlink(outside, folder)
    return str(outside)


def put_back(folder: str, outside: str) -> None:
    os.unlink(folder)
    os.replace(outside, folder)


def assert_refused_or_inside(write, outside: str) -> None:
    """`write()` changes nothing under `outside`: it succeeds (inside) or raises StorageError."""
    before = snapshot(outside)
    try:
        write()
    except StorageError as exc:
        assert "outside the database root" in str(exc) or "symbolic link" in str(exc), exc
    after = snapshot(outside)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"written outside the root: {changed}"


def test_a_tenant_folder_swapped_for_a_symlink_is_never_written_through(make_engine, tmp_path):
    engine = make_engine(durable=True)
    engine.init(T)
    for n in range(3):  # the lock file, the journal and the index are now kept open
        engine.save(T, "alice", E, {"n": n})
    tenant = engine.storage.tenant_dir(T)
    outside = swap_out(tenant, tmp_path / "outside-tenant")
    assert_refused_or_inside(lambda: engine.save(T, "alice", E, {"n": 3}), outside)
    assert_refused_or_inside(lambda: engine.put(T, "alice", "people", "k", {"v": 1}), outside)
    put_back(tenant, outside)
    assert make_engine(engine.root).verify().ok


@pytest.mark.parametrize("durable", [True, False])
def test_an_index_folder_swapped_for_a_symlink_is_never_written_through(make_engine, tmp_path, durable):
    engine = make_engine(durable=durable)
    engine.init(T)
    for n in range(3):  # the index's append fd is kept open
        engine.save(T, "alice", E, {"n": n})
    folder = os.path.dirname(engine.storage.index_path(T, E))
    outside = swap_out(folder, tmp_path / "outside-index")
    assert_refused_or_inside(lambda: engine.save(T, "alice", E, {"n": 3}), outside)
    assert_refused_or_inside(lambda: engine.save(T, "alice", "other", {"n": 0}), outside)
    put_back(folder, outside)
    report = make_engine(engine.root).verify()
    assert report.ok, report.problems


def test_an_object_folder_swapped_for_a_symlink_is_never_written_through(make_engine, tmp_path):
    engine = make_engine()
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    storage = engine.storage
    digest = engine.get_digest(T, E)
    path = storage.object_path(T, digest)
    data = storage.read_object(T, digest)
    folder = os.path.dirname(path)
    outside = swap_out(folder, tmp_path / "outside-object")
    os.unlink(os.path.join(outside, digest))  # the object is missing: the engine writes it again
    assert_refused_or_inside(lambda: storage.write_object(T, digest, data), outside)
    put_back(folder, outside)
    if not os.path.exists(path):
        storage.write_object(T, digest, data)
    assert make_engine(engine.root).verify().ok


def test_an_objects_folder_swapped_for_a_symlink_is_never_written_through(make_engine, tmp_path):
    engine = make_engine()
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    folder = os.path.join(engine.storage.tenant_dir(T), "objects")
    outside = swap_out(folder, tmp_path / "outside-objects")
    assert_refused_or_inside(lambda: engine.save(T, "alice", E, {"n": 1}), outside)
    put_back(folder, outside)
    assert make_engine(engine.root).verify().ok


def test_a_packs_folder_swapped_for_a_symlink_is_never_written_through(make_engine, tmp_path):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.put_many(T, "alice", "people", {f"k{n:05}": {"v": n, "pad": "x" * 200} for n in range(3000)})
    engine.checkpoint(T)
    folder = os.path.join(engine.storage.tenant_dir(T), "packs")
    assert os.listdir(folder), "the checkpoint should have written a pack"
    outside = swap_out(folder, tmp_path / "outside-packs")

    def write() -> None:
        engine.put_many(T, "alice", "people", {f"j{n:05}": {"v": n, "pad": "y" * 200} for n in range(3000)})
        engine.checkpoint(T)

    assert_refused_or_inside(write, outside)
    put_back(folder, outside)
    report = make_engine(engine.root).verify()
    assert report.ok, report.problems


def test_an_import_never_writes_through_a_folder_swapped_while_it_runs(make_engine, tmp_path):
    """An import writes objects outside any hold: a folder checked for one object may be
    swapped for a symlink out of the root before the next (here between two lines)."""
    source = make_engine(str(tmp_path / "source"), durable=True)
    source.init(T)
    for n in range(4):
        source.save(T, "alice", E, {"n": n, "text": "x" * n})
    lines = list(source.export_jsonl(T))
    engine = make_engine(durable=True)
    engine.init(T)
    objects = os.path.join(engine.storage.tenant_dir(T), "objects")
    outside = str(tmp_path / "outside-objects")
    moved: list[dict[str, bytes]] = []

    def stream():
        for line in lines:
            if '"type":"object"' in line.replace(" ", "") and not moved and os.path.isdir(objects) \
                    and snapshot(objects):  # one object written: objects/ is known inside
                swap_out(objects, outside)
                moved.append(snapshot(outside))
            yield line

    with pytest.raises(StorageError, match="outside the database root"):
        engine.import_jsonl(stream())
    assert moved and snapshot(outside) == moved[0], "written outside the root"
