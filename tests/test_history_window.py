"""Windowed history reads, change sets and old index lines (docs/FORMAT.md section 10).

Small histories with small windows exercise the code paths that 1,000,000 versions
use in bench/history_scale.py: a window equals the same slice of the whole log and is
read without loading the whole index; damage inside a window is found and repaired;
lines of format 0.4 still read; change sets name what each snapshot version changed.
"""

from __future__ import annotations

import json
import os
import zlib

import pytest
from dbengine import ChangeSummary, Version
from dbengine.changesets import LEAF_CAP, path_touched, snapshot_changes
from dbengine.dbengine import DbEngine
from dbengine.index_format import encode_lines, parse_index
from dbengine.index_state import IndexState

T, E = "t", "doc"
COUNT = 300


def _value(i: int) -> dict:
    return {"n": i, "meta": {"even": i % 2 == 0, "tags": ["x", "y", str(i % 3)]}, "fixed": "same"}


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[str, list[str]]:
    """A database with COUNT versions of T/E (built once), and its digests newest first."""
    root = str(tmp_path_factory.mktemp("window") / "db")
    engine = DbEngine(root, durable=False)
    engine.init(T)
    for i in range(COUNT):
        engine.save(T, f"user{i % 4}", E, _value(i))
    return root, engine.history(T, E, max_items=None)


def _index(root: str) -> str:
    return DbEngine(root).storage.index_path(T, E)


