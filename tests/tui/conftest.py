"""Fixtures of the TUI tests: a real engine on tmp_path with a fixed clock, a small
database with snapshot and record entries, and an app factory (the console script's).

Dates show in local time, so every TUI test runs with TZ=UTC; cursors do not blink,
so SVG snapshots are deterministic. Helpers live in tui_helpers.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from dbengine.dbengine import DbEngine
from tui_helpers import START, USER, StepClock, _utc_and_no_blink, build_small_db  # noqa: F401 (autouse fixture)

from mydb_tui.__main__ import make_app
from mydb_tui.app import MyDbApp


@pytest.fixture
def tui_root(tmp_path) -> str:
    return str(tmp_path / "db")


@pytest.fixture
def tui_engine(tui_root) -> DbEngine:
    """An engine on a fresh root (fixed step clock, no fsync); no tenant yet."""
    return DbEngine(tui_root, clock=StepClock(), durable=False)


@pytest.fixture
def small_db(tui_engine) -> DbEngine:
    """tui_engine with build_small_db() written into it."""
    build_small_db(tui_engine)
    return tui_engine


@pytest.fixture
def app_factory(tui_root) -> Callable[..., MyDbApp]:
    """make_app() on the test database, with the test user and a fixed clock."""

    def factory(**kwargs) -> MyDbApp:
        kwargs.setdefault("user", USER)
        kwargs.setdefault("clock", StepClock(START + dt.timedelta(days=30)))
        return make_app(kwargs.pop("root", tui_root), **kwargs)

    return factory


@pytest.fixture
def snap_app(small_db, app_factory, tmp_path, monkeypatch) -> MyDbApp:
    """The app on the small database, opened by the relative name `db` (a stable header in
    SVG snapshots). Test modules whose snapshots need more data define their own."""
    monkeypatch.chdir(tmp_path)
    return app_factory(root="db", poll_interval=0)
