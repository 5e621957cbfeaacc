"""The timeline filter's parsing and matching (mydb_tui.model.timeline_filter)."""

from __future__ import annotations

import datetime as dt

import pytest
from dbengine import ChangeSummary, Version

from mydb_tui.model.timeline_filter import FilterError, filter_title, filter_versions, parse_filter


def version(digest: str, user: str, day: int, summary: ChangeSummary | None = None) -> Version:
    return Version(digest, [], user, dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC), summary=summary)


VERSIONS = [
    version("d4", "alice", 20, ChangeSummary(added=2)),
    version("d3", "bob", 10, ChangeSummary(changed=1)),
    version("d2", "Alice", 5),
    version("d1", "carol", 1, ChangeSummary(removed=3)),
]


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time
    time.tzset()


def digests(text: str, touching=None) -> list[str]:
    query = parse_filter(text)
    return [v.digest for v in filter_versions(VERSIONS, query, touching)]


def test_user_term_and_bare_word_match_the_user() -> None:
    assert digests("user:alice") == ["d4", "d2"]
    assert digests("user:ALICE") == ["d4", "d2"]
    assert digests("user:ali") == []  # user: is the whole name
    assert digests("ali") == ["d4", "d2"]  # a bare word is a part of the user or summary


def test_bare_words_match_the_summary_text() -> None:
    assert str(VERSIONS[0].summary) and digests(str(VERSIONS[0].summary).split()[0]) == ["d4"]


def test_dates_are_bounds_and_terms_combine() -> None:
    assert digests(">=2026-03-05") == ["d4", "d3", "d2"]
    assert digests(">2026-03-05T12:00") == ["d4", "d3"]
    assert digests("<2026-03-10") == ["d2", "d1"]
    assert digests(">=2026-03-02 <=2026-03-15 user:bob") == ["d3"]
    assert digests(">=2026-03-02 <=2026-03-15 user:carol") == []


def test_key_terms_keep_the_versions_touching() -> None:
    query = parse_filter("key:u01")
    assert query.needs_index and query.key == "u01"
    assert digests("key:u01", {"d3", "d1"}) == ["d3", "d1"]
    assert digests("key:u01 user:carol", {"d3", "d1"}) == ["d1"]
    assert parse_filter("path:/a/b").path == "/a/b"


@pytest.mark.parametrize("text", ["user:", "key:", ">=yesterday", "path:a", "key:a path:/b",
                                  "user:a user:b", "'open"])
def test_bad_queries_say_why(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)


def test_empty_query_and_title() -> None:
    assert parse_filter("   ") is None
    assert filter_title(parse_filter("user:alice"), 12, 2101) == "History · filter: user:alice · 12 of 2,101"


def test_cancel_stops_the_scan() -> None:
    assert filter_versions(VERSIONS, parse_filter("a"), cancelled=lambda: True) == []
