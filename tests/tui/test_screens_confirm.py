"""ConfirmScreen: y / n / escape answers, and messages shown literally (never as markup)."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from tui_helpers import Host

from mydb_tui.screens.confirm import ConfirmScreen


@pytest.mark.parametrize(("key", "answer"), [("y", True), ("n", False), ("escape", False)])
async def test_keys_answer(key: str, answer: bool) -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(ConfirmScreen("Delete record?", "Delete alice?"), app.results.append)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(key)
        await pilot.pause()
        assert app.results == [answer]
        assert not isinstance(app.screen, ConfirmScreen)


async def test_buttons_answer() -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(ConfirmScreen("Sure?", "really"), app.results.append)
        await pilot.pause()
        await pilot.click("#confirm-yes")
        await pilot.pause()
        assert app.results == [True]


async def test_message_is_literal_and_footer_shows_keys() -> None:
    app = Host()
    message = "Delete [bold red]x[/] \x1b[31m?"
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(ConfirmScreen("Title [i]t[/i]", message), app.results.append)
        await pilot.pause()
        shown = app.screen.query_one("#confirm-message", Static).content
        assert shown.plain == "Delete [bold red]x[/] \\x1b[31m?"
        assert app.screen.query_one("#confirm-title", Static).content.plain == "Title [i]t[/i]"
        keys = {key for key, active in app.screen.active_bindings.items() if active.binding.show}
        assert {"y", "n"} <= keys
