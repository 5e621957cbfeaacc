"""The commit path's shortcuts (issue 12 §4): the history index a writer appends to is kept
current in memory, so the next commit neither reads its tail back nor re-checks its line."""

from __future__ import annotations

from dbengine.dbengine import DbEngine

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
