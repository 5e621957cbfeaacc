"""The per-entry history index is a cache: damaged on purpose, it never gives a wrong answer.

Each test builds an entry, records the true history, damages the index file (truncated,
garbage line, deleted, stale, lines of another chain) and checks that log/history are
still right and that the index on disk is repaired.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import zlib

import pytest
from dbengine.dbengine import DbEngine

T = "tenant_1"
VERSIONS = 30


@pytest.fixture
def built(ticking_engine):
    """An entry 'config' with VERSIONS versions (plus a record entry and a restore)."""
    engine = ticking_engine
    for i in range(VERSIONS - 1):
        engine.save(T, f"user{i % 3}", "config", {"v": i, "keep": [1, 2]})
    engine.restore(T, "admin", "config", engine.history(T, "config")[5])
    for i in range(12):
        engine.put(T, "u", "records", f"k{i % 5}", i)
    engine.save(T, "u", "other", {"x": 1})
    engine.save(T, "u", "other", {"x": 2})
    return engine


def snapshot(engine: DbEngine, entry: str):
    return engine.history(T, entry), engine.log(T, entry), engine.entry_info(T, entry)


def index_file(engine: DbEngine, entry: str) -> str:
    return engine.storage.index_path(T, entry)


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def check_right_and_repaired(engine: DbEngine, entry: str, expected, good_index: bytes) -> None:
    """A cold engine and the warm one give the true answers; the file is whole again."""
    for eng in (DbEngine(engine.root, durable=False), engine):
        assert eng.history(T, entry) == expected[0]
        assert eng.log(T, entry) == expected[1]
        assert eng.entry_info(T, entry) == expected[2]
        assert [v.digest for v in eng.log(T, entry)] == eng.history(T, entry)
        head = expected[0][0]
        assert eng.resolve(T, entry, "HEAD~3") == expected[0][3]
        assert eng.version(T, entry, head) == expected[1][0]
    assert read(index_file(engine, entry)) == good_index


def forge_crc(line: bytes, previous: bytes) -> bytes:
    """A line whose CRC continues from `previous` (as a careful forger would write it); the
    lines after it still continue from the true one, so the forgery is found anyway."""
    seed = zlib.crc32(previous[-10:], int(previous[-9:-1], 16))
    return line[:-9] + b"%08x\n" % zlib.crc32(line[:-10], seed)


def old_json_lines(engine: DbEngine, entry: str) -> bytes:
    """The index as version 0.3 wrote it (JSON arrays with a CRC per line): rebuilt on read."""
    rows = []
    for v in reversed(engine.log(T, entry)):
        summary = [v.summary.added, v.summary.changed, v.summary.removed] if v.summary else None
        body = json.dumps([v.digest, v.parents, v.user_id, v.date_text, v.restored_from, summary],
                          separators=(",", ":")).encode()[:-1]
        rows.append(body + b",%d]\n" % zlib.crc32(body))
    return b"".join(rows)


def walk_objects(engine: DbEngine, entry: str) -> list[str]:
    """The true chain, from the snapshots' __parent__ links."""
    chain, cursor = [], engine.get_digest(T, entry)
    while cursor:
        chain.append(cursor)
        cursor = engine.read_snapshot(T, cursor)["__parent__"][0]
    return chain


def test_the_index_agrees_with_the_objects(built):
    for entry in ("config", "records", "other"):
        assert built.history(T, entry) == walk_objects(built, entry)
    assert len(built.history(T, "config")) == VERSIONS
    assert built.log(T, "config")[0].restored_from == built.history(T, "config")[6]


