"""The commit path's shortcuts (issue 12 §4): the history index a writer appends to is kept
current in memory, so the next commit neither reads its tail back nor re-checks its line."""

from __future__ import annotations

import datetime as dt

import pytest
from dbengine.dbengine import DbEngine
from dbengine.errors import InvalidDateError
from dbengine.utils import (
    MAX_DATE,
    MIN_DATE,
    compute_digest,
    format_date,
    parse_date,
    strict_loads,
    to_json_bytes,
)

T, E, U = "t", "doc", "u"


def test_appends_keep_the_cached_index_current_without_reading_it_back(make_engine, monkeypatch):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, U, E, {"n": 0})
    engine.save(T, U, E, {"n": 1})  # the first append reads the index once
    reads = []
    read_index = engine.storage.read_index
    monkeypatch.setattr(engine.storage, "read_index", lambda *args, **kw: (reads.append(args), read_index(*args, **kw))[1])
    for n in range(2, 7):
        engine.save(T, U, E, {"n": n})
    assert reads == []
    cold = DbEngine(engine.root)
    assert [v.digest for v in engine.log(T, E)] == [v.digest for v in cold.log(T, E)]
    assert [cold.load(T, E, v.digest)["n"] for v in cold.log(T, E)] == [6, 5, 4, 3, 2, 1, 0]
    assert cold.verify(T).ok


def test_a_commit_of_another_engine_in_between_is_read_from_the_file(make_engine):
    first, second = make_engine(), make_engine()
    first.init(T)
    first.save(T, U, E, {"n": 0})
    first.save(T, U, E, {"n": 1})
    second.save(T, U, E, {"n": 2})  # appended behind the first engine's back
    first.save(T, U, E, {"n": 3})
    assert [first.load(T, E, v.digest)["n"] for v in first.log(T, E)] == [3, 2, 1, 0]
    cold = DbEngine(first.root)
    assert [v.digest for v in cold.log(T, E)] == [v.digest for v in first.log(T, E)]
    assert cold.verify(T).ok


def test_a_saved_snapshot_object_holds_the_canonical_bytes_of_its_document(make_engine):
    """A save splices its object's bytes from the metadata's and the data's: they must be
    exactly to_json_bytes(document), non-ASCII, lone surrogates and restores included."""
    engine = make_engine(durable=True)
    engine.init(T)
    values = [{"n": 0}, {"text": "é ✓ \u00e9", "list": [1, 2.5, None, True]}, "\ud800 lone", [{"a": {"b": "\u2028"}}], 7]
    digests = [engine.save(T, "üser ✓", E, value) for value in values]
    digests.append(engine.restore(T, "üser ✓", E, digests[1]))
    for digest in digests:
        data = engine.storage.read_object(T, digest)
        assert compute_digest(data) == digest
        assert to_json_bytes(strict_loads(data)) == data
    cold = DbEngine(engine.root)
    assert [cold.load(T, E, d) for d in digests] == [*values, values[1]]
    assert cold.verify(T).ok


def test_the_index_kept_in_memory_after_appends_is_what_the_file_reads_as(make_engine):
    """The line a commit appends is added to the cached index without parsing it back: the
    cached state must equal a fresh read of the file, field by field."""
    engine = make_engine(durable=True)
    engine.init(T)
    for n in range(5):
        engine.save(T, "u\t✓", E, {"n": n, "s": "\u00e9" * n})
    kept = engine.index.states[(T, E)]
    fresh = DbEngine(engine.root).index.refresh(T, E)
    assert (kept.digests, kept.parents, kept.tails, kept.offset, kept.crc) == \
        (fresh.digests, fresh.parents, fresh.tails, fresh.offset, fresh.crc)
    assert not fresh.damaged and len(fresh) == 5


def test_dates_formatted_and_parsed_twice_read_the_same_and_are_refused_alike():
    """format_date and parse_date keep their last answer: a repeat (or the same second in
    another offset, or a refused date) must answer as a first call does."""
    def zone(minutes: int) -> dt.timezone:
        return dt.timezone(dt.timedelta(minutes=minutes))

    moment = dt.datetime(2026, 12, 6, 4, 0, 1, 250, tzinfo=zone(60))
    assert [format_date(moment), format_date(moment.replace(microsecond=999))] == ["20261206 04:00:01 +0100"] * 2
    assert format_date(moment.replace(tzinfo=zone(-60))) == "20261206 04:00:01 -0100"
    assert format_date(MAX_DATE) == format_date(MAX_DATE.replace(microsecond=0)) == "99991230 23:59:59 +0000"
    for refused in (MAX_DATE + dt.timedelta(microseconds=1), MIN_DATE - dt.timedelta(microseconds=1),
                    moment.replace(tzinfo=dt.timezone(dt.timedelta(seconds=90)))):
        for _ in range(2):
            with pytest.raises(InvalidDateError):
                format_date(refused)
    assert parse_date("20261206 04:00:01 +0100") is parse_date("20261206 04:00:01 +0100")
    assert parse_date("20261206 04:00:01 -0100").utcoffset() == dt.timedelta(hours=-1)
    for bad in ("", "20261206 04:00:01 +0100 ", None):
        with pytest.raises(InvalidDateError):
            parse_date(bad)
