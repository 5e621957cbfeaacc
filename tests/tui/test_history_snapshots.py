"""SVG snapshots of the history-of-a-record screen and the search screen (issue 14), at
80x24 and 160x45. Update with `--snapshot-update` and look at the SVGs before committing."""

from __future__ import annotations

import pytest
from tui_helpers import settle

from mydb_tui.widgets.record_table import RecordTable

SIZES = [(80, 24), (160, 45)]


async def _users(pilot) -> None:
    await settle(pilot)
    pilot.app.goto_entry("acme", "users")
    await settle(pilot)
    pilot.app.query_one(RecordTable).focus()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_record_history_screen(snap_app, snap_compare, size) -> None:
    async def before(pilot) -> None:
        await _users(pilot)
        await pilot.press("j", "j", "j", "h")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_search_screen(snap_app, snap_compare, size) -> None:
    async def before(pilot) -> None:
        await _users(pilot)
        await pilot.press("ctrl+f", "ctrl+o", "ctrl+t", *"a", "enter")
        await settle(pilot)
        await pilot.press("down", "j")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=size, run_before=before)
