"""ChangeWatcher: what a poll's answer means (a change, a recovery) and the status line's words."""

from __future__ import annotations

import datetime as dt

from mydb_tui.model.watch import ChangeWatcher


def test_one_poll_at_a_time_and_the_first_answer_is_no_change() -> None:
    watch = ChangeWatcher("/data/db")
    assert watch.begin() and not watch.begin()  # one in flight: no second
    assert watch.finish() is not None and watch.started is None
    assert watch.answered(("a", 1)) == (False, False)  # the first token read
    assert watch.answered(("a", 1)) == (False, False)
    assert watch.answered(("a", 2)) == (False, True)
    watch.forget()
    assert watch.answered(("a", 2)) == (False, True)  # a reload counts as a change


def test_trouble_is_worded_by_backend_and_cleared_by_the_next_answer() -> None:
    since = dt.datetime(2024, 5, 1, 12, 3)
    local = ChangeWatcher("/data/db")
    assert local.trouble(since, OSError("disk gone"))[0] == "database unreadable since 12:03, retrying"
    s3 = ChangeWatcher("s3://bucket/db")
    assert s3.trouble(since, None) == ("S3 unreachable since 12:03, retrying", "no answer yet")
    assert s3.trouble_since == since
    assert s3.answered(("t",)) == (True, False)
    assert s3.trouble_since is None
