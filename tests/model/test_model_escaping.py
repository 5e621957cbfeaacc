"""Issue 10 §6 in the Textual-free layer: one escaping for the CLI and the TUI, dates any
year or none, dict keys that are not strings, damaged versions in rows and comparisons."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata

import pytest
from dbengine import Version
from dbengine.dbengine import DbEngine

from mydb_tui.cli import safe as cli_safe
from mydb_tui.model.compare import compare_versions
from mydb_tui.model.dates import INVALID_DATE, iso_date, local_time
from mydb_tui.model.escape import HIDDEN_RANGES, display_safe, hidden_in_json, json_escapes
from mydb_tui.model.pretty import pretty_text
from mydb_tui.model.timeline import row_for
from mydb_tui.model.values import DictKey, dict_entries, key_name, unique_names
from mydb_tui.widgets import safe as tui_safe

# One of each kind the issue names, as (character, its escape).
HIDDEN = [
    ("\x00", "\\x00"), ("\x1b", "\\x1b"), ("\x7f", "\\x7f"), ("\x9b", "\\x9b"), ("\n", "\\n"),
    ("\u061c", "\\u061c"), ("\u200e", "\\u200e"), ("\u202e", "\\u202e"), ("\u2066", "\\u2066"),
    ("\u2028", "\\u2028"), ("\u2029", "\\u2029"),
    ("\u200b", "\\u200b"), ("\u200c", "\\u200c"), ("\u200d", "\\u200d"), ("\u2060", "\\u2060"),
    ("\ufeff", "\\ufeff"), ("\u00ad", "\\xad"),
    ("\u115f", "\\u115f"), ("\u1160", "\\u1160"), ("\u3164", "\\u3164"), ("\uffa0", "\\uffa0"),
    ("\U000e0000", "\\U000e0000"), ("\U000e0041", "\\U000e0041"), ("\U000e007f", "\\U000e007f"),
    ("\ufe0f", "\\ufe0f"), ("\U000e0100", "\\U000e0100"), ("\u034f", "\\u034f"),
    ("\udfff", "\\udfff"), ("\ud800", "\\ud800"),  # (a high then a low one would be a pair in JSON)
]
SHOWN = ["plain", "café", "naïve ünïcödé", "日本語", "Ωμέγα", "emoji 🎉", "a b", "tab-less", "x\xa0y", "\u0301"]


@pytest.mark.parametrize(("char", "escape"), HIDDEN, ids=[f"U+{ord(c):04X}" for c, _ in HIDDEN])
def test_every_hidden_character_shows_as_the_same_escape_in_the_cli_and_the_tui(char, escape):
    name = f"a{char}b"
    expected = f"a{escape}b"
    assert display_safe(name) == expected
    assert cli_safe.safe_text(name) == expected
    assert tui_safe.literal(name).plain == expected


def test_visible_text_is_left_alone():
    for text in SHOWN:
        assert display_safe(text) == text == tui_safe.literal(text).plain == cli_safe.safe_text(text)
    assert display_safe(42) == "42"
    assert display_safe(("a\u2028", 1)) == "('a\\u2028', 1)"  # any value: its str(), escaped


def test_the_table_covers_every_control_format_separator_and_surrogate_of_this_python():
    hidden = set()
    for low, high in HIDDEN_RANGES:
        hidden.update(range(low, high + 1))
    missing = [f"U+{c:04X}" for c in range(0x110000)
               if unicodedata.category(chr(c)) in ("Cc", "Cf", "Cs", "Zl", "Zp") and c not in hidden]
    assert not missing, f"add to HIDDEN_RANGES: {missing}"
    # the fast path (str.isprintable) never lets a hidden character through
    assert all(display_safe(chr(c)) != chr(c) for c in hidden)


def test_json_escapes_keep_the_same_json_value():
    value = {"k" + "".join(c for c, _ in HIDDEN): ["".join(c for c, _ in HIDDEN), "🎉"]}
    text = json.dumps(value, ensure_ascii=False, indent=2)
    escaped = json_escapes(text)
    assert json.loads(escaped) == value
    assert cli_safe.safe_json(text) == escaped
    assert not hidden_in_json().search(escaped)
    assert not any(c in escaped for c, _ in HIDDEN if c != "\n")
    assert "\\udb40\\udc41" in escaped  # a tag character as a surrogate pair: valid JSON


@pytest.mark.parametrize(("moment", "shown"), [
    (dt.datetime(1, 1, 2, 12, 0, tzinfo=dt.UTC), "0001-01-02 12:00:00 +0000"),
    (dt.datetime(999, 6, 1, tzinfo=dt.UTC), "0999-06-01 00:00:00 +0000"),
    (dt.datetime(2026, 11, 26, 14, 3, 7, tzinfo=dt.timezone(dt.timedelta(hours=1))), "2026-11-26 13:03:07 +0000"),
    (dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.timezone(-dt.timedelta(hours=5))), INVALID_DATE),  # overflows
    (dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=5))), INVALID_DATE),  # underflows
    (None, INVALID_DATE),
])
def test_local_time_pads_the_year_and_never_raises(moment, shown, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        assert local_time(moment) == shown
        if shown != INVALID_DATE:
            assert local_time(moment, seconds=False, offset=False) == shown[:16]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_timeline_rows_and_compare_metadata_of_a_damaged_version(tmp_path):
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    engine.init("t")
    first = engine.save("t", "u", "e", {"a": 1})
    second = engine.save("t", "u", "e", {"a": 2})
    good = engine.version("t", "e", second)
    damaged = Version(good.digest, good.parents, "", None, None, None, "invalid date 'yesterday'")
    row = row_for(damaged, second)
    assert row.date == INVALID_DATE and row.damage == "invalid date 'yesterday'" and row.is_head
    old = Version(first, [None], "u", dt.datetime(999, 6, 1, tzinfo=dt.UTC))
    assert row_for(old, second).date.startswith("0999-0")
    assert iso_date(old.date) == "0999-06-01T00:00:00+00:00" and iso_date(None) is None
    real = engine.version
    engine.version = lambda t, e, d: damaged if d == second else old  # what a damaged history reads as
    try:
        comparison = compare_versions(engine, "t", "e", first, second)
    finally:
        engine.version = real
    assert comparison.new_meta["date"] == INVALID_DATE and comparison.new_meta["damage"]
    assert comparison.old_meta["date"].startswith("0999-0")


KEYS = {1: "int one", "1": "string one", None: "none", "null": "string null", (1, 2): "tuple",
        "[1, 2]": "string list", "⟨1.5⟩": "looks like a float key", 1.5: "float",
        frozenset({"a"}): "frozenset", b"x": "bytes", ((1,), "s"): "nested"}


def test_non_string_keys_get_names_no_string_key_has(tmp_path):
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    engine.init("t")
    engine.save("t", "u", "e", KEYS)
    stored = engine.read_snapshot("t", engine.get_digest("t", "e"))["__data__"]
    entries = dict_entries(stored)
    names = [name for name, _value in entries]
    assert len(set(names)) == len(KEYS) == len(names)
    assert [value for _name, value in entries] == list(KEYS.values())
    assert names == ["⟨1⟩", "1", "⟨None⟩", "null", "⟨(1, 2)⟩", "[1, 2]", "⟨1.5⟩", "⟨1.5⟩ (2)",
                     "⟨frozenset({'a'})⟩", "⟨b'x'⟩", "⟨((1,), 's')⟩"]
    assert [type(n) is DictKey for n in names] == [type(k) is not str for k in KEYS]
    assert dict_entries({"__special__": "py/dict", "items": [[1]]}) is None
    assert unique_names([1, "⟨1⟩", 1]) == ["⟨1⟩ (2)", "⟨1⟩", "⟨1⟩ (3)"]
    assert key_name("x") == "x" and key_name(True) == "⟨True⟩"
    # a decoded dict reaching the pretty printer keeps 1 and "1" apart
    assert pretty_text({1: "a", "1": "b"}).splitlines()[1:3] == ['  "⟨1⟩": "a",', '  "1": "b"']


def test_compare_paths_name_non_string_keys(tmp_path):
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    engine.init("t")
    old = engine.save("t", "u", "e", {1: "int one", "1": "string one", None: "none"})
    new = engine.save("t", "u", "e", {1: "INT ONE", "1": "string one", None: {"x": 2}, 7: "new"})
    paths = {c.path: c.kind for c in compare_versions(engine, "t", "e", old, new).changes}
    assert paths == {"[⟨1⟩]": "changed", "[⟨None⟩]": "changed", "[⟨7⟩]": "added"}
    engine.put("t", "u", "r", "k", {"1": "s", 1: "i"})
    before = engine.get_digest("t", "r")
    engine.put("t", "u", "r", "k", {"1": "s", 1: "I"})
    changes = compare_versions(engine, "t", "r", before, engine.get_digest("t", "r")).changes
    assert [c.path for c in changes] == ["[k][⟨1⟩]"]
