"""Record comparisons: subtrees with equal digests are skipped, only differing records are diffed."""

from __future__ import annotations

import pytest
from dbengine.dbengine import DbEngine

from mydb_tui.model import compare, compare_versions, compare_with_parent
from mydb_tui.model.compare import MAX_LINES

T = "tenant_1"
N = 1000


def user(i: int) -> dict:
    return {"name": f"User {i}", "age": 20 + i % 50, "tags": ["a", "b"], "address": {"city": "Paris"}}


def text(segments) -> str:
    return "".join(s.text for s in segments) if segments is not None else ""


@pytest.fixture
def users(engine: DbEngine) -> str:
    engine.put_many(T, "bot", "users", {f"u{i}": user(i) for i in range(N)})
    return engine.get_digest(T, "users")


def counted_reads(engine: DbEngine, monkeypatch) -> list[str]:
    """The digests of the objects `engine` reads from its storage from now on."""
    reads: list[str] = []
    read = engine.storage.read_object

    def counting(tenant, digest):
        reads.append(digest)
        return read(tenant, digest)

    monkeypatch.setattr(engine.storage, "read_object", counting)
    return reads


def test_one_changed_record_reads_one_path_and_diffs_one_record(engine, users, monkeypatch):
    engine.put(T, "alice", "users", "u7", {**user(7), "age": 99})
    cold = DbEngine(engine.root)
    reads = counted_reads(cold, monkeypatch)
    comparison = compare_with_parent(cold, T, "users", engine.get_digest(T, "users"))
    assert comparison.kind == "records"
    assert comparison.records_compared == 1
    # 1,000 records: leaves of 64 under one 16-way level; each side reads its root and one
    # leaf (plus the two versions, and whatever the history index needs), never the others.
    nodes = [d for d in reads if cold.objects.read(T, d)["__kind__"] not in ("records", "snapshot")]
    assert len(set(nodes)) == 4, nodes
    assert [(c.path, c.kind, c.old, c.new, c.record_key) for c in comparison.changes] == [
        ("[u7]['age']", "changed", 27, 99, "u7")
    ]
    assert (comparison.added, comparison.changed, comparison.removed) == (0, 1, 0)


def test_added_changed_removed_records_are_exact(engine, users):
    engine.put_many(T, "bob", "users", {
        "u1": {**user(1), "address": {"city": "Lyon"}},
        "u2": {**user(2), "tags": ["a", "c", "b"], "email": "two@example.com"},
        "u300": {**user(300), "name": "Three Hundred"},
        "new-1": {"name": "Newcomer"},
    })
    engine.delete(T, "bob", "users", "u5")
    head = engine.get_digest(T, "users")
    comparison = compare_versions(engine, T, "users", users, head)
    assert comparison.records_compared == 3  # added/removed records need no DeepDiff
    assert {(c.path, c.kind) for c in comparison.changes} == {
        ("[u1]['address']['city']", "changed"),
        ("[u2]['tags'][1]", "added"),
        ("[u2]['email']", "added"),
        ("[u300]['name']", "changed"),
        ("[new-1]", "added"),
        ("[u5]", "removed"),
    }
    assert (comparison.added, comparison.changed, comparison.removed) == (1, 3, 1)
    summary = engine.version(T, "users", head).summary  # the parent is one version back
    assert summary.removed == 1


def test_record_rows_have_a_header_per_record_and_changes_point_into_them(engine, users):
    engine.put_many(T, "bob", "users", {"u10": {**user(10), "age": 1}, "u2": {**user(2), "age": 2}})
    engine.put(T, "bob", "users", "zz", {"name": "Z"})
    comparison = compare_versions(engine, T, "users", users, engine.get_digest(T, "users"))
    headers = [text(r.right) for r in comparison.rows if r.kind == "header"]
    assert headers == ["u2", "u10", "zz"]  # natural key order
    for change in comparison.changes:
        row = comparison.rows[change.row]
        if change.path == f"[{change.record_key}]":
            assert row.kind == "header" and text(row.right) == change.record_key
        else:
            assert row.kind == "changed" and '"age"' in text(row.right)
            assert [s.text for s in row.right if s.marked] == [str(change.new)]
    added = [r for r in comparison.rows if r.kind == "added"]
    assert [text(r.right) for r in added] == ["{", '  "name": "Z"', "}"]


