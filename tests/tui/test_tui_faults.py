"""Disk faults during the TUI's writes: a message on screen, no traceback, nothing lost."""

from __future__ import annotations

import errno

import pytest
from fault_injection import Faults
from textual.widgets import TextArea
from tui_helpers import SIZE, open_entry, screen_text, settle, wait_for_text

from mydb_tui.screens.confirm import ConfirmScreen
from mydb_tui.screens.editor import EditorScreen
from mydb_tui.screens.restore import RestoreScreen

FAULTS = [("ENOSPC", errno.ENOSPC, 1), ("EIO", errno.EIO, 3), ("EACCES", errno.EACCES, 1)]


def messages(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


@pytest.mark.parametrize("name,err,fail_at", FAULTS, ids=[f[0] for f in FAULTS])
async def test_restore_on_a_failing_disk_shows_the_error(small_db, app_factory, monkeypatch, name, err, fail_at) -> None:
    before = small_db.history("acme", "config", max_items=None)
    app = app_factory(poll_interval=0)  # no change watcher: the injected fault must hit the write
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("G", "r")
        await settle(pilot)
        assert isinstance(app.screen, RestoreScreen)
        faults = Faults(fail_at=fail_at, err=err).install(monkeypatch.setattr)
        await pilot.press("y")
        await settle(pilot)
        monkeypatch.undo()
        assert faults.fired, "the fault was injected"
        assert "Restore failed" in "\n".join(str(n.title) for n in app._notifications)
        assert "Traceback" not in screen_text(app)
        assert app.is_running
    assert small_db.history("acme", "config", max_items=None) == before
    assert small_db.verify().ok


async def test_editor_save_on_a_failing_disk_keeps_the_editor_and_the_text(small_db, app_factory, monkeypatch) -> None:
    before = small_db.history("acme", "config", max_items=None)
    app = app_factory(poll_interval=0)  # no change watcher: the injected fault must hit the write
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "config")
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EditorScreen)
        area = app.screen.query_one(TextArea)
        area.text = area.text.replace('"b"', '"c"')
        await settle(pilot)  # the edit's Changed event is handled (it clears any error shown) before the save
        # a full disk: every call that would write fails (a read by another thread cannot take the fault)
        faults = Faults(read_only=True, err=errno.ENOSPC).install(monkeypatch.setattr)
        await pilot.press("ctrl+s")
        await settle(pilot)
        monkeypatch.undo()
        assert faults.fired
        assert isinstance(app.screen, EditorScreen), "the editor stays open with the user's text"
        assert '"c"' in app.screen.query_one(TextArea).text
        shown = await wait_for_text(pilot, "No space left on device")
        assert "No space left on device" in shown, (faults.calls, shown)
    assert small_db.history("acme", "config", max_items=None) == before
    assert small_db.verify().ok


async def test_delete_record_on_a_read_only_disk_shows_the_error(small_db, app_factory, monkeypatch) -> None:
    before = small_db.get("acme", "users")
    app = app_factory(poll_interval=0)  # no change watcher: the injected fault must hit the write
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "acme", "users")
        app.query_one("RecordTable").focus()
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        Faults(read_only=True, err=errno.EROFS).install(monkeypatch.setattr)
        await pilot.press("y")
        await settle(pilot)
        monkeypatch.undo()
        assert "Delete failed" in "\n".join(str(n.title) for n in app._notifications)
        assert "Read-only file system" in messages(app)
        assert app.is_running
    assert small_db.get("acme", "users") == before
