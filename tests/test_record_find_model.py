"""The record table's sort order (mydb_tui.model.record_find)."""

from mydb_tui.model.record_find import next_sort, sorted_keys


def test_next_sort_cycles_ascending_descending_insertion() -> None:
    assert next_sort(None, 2) == (2, False)
    assert next_sort((2, False), 2) == (2, True)
    assert next_sort((2, True), 2) is None
    assert next_sort((2, True), 1) == (1, False)


def test_sorted_keys_orders_mixed_values_stably() -> None:
    values = {"a": {"n": 3}, "b": {"n": "x"}, "c": {}, "d": {"n": 1.5}, "e": {"n": 3}, "f": {"n": [1]}, "g": 7}
    # a non-dict record has no field "n": it sorts with the missing ones
    assert sorted_keys(values, values.get, False, "n", False) == ["c", "g", "d", "a", "e", "b", "f"]
    assert sorted_keys(values, values.get, False, "n", True) == ["f", "b", "a", "e", "d", "c", "g"]
    assert sorted_keys(["b", "A", "c"], {}.get, True, None, False) == ["A", "b", "c"]
    whole = {"x": 3, "y": "a", "z": None}
    assert sorted_keys(whole, whole.get, False, None, False) == ["z", "x", "y"]
    assert sorted_keys(values, values.get, False, "n", False, cancelled=lambda: True) is None


def test_find_chunks_keeps_what_row_matches_keeps() -> None:
    """The chunk prefilter never loses a match: texts across record boundaries, casefolding
    (ß, the Kelvin sign), unreadable records and values json cannot write."""
    from mydb_tui.model.record_find import find_chunks, row_matches

    cycle: list = []
    cycle.append(cycle)
    records = {f"k{i}": {"n": i, "city": ["Lyon", "Paris", "Straße", "\u212aelvin"][i % 4]} for i in range(50)}
    records["odd"] = cycle
    records["gone"] = None

    class Stored(dict):
        def __getitem__(self, key):
            if key == "gone":
                raise KeyError(key)
            return super().__getitem__(key)

    view = Stored(records)
    keys = list(records)
    for needle in ("lyon", "strasse", "kelvin", '"}, {"', "k4", "1, ", "nowhere", "odd"):
        want = [k for k in keys if k != "gone" and row_matches(k, records[k], needle)]
        for size in (1, 7, 1024):
            chunks = list(find_chunks(view, keys, needle, size))
            assert [k for _n, found in chunks for k in found] == want, (needle, size)
            assert chunks[-1][0] == len(keys)