def test_unchanged_versions_read_no_node(engine, users, monkeypatch):
    engine.save(T, "u", "other", {"x": 1})  # another entry moves, users does not
    cold = DbEngine(engine.root)
    reads = counted_reads(cold, monkeypatch)
    comparison = compare_versions(cold, T, "users", users, users)
    assert (comparison.records_compared, comparison.changes) == (0, [])
    assert {cold.objects.read(T, d)["__kind__"] for d in reads} <= {"records"}


def test_first_record_version_lists_every_record_as_added(engine, users, monkeypatch):
    monkeypatch.setattr(compare, "MAX_ROWS", 500)
    comparison = compare_with_parent(engine, T, "users", users)
    assert comparison.old is None and comparison.records_compared == 0
    assert len(comparison.changes) == N and {c.kind for c in comparison.changes} == {"added"}
    assert comparison.added == N
    assert 500 <= len(comparison.rows) <= 520
    note = comparison.rows[-1]
    assert note.kind == "header" and "more changed records" in text(note.left)
    assert all(c.row is not None and c.row < len(comparison.rows) for c in comparison.changes)


def test_a_huge_record_is_capped_and_its_change_points_at_the_note(engine):
    engine.put(T, "u", "big", "k", {"values": list(range(MAX_LINES + 10))})
    engine.put(T, "u", "big", "k", {"values": list(range(MAX_LINES + 10)) + [-1]})
    comparison = compare_with_parent(engine, T, "big", engine.get_digest(T, "big"))
    change = comparison.changes[0]
    note = comparison.rows[change.row]
    assert note.kind == "header" and "more lines" in text(note.left)


def test_type_only_changes_of_records_are_found(engine, users):
    """1 -> true and 1 -> 1.0 are changes (equal under ==, not as stored JSON)."""
    engine.put(T, "alice", "users", "u3", {**user(3), "age": 1})
    engine.put_many(T, "alice", "users", {"u3": {**user(3), "age": True}, "u4": {**user(4), "age": 24.0},
                                          "u5": {**user(5), "age": 25}})
    comparison = compare_with_parent(engine, T, "users", engine.get_digest(T, "users"))
    assert [(c.path, c.old, c.new) for c in comparison.changes] == [
        ("[u3]['age']", 1, True), ("[u4]['age']", 24, 24.0)]
    assert (comparison.added, comparison.changed, comparison.removed, comparison.records_compared) == (0, 2, 0, 2)


def test_many_changed_records_go_through_deepdiff_together_with_the_same_answer(engine, users):
    changed = {f"u{i}": {**user(i), "age": -i, "tags": ["a"]} for i in range(0, N, 7)}
    engine.put_many(T, "alice", "users", changed)
    comparison = compare_with_parent(engine, T, "users", engine.get_digest(T, "users"))
    one_by_one = [(f"[{key}]{compare._render(path)}", kind, old, new)
                  for key in sorted(changed, key=lambda k: int(k[1:]))
                  for path, kind, old, new in compare._deep_changes(user(int(key[1:])), changed[key])]
    # Within a record DeepDiff's order follows string hashing (the screen sorts by row): compare as sets.
    assert sorted(((c.path, c.kind, c.old, c.new) for c in comparison.changes), key=repr) == \
        sorted(one_by_one, key=repr)
    assert len(comparison.changes) == len(one_by_one) == 2 * len(changed)
    assert list(dict.fromkeys(c.record_key for c in comparison.changes)) == sorted(changed, key=lambda k: int(k[1:]))


