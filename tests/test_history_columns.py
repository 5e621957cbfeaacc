"""engine.history_columns: the user/date/summary columns of a history index read without a
Version per line, and the timeline filter built on them (model.timeline_filter.run_filter).

The columns must say what log() says, for a sound index and for every kind of damage
(the quick read refuses what it cannot trust and the usual, repairing read answers).
"""

from __future__ import annotations

import os
import zlib

import pytest
from dbengine.dbengine import DbEngine

from mydb_tui.model.timeline_filter import filter_versions, parse_filter, run_filter

T = "tenant_1"


@pytest.fixture
def built(ticking_engine):
    """'config' (a snapshot entry, a restore in it) and 'records' (puts and deletes)."""
    engine = ticking_engine
    for i in range(19):
        engine.save(T, ["ann", "Bob", "cy"][i % 3], "config", {"v": i})
    engine.restore(T, "admin", "config", engine.history(T, "config")[5])
    for i in range(14):
        engine.put(T, ["ann", "bob"][i % 2], "records", f"k{i % 5}", i)
    engine.delete(T, "ann", "records", "k1")
    return engine


def truth(engine: DbEngine, entry: str) -> tuple:
    """(digests, users, dates, summaries) oldest first, from log()."""
    log = engine.log(T, entry, max_items=None)[::-1]
    return ([v.digest for v in log], [v.user_id for v in log], [v.date for v in log],
            [v.summary for v in log])


def columns_say(engine: DbEngine, entry: str, thorough: bool = False) -> tuple:
    columns = engine.history_columns(T, entry, thorough=thorough)
    digests = [columns.digest(i) for i in range(columns.count)]
    assert columns.digests == "".join(digests)
    assert columns.versions(list(range(columns.count))[::-1]) == engine.log(T, entry, max_items=None)
    return digests, columns.users, columns.dates(), columns.summaries()


@pytest.mark.parametrize("entry", ["config", "records"])
def test_columns_say_what_log_says(built, entry) -> None:
    want = truth(built, entry)
    for engine in (DbEngine(built.root, durable=False), built):
        assert columns_say(engine, entry) == want
        assert columns_say(engine, entry, thorough=True) == want
    cold = DbEngine(built.root, durable=False)
    columns = cold.history_columns(T, entry)
    assert (T, entry) not in cold._indexes  # read from the file's columns, not the whole parse
    assert columns.position(want[0][3]) == 3 and columns.position("f" * 64) is None


def index_path(engine: DbEngine, entry: str) -> str:
    return engine.storage.index_path(T, entry)


def with_crcs(lines: list[bytes]) -> bytes:
    """Lines whose CRCs are all recomputed: damage a careful forger would write."""
    out, crc = [], 0
    for line in lines:
        body = line[:-10]
        crc = zlib.crc32(body, crc)
        tail = b"\t%08x\n" % crc
        crc = zlib.crc32(tail, crc)
        out.append(body + tail)
    return b"".join(out)


@pytest.mark.parametrize("damage", [
    "deleted", "truncated", "torn_last_line", "garbage_middle", "swapped_lines", "other_user_forged",
    "bad_restored_forged", "bad_date_forged", "wrong_position_forged", "not_hex_forged", "old_format",
])
def test_a_damaged_index_gives_the_true_columns(built, damage) -> None:
    want = truth(built, "config")
    path = index_path(built, "config")
    with open(path, "rb") as handle:
        good = handle.read()
    lines = good.splitlines(keepends=True)

    def field(i: int, k: int, value: bytes) -> bytes:
        parts = lines[i].split(b"\t")
        parts[k] = value
        return b"\t".join(parts)

    damaged = {
        "deleted": None,
        "truncated": b"".join(lines[:-3]),
        "torn_last_line": good + lines[0][:50],
        "garbage_middle": b"".join(lines[:4]) + b"zz\tnot a line\n" + b"".join(lines[4:]),
        "swapped_lines": with_crcs(lines[:3] + [lines[4], lines[3]] + lines[5:]),
        "other_user_forged": with_crcs(lines[:5] + [field(5, 5, b'"mallory"')] + lines[6:]),
        "bad_restored_forged": with_crcs(lines[:6] + [field(6, 2, b'"nope"')] + lines[7:]),
        "bad_date_forged": with_crcs(lines[:7] + [field(7, 4, b"2026-13-99")] + lines[8:]),
        "wrong_position_forged": with_crcs(lines[:8] + [field(8, 7, b"80")] + lines[9:]),
        "not_hex_forged": with_crcs([lines[0].replace(lines[0][:64], b"Z" * 64)] + lines[1:]),
        "old_format": b"".join(b"\t".join(line.split(b"\t")[:7] + line.split(b"\t")[9:]) for line in lines),
    }[damage]
    if damaged is None:
        os.unlink(path)
    else:
        with open(path, "wb") as handle:
            handle.write(damaged)
    cold = DbEngine(built.root, durable=False)
    if damage == "other_user_forged":  # a forged user in an older line is not checked by any read
        assert cold.history_columns(T, "config").users[5] == "mallory"
        assert cold.log(T, "config", max_items=None)[-6].user_id == "mallory"
        return
    got = cold.history_columns(T, "config")
    assert ([got.digest(i) for i in range(got.count)], got.users) == want[:2]
    found = run_filter(DbEngine(built.root, durable=False), T, "config", parse_filter("user:bob"))
    assert [v.digest for v in found.found] == [d for d, u in zip(want[0], want[1], strict=True) if u == "Bob"][::-1]
    every = run_filter(DbEngine(built.root, durable=False), T, "config", parse_filter(">=2000-01-01"))
    assert every.found == built.log(T, "config", max_items=None)