@pytest.mark.parametrize("entry", ["config", "records"])
@pytest.mark.parametrize("damage", [
    "deleted", "empty", "truncated_lines", "truncated_mid_line", "garbage_last", "garbage_middle",
    "garbage_first", "binary", "duplicated_line", "swapped_lines", "missing_first_line",
    "other_chain", "other_chain_appended", "other_chain_in_middle", "flipped_user_middle",
    "line_crc_forged", "old_json_lines",
])
def test_a_damaged_index_is_repaired(built, entry, damage):
    expected = snapshot(built, entry)
    path = index_file(built, entry)
    good = read(path)
    lines = good.splitlines(keepends=True)
    other = read(index_file(built, "other")).splitlines(keepends=True)
    assert len(lines) >= 10
    damaged = {
        "deleted": None,
        "empty": b"",
        "truncated_lines": b"".join(lines[:-4]),
        "truncated_mid_line": b"".join(lines[:-2]) + lines[-2][:37],
        "garbage_last": good + b"not json at all\n",
        "garbage_middle": b"".join(lines[:4]) + b'["zz",[null],1,2,3,4]\n' + b"".join(lines[4:]),
        "garbage_first": b"{\n" + good,
        "binary": b"".join(lines[:3]) + b"\xff\xfe\x00\n" + b"".join(lines[3:]),
        "duplicated_line": b"".join(lines[:5] + [lines[4]] + lines[5:]),
        "swapped_lines": b"".join(lines[:3] + [lines[4], lines[3]] + lines[5:]),
        "missing_first_line": b"".join(lines[1:]),
        "other_chain": b"".join(other),
        "other_chain_appended": good + b"".join(other),
        "other_chain_in_middle": b"".join(lines[:6] + other + lines[6:]),
        "flipped_user_middle": b"".join(lines[:5] + [lines[5].replace(b'"u', b'"v')] + lines[6:]),
        "line_crc_forged": b"".join(lines[:5] + [forge_crc(lines[5].replace(b'"u', b'"v'), lines[4])] + lines[6:]),
        "old_json_lines": old_json_lines(built, entry),
    }[damage]
    if damaged is None:
        os.unlink(path)
    else:
        write(path, damaged)
    check_right_and_repaired(built, entry, expected, good)


def test_a_stale_index_is_completed(built):
    """The head moved ahead of the index (a writer died between the two writes)."""
    path = index_file(built, "config")
    old_index = read(path)
    for i in range(5):
        built.save(T, "u", "config", {"later": i})
    expected = snapshot(built, "config")
    good = read(path)
    write(path, old_index)  # same content as before the 5 saves: 5 versions behind
    check_right_and_repaired(built, "config", expected, good)
    built.save(T, "u", "config", {"after": "repair"})
    assert built.history(T, "config")[1:] == expected[0]
    assert DbEngine(built.root).history(T, "config") == built.history(T, "config")


def test_an_index_replaced_under_a_warm_engine(built):
    """The engine keeps the parsed index between calls; a replaced file is noticed."""
    expected = snapshot(built, "config")
    path = index_file(built, "config")
    good = read(path)
    built.log(T, "config")  # warm
    lines = good.splitlines(keepends=True)
    os.unlink(path)
    write(path, b"".join(lines[:3]))  # a new inode, shorter
    assert built.log(T, "config") == expected[1]
    write(path, good + b"".join(lines[:2]))  # same inode, longer, wrong lines appended
    assert built.log(T, "config") == expected[1]
    assert built.history(T, "config") == expected[0]
    built.save(T, "u", "config", {"new": 1})
    fresh = DbEngine(built.root)
    assert fresh.history(T, "config") == built.history(T, "config")
    assert fresh.history(T, "config")[1:] == expected[0]
    assert fresh.history(T, "config") == walk_objects(fresh, "config")


def test_a_warm_engine_sees_versions_written_by_another(built):
    first = built.log(T, "config")
    other = DbEngine(built.root, durable=False)
    other.save(T, "someone", "config", {"from": "other"})
    log = built.log(T, "config")
    assert log[1:] == first and log[0].user_id == "someone"
    assert built.load(T, "config") == {"from": "other"}


def test_the_index_folder_deleted(built):
    expected = {e: snapshot(built, e) for e in ("config", "records", "other")}
    shutil.rmtree(os.path.join(built.root, T, "index"))
    fresh = DbEngine(built.root)
    for entry, want in expected.items():
        assert snapshot(fresh, entry) == want
    fresh.save(T, "u", "config", {"z": 0})
    assert fresh.history(T, "config")[1:] == expected["config"][0]


