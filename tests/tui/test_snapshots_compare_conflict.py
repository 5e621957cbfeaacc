"""SVG snapshots of the compare of a record entry (header wording, badges, the sticky record
key) and of the conflict dialog, at the usual size and at 80x24.

Update after an intended change with `pytest tests/tui/test_snapshots_compare_conflict.py
--snapshot-update` and look at the new SVGs before committing them.
"""

from __future__ import annotations

import json

import pytest
from dbengine.dbengine import DbEngine
from textual.widgets import TextArea
from tui_helpers import SIZE, settle

SMALL = (80, 24)


def _record(i: int, late: int) -> dict:
    """A long record: 24 fields, tagged values (a set of ints: strings would hash in a random order, bytes, a tuple)."""
    fields = {f"field{n:02d}": n * i for n in range(20)}
    return {"tags": {1, 100 + i}, "blob": bytes(range(i + 3)), "pair": (i, late), **fields, "last": late}


@pytest.fixture
def snap_app(small_db, app_factory, tmp_path, monkeypatch):
    """The app on the small database and a record entry `orders` whose changes sit deep in
    long records (opened by the relative name `db`, a stable header)."""
    small_db.put_many("acme", "alice", "orders", {f"o{i}": _record(i, 0) for i in range(3)})
    small_db.put_many("acme", "bob", "orders", {"o1": _record(1, 7), "o2": {**_record(2, 9), "tags": {1}}})
    monkeypatch.chdir(tmp_path)
    return app_factory(root="db", poll_interval=0)


async def _open_compare(pilot) -> None:
    await settle(pilot)
    pilot.app.goto_entry("acme", "orders")
    await settle(pilot)
    await pilot.press("2", "d")
    await settle(pilot)
    await pilot.press("n")  # the second change: deep in o1, its key stuck on top
    await settle(pilot)


def test_compare_records_with_badges(snap_app, snap_compare) -> None:
    assert snap_compare(snap_app, terminal_size=SIZE, run_before=_open_compare)


def test_compare_records_with_badges_80x24(snap_app, snap_compare) -> None:
    assert snap_compare(snap_app, terminal_size=SMALL, run_before=_open_compare)


async def _conflict(pilot) -> None:
    app = pilot.app
    await settle(pilot)
    await pilot.press("2", "e")
    await settle(pilot)
    other = DbEngine(app.engine.root, durable=False, clock=lambda: app.engine.log("acme", "config")[0].date)
    data = other.read_snapshot("acme", other.get_digest("acme", "config"))["__data__"]
    other.commit_document("acme", "alice", "config", {"__data__": {**data, "debug": False}})
    app.screen.query_one("#editor-text", TextArea).load_text(json.dumps({**data, "title": "mine"}, indent=2))
    await pilot.press("ctrl+s")
    await settle(pilot)


def test_conflict_dialog(snap_app, snap_compare) -> None:
    assert snap_compare(snap_app, terminal_size=SIZE, run_before=_conflict)


def test_conflict_dialog_80x24(snap_app, snap_compare) -> None:
    assert snap_compare(snap_app, terminal_size=SMALL, run_before=_conflict)
