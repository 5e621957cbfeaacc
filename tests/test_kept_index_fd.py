"""The history index's append fd kept between commits (`kept_fds.KeptFds`): used only while
the index path still names the file it was opened on, so that an index replaced (a repair,
another process, a user) gets the next line, a symbolic link put in its place is never
written through, and an engine let go closes it."""

from __future__ import annotations

import gc
import os
import shutil

from dbengine.index_format import parse_index

T, E = "tenant_1", "config"


def index_digests(path: str) -> list[str]:
    with open(path, "rb") as handle:
        chunk = parse_index(handle.read())
    assert chunk.clean
    return chunk.digests


def test_an_index_replaced_between_commits_gets_the_next_line(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    first = [engine.save(T, "alice", E, {"n": n}) for n in range(2)]
    path = engine.storage.index_path(T, E)
    shutil.copy(path, path + ".copy")
    os.replace(path + ".copy", path)  # the same lines, another file: the kept fd names the old one
    third = engine.save(T, "alice", E, {"n": 2})
    assert index_digests(path) == [*first, third]
    assert make_engine(engine.root).log(T, E, max_items=None)[0].digest == third


def test_a_symlink_in_place_of_the_index_is_never_written_through(make_engine, tmp_path):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    engine.save(T, "alice", E, {"n": 1})  # appended: its fd is kept (a first version writes the index whole)
    path = engine.storage.index_path(T, E)
    outside = tmp_path / "outside"
    os.replace(path, outside)  # the kept fd's file, moved out of the root
    os.symlink(outside, path)
    before = outside.read_bytes()
    digest = engine.save(T, "alice", E, {"n": 2})
    assert outside.read_bytes() == before
    assert make_engine(engine.root).log(T, E, max_items=None)[0].digest == digest


def test_dropped_engines_close_their_kept_index_fds(make_engine):
    writer = make_engine(durable=True)
    writer.init(T)
    root = writer.root
    del writer
    gc.collect()

    def open_indexes() -> int:
        links = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                 if os.path.exists(f"/proc/self/fd/{fd}")]
        return sum(f"{os.sep}index{os.sep}" in link and link.startswith(root) for link in links)

    for n in range(5):
        engine = make_engine(root, durable=True)
        engine.save(T, "alice", f"e{n}", {"n": n})
        engine.save(T, "alice", f"e{n}", {"n": n + 1})  # (a first version writes the index whole)
        assert open_indexes() >= 1  # kept while the engine lives
        del engine
        gc.collect()
    assert open_indexes() == 0
