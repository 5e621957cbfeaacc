"""SVG snapshots of the main screen and its screens (fixed clock, user, TZ and root name).

Update after an intended change with `pytest tests/tui/test_app_snapshots.py --snapshot-update`
and look at the report before committing the new SVGs.
"""

from __future__ import annotations

from tui_helpers import SIZE, settle

from mydb_tui.widgets.record_table import RecordTable
from mydb_tui.widgets.timeline import Timeline


async def _ready(pilot) -> None:
    await settle(pilot)


def test_main_screen(snap_app, snap_compare) -> None:
    assert snap_compare(snap_app, terminal_size=SIZE, run_before=_ready)


def test_main_screen_record_entry(snap_app, snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        pilot.app.goto_entry("acme", "users")
        await settle(pilot)
        pilot.app.query_one(RecordTable).focus()
        await pilot.press("j", "j", "j")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=before)


def test_help_screen(snap_app, snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=before)


def test_compare_screen(snap_app, snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        pilot.app.query_one(Timeline).focus()
        await pilot.press("d")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=before)


def test_restore_confirmation(snap_app, snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        pilot.app.query_one(Timeline).focus()
        await pilot.press("G", "r")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=before)


def test_editor(snap_app, snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        pilot.app.query_one(Timeline).focus()
        await pilot.press("e")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=before)


SMALL = (80, 24)


def test_main_screen_80x24(snap_app, snap_compare) -> None:
    """Stacked panes below 100 columns: Entries (focused, so the tallest), History, Version."""
    assert snap_compare(snap_app, terminal_size=SMALL, run_before=_ready)


def test_main_screen_record_entry_80x24(snap_app, snap_compare) -> None:
    """The version pane focused (3): it takes the room, the record table shows more than 3 rows."""
    async def before(pilot) -> None:
        await settle(pilot)
        pilot.app.goto_entry("acme", "users")
        await settle(pilot)
        await pilot.press("3", "j", "j", "j")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=SMALL, run_before=before)


def test_help_screen_80x24(snap_app, snap_compare) -> None:
    """One column of keys that scrolls; the closing line stays."""
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=SMALL, run_before=before)