def _all_through_deepdiff(pairs):
    """What `_deep_changes_many` answered when every differing field went through DeepDiff."""
    return {key: compare._deep_changes(old, new) for key, old, new in pairs}


@pytest.mark.parametrize("badges", [False, True])
def test_scalar_field_shortcut_reports_what_deepdiff_reports(badges):
    # Fields whose change is known without DeepDiff (added, removed, scalar or type changed)
    # must come out as DeepDiff words them; containers and equal-looking scalars still go to it.
    date = {"py/date": "2026-01-05"}
    pairs = [
        ("a", {"x": 1, "y": "s"}, {"x": 2, "y": "s"}),
        ("b", {"x": 1}, {"x": 1.0}),
        ("c", {"x": 1}, {"x": True}),
        ("d", {"x": None, "gone": [1]}, {"x": "now", "new": {"k": 1}}),
        ("e", {"x": [1, 2], "n": 0}, {"x": [1, 3], "n": 0}),
        ("f", {"x": {"k": 1}, "y": 1}, {"x": {"k": 2}, "y": 2}),
        ("g", {"x": 0.0}, {"x": -0.0}),
        ("h", {"x": "s"}, {"x": ["s"]}),
        ("i", {"x": date}, {"x": {"py/date": "2026-01-06"}}),
        ("j", {"x": date}, {"x": "2026-01-05"}),
        ("k", [1, 2], [1, 3]),
        ("l", {"x": 1}, {"x": 1}),
        ("m", {"x": 1}, [1]),
    ]
    token = compare._BADGES.set(badges)
    try:
        fast = compare._deep_changes_many(pairs)
        slow = _all_through_deepdiff(pairs)
    finally:
        compare._BADGES.reset(token)

    def canonical(changes):
        return sorted(changes, key=repr)

    assert {k: canonical(v) for k, v in fast.items()} == {k: canonical(v) for k, v in slow.items()}
    assert canonical(fast["d"]) == canonical([
        (("x",), "changed", None, "now"), (("gone",), "removed", [1], None), (("new",), "added", None, {"k": 1}),
    ])
    assert fast["g"] == [((), "changed", {"x": 0.0}, {"x": -0.0})]


def test_deferred_rows_are_the_rows_built_at_once(engine, users, monkeypatch):
    # Same-shape records' rows are built when read (LazyRows); they, their headers and their
    # widths must be what building every row up front gives.
    from mydb_tui.model.lazy_rows import LazyRows

    engine.put_many(T, "alice", "users", {
        "u1": {**user(1), "age": 99}, "u2": {**user(2), "name": "x" * 3000},
        "u3": {**user(3), "extra": [1, 2]}, "u1500": user(1500),
    })
    engine.delete(T, "alice", "users", "u4")
    head = engine.get_digest(T, "users")
    lazy = compare_versions(engine, T, "users", users, head)
    assert isinstance(lazy.rows, LazyRows) and lazy.rows._pending  # something was deferred
    extent, headers = lazy.rows.extent(), lazy.rows.header_rows()
    monkeypatch.setattr(compare, "pairs_line_by_line", lambda old, new: False)
    eager = compare_versions(engine, T, "users", users, head)
    assert not eager.rows._pending
    assert lazy.rows[-1] == eager.rows[-1] and lazy.rows[5:9] == eager.rows[5:9]
    assert list(lazy.rows) == list(eager.rows) and len(lazy.rows) == len(eager.rows)
    assert [(c.path, c.row) for c in lazy.changes] == [(c.path, c.row) for c in eager.changes]
    assert headers == [i for i, r in enumerate(eager.rows) if r.kind == "header"]
    widths = (max(len(text(r.left)) for r in eager.rows), max(len(text(r.right)) for r in eager.rows),
              max(max(r.left_no or 0, r.right_no or 0) for r in eager.rows))
    assert extent == widths
