"""The app on forged metadata and stuck workers (issue 10): it shows each damage where it
is, keeps working, and always quits at once.

- versions whose `__date__` is "yesterday", in year 1 or in year 9999 west of UTC, whose
  user id is empty, whose `__restored_from__` is a dict or a short string, whose
  `__parent__` holds a dict: each version and each comparison and restore of it shows
  "invalid date" and the damage, and nothing stops the app;
- head keys that are no valid entry name (a lone surrogate, NUL, over 200 characters,
  empty) and one with zero-width characters: listed, their error shown when selected;
- the real `mydb-tui` in a pseudo-terminal with a worker stuck for good (a `--handlers`
  module whose deserialize blocks on a FIFO, or a FIFO as a tenant's head): `q`,
  `ctrl+q`, `ctrl+c`, SIGINT and SIGTERM end the process within 2 seconds, with exit
  status 0, the terminal restored and no traceback.

Objects are written with correct digests through the storage layer, as a hostile or
buggy writer would (see tests/test_hostile.py).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time

import pytest
from dbengine.dbengine import DbEngine
from dbengine.utils import compute_digest, to_json_bytes
from tui_helpers import SIZE, screen_text, settle

from mydb_tui.model.entries import EntryData
from mydb_tui.screens.compare import CompareScreen
from mydb_tui.screens.restore import RestoreScreen
from mydb_tui.widgets.entry_tree import EntryTree
from mydb_tui.widgets.timeline import Timeline

T = "meta"
N = "names"
GOOD_DATE = "20261126 14:03:07 +0000"
STEP = 60  # seconds any one step may take before the test fails as a hang
CONTROL = ("\x1b", "\x07", "\x9b", "\u202e", "\r", "\x00", "\u200b", "\u2060")

#: Entry name -> what its middle version holds instead of valid metadata.
DAMAGED = {
    "date-yesterday": {"__date__": "yesterday"},
    "date-year-1": {"__date__": "00010101 00:00:00 +0000"},
    "date-year-9999": {"__date__": "99991231 23:00:00 -0500"},
    "empty-user": {"__user_id__": ""},
    "restored-dict": {"__restored_from__": {"x": 1}},
    "restored-short": {"__restored_from__": "abc"},
    "parent-dict": {"__parent__": "second parent a dict"},
}
BAD_DATES = {"date-yesterday", "date-year-1", "date-year-9999"}

#: Head keys that are not valid entry names (InvalidNameError on any call), and one that is.
BAD_NAMES = {"lone-surrogate": "\ud800lone", "nul": "nul\x00name", "long": "L" * 201, "empty": ""}
ZERO_WIDTH = "zero\u200bwidth\u2060name"


# ====================================================================== the database
def _write(engine: DbEngine, document: dict) -> str:
    data = to_json_bytes(document)
    digest = compute_digest(data)
    engine.storage.write_object(T, digest, data)
    return digest


def _set_head(engine: DbEngine, tenant: str, head: dict[str, str]) -> None:
    with engine.storage.lock(tenant):
        engine.storage.write_head(tenant, to_json_bytes(head))


def _version(parent: str | None, data: object, user: str = "mallory") -> dict:
    return {"__kind__": "snapshot", "__parent__": [parent], "__user_id__": user, "__date__": GOOD_DATE,
            "__data__": data}


def build_names_db(engine: DbEngine) -> list[str]:
    """Tenant `names`: `good` (two versions by the engine), and BAD_NAMES and ZERO_WIDTH as
    head keys naming `good`'s HEAD. Returns the digests of `good`, newest first."""
    engine.init(N)
    engine.save(N, "alice", "good", {"n": 0})
    engine.save(N, "bob", "good", {"n": 1, "new": True})
    head = {"good": engine.get_digest(N, "good")}
    for name in [*BAD_NAMES.values(), ZERO_WIDTH]:
        head[name] = head["good"]
    _set_head(engine, N, head)
    return engine.history(N, "good")


def build_meta_db(engine: DbEngine) -> dict[str, list[str]]:
    """Tenant `meta`: per DAMAGED case an entry of three versions (newest first: a good
    HEAD, the damaged version, a good first one written by the engine). Returns entry ->
    digests, newest first."""
    engine.init(T)
    head = {}
    digests = {}
    for name, meta in DAMAGED.items():
        engine.save(T, "alice", name, {"step": 0, "name": name})
        first = engine.get_digest(T, name)
        document = _version(first, {"step": 1, "name": name})
        if name == "parent-dict":
            document["__parent__"] = [first, {"evil": 1}]
        else:
            document.update(meta)
        damaged = _write(engine, document)
        top = _write(engine, _version(damaged, {"step": 2, "name": name}, user="carol"))
        head[name] = top
        digests[name] = [top, damaged, first]
    _set_head(engine, T, head)
    return digests


