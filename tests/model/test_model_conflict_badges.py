"""model.conflict (three-way re-apply, who saved when) and model.badged (tagged values as the
compare shows them): no Textual, plain values in, plain values out."""

from __future__ import annotations

import datetime as dt

import pytest
from dbengine import Version

from mydb_tui.model.badged import badged, inline, shown_path
from mydb_tui.model.conflict import MISSING, age, changed_paths, names, saved_text, three_way
from mydb_tui.model.pretty import pretty


@pytest.mark.parametrize(
    ("base", "mine", "theirs", "merged", "overlaps"),
    [
        ({"a": 1, "b": 1}, {"a": 2, "b": 1}, {"a": 1, "b": 3}, {"a": 2, "b": 3}, []),  # different fields
        ({"a": 1}, {"a": 2}, {"a": 3}, {"a": 2}, ["['a']"]),  # the same field: mine, and said so
        ({"a": 1}, {"a": 2}, {"a": 2}, {"a": 2}, []),  # the same change
        ({"a": 1, "b": 1}, {"b": 1}, {"a": 1, "b": 2}, {"b": 2}, []),  # I removed a, they changed b
        ({"a": 1}, {"a": 1, "n": 1}, {"a": 1, "m": 1}, {"a": 1, "m": 1, "n": 1}, []),  # both added
        ({"s": {"x": 1, "y": 1}}, {"s": {"x": 2, "y": 1}}, {"s": {"x": 1, "y": 2}}, {"s": {"x": 2, "y": 2}}, []),
        ({"l": [1, 2]}, {"l": [1, 2, 3]}, {"l": [0, 1, 2]}, {"l": [1, 2, 3]}, ["['l']"]),  # lists: whole
        ({"n": 1}, {"n": 1.0}, {"n": 1}, {"n": 1.0}, []),  # 1 and 1.0 differ as JSON
        (MISSING, {"a": 1}, MISSING, {"a": 1}, []),  # a record only I added
        ({"a": 1}, {"a": 2}, MISSING, {"a": 2}, ["(the whole value)"]),  # they deleted what I edited
    ],
)
def test_three_way(base, mine, theirs, merged, overlaps) -> None:
    assert three_way(base, mine, theirs) == (merged, overlaps)


def test_changed_paths_and_names() -> None:
    assert changed_paths({"a": 1, "b": {"c": 1, "d": 1}}, {"a": 1, "b": {"c": 2, "d": 1}, "e": 0}) == [
        "['b']['c']", "['e']"]
    assert names(["alice"]) == "alice"
    assert names(["alice", "bob"]) == "alice and bob"
    assert names(["a", "b", "c", "d"]) == "a, b and 2 others"


def test_saved_text_says_who_and_when() -> None:
    now = dt.datetime(2026, 6, 25, 12, 0, 10, tzinfo=dt.UTC)

    def version(user: str, seconds: int) -> Version:
        return Version("0" * 64, [], user, now - dt.timedelta(seconds=seconds))

    assert saved_text("app-config", [version("alice", 2)], now) == "alice saved app-config 2 s ago"
    assert saved_text("app-config", [version("bob", 200), version("alice", 300), version("bob", 400)], now) == (
        "bob and alice saved app-config 3 times, last 3 min ago")
    assert age(now + dt.timedelta(seconds=5), now) == "just now"  # a clock a little ahead
    assert age(None, now) == "at an unknown time"


def test_badged_values_and_their_paths() -> None:
    stored = {
        "when": {"__special__": "py/bytes", "base64": "AAE="},
        "tags": {"__special__": "py/set", "items": [1, 2]},
        "keys": {"__special__": "py/dict", "items": [[1, "one"]]},
        "plain": {"x": [1]},
    }
    lines = pretty(badged(stored)).lines
    assert '  "when": ⟨bytes · 2 B⟩,' in lines
    assert '  "tags": ⟨set⟩ [' in lines
    assert '  "keys": ⟨dict⟩ {' in lines and '    "⟨1⟩": "one"' in lines
    assert badged(stored["plain"]) is stored["plain"]  # nothing tagged: the same value, not a copy
    assert shown_path(stored, ("when", "base64")) == (("when",), 1)  # inside a badge: the badge
    assert shown_path(stored, ("tags", "items", 1)) == (("tags", 1), 3)
    assert shown_path(stored, ("plain", "x", 0)) == (("plain", "x", 0), 3)
    assert inline(stored, 200).startswith('{"when": ⟨bytes · 2 B⟩, "tags": ⟨set⟩ [1, 2]')
    assert len(inline(stored, 20)) == 20 and inline(stored, 20).endswith("…")
