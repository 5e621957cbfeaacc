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


class Spy:
    """A class whose methods must never run while an untrusted database is browsed."""

    called: list[str] = []

    def __init__(self, secret: str, n: int) -> None:
        self.secret, self.n = secret, n

    def __repr__(self) -> str:
        Spy.called.append("__repr__")
        return "Spy!"

    def __str__(self) -> str:
        Spy.called.append("__str__")
        return "Spy!"

    def __getattribute__(self, name: str):
        if not name.startswith("__"):
            Spy.called.append(f"getattr {name}")
        return object.__getattribute__(self, name)


async def test_untrusted_decode_shows_fields_without_running_the_class(tui_engine, app_factory) -> None:
    tui_engine.init("t")
    tui_engine.save("t", "alice", "values", {"spy": Spy("s3cret", 1), "price": Money(Decimal("22.00"), "EUR")})
    Spy.called.clear()
    app = app_factory(handlers_module="mydb_tui.demo_types")  # handlers yes, trust no
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open(pilot)
        node = _node(tree, "spy")
        await pilot.pause()
        tree.move_cursor(node)
        await pilot.pause()
        await pilot.press("v")
        await settle(pilot)
        expected = f"= {Spy.__module__}.Spy(secret='s3cret', n=1)"
        assert expected in screen_text(app)
        assert Spy.called == []  # neither __repr__, __str__ nor attribute access ran
        # `v` again (on the result) replaces the result rather than adding a second one
        await pilot.press("v")
        await settle(pilot)
        results = [c for c in node.children if str(c.label).startswith("= ")]
        assert len(results) == 1
        # a handler's value is shown the same way: class path and fields
        money = _node(tree, "price")
        await pilot.pause()
        tree.move_cursor(money)
        await pilot.pause()
        await pilot.press("v")
        await settle(pilot)
        assert "= mydb_tui.demo_types.Money(amount=Decimal('22.00'), currency='EUR')" in screen_text(app)


async def test_a_pickle_inside_an_object_gets_a_sized_badge_and_a_short_decode_error(
        tui_engine, app_factory) -> None:
    _write(tui_engine)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open(pilot)
        samples = _node(tree, "report", "state", "samples")
        await pilot.pause()
        label = str(samples.label)
        assert label.startswith("samples: ⟨pickle ") and " B" in label, label  # its size is shown
        report = _node(tree, "report")
        tree.move_cursor(report)
        await pilot.pause()
        await pilot.press("v")
        await settle(pilot)
        assert "⚠ holds a pickle: start with --trust-pickle to decode it" in screen_text(app)