@pytest.fixture
def meta_db(tui_engine) -> dict[str, list[str]]:
    return build_meta_db(tui_engine)


@pytest.fixture
def names_db(tui_engine) -> list[str]:
    return build_names_db(tui_engine)


# ====================================================================== helpers
async def step(pilot, *keys: str, rounds: int = 2) -> None:
    """Press `keys`, then let workers finish; fail instead of hanging or on an app error."""
    if keys:
        await asyncio.wait_for(pilot.press(*keys), STEP)
    await asyncio.wait_for(settle(pilot, rounds), STEP)
    assert pilot.app.is_running and pilot.app._exception is None, pilot.app._exception


def shown(app) -> str:
    """The screen's text, checked to hold no raw control or invisible character."""
    text = screen_text(app)
    for char in CONTROL:
        assert char not in text, (repr(char), text)
    return text


def errors_shown(app) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == "error"]


def row_text(app, index: int) -> str:
    return app.query_one(Timeline).render_row(index).plain


# ====================================================================== damaged versions
async def test_each_damaged_version_shows_its_damage_and_the_app_keeps_working(meta_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot)
        for name in DAMAGED:  # one app session for all of them: each entry opened in turn
            await _check_damaged_entry(app, pilot, name, meta_db[name])


async def _check_damaged_entry(app, pilot, name: str, digests: list[str]) -> None:
    """One damaged entry: its versions, marker, metadata, compare and restore (cancelled)."""
    top, damaged, first = digests
    app.goto_entry(T, name)
    await step(pilot)
    timeline = app.query_one(Timeline)
    assert timeline.entry == name
    assert [v.digest for v in timeline.versions] == [top, damaged, first]
    timeline.focus()
    # HEAD: good, its data shows
    await step(pilot, "g")
    assert app.viewer.digest == top and app.viewer.data == {"step": 2, "name": name}
    assert "⚠" not in row_text(app, 0)
    # the damaged version: a marker in its row, the damage in the metadata strip, its data
    await step(pilot, "j")
    assert timeline.selected.digest == damaged
    assert app.viewer.digest == damaged and app.viewer.data == {"step": 1, "name": name}
    row = row_text(app, 1)
    assert "⚠ damaged" in row, row
    if name in BAD_DATES:
        assert "invalid date" in row, row
    text = shown(app)
    assert "⚠ damaged: " in text, text
    damage = timeline.selected.damage
    assert damage and damage[:30] in text.replace("\n", " "), (damage, text)
    # compare it with its parent and HEAD with it: the screen opens and closes
    await step(pilot, "d")
    assert isinstance(app.screen, CompareScreen)
    shown(app)
    await step(pilot, "escape")
    await step(pilot, "D")
    assert isinstance(app.screen, CompareScreen)
    shown(app)
    await step(pilot, "escape")
    assert not isinstance(app.screen, CompareScreen)
    # restore it, then cancel: nothing written
    await step(pilot, "r")
    assert isinstance(app.screen, RestoreScreen)
    shown(app)
    await step(pilot, "n")
    assert not isinstance(app.screen, RestoreScreen)
    assert app.engine.get_digest(T, name) == top
    # the first version, and back to HEAD
    await step(pilot, "j")
    assert app.viewer.digest == first and app.viewer.data == {"step": 0, "name": name}
    assert "⚠ damaged: " not in shown(app)  # the metadata strip: nothing wrong here
    await step(pilot, "d")
    assert isinstance(app.screen, CompareScreen)
    await step(pilot, "escape", "g")
    assert app.viewer.digest == top
    assert app.is_running and app._exception is None


def test_the_damage_marker_is_never_dropped_for_lack_of_room() -> None:
    from mydb_tui.widgets.timeline import DAMAGED_FULL, DAMAGED_SHORT, fit_columns

    for width in range(20, 200):
        for restored in (False, True):
            columns = fit_columns(width, 14, restored, True)
            assert columns.damaged in (DAMAGED_FULL, DAMAGED_SHORT)
            assert columns.width <= width or columns == fit_columns(0, 14, restored, True), (width, columns)
    assert fit_columns(48, 14, False, True).damaged == DAMAGED_FULL  # the pane of an 80-column terminal


