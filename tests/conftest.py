"""Shared fixtures of the engine tests: fixed clocks and a fresh database per test.

Helpers are exposed as fixtures (not imported from this module) so that other
conftest files under tests/ never clash with it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator

import pytest
from dbengine.dbengine import DbEngine
from hypothesis import settings

# CI (.ci/run sets MYDB_HYPOTHESIS=ci) runs the property tests with fixed seeds, so that a landing
# is judged on the code, not on which random cases a run happened to draw; `make test` by hand
# draws new cases each run (a failure it finds is printed with its example: pin it with @example).
settings.register_profile("ci", derandomize=True)
if os.environ.get("MYDB_HYPOTHESIS") == "ci":
    settings.load_profile("ci")

FIXED_TZ = dt.timezone(dt.timedelta(hours=1))
FIXED_NOW = dt.datetime(2026, 11, 26, 14, 3, 7, tzinfo=FIXED_TZ)


class TickingClock:
    """A deterministic clock: starts at FIXED_NOW and advances one second per call."""

    def __init__(self, start: dt.datetime = FIXED_NOW):
        self.now = start

    def __call__(self) -> dt.datetime:
        moment = self.now
        self.now += dt.timedelta(seconds=1)
        return moment


@pytest.fixture
def fixed_now() -> dt.datetime:
    """The instant the fixed clock returns: 2026-11-26 14:03:07 +01:00."""
    return FIXED_NOW


@pytest.fixture
def db_root(tmp_path) -> str:
    return str(tmp_path / "db")


@pytest.fixture
def make_engine(db_root) -> Callable[..., DbEngine]:
    """Factory of engines on the test's root (fixed clock, no fsync unless asked)."""

    def make(root: str | None = None, **options) -> DbEngine:
        options.setdefault("clock", lambda: FIXED_NOW)
        options.setdefault("durable", False)
        return DbEngine(root or db_root, **options)

    return make


@pytest.fixture
def engine(make_engine) -> DbEngine:
    """An engine on a fresh root, tenant 'tenant_1' initialized, clock fixed at FIXED_NOW."""
    eng = make_engine()
    eng.init("tenant_1")
    return eng


@pytest.fixture
def ticking_engine(make_engine) -> DbEngine:
    """Like `engine`, but every version gets a date one second after the previous one."""
    eng = make_engine(clock=TickingClock())
    eng.init("tenant_1")
    return eng


@pytest.fixture
def stress_factor() -> int:
    """The MYDB_STRESS multiplier for long tests (1 by default)."""
    try:
        return max(1, int(os.environ.get("MYDB_STRESS", "1")))
    except ValueError:
        return 1


@pytest.fixture
def list_files() -> Callable[[str], set[str]]:
    """A function giving every file under a folder, as paths relative to it."""

    def files(root: str) -> set[str]:
        found = set()
        for folder, _dirs, names in os.walk(root):
            for name in names:
                found.add(os.path.relpath(os.path.join(folder, name), root))
        return found

    return files


@pytest.fixture
def handler_tags() -> Iterator[list[str]]:
    """Tags a test registers; they are unregistered afterwards so tests stay independent."""
    from dbengine.handlers import handlers

    tags: list[str] = []
    yield tags
    for tag in tags:
        handlers.unregister_handler(tag)


_HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def tenant_lock_held():
    """A context manager factory: another process holds `{root}/{tenant}/head.lock` (a
    writer, as far as this process can tell) for the duration of the block."""
    import contextlib
    import subprocess
    import sys

    @contextlib.contextmanager
    def hold(root: str, tenant: str):
        holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, os.path.join(root, tenant, "head.lock")],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            yield
        finally:
            holder.kill()
            holder.wait()

    return hold