def test_history_index_is_rebuilt_byte_identical(built):
    """Rebuilding from the objects gives the same lines that commits appended."""
    for entry in ("config", "records", "other"):
        path = index_file(built, entry)
        good = read(path)
        os.unlink(path)
        DbEngine(built.root).log(T, entry)
        assert read(path) == good


class _OpenCounter:
    """Counts files opened under a folder while active (an audit hook, not a mock)."""

    hooked = False
    active: _OpenCounter | None = None

    def __init__(self, folder: str):
        self.folder = folder
        self.count = 0
        if not _OpenCounter.hooked:
            sys.addaudithook(_OpenCounter._hook)
            _OpenCounter.hooked = True

    @staticmethod
    def _hook(event, args):
        counter = _OpenCounter.active
        if counter is not None and event == "open" and isinstance(args[0], str) and args[0].startswith(counter.folder):
            counter.count += 1

    def __enter__(self):
        _OpenCounter.active = self
        return self

    def __exit__(self, *exc):
        _OpenCounter.active = None


def test_a_long_history_does_not_open_every_object(make_engine, ticking_engine):
    engine = ticking_engine
    n = 10_000
    for i in range(n):
        engine.save(T, "u", "long", i)
    cold = make_engine()
    objects = os.path.join(engine.root, T, "objects")
    with _OpenCounter(objects) as opened:
        start = time.perf_counter()
        log = cold.log(T, "long", max_items=None)
        history = cold.history(T, "long", max_items=None)
        elapsed = time.perf_counter() - start
    assert len(log) == n and [v.digest for v in log] == history
    assert history[-1] == engine.history(T, "long", max_items=None)[-1]
    assert log[-1].parents == [None] and log[0].date > log[-1].date
    assert opened.count <= 2, opened.count
    assert elapsed < 1.0, elapsed  # walking the objects one by one takes far longer
    with _OpenCounter(objects) as opened:
        assert len(cold.history(T, "long", max_items=10)) == 10
        assert cold.load(T, "long", digest=history[9_999]) == 0
    assert opened.count <= 1


def test_an_index_ahead_of_a_rolled_back_head(built):
    """A head file restored from a backup is behind its index: the extra lines are ignored,
    and the next commit (whose parent is the old head) is still logged right."""
    head_file = os.path.join(built.root, T, "head")
    old_head = read(head_file)
    old = snapshot(built, "config")
    for i in range(3):
        built.save(T, "u", "config", {"future": i})
    write(head_file, old_head)  # the rollback
    assert snapshot(DbEngine(built.root), "config") == old
    assert snapshot(built, "config") == old
    new = built.save(T, "u", "config", {"after": "rollback"})
    for eng in (built, DbEngine(built.root)):
        assert eng.history(T, "config") == [new] + old[0]
        assert [v.digest for v in eng.log(T, "config")] == [new] + old[0]
        assert eng.entry_info(T, "config").versions == len(old[0]) + 1
        assert eng.history(T, "config") == walk_objects(eng, "config")


@pytest.mark.parametrize("entry", ["config", "records"])
def test_a_short_cold_log_never_trusts_a_window_after_damage(built, entry):
    """A cold log of the newest versions reads only the file's end, checked by the CRC
    chain from the line before the window: damage anywhere gives the true answer."""
    path = index_file(built, entry)
    good = read(path)
    lines = good.splitlines(keepends=True)
    want = (built.log(T, entry, max_items=3), built.history(T, entry, max_items=None))
    for i in range(len(lines) - 1):
        write(path, b"".join(lines[:i] + [lines[i].replace(b'"u', b'"v')] + lines[i + 1:]))
        cold = DbEngine(built.root, durable=False)
        assert cold.log(T, entry, max_items=3) == want[0], i
        assert cold.history(T, entry, max_items=None) == want[1], i
        write(path, good)
