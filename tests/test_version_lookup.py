"""One version of a long history without reading its whole index: version(), resolve()
(HEAD~N, a digest prefix), is_ancestor() answer as the whole, repairing read does, from a
bytes scan of the index file and checked windows (bench/version_lookup.py measures them at
1,000,000 versions); damage, torn and forged lines fall back to the whole read."""

from __future__ import annotations

import datetime as _dt
import itertools

import pytest
from dbengine import index_window
from dbengine.dbengine import DbEngine
from dbengine.errors import AmbiguousDigestError, DigestNotFoundError
from dbengine.index_format import encode_lines, parse_index
from dbengine.index_window import find_lines

T, E, OTHER = "t", "doc", "other"
COUNT = 400


def _clock():
    """A fixed sequence of dates: the same digests on every run (so prefixes collide the same way)."""
    ticks = itertools.count()
    base = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
    return lambda: base + _dt.timedelta(seconds=next(ticks))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[str, list[str], str]:
    """COUNT versions of T/E (digests oldest first) and one version of another entry."""
    root = str(tmp_path_factory.mktemp("lookup") / "db")
    engine = DbEngine(root, durable=False, clock=_clock())
    engine.init(T)
    for i in range(COUNT):
        engine.save(T, f"user{i % 3}", E, {"n": i, "tags": ["a", "b"][: i % 3]})
    engine.save(T, "user0", OTHER, {"n": -1})
    return root, engine.history(T, E, max_items=None)[::-1], engine.get_digest(T, OTHER)


@pytest.fixture
def db(built, tmp_path) -> tuple[str, list[str], str]:
    """A copy of the built database, free to damage."""
    import shutil

    root, digests, other = built
    copy = str(tmp_path / "db")
    shutil.copytree(root, copy)
    return copy, digests, other


def _whole(root: str) -> DbEngine:
    """An engine that answers from the whole index (read into memory first): today's answers."""
    engine = DbEngine(root)
    engine.log(T, E, max_items=None)
    assert (T, E) in engine._indexes
    return engine


def _index_lines(root: str) -> list[bytes]:
    with open(DbEngine(root).storage.index_path(T, E), "rb") as f:
        return f.read().splitlines(keepends=True)


def _write_lines(root: str, lines: list[bytes]) -> None:
    with open(DbEngine(root).storage.index_path(T, E), "wb") as f:
        f.write(b"".join(lines))