def test_windows_equal_slices_of_the_whole_log_and_read_only_their_lines(history):
    root, digests = history
    whole = DbEngine(root).log(T, E, max_items=None)
    assert [v.digest for v in whole] == digests
    for start, count in [(0, 10), (7, 40), (COUNT // 2, 25), (COUNT - 30, 30), (COUNT - 1, 5), (0, COUNT),
                         (COUNT + 5, 10), (3, 0)]:
        engine = DbEngine(root)
        window = engine.log_window(T, E, start, count)
        assert (window.total, window.start, window.head) == (COUNT, start, digests[0])
        assert window.versions == whole[start:start + count]
        assert (T, E) not in engine._indexes, "a window must not load the whole index"
    assert DbEngine(root).entry_info(T, E).versions == COUNT
    assert DbEngine(root).log(T, E, max_items=20) == whole[:20]
    with pytest.raises(ValueError):
        DbEngine(root).log_window(T, E, -1, 5)


def test_log_view_pages_through_the_history(history):
    root, digests = history
    view = DbEngine(root).log_view(T, E, page=32)
    assert len(view) == COUNT and view.head == digests[0]
    assert view.cached(COUNT - 1) is None  # nothing read yet for the oldest page
    assert view[-1].digest == digests[-1] and view.cached(COUNT - 1) is not None
    assert [v.digest for v in view[40:75]] == digests[40:75]
    assert [v.digest for v in view] == digests
    assert view.find(digests[100]) == 100


def _damage(root: str, line: int, how: str) -> None:
    path = _index(root)
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    if how == "flip":
        target = bytearray(lines[line])
        target[200] ^= 0x01
        lines[line] = bytes(target)
    else:  # truncated: the line loses its end (and its newline joins it to the next)
        lines[line] = lines[line][:90]
    with open(path, "wb") as f:
        f.write(b"".join(lines))


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_damage_inside_a_window_is_found_and_repaired(history, tmp_path, how):
    root, digests = history
    copy = str(tmp_path / "db")
    os.system(f"cp -r {root} {copy}")
    whole = DbEngine(copy).log(T, E, max_items=None)
    line = 120  # chain position 120 = start COUNT - 1 - 120 below the head
    _damage(copy, line, how)
    engine = DbEngine(copy)
    start = COUNT - 1 - line - 10
    window = engine.log_window(T, E, start, 20)
    assert window.versions == whole[start:start + 20]
    with open(_index(copy), "rb") as f:
        chunk = parse_index(f.read())
    assert chunk.clean and chunk.digests == digests[::-1], "the index was rewritten whole"
    assert DbEngine(copy).log_window(T, E, start, 20).versions == whole[start:start + 20]


def _old_lines(versions: list[Version]) -> bytes:
    """Index lines of format 0.4: eight fields (no position, no change set), chained CRCs."""
    out, crc = [], 0
    for line in encode_lines(versions, 0, 0)[0].splitlines():
        fields = line.split(b"\t")
        body = b"\t".join(fields[:7])
        crc = zlib.crc32(body, crc)
        tail = b"\t%08x\n" % crc
        crc = zlib.crc32(tail, crc)
        out += [body, tail]
    return b"".join(out)


def test_old_index_lines_still_read_and_new_lines_follow_them(history, tmp_path):
    root, digests = history
    copy = str(tmp_path / "db")
    os.system(f"cp -r {root} {copy}")
    whole = DbEngine(copy).log(T, E, max_items=None)
    with open(_index(copy), "wb") as f:
        f.write(_old_lines(whole[::-1]))
    before = os.path.getsize(_index(copy))
    engine = DbEngine(copy)
    assert engine.log_window(T, E, 50, 10).versions == whole[50:60]
    assert engine.entry_info(T, E).versions == COUNT
    assert os.path.getsize(_index(copy)) == before, "old lines are read, not rewritten"
    new = engine.save(T, "writer", E, {**_value(0), "added": True})
    assert DbEngine(copy).log_window(T, E, 0, 3).versions[1:] == whole[:2]
    touching = DbEngine(copy).versions_touching(T, E, path="/added")
    assert touching[0] == (new, True)
    assert all(not certain for _digest, certain in touching[1:])  # old lines: change set unknown
    assert len(touching) == COUNT + 1


def test_versions_touching_names_the_versions_that_changed_a_path(history):
    root, digests = history
    engine = DbEngine(root)
    oldest_first = digests[::-1]
    # "/meta/even" flips on every version, "/meta/tags/2" changes unless i % 3 repeats (never
    # between neighbours), "/fixed" never changes after the first version (the root pointer).
    assert [d for d, _ in engine.versions_touching(T, E, path="/meta/even")] == digests
    assert engine.versions_touching(T, E, path="/fixed") == [(oldest_first[0], True)]
    assert [d for d, _ in engine.versions_touching(T, E, path="/meta")] == digests
    assert engine.versions_touching(T, E, path="/nothing/here") == [(oldest_first[0], True)]
    middle = digests[COUNT // 2]
    assert [d for d, _ in engine.versions_touching(T, E, path="/n", digest=middle)] == digests[COUNT // 2:]
    with pytest.raises(ValueError):
        engine.versions_touching(T, E, path="no-slash")
    with pytest.raises(ValueError):
        engine.versions_touching(T, E)


def test_record_keys_in_the_index_are_found_by_key():
    versions, previous = [], None
    for i, keys in enumerate([("a", "b"), ("b",), None, ("c\t\"quoted\"",), ("a",)]):
        digest = f"{i:064x}"
        versions.append(Version(digest, [previous], "u", None, None, ChangeSummary(1, 0, 0, keys), "no date"))
        previous = digest
    state = IndexState()
    state.add_chunk(parse_index(encode_lines(versions, 0, 0)[0]))
    found = state.touching(len(state), lambda changes: "a" in changes, json.dumps("a"))
    assert found == [(4, True), (2, False), (0, True)]
    found = state.touching(len(state), lambda changes: 'c\t"quoted"' in changes, json.dumps('c\t"quoted"'))
    assert found == [(3, True), (2, False)]


def test_snapshot_change_sets_are_leaves_then_top_level_keys_then_the_root():
    old = {"a": {"x": 1, "y": [1, 2]}, "b": "keep", "c/d~": 1}
    assert snapshot_changes(old, {**old, "a": {"x": 2, "y": [1, 3]}}) == ("/a/x", "/a/y/1")
    assert snapshot_changes(old, {**old, "c/d~": 2}) == ("/c~1d~0",)
    assert snapshot_changes({"v": 1}, {"v": True}) == ("/v",)  # type-strict
    assert snapshot_changes({"v": [1]}, {"v": [1, 2]}) == ("/v",)  # a length change: the array
    assert snapshot_changes(None, {"v": 1}, first=True) == ("",)
    many = {f"k{i}": {"deep": i} for i in range(LEAF_CAP + 5)}
    assert len(snapshot_changes(many, {k: {"deep": -1} for k in many})) == 1  # > 64 top-level keys: the root
    wide = {"only": {f"k{i}": i for i in range(LEAF_CAP + 5)}}
    assert snapshot_changes(wide, {"only": {k: -1 for k in wide["only"]}}) == ("/only",)
    assert path_touched(("/a/x",), "/a") and path_touched(("/a",), "/a/x/1") and not path_touched(("/ab",), "/a")
    assert path_touched(("",), "/anything")


def test_lines_naming_wrong_positions_are_damage(history, tmp_path):
    """Well-formed lines (valid CRCs, chained) whose positions are off by one (a forgery: a
    window trusts positions its CRCs check, as log() trusts lines deep in the history):
    verify calls the index damaged, and a whole read repairs it."""
    root, digests = history
    copy = str(tmp_path / "db")
    os.system(f"cp -r {root} {copy}")
    whole = DbEngine(copy).log(T, E, max_items=None)
    with open(_index(copy), "wb") as f:
        f.write(encode_lines(whole[::-1], 0, 1)[0])  # positions 1..COUNT instead of 0..COUNT-1
    assert "index-damaged" in [p.kind for p in DbEngine(copy).verify(T).notes]
    assert DbEngine(copy).log(T, E, max_items=None) == whole
    assert "index-damaged" not in [p.kind for p in DbEngine(copy).verify(T).notes]
    assert DbEngine(copy).log_window(T, E, 100, 10).total == COUNT