def test_columns_stop_at_a_rolled_back_head(built) -> None:
    head_file = os.path.join(built.root, T, "head")
    with open(head_file, "rb") as handle:
        old_head = handle.read()
    want = truth(built, "config")
    for i in range(3):
        built.save(T, "cy", "config", {"later": i})
    with open(head_file, "wb") as handle:
        handle.write(old_head)
    assert columns_say(DbEngine(built.root, durable=False), "config") == want


QUERIES = ["user:bob", "user:ANN", "ann", "~1", "+1 ann", ">=2026-11-26T14:03:20", "<2026-11-26T14:03:15 cy",
           "key:k1", "key:k2 user:bob", "nobody", "admin"]


@pytest.mark.parametrize("entry", ["config", "records"])
def test_run_filter_keeps_what_filter_versions_keeps(built, entry) -> None:
    log = built.log(T, entry, max_items=None)
    for text in QUERIES:
        query = parse_filter(text)
        if query.key is not None and entry == "config":
            continue
        touching = None
        if query.needs_index:
            touching = {d for d, _certain in built.versions_touching(T, entry, key=query.key)}
        want = filter_versions(log, query, touching)
        got = run_filter(DbEngine(built.root, durable=False), T, entry, query, kind="records")
        assert got.found == want, text
        assert got.total == len(log)
        assert got.rows == {v.digest: log.index(v) for v in want}


def test_run_filter_cancelled_and_refused(built) -> None:
    assert run_filter(built, T, "records", parse_filter("user:bob"), cancelled=lambda: True) is None
    with pytest.raises(ValueError, match="key: is for record entries"):
        run_filter(built, T, "config", parse_filter("key:k1"), kind="snapshot")


@pytest.mark.parametrize("changes", [b'["k1"],["k2"]', b"[1]", b'["k1"]x]', b"{}"])
def test_blame_reads_change_sets_in_one_go_and_refuses_forged_ones(built, changes) -> None:
    """blame parses every change set in one json call; a forged one (CRCs recomputed) is
    damage: the index is rebuilt from the objects and the answer stays true."""
    want = {k: v.digest for k, v in built.blame(T, "records").items()}
    path = index_path(built, "records")
    with open(path, "rb") as handle:
        lines = handle.read().splitlines(keepends=True)
    parts = lines[4].split(b"\t")
    parts[8] = changes
    with open(path, "wb") as handle:
        handle.write(with_crcs(lines[:4] + [b"\t".join(parts)] + lines[5:]))
    assert {k: v.digest for k, v in DbEngine(built.root, durable=False).blame(T, "records").items()} == want


def test_columns_are_kept_while_the_entry_is_unchanged(built) -> None:
    """The columns read last are handed out again (the strip reads them, the filter asks
    next) until the head or the index file changes; a thorough read never uses them."""
    engine = DbEngine(built.root, durable=False)
    first = engine.history_columns(T, "config")
    assert engine.history_columns(T, "config") is first
    assert engine.history_columns(T, "config", thorough=True) is not first
    other = DbEngine(built.root, durable=False)
    assert other.history_columns(T, "config") is not first  # per engine
    built.save(T, "dan", "config", {"v": "new"})
    again = engine.history_columns(T, "config")
    assert again is not first and again.count == first.count + 1 and again.users[-1] == "dan"
