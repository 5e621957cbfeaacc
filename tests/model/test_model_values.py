"""Badges, cells, columns and pretty JSON of stored values (a real engine writes them)."""

from __future__ import annotations

import datetime as dt
import enum
import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mydb_tui.demo_types import Money, Report, Thumbnail
from mydb_tui.model import cell_text, describe_special, is_special, pretty_json, record_columns

T = "tenant_1"


class Color(enum.Enum):
    RED = "red"


class Point:
    def __init__(self, x: int, y: int):
        self.x, self.y = x, y


def stored(engine, value):
    engine.save(T, "u", "v", {"value": value})
    return engine.read_snapshot(T, engine.get_digest(T, "v"))["__data__"]["value"]


def test_badges_for_every_kind_of_tagged_value(engine):
    thumb = Thumbnail(4, 2, bytes(range(8)))
    cases = [
        ((1, 2, 3), "⟨tuple · 3 items⟩"),
        ({1}, "⟨set · 1 item⟩"),
        (frozenset(), "⟨frozenset · 0 items⟩"),
        ({1: "a", 2: "b"}, "⟨dict · 2 items⟩"),
        (b"\x00" * 2048, "⟨bytes · 2.0 KB⟩"),
        (float("nan"), "⟨float nan⟩"),
        (Color.RED, "⟨Color = red⟩"),
        (Point(1, 2), "⟨Point · 2 fields⟩"),
        (Money(Decimal("12.50"), "EUR"), "⟨demo/money · 12.50 EUR⟩"),
    ]
    for value, badge in cases:
        assert describe_special(engine, stored(engine, value)) == badge, value
    ref = stored(engine, thumb)
    assert describe_special(engine, ref) == f"⟨demo/thumbnail ref {ref['__digest__'][:7]} · 16 B⟩"
    assert describe_special(None, ref) == f"⟨demo/thumbnail ref {ref['__digest__'][:7]}⟩"


def test_pickle_badge_names_its_classes_without_unpickling(db_root):
    from dbengine.dbengine import DbEngine

    engine = DbEngine(db_root, durable=False, trust_pickle=False)
    engine.init(T)
    report = Report("r", "2026-Q1", samples=[(dt.date(2026, 1, 1), Decimal("1.5"))] * 3000)
    value = stored(engine, report)
    samples = value["state"]["samples"]
    digest = samples["__digest__"]
    size = engine.ref_size(digest)
    badge = describe_special(engine, samples)
    assert badge.startswith(f"⟨pickle {digest[:7]} · ")
    assert badge.endswith("· datetime.date, decimal.Decimal⟩")
    assert f"{size / 1024:.1f} KB" in badge
    assert describe_special(engine, value) == "⟨Report · 4 fields⟩"


def test_a_missing_ref_is_said_so(engine):
    badge = describe_special(engine, {"__special__": "demo/thumbnail", "__digest__": "ab" * 32})
    assert badge == "⟨demo/thumbnail ref abababa · missing⟩"


def test_is_special():
    assert is_special({"__special__": "py/tuple", "items": []})
    assert not is_special({"a": 1}) and not is_special(["__special__"]) and not is_special("x")


def test_cell_text_is_one_line_and_truncated():
    assert cell_text("line one\nline two") == "line one line two"
    assert cell_text("x" * 100, width=10) == "x" * 9 + "…"
    assert cell_text(True) == "true" and cell_text(None) == "null" and cell_text(3.5) == "3.5"
    assert cell_text({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert cell_text(list(range(10_000)), width=20).endswith("…")
    assert cell_text({"__special__": "py/tuple", "items": [1]}) == "⟨tuple · 1 item⟩"


def test_record_columns_most_common_fields_in_first_seen_order():
    records = {f"k{i}": {"id": i, "name": "n", "rare": 1} if i == 0 else {"id": i, "name": "n", "age": i}
               for i in range(50)}
    records["special"] = {"__special__": "py/tuple", "items": []}
    records["scalar"] = 5
    assert record_columns(records.values()) == ["id", "name", "rare", "age"]
    assert record_columns(records.values(), limit=3) == ["id", "name", "age"]  # the rarest one is dropped
    assert record_columns([]) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_pretty_json_is_exactly_json_dumps_indent_2(value):
    assert pretty_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_pretty_json_survives_values_deeper_than_the_recursion_limit():
    value: object = 1
    for _ in range(5000):
        value = [value]
    text = pretty_json(value)
    assert text.count("\n") == 2 * 5000
