"""Issue 10 §6 in the value tree: a dict with non-string keys opens to its entries, the int
key 1 and the string key "1" shown apart (as `mydb show` names them), names escaped."""

from __future__ import annotations

from dbengine.dbengine import DbEngine
from textual.app import App, ComposeResult

from mydb_tui.widgets.json_tree import JsonNode, JsonTree

VALUE = {1: "int one", "1": "string one", None: "none", "null": "string null", (1, 2): "tuple",
         "[1, 2]": "string list", "a\u200bb": {"x\u3164": 1}}


class _TreeApp(App):
    def __init__(self, engine: DbEngine) -> None:
        super().__init__()
        self.engine = engine

    def compose(self) -> ComposeResult:
        yield JsonTree(self.engine, id="tree")


async def test_non_string_keys_show_apart_from_string_keys(tmp_path) -> None:
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    engine.init("t")
    engine.save("t", "u", "e", VALUE)
    stored = engine.read_snapshot("t", engine.get_digest("t", "e"))["__data__"]
    app = _TreeApp(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.query_one(JsonTree)
        tree.show({"value": stored})
        await pilot.pause()
        (node,) = tree.root.children
        node.expand()
        tree._fill(node)
        labels = [str(child.label) for child in node.children]
        assert labels == ['⟨1⟩: "int one"', '1: "string one"', '⟨None⟩: "none"', 'null: "string null"',
                          '⟨(1, 2)⟩: "tuple"', '[1, 2]: "string list"', "a\\u200bb: {1 key}"]
        spans = [child.label.spans[0].style for child in node.children[:2]]
        assert spans[0] != spans[1]  # ⟨1⟩ in the badge colour, "1" in the key colour
        nested = node.children[-1]
        assert isinstance(nested.data, JsonNode)
        nested.expand()
        tree._fill(nested)
        assert [str(c.label) for c in nested.children] == ["x\\u3164: 1"]
