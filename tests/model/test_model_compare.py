"""compare_versions against a real engine: exact key-level changes, rows, change rows."""

from __future__ import annotations

import json

import pytest
from dbengine.dbengine import DbEngine

from mydb_tui.model import compare_versions, compare_with_head, compare_with_parent, pretty_json
from mydb_tui.model.align import MAX_LINE_CHARS, word_marks
from mydb_tui.model.compare import MAX_LINES, ROOT

T = "tenant_1"

OLD = {
    "name": "svc",
    "servers": [{"host": "a", "port": 80}, {"host": "b", "port": 81}],
    "debug": False,
    "tags": ["x", "y"],
    "limits": {"cpu": 2, "mem": {"soft": 512, "hard": 1024}},
}
NEW = {
    "name": "svc two",
    "servers": [{"host": "a", "port": 8080}, {"host": "b", "port": 81}],
    "tags": ["x", "z", "y"],
    "limits": {"cpu": 2, "mem": {"soft": 768, "hard": 1024}},
    "owner": {"team": "ops"},
}


def facts(comparison):
    return {(c.path, c.kind, json.dumps(c.old), json.dumps(c.new)) for c in comparison.changes}


def text(segments) -> str:
    return "".join(s.text for s in segments) if segments is not None else ""


@pytest.fixture
def two(engine: DbEngine) -> tuple[str, str]:
    return engine.save(T, "alice", "cfg", OLD), engine.save(T, "bob", "cfg", NEW)


def test_snapshot_changes_are_exact_and_key_level(engine, two):
    comparison = compare_versions(engine, T, "cfg", *two)
    assert facts(comparison) == {
        ("['name']", "changed", '"svc"', '"svc two"'),
        ("['servers'][0]['port']", "changed", "80", "8080"),
        ("['debug']", "removed", "false", "null"),
        ("['tags'][1]", "added", "null", '"z"'),
        ("['limits']['mem']['soft']", "changed", "512", "768"),
        ("['owner']", "added", "null", '{"team": "ops"}'),
    }
    assert (comparison.kind, comparison.records_compared) == ("snapshot", 0)


def test_counts_match_the_engine_summary(engine, two):
    comparison = compare_versions(engine, T, "cfg", *two)
    summary = engine.version(T, "cfg", two[1]).summary
    assert (comparison.added, comparison.changed, comparison.removed) == (
        summary.added, summary.changed, summary.removed) == (1, 4, 1)


def test_metadata_is_kept_apart_from_the_data(engine, two):
    comparison = compare_versions(engine, T, "cfg", *two)
    assert comparison.old_meta["digest"] == two[0] and comparison.new_meta["digest"] == two[1]
    assert comparison.old_meta["user"] == "alice" and comparison.new_meta["user"] == "bob"
    assert comparison.new_meta["parents"] == [two[0]]
    assert comparison.old.digest == two[0] and comparison.new.digest == two[1]
    assert not any("__user_id__" in text(r.left) + text(r.right) for r in comparison.rows)


def test_rows_hold_every_line_of_both_sides_in_order(engine, two):
    comparison = compare_versions(engine, T, "cfg", *two)
    left = [(r.left_no, text(r.left)) for r in comparison.rows if r.left is not None]
    right = [(r.right_no, text(r.right)) for r in comparison.rows if r.right is not None]
    assert left == list(enumerate(pretty_json(OLD).splitlines(), 1))
    assert right == list(enumerate(pretty_json(NEW).splitlines(), 1))
    assert pretty_json(NEW) == json.dumps(NEW, indent=2, ensure_ascii=False)


def test_changed_lines_are_paired_with_word_marks(engine, two):
    rows = compare_versions(engine, T, "cfg", *two).rows
    port = next(r for r in rows if r.kind == "changed" and '"port": 80' in text(r.left))
    assert [s.text for s in port.left if s.marked] == ["80"]
    assert [s.text for s in port.right if s.marked] == ["8080"]
    debug = next(r for r in rows if '"debug"' in text(r.left))
    assert debug.kind == "removed" and debug.right is None and debug.right_no is None
    z = next(r for r in rows if text(r.right).strip() == '"z",')
    assert z.kind == "added" and z.left is None
    same = [r for r in rows if r.kind == "same"]
    assert same and all(text(r.left) == text(r.right) and not any(s.marked for s in r.left) for r in same)


