"""Timeline rows built from a real engine's log."""

from __future__ import annotations

from mydb_tui.model import row_for, timeline_rows

T = "tenant_1"


def test_rows_show_short_digest_local_date_user_summary_head_and_restore(ticking_engine):
    engine = ticking_engine
    first = engine.save(T, "alice", "cfg", {"a": 1, "b": 2})
    engine.save(T, "bob", "cfg", {"a": 1, "b": 3, "c": 4})
    restored = engine.restore(T, "carol", "cfg", first)
    log = engine.log(T, "cfg")
    rows = timeline_rows(log, engine.get_digest(T, "cfg"))
    assert [r.digest for r in rows] == [v.digest for v in log]
    assert [r.user for r in rows] == ["carol", "bob", "alice"]
    assert [r.summary for r in rows] == ["+0 ~1 -1", "+1 ~1 -0", "+2 ~0 -0"]
    assert [r.is_head for r in rows] == [True, False, False]
    assert rows[0].digest == restored and rows[0].restored_from == first[:7]
    assert rows[1].restored_from is None
    assert all(r.short == r.digest[:7] for r in rows)
    assert rows[2].date == log[2].date.astimezone().strftime("%Y-%m-%d %H:%M")
    assert len(rows[2].date) == 16


def test_row_for_an_older_head_and_a_missing_summary(ticking_engine):
    engine = ticking_engine
    first = engine.save(T, "alice", "cfg", {"a": 1})
    version = engine.version(T, "cfg", first)
    assert row_for(version, first).is_head
    bare = type(version)(version.digest, version.parents, version.user_id, version.date)
    assert row_for(bare, "0" * 64).summary == "" and not row_for(bare, "0" * 64).is_head