async def test_the_whole_tenant_browses_version_by_version(meta_db, app_factory) -> None:
    """Every entry of the tenant, every version, as a user goes down the tree."""
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot)
        tree = app.query_one(EntryTree)
        timeline = app.query_one(Timeline)
        tree.tenant_nodes()[T].expand()
        await step(pilot)
        names = [c.data.entry for c in tree.tenant_nodes()[T].children if isinstance(c.data, EntryData)]
        assert sorted(names) == sorted(DAMAGED)
        for name in names:
            app.goto_entry(T, name)
            await step(pilot)
            shown(app)
            timeline.focus()
            for _ in range(timeline.row_count):
                await step(pilot, "j")
                shown(app)
        assert app.is_running and app._exception is None


# ====================================================================== invalid entry names
@pytest.mark.parametrize("case", [*BAD_NAMES, "zero-width"])
async def test_an_entry_whose_name_is_invalid_shows_its_error_when_selected(names_db, app_factory, case) -> None:
    name = BAD_NAMES.get(case, ZERO_WIDTH)
    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot)
        tree = app.query_one(EntryTree)
        tree.tenant_nodes()[N].expand()
        await step(pilot)
        node = tree.entry_node(N, name)
        assert node is not None
        tree.focus()
        tree.move_cursor(node)
        await step(pilot)
        timeline = app.query_one(Timeline)
        assert timeline.entry == name
        text = shown(app)
        if case == "zero-width":  # a valid name: browsed as any other, shown escaped
            assert "zero\\u200bwidth\\u2060name" in text, text
            assert [v.digest for v in timeline.versions] == names_db
            assert app.viewer.data == {"n": 1, "new": True}
        else:
            assert node.data.error, node.data
            assert timeline.versions == []
            assert "⚠ unreadable" in text
            if case == "empty":  # shown as "", not as a blank line
                assert '""  ⚠ unreadable' in text, text
            assert "cannot read the history of" in text, text
            assert any("cannot read the history" in m for m in errors_shown(app)), errors_shown(app)
        # the version keys and copying the name do not stop the app
        await step(pilot, "c", "d", "D", "r")
        tree.focus()
        await step(pilot, "c")
        if case == "lone-surrogate":  # no UTF-8 for the terminal's clipboard: copied as shown
            assert app.clipboard == "\\ud800lone"
        elif case != "zero-width":
            assert app.clipboard == name
        assert not isinstance(app.screen, (CompareScreen, RestoreScreen)) or case == "zero-width"
        if isinstance(app.screen, RestoreScreen):
            await step(pilot, "n")
        assert app.is_running and app._exception is None


# ====================================================================== quitting
async def test_ctrl_c_quits_except_over_the_editor(names_db, app_factory) -> None:
    from mydb_tui.screens.editor import EditorScreen

    app = app_factory(poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot)
        app.goto_entry(N, "good")
        await step(pilot)
        app.query_one(Timeline).focus()
        await step(pilot, "e")
        assert isinstance(app.screen, EditorScreen)
        await step(pilot, "ctrl+c")  # nothing selected: it says how to quit, the edit stays
        assert isinstance(app.screen, EditorScreen) and app.is_running
        assert any("ctrl+q" in str(n.message) for n in app._notifications)
        await step(pilot, "escape")
        assert not isinstance(app.screen, EditorScreen)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app._exit and app.return_code == 0


def test_the_worker_pool_leaves_a_stuck_job_behind() -> None:
    from mydb_tui.worker_pool import DaemonThreadPool

    pool = DaemonThreadPool(grace=0.2)
    never = threading.Event()
    stuck = pool.submit(never.wait)
    started = time.monotonic() + 10  # on a loaded machine its thread may not have taken the job yet
    while pool.running < 1 and time.monotonic() < started:
        time.sleep(0.01)
    assert pool.running == 1
    assert pool.submit(lambda x: x * 2, 21).result(timeout=5) == 42
    failed = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failed.result(timeout=5)
    settle = time.monotonic() + 10  # the failed job's thread counts itself out just after its future is set
    while pool.running > 1 and time.monotonic() < settle:
        time.sleep(0.01)
    start = time.monotonic()
    pool.shutdown(wait=True)
    # shutdown gives up on the stuck job after its grace (0.2 s), far before it ever returns;
    # the bound leaves room for a loaded machine
    assert time.monotonic() - start < 5.0 and not stuck.done() and pool.running == 1
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("mydb-worker-"))
    with pytest.raises(RuntimeError):
        pool.submit(print)
    never.set()
    assert stuck.result(timeout=5) is True


