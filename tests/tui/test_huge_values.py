"""A huge value (a 2 MB string): the editor refuses it with a message, the viewer still shows it."""

from __future__ import annotations

from textual.widgets import TextArea
from tui_helpers import SIZE, screen_text, settle

from mydb_tui.screens.editor import EditorScreen
from mydb_tui.widgets.timeline import Timeline
from mydb_tui.widgets.viewer import LINE_LIMIT


async def test_a_huge_value_is_not_opened_in_the_editor_but_stays_viewable(tui_engine, app_factory) -> None:
    tui_engine.init("t")
    size = 2_000_000
    tui_engine.save("t", "alice", "big", {"blob": "x" * size, "n": 1})
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one(Timeline).focus()
        await pilot.press("e")
        await settle(pilot)
        assert not isinstance(app.screen, EditorScreen)
        toast = next(n for n in app._notifications if n.title == "Too large to edit here")
        assert f"{size + 26:,} characters" in str(toast.message)
        assert '"xxxxxxxx' in screen_text(app)  # the viewer still shows the value (tree view)
        app.query_one("#data-tree").focus()
        await pilot.press("t")  # the text view: the long line is cut, saying so
        await settle(pilot)
        area = app.query_one("#data-text", TextArea)
        assert area.language is None or len(area.text) < 200_000
        assert f"{size + 13 - LINE_LIMIT:,} more characters" in area.text  # `  "blob": "x…",`
    assert len(tui_engine.log("t", "big")) == 1