def test_version_resolve_and_ancestry_equal_the_whole_read_without_loading_the_index(built):
    root, digests, other = built
    whole = _whole(root)
    for position in (0, 1, 57, COUNT // 2, COUNT - 2, COUNT - 1):
        digest = digests[position]
        engine = DbEngine(root)
        assert engine.version(T, E, digest) == whole.version(T, E, digest)
        assert engine.resolve(T, E, digest[:10]) == digest == whole.resolve(T, E, digest[:10])
        assert (T, E) not in engine._indexes, "a version must not load the whole index"
    for n in (0, 1, 250, COUNT - 1):
        engine = DbEngine(root)
        assert engine.resolve(T, E, f"HEAD~{n}") == whole.resolve(T, E, f"HEAD~{n}") == digests[COUNT - 1 - n]
        assert (T, E) not in engine._indexes
    for rev in (f"HEAD~{COUNT}", "HEAD~99999999999999999999", "zz", "abc"):
        with pytest.raises(DigestNotFoundError):
            DbEngine(root).resolve(T, E, rev)
    with pytest.raises(DigestNotFoundError):
        DbEngine(root).version(T, E, other)  # a version of another entry
    engine = DbEngine(root)
    for a, b in [(0, COUNT - 1), (COUNT - 1, 0), (10, 11), (11, 10), (200, 200), (399, 3)]:
        expected = digests[a] in whole.history(T, E, digest=digests[b], max_items=None)
        assert engine.is_ancestor(T, E, digests[a], digests[b]) is expected is (a <= b)
    assert engine.is_ancestor(T, E, other, digests[-1]) is False
    with pytest.raises(DigestNotFoundError):
        engine.is_ancestor(T, E, digests[0], other)


def test_prefixes_unique_and_ambiguous_as_the_whole_read_says(built):
    root, digests, _ = built
    firsts = sorted(d[:4] for d in digests)
    shared = [p for p, q in zip(firsts, firsts[1:], strict=False) if p == q]
    assert shared, "the fixed clock gives two digests with the same 4-hex prefix"
    with pytest.raises(AmbiguousDigestError) as whole_error:
        _whole(root).resolve(T, E, shared[0])
    engine = DbEngine(root)
    with pytest.raises(AmbiguousDigestError) as error:
        engine.resolve(T, E, shared[0])
    assert error.value.args == whole_error.value.args
    assert (T, E) not in engine._indexes
    with pytest.raises(DigestNotFoundError):
        DbEngine(root).resolve(T, E, "0000000")


def test_the_scan_finds_line_starts_across_chunks_and_not_parent_fields(built, monkeypatch):
    root, digests, _ = built
    engine = DbEngine(root)
    read = engine.reader._read_range(T, E)
    monkeypatch.setattr(index_window, "SCAN_CHUNK", 997)  # many chunks, cuts inside lines and digests
    for position in (0, 1, 123, COUNT - 1):
        assert find_lines(read, digests[position], first_only=True) == [(digests[position], position)]
    found = find_lines(read, digests[5][:4])
    assert (digests[5], 5) in found and all(d.startswith(digests[5][:4]) for d, _ in found)
    # every digest but the head's is also its child's parent field: only its own line matched
    assert len(find_lines(read, digests[7])) == 1


def test_a_digest_only_in_a_parent_field_is_not_taken_for_a_line(db):
    root, digests, _ = db
    lines = _index_lines(root)
    assert digests[100].encode() in lines[101]  # the child's first-parent field
    _write_lines(root, lines[:100] + lines[101:])  # the line of version 100 is gone
    engine = DbEngine(root)
    assert find_lines(engine.reader._read_range(T, E), digests[100]) == []
    assert engine.version(T, E, digests[100]) == _whole(DbEngine(root).root).version(T, E, digests[100])
    assert len(_index_lines(root)) == COUNT, "the whole read repaired the index"


@pytest.mark.parametrize("how", ["flip", "torn"])
def test_damaged_or_torn_index_falls_back_and_repairs(db, how):
    root, digests, _ = db
    expected = _whole(root).version(T, E, digests[150])
    lines = _index_lines(root)
    if how == "flip":  # a byte of the line itself: its CRC (and the next line's) fail
        line = bytearray(lines[150])
        line[140] ^= 0x01
        lines[150] = bytes(line)
    else:  # a crash during an append: the last line half written
        lines[-1] = lines[-1][:100]
    _write_lines(root, lines)
    engine = DbEngine(root)
    assert engine.version(T, E, digests[150]) == expected
    assert engine.resolve(T, E, "HEAD~249") == digests[150]
    assert engine.is_ancestor(T, E, digests[150], digests[-1])
    repaired = b"".join(_index_lines(root))
    assert parse_index(repaired).clean and len(parse_index(repaired).digests) == COUNT, "the index was repaired"
    assert DbEngine(root).version(T, E, digests[150]) == expected


def test_a_forged_line_with_good_crcs_does_not_agree_with_its_object(db):
    root, digests, _ = db
    engine = _whole(root)
    versions = engine.log(T, E, max_items=None)[::-1]
    real = versions[200]
    forged = list(versions)
    forged[200] = type(real)(real.digest, real.parents, "mallory", real.date, real.restored_from, real.summary)
    _write_lines(root, [encode_lines(forged, 0, 0)[0]])  # every CRC recomputed: only the object can tell
    fresh = DbEngine(root)
    assert fresh.version(T, E, real.digest).user_id == real.user_id
    assert DbEngine(root).version(T, E, real.digest).user_id == real.user_id  # the index was repaired
