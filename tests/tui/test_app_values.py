"""Tagged values in the viewer: badges, pickle class scan, decoding on request only."""

from __future__ import annotations

from decimal import Decimal

from dbengine.dbengine import DbEngine
from tui_helpers import SIZE, screen_text, settle

from mydb_tui.demo_types import Money, Report, Thumbnail
from mydb_tui.widgets.json_tree import JsonNode, JsonTree


def _write(engine: DbEngine) -> None:
    engine.init("t")
    report = Report("Q1", "2026Q1", {"total": 3}, samples=[Decimal("1.5"), Decimal("2.5")])
    engine.save("t", "alice", "values", {
        "price": Money(Decimal("22.00"), "EUR"),
        "logo": Thumbnail(2, 1, b"\x00\x01"),
        "report": report,
    })


def _node(tree: JsonTree, *path: str):
    node = tree.root
    for key in path:
        node.expand()
        tree._fill(node)
        node = next(c for c in node.children if isinstance(c.data, JsonNode) and c.data.key == key)
    return node


async def _open(pilot) -> JsonTree:
    await settle(pilot)
    tree = pilot.app.query_one("#data-tree", JsonTree)
    tree.focus()
    return tree


async def test_badges_and_pickle_class_names_without_unpickling(tui_engine, app_factory) -> None:
    _write(tui_engine)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open(pilot)
        text = screen_text(app)
        assert "⟨Money = " not in text  # handler values are badges, not decoded
        assert "demo/money" in text and "demo/thumbnail ref" in text and "⟨Report · " in text
        pickle_node = _node(tree, "report", "state", "samples")
        assert str(pickle_node.label).startswith("samples: ⟨pickle ")
        pickle_node.expand()
        tree._fill(pickle_node)
        await settle(pilot)
        names = [str(c.label) for c in pickle_node.children]
        assert any(n.startswith("names: ") and "decimal.Decimal" in n for n in names), names
        # decoding a pickle is refused without --trust-pickle
        tree.move_cursor(pickle_node)
        await pilot.pause()
        assert tree.cursor_node is pickle_node
        await pilot.press("v")
        await settle(pilot)
        assert any("--trust-pickle" in str(n.message) for n in app._notifications)
        assert not any(str(c.label).startswith("= ") for c in pickle_node.children)


async def test_decode_on_request_with_handlers_and_trusted_pickles(tui_engine, app_factory) -> None:
    _write(tui_engine)
    app = app_factory(trust_pickle=True, handlers_module="mydb_tui.demo_types")
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open(pilot)
        for path, expected in ((("price",), "Money("), (("report", "state", "samples"), "Decimal('1.5')")):
            node = _node(tree, *path)
            await pilot.pause()  # let the tree lay out the opened nodes
            tree.move_cursor(node)
            await pilot.pause()
            assert tree.cursor_node is node
            await pilot.press("v")
            await settle(pilot)
            decoded = [str(c.label) for c in node.children if str(c.label).startswith("= ")]
            assert decoded and expected in decoded[0], [str(c.label) for c in node.children]
