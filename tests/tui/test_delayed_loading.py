"""The delayed loading indicator never sticks when its timer fires during a busy UI thread."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

from mydb_tui.widgets.loading import DelayedLoading


class Pane(DelayedLoading, Static):
    pass


async def until_loading(pilot, pane: Pane, seconds: float = 5.0) -> None:
    """Wait for the delayed indicator (a busy machine may run its timer late)."""
    for _ in range(int(seconds / 0.05)):
        if pane.loading:
            return
        await pilot.pause(0.05)


class Host(App):
    def compose(self) -> ComposeResult:
        yield Pane("data")


async def test_a_load_finished_while_the_ui_was_busy_leaves_no_spinner() -> None:
    app = Host()
    async with app.run_test() as pilot:
        pane = app.query_one(Pane)
        pane.show_loading()
        fire = pane._loading_timer._callback
        # The UI thread was busy past the delay: the timer fired and queued its callback
        # (Textual's set_timer goes through call_next), then the load's result arrived.
        fire()
        pane.hide_loading()
        await pilot.pause()
        await pilot.pause(pane.LOADING_DELAY * 2)
        assert not pane.loading


async def test_a_slow_load_shows_the_spinner_and_hides_it() -> None:
    app = Host()
    async with app.run_test() as pilot:
        pane = app.query_one(Pane)
        pane.show_loading()
        await until_loading(pilot, pane)
        assert pane.loading
        pane.hide_loading()
        await pilot.pause()
        assert not pane.loading


async def test_the_spinner_redraws_at_most_four_times_a_second() -> None:
    """Its redraws take the GIL from the loading worker: they are kept rare."""
    from mydb_tui.widgets.loading import CalmLoadingIndicator

    app = Host()
    async with app.run_test() as pilot:
        pane = app.query_one(Pane)
        pane.show_loading()
        await until_loading(pilot, pane)
        await pilot.pause(0.1)
        spinner = pane._cover_widget  # Textual draws the indicator over the loading widget
        assert isinstance(spinner, CalmLoadingIndicator)
        assert spinner.auto_refresh == CalmLoadingIndicator.FRAME_SECONDS == 0.25
        pane.hide_loading()