# ====================================================================== quitting with a stuck worker
BLOCK_MODULE = "mydb_block_handlers"
BLOCK_SOURCE = '''
"""Handlers whose deserialize never returns: it opens a FIFO that nobody writes."""
import os
from dbengine.handlers import BaseInlineHandler, handlers

TAG = "test/block"
HERE = os.path.dirname(os.path.abspath(__file__))


class Blocker:
    def __init__(self, n=1):
        self.n = n


class BlockHandler(BaseInlineHandler):
    def is_eligible_for(self, obj):
        return isinstance(obj, Blocker)

    def tag(self):
        return TAG

    def serialize(self, obj):
        return {"__special__": TAG, "n": obj.n}

    def deserialize(self, data):
        open(os.path.join(HERE, "started"), "w").close()
        with open(os.path.join(HERE, "fifo"), "rb") as handle:  # blocks in open(): no writer, ever
            handle.read()
        return Blocker(data["n"])


if handlers.get_handler_by_tag(TAG) is None:
    handlers.register_handler(BlockHandler())
'''


class Tui:
    """`mydb-tui ARGS` on a pseudo-terminal of 160x45, its output collected by a thread."""

    def __init__(self, *args: str, pythonpath: str | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("MYDB_ROOT", "NO_COLOR", "TEXTUAL")}
        env.update(TERM="xterm-256color", TZ="UTC", PYTHONIOENCODING="utf-8")
        if pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen([sys.executable, "-m", "mydb_tui", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            self.output.extend(data)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert self.proc.poll() is None, (self.proc.returncode, self.text[-2000:])
            assert time.monotonic() < deadline, f"{needle!r} never showed: {self.text[-2000:]!r}"
            time.sleep(0.05)

    def keys(self, *keys: bytes, pause: float = 0.3) -> None:
        for key in keys:
            os.write(self.master, key)
            time.sleep(pause)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reader.join(2)
        os.close(self.master)


def quit_with(tui: Tui, how: str) -> tuple[int | None, float]:
    """Quit the way `how` says; (exit status or None if still running after 5 s, seconds taken)."""
    start = time.monotonic()
    if how in ("SIGINT", "SIGTERM"):
        os.kill(tui.proc.pid, getattr(signal, how))
    else:
        os.write(tui.master, {"q": b"q", "ctrl+q": b"\x11", "ctrl+c": b"\x03"}[how])
    try:
        status = tui.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        status = None
    return status, time.monotonic() - start


def assert_quit_cleanly(tui: Tui, status: int | None, took: float) -> None:
    tui._reader.join(2)
    text = tui.text
    assert status == 0, (status, text[-3000:])
    assert took < 2.0, took
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
    assert "\x1b[?1049l" in text  # the terminal left the alternate screen


@pytest.fixture
def stuck_db(tmp_path) -> dict[str, str]:
    """A database whose one entry holds a value only the blocking handler decodes."""
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{BLOCK_MODULE}.py").write_text(textwrap.dedent(BLOCK_SOURCE))
    os.mkfifo(site / "fifo")
    sys.path.insert(0, str(site))
    try:
        module = __import__(BLOCK_MODULE)
        engine = DbEngine(str(tmp_path / "db"), durable=False)
        engine.init("t")
        engine.save("t", "alice", "stuck", {"blocker": module.Blocker(3), "other": 1})
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(BLOCK_MODULE, None)
        from dbengine.handlers import handlers

        handlers.unregister_handler(module.TAG)
    return {"root": engine.root, "site": str(site), "started": str(site / "started")}


@pytest.mark.parametrize("how", ["q", "ctrl+q", "ctrl+c", "SIGINT", "SIGTERM"])
def test_quitting_never_waits_on_a_stuck_worker(stuck_db, how) -> None:
    tui = Tui(stuck_db["root"], "--handlers", BLOCK_MODULE, pythonpath=stuck_db["site"])
    try:
        tui.wait_for("test/block")  # the value is on screen, in the data tree
        tui.keys(b"\t", b"\t", b"j", b"v")  # to the data tree, down to the tagged value, decode
        deadline = time.monotonic() + 20
        while not os.path.exists(stuck_db["started"]):
            assert time.monotonic() < deadline, tui.text[-2000:]
            time.sleep(0.05)
        time.sleep(0.3)
        assert tui.proc.poll() is None  # the decode worker is stuck in open() for good
        status, took = quit_with(tui, how)
        assert_quit_cleanly(tui, status, took)
    finally:
        tui.stop()


def test_quitting_while_a_tenant_head_is_a_fifo(tmp_path) -> None:
    """The tree's worker opens the FIFO (it waits there until the storage refuses FIFOs)."""
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    engine.init("t")
    engine.save("t", "alice", "e", {"x": 1})
    head = engine.storage.head_path("t")
    os.remove(head)
    os.mkfifo(head)
    tui = Tui(engine.root)
    try:
        tui.wait_for("Quit")  # the footer: the app is up
        time.sleep(1.0)
        status, took = quit_with(tui, "q")
        assert_quit_cleanly(tui, status, took)
    finally:
        tui.stop()
