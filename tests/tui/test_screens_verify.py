"""Verify database (V): the engine's fsck run from the app, its report in a modal screen."""

from __future__ import annotations

import os

from textual.command import CommandPalette
from tui_helpers import SIZE, screen_text, settle

from mydb_tui.screens.verify import ReportList, VerifyScreen


def flip_byte(path: str, offset: int = 10) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def report_text(screen: VerifyScreen) -> list[str]:
    """Every line of the report list as plain text (rendered, so also the off-screen ones)."""
    report = screen.query_one(ReportList)
    return [report.render_row(i).plain for i in range(report.row_count)]


async def open_verify(pilot) -> VerifyScreen:
    await pilot.press("V")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, VerifyScreen)
    assert screen.report is not None, screen.error
    return screen


async def test_a_clean_database_shows_no_problems(small_db, app_factory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Verify" in screen_text(app).splitlines()[-1]  # in the main footer
        screen = await open_verify(pilot)
        text = screen_text(app)
        assert "No problems found" in text and "problem" not in text.replace("No problems", "")
        report = screen.report
        assert report.ok and report.objects_checked > 0
        assert f"Checked {report.objects_checked:,} objects" in text
        assert not screen.query_one(ReportList).display
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]


async def test_a_flipped_byte_names_the_file_and_hash_mismatch(small_db, app_factory) -> None:
    digest = small_db.log("acme", "config")[-1].digest  # the oldest version of acme/config
    path = small_db.storage.object_path("acme", digest)
    flip_byte(path)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_verify(pilot)
        assert not screen.report.ok
        text = screen_text(app)
        assert "problem" in text and "found" in text and "No problems" not in text
        lines = report_text(screen)
        relative = os.path.relpath(path, small_db.root)
        at = lines.index(next(line for line in lines if line.startswith("hash-mismatch")))
        assert "content does not match its digest" in lines[at]
        assert lines[at + 1].strip() == relative  # the file, under its kind and message
        # the list is focused, and the damaged file shows on screen in full
        assert screen.focused is screen.query_one(ReportList)
        assert "hash-mismatch" in text and relative in text


async def test_paths_and_messages_are_shown_literally(tui_engine, app_factory) -> None:
    tenant = "[bold red]t [link=https:x]y [reverse]z"
    tui_engine.init(tenant)
    digest = tui_engine.save(tenant, "alice", "doc", {"a": 1})
    flip_byte(tui_engine.storage.object_path(tenant, digest), 5)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_verify(pilot)
        lines = report_text(screen)
        at = lines.index(next(line for line in lines if line.startswith("hash-mismatch")))
        assert lines[at + 1].strip().startswith(tenant + os.sep + "objects")
        assert tenant + os.sep + "objects" in screen_text(app)


async def test_verify_works_read_only_and_from_the_palette(small_db, app_factory) -> None:
    app = app_factory(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Verify" in screen_text(app).splitlines()[-1]
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Verify database" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Verify database")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, VerifyScreen)
        assert app.screen.report is not None and app.screen.report.ok
        await pilot.press("V")  # no second verify screen on top of the first
        await settle(pilot)
        assert len(app.screen_stack) == 2
        await pilot.press("r")  # run again
        await settle(pilot)
        assert app.screen.report is not None and app.screen.report.ok
