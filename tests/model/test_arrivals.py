"""Arrivals: other writers' versions (not this app's own), the newest for H, the toast's pending list."""

from __future__ import annotations

from types import SimpleNamespace

from mydb_tui.model.arrivals import Arrivals


def v(digest: str) -> SimpleNamespace:
    return SimpleNamespace(digest=digest)


def test_own_writes_are_not_theirs_and_arrivals_gather_per_entry() -> None:
    arrivals = Arrivals()
    arrivals.note_own("mine")
    arrivals.note_own(None)
    theirs = arrivals.theirs([v("b2"), v("mine"), v("b1")])
    assert [x.digest for x in theirs] == ["b2", "b1"]
    assert arrivals.add("t", "config", theirs, "b2") is False  # none waited: H comes
    assert arrivals.add("t", "config", [v("b3")], "b3") is True
    assert arrivals.newest == ("t", "config", "b3")
    assert [x.digest for x in arrivals.pending] == ["b3", "b2", "b1"]
    arrivals.add("t", "other", [v("c1")], "c1")  # another entry: the earlier ones no longer count
    assert [x.digest for x in arrivals.take()] == ["c1"] and arrivals.pending == []


def test_a_toast_makes_the_next_wait_and_seen_clears() -> None:
    arrivals = Arrivals()
    assert arrivals.toast_wait() <= 0  # the first toast shows at once
    arrivals.toasted()
    assert arrivals.toast_wait() > 0
    arrivals.add("t", "e", [v("x")], "x")
    arrivals.seen()
    assert arrivals.newest is None and arrivals.pending == []
