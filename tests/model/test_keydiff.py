"""keydiff (the stdlib differ of engine-only installs) finds the changes DeepDiff finds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mydb_tui.model.compare import DeepDiff, _tree_changes
from mydb_tui.model.keydiff import key_changes

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from([0.0, 1.0, 2.5]),
                    st.sampled_from(["", "a", "b", "1"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=4)),
    max_leaves=12)
# lists from a small alphabet share runs of items: difflib's insertions, deletions and replacements
LISTS = st.one_of(
    st.lists(st.sampled_from([1, 2, 3, "a", None, True, 1.0, 0, False]), max_size=8),
    st.lists(st.one_of(st.sampled_from([1, 2, "a"]),
                       st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 2), max_size=2),
                       st.lists(st.integers(0, 2), max_size=2)), max_size=6),
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def deepdiff_changes(old, new) -> list:
    return _tree_changes(DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0, verbose_level=2))


def canonical(changes: list) -> list:
    """Order aside (DeepDiff's follows string hashing), and 1 apart from 1.0 and true."""
    return sorted(((tuple(path), kind, repr(old), repr(new)) for path, kind, old, new in changes), key=repr)


@FAST
@given(VALUES, VALUES)
def test_same_changes_as_deepdiff_on_any_values(old, new) -> None:
    assert canonical(key_changes(old, new)) == canonical(deepdiff_changes(old, new))


@FAST
@given(LISTS, LISTS)
def test_same_changes_as_deepdiff_on_lists_alone_and_nested(old, new) -> None:
    for left, right in ((old, new), ({"k": old, "z": [old]}, {"k": new, "z": [new]})):
        assert canonical(key_changes(left, right)) == canonical(deepdiff_changes(left, right))


def test_what_each_change_looks_like() -> None:
    assert key_changes({"a": 1, "b": [1, 2]}, {"a": 1.0, "b": [1, 2], "c": None}) == [
        (("c",), "added", None, None), (("a",), "changed", 1, 1.0)]
    assert key_changes([1, 2, 3], [1, 9, 2, 3]) == [((1,), "added", None, 9)]  # not a shifted tail
    assert key_changes([{"x": 1}, {"x": 2}], [{"x": 1}, {"x": 3}, {"y": 0}]) == [
        ((1, "x"), "changed", 2, 3), ((2,), "added", None, {"y": 0})]
    assert key_changes([1, 3, 1], [2, 1, 2, 3]) == [((0,), "added", None, 2), ((2,), "changed", 1, 2)]
    assert key_changes({"a": [1]}, {"a": [1]}) == []
    assert key_changes(1, True) == [((), "changed", 1, True)]