def test_every_change_points_at_the_row_that_shows_it(engine, two):
    comparison = compare_versions(engine, T, "cfg", *two)
    expect = {
        "['name']": ("changed", '"name"'),
        "['servers'][0]['port']": ("changed", '"port": 8080'),
        "['debug']": ("removed", '"debug"'),
        "['tags'][1]": ("added", '"z"'),
        "['limits']['mem']['soft']": ("changed", '"soft": 768'),
        "['owner']": ("added", '"owner"'),
    }
    for change in comparison.changes:
        row = comparison.rows[change.row]
        kind, needle = expect[change.path]
        assert row.kind == kind
        side = row.left if kind == "removed" else row.right
        assert needle in text(side), (change.path, row)
    rows = [c.row for c in comparison.changes]
    assert rows == sorted(rows), "changes are listed in document order"
    assert comparison.change_rows == sorted(set(rows))


def test_word_marks_inside_long_lines():
    left, right = word_marks('  "text": "the quick brown fox jumps"', '  "text": "the quick red fox leaps"')
    assert [s.text for s in left if s.marked] == ["brown", "jumps"]
    assert [s.text for s in right if s.marked] == ["red", "leaps"]
    assert "".join(s.text for s in right) == '  "text": "the quick red fox leaps"'


def test_first_version_compares_with_an_empty_left_side(engine, two):
    comparison = compare_with_parent(engine, T, "cfg", two[0])
    assert comparison.old is None and comparison.old_meta == {}
    assert {(c.path, c.kind) for c in comparison.changes} == {(f"['{k}']", "added") for k in OLD}
    assert all(r.left is None and r.kind == "added" for r in comparison.rows)
    assert comparison.added == len(OLD)


def test_sides_are_ordered_older_left(engine, two):
    forward = compare_versions(engine, T, "cfg", two[0], two[1])
    backward = compare_versions(engine, T, "cfg", two[1], two[0])
    assert backward.old.digest == two[0] and facts(backward) == facts(forward)


def test_compare_with_head_and_equal_versions(engine, two):
    third = engine.save(T, "carol", "cfg", {**NEW, "name": "svc three"})
    comparison = compare_with_head(engine, T, "cfg", two[0])
    assert comparison.new.digest == third
    assert ("['name']", "changed", '"svc"', '"svc three"') in facts(comparison)
    same = compare_versions(engine, T, "cfg", third, third)
    assert same.changes == [] and all(r.kind == "same" for r in same.rows)


def test_non_dict_snapshots_and_tagged_values(engine):
    a = engine.save(T, "u", "v", (1, 2, {3}))
    b = engine.save(T, "u", "v", (1, 5, {3, 4}))
    comparison = compare_versions(engine, T, "v", a, b)
    assert facts(comparison) == {
        ("['items'][1]", "changed", "2", "5"),
        ("['items'][2]['items'][1]", "added", "null", "4"),
    }
    c = engine.save(T, "u", "v", 7)
    whole = compare_versions(engine, T, "v", b, c)
    assert [(ch.path, ch.kind) for ch in whole.changes] == [(ROOT, "changed")]
    assert whole.changes[0].row is not None


def test_deep_values_degrade_to_one_whole_value_change(engine):
    def nest(depth, leaf):
        value = leaf
        for _ in range(depth):
            value = {"k": value}
        return value

    a = engine.save(T, "u", "deep", nest(300, 1))
    b = engine.save(T, "u", "deep", nest(300, 2))
    comparison = compare_versions(engine, T, "deep", a, b)  # must not raise
    assert len(comparison.changes) >= 1
    change = comparison.changes[0]
    assert change.kind == "changed" and change.row is not None
    assert any(r.kind == "changed" for r in comparison.rows)
    assert len(comparison.rows) == 2 * 300 + 1


