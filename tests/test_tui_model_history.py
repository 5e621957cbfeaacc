"""The Textual-free view model of the history questions (mydb_tui.model.history)."""

from __future__ import annotations

import datetime as dt

from dbengine import Version

from mydb_tui.model.compare import Change
from mydb_tui.model.history import (
    change_index,
    gutter_text,
    history_row,
    hit_row,
    node_pointer,
    one_line,
    relative_age,
    snippet_segments,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _version(digest: str = "a" * 64, user: str = "alice", date: dt.datetime | None = NOW) -> Version:
    return Version(digest=digest, user_id=user, date=date, parents=[], restored_from=None)


class _Change:
    def __init__(self, kind, old, new):
        self.version, self.kind, self.old, self.new = _version(), kind, old, new


class _Hit:
    def __init__(self, key, path, snippet):
        self.entry, self.version, self.key, self.path = "e", _version(), key, path
        self.before, self.after, self.snippet = 0, 2, snippet


def test_history_row_marks_the_changed_words_only() -> None:
    row = history_row(_Change("changed", {"name": "user 3", "age": 23}, {"name": "changed", "age": 1}))
    assert "".join(s.text for s in row.old) == '{"name": "user 3", "age": 23}'
    assert [s.text for s in row.old if s.marked] == ["user 3", "23"]
    assert [s.text for s in row.new if s.marked] == ["changed", "1"]
    assert (row.short, row.user, row.kind) == ("aaaaaaa", "alice", "changed")


def test_history_row_of_a_record_shows_only_the_fields_that_differ() -> None:
    old = {"name": "John", "email": "j@example.com", "plan": "business", "seats": 3}
    row = history_row(_Change("changed", old, {**old, "plan": "enterprise", "active": True}))
    assert "".join(s.text for s in row.old) == '{…, "plan": "business"}'
    assert "".join(s.text for s in row.new) == '{…, "plan": "enterprise", "active": true}'
    assert [s.text for s in row.new if s.marked] == ['enterprise", "active": true']


def test_history_row_of_an_added_or_removed_value_shows_the_absent_side() -> None:
    added = history_row(_Change("added", None, [1]))
    assert ("".join(s.text for s in added.old), "".join(s.text for s in added.new)) == ("∅", "[1]")
    removed = history_row(_Change("removed", "x", None))
    assert ("".join(s.text for s in removed.old), "".join(s.text for s in removed.new)) == ('"x"', "∅")


def test_one_line_escapes_and_cuts() -> None:
    assert one_line("a\x1bb") == '"a\\u001bb"'
    assert one_line("x\u202ey") == '"x\\u202ey"'

    assert one_line("x" * 500, 20).endswith("…") and len(one_line("x" * 500, 20)) == 20


def test_snippet_marks_every_occurrence() -> None:
    parts = snippet_segments('{"a":"foo","b":"foofoo"}', "foo")
    assert [p.text for p in parts if p.marked] == ["foo", "foo", "foo"]
    assert "".join(p.text for p in parts) == '{"a":"foo","b":"foofoo"}'
    assert snippet_segments("abc", "zz") == (snippet_segments("abc", "zz")[0],)
    row = hit_row(_Hit("u03", None, '"name":"changed"'), "changed")
    assert (row.place, row.counts, row.short) == ("u03", "0→2", "aaaaaaa")


def test_relative_age_and_gutter() -> None:
    assert relative_age(NOW - dt.timedelta(seconds=5), NOW) == "now"
    assert relative_age(NOW - dt.timedelta(minutes=5), NOW) == "5m"
    assert relative_age(NOW - dt.timedelta(hours=3), NOW) == "3h"
    assert relative_age(NOW - dt.timedelta(days=2), NOW) == "2d"
    assert relative_age(NOW - dt.timedelta(days=400), NOW) == "1y"
    assert relative_age(None, NOW) == "?"
    line = gutter_text(_version(user="a-very-long-user-name", date=NOW - dt.timedelta(days=3)), NOW)
    assert line == "aaaaaaa a-very-l…   3d"
    assert gutter_text(None, NOW) == ""


def test_node_pointer_of_tree_steps() -> None:
    value = {"servers": [{"port": 80}], "a/b": {"~": 1}}
    assert node_pointer([]) == ""
    assert node_pointer([("servers", value), ("[0]", value["servers"]), ("port", value["servers"][0])]) \
        == "/servers/0/port"
    assert node_pointer([("a/b", value), ("~", value["a/b"])]) == "/a~1b/~0"
    assert node_pointer([("x", {"__special__": "py/tuple", "items": []})]) is None


def test_change_index_finds_the_record_or_path() -> None:
    changes = [Change("[u01]['age']", "changed", 1, 2, "u01", 0), Change("[u03]['name']", "changed", "a", "b", "u03", 5),
               Change("['servers'][0]['port']", "changed", 80, 8080, None, 9)]
    assert change_index(changes, "u03", None) == 1
    assert change_index(changes, None, "/servers/0/port") == 2
    assert change_index(changes, None, "/servers") == 2
    assert change_index(changes, "u99", None) is None
