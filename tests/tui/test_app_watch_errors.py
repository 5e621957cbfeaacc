"""Following other writers, read errors shown in place, and the command line entry."""

from __future__ import annotations

import subprocess
import sys
import time

from tui_helpers import SIZE, screen_text, settle

from mydb_tui.widgets.entry_tree import EntryTree
from mydb_tui.widgets.timeline import Timeline
from mydb_tui.widgets.viewer import Viewer

WRITER = """
import sys
from dbengine.dbengine import DbEngine
engine = DbEngine(sys.argv[1])
engine.save("acme", "outsider", "config", {"written": "elsewhere"})
engine.save("acme", "outsider", "brand_new", {"x": 1})
"""


async def test_writes_by_another_process_show_within_two_seconds(small_db, app_factory, tui_root) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.query_one(Timeline)
        timeline.focus()
        await pilot.press("j")  # the user's selection: the second version
        await settle(pilot)
        selected = timeline.selected.digest
        subprocess.run([sys.executable, "-c", WRITER, tui_root], check=True)
        written = time.monotonic()
        while time.monotonic() - written < 2.0 and timeline.row_count < 4:
            await pilot.pause(0.1)
        assert timeline.row_count == 4, "the new version did not show within 2 s"
        await settle(pilot)
        assert timeline.selected.digest == selected  # selection kept
        assert timeline.cursor == 2
        text = screen_text(app)
        assert "outsider" in text
        assert "config  snapshot · 4 versions" in text
        assert "brand_new" in text  # a new entry appears in the tree


def _corrupt(path: str) -> None:
    with open(path, "wb") as handle:
        handle.write(b"garbage")


async def test_corrupt_version_shows_an_error_and_the_app_keeps_running(small_db, app_factory) -> None:
    old = small_db.log("acme", "config")[1].digest
    _corrupt(small_db.storage.object_path("acme", old))
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one(Timeline).focus()
        await pilot.press("j")
        await settle(pilot)
        text = screen_text(app)
        assert "⚠ cannot read config @" in text and "corrupt" in text
        assert any(n.severity == "error" for n in app._notifications)
        await pilot.press("j")  # still alive: the next version shows
        await settle(pilot)
        assert app.query_one(Viewer).document is not None
        assert "servers" in screen_text(app)


async def test_corrupt_head_object_marks_the_entry_and_errors_in_the_viewer(small_db, app_factory) -> None:
    _corrupt(small_db.storage.object_path("acme", small_db.get_digest("acme", "users")))
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "users  ⚠ unreadable" in screen_text(app)
        app.goto_entry("acme", "users")
        await settle(pilot)
        assert "⚠ cannot read the history of acme/users" in screen_text(app)
        assert any(n.severity == "error" for n in app._notifications)


async def test_unreadable_tenant_shows_an_error(small_db, app_factory) -> None:
    with open(small_db.storage.head_path("globex"), "w") as handle:
        handle.write("{not json")
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.query_one(EntryTree)
        tree.tenant_nodes()["globex"].expand()
        await settle(pilot)
        text = screen_text(app)
        assert "⚠" in text and "globex" in text and "JSON" in text  # "is not valid (UTF-8) JSON"
        assert any(n.severity == "error" for n in app._notifications)
        app.goto_entry("acme", "users")  # the rest still works
        await settle(pilot)
        assert app.query_one(Timeline).row_count == 2


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mydb_tui", *args], capture_output=True, text=True, timeout=60)


def test_cli_exits_2_on_a_missing_root(tmp_path) -> None:
    result = _run_cli(str(tmp_path / "nonexistent"))
    assert result.returncode == 2
    assert "not a MyDbEngine database" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_cli_exits_2_on_a_folder_that_is_not_a_database(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = _run_cli(str(tmp_path))
    assert result.returncode == 2 and "not a MyDbEngine database" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_exits_2_on_a_bad_handlers_module(small_db, tui_root) -> None:
    result = _run_cli(tui_root, "--handlers", "no_such_module_xyz")
    assert result.returncode == 2
    assert "cannot import handlers module 'no_such_module_xyz'" in result.stderr
    assert "Traceback" not in result.stderr