def test_gigantic_sides_are_capped_with_a_note(engine):
    a = engine.save(T, "u", "big", {"values": list(range(MAX_LINES + 5000))})
    b = engine.save(T, "u", "big", {"values": list(range(MAX_LINES + 5000)) + [-1]})
    comparison = compare_versions(engine, T, "big", a, b)
    assert len(comparison.rows) == MAX_LINES + 1
    last = comparison.rows[-1]
    assert last.kind == "header" and "more lines" in text(last.left)
    change = comparison.changes[0]
    assert change.path == f"['values'][{MAX_LINES + 5000}]" and change.row == len(comparison.rows) - 1


def test_huge_lines_are_clipped_for_display(engine):
    a = engine.save(T, "u", "blob", {"text": "a" * 100_000})
    b = engine.save(T, "u", "blob", {"text": "b" * 100_000})
    comparison = compare_versions(engine, T, "blob", a, b)
    changed = next(r for r in comparison.rows if r.kind == "changed")
    assert len(text(changed.left)) < MAX_LINE_CHARS + 40
    assert comparison.changes[0].new == "b" * 100_000  # the change keeps the full value


def test_unicode_is_shown_as_is(engine):
    a = engine.save(T, "u", "i18n", {"greeting": "héllo"})
    b = engine.save(T, "u", "i18n", {"greeting": "héllo wörld ✓"})
    rows = compare_versions(engine, T, "i18n", a, b).rows
    assert any("wörld ✓" in text(r.right) for r in rows)


def test_json_types_are_not_conflated_by_python_equality(engine):
    a = engine.save(T, "u", "types", {"flag": 1, "ratio": 2, "nested": {"on": 0}})
    b = engine.save(T, "u", "types", {"flag": True, "ratio": 2.0, "nested": {"on": False}})
    comparison = compare_versions(engine, T, "types", a, b)
    assert {(c.path, c.kind) for c in comparison.changes} == {
        ("['flag']", "changed"), ("['ratio']", "changed"), ("['nested']['on']", "changed"),
    }


def test_deepdiff_recursion_errors_degrade_to_a_whole_value_change():
    # Deeper than the engine can store, so this drives the comparison helpers directly.
    from mydb_tui.model.compare import _compare_values

    old: object = 1
    new: object = 2
    for _ in range(3000):
        old, new = {"k": old}, {"k": new}
    changes, rows, counts, _compared, _buckets = _compare_values(old, new)
    assert [(c.path, c.kind, c.row) for c in changes] == [(ROOT, "changed", 0)]
    assert changes[0].old is old and changes[0].new is new
    assert counts == (0, 1, 0)
    assert len(rows) == 2 * 3000 + 1 and sum(r.kind == "changed" for r in rows) == 1


@pytest.mark.parametrize("value", [
    {"a": 1}, {"name": "Ünï \"q\"\n", "n": -2, "f": 1.5, "z": -0.0, "t": True, "none": None, "big": 10**30},
    {"é": "x", "": ""}, {"d": {}, "l": []}, {"d": {"k": 1}}, {"l": [1]},
    {1: "int key", (2, 3): "tuple key"},
])
def test_pretty_of_flat_dicts_is_the_general_walk(value):
    from mydb_tui.model import pretty as module
    from mydb_tui.model.pretty import Badge, LabelledDict, LabelledList

    values = [value, {**value, "badge": Badge("⟨py/date · 2026-01-05⟩")},
              {**value, "set": LabelledList("set", [1])}, {**value, "obj": LabelledDict("P", {"x": 1})}]
    for item in values:
        for limit in (None, 2, len(item) + 1, len(item) + 2):
            fast, walked = module.pretty(item, limit), module._walk(item, limit, 2)
            assert (fast.lines, fast.lines_of, fast.total) == (walked.lines, walked.lines_of, walked.total)
    assert module._flat_pretty({"a": 1, "b": "x"}, None, 2) is not None  # the flat path is taken
