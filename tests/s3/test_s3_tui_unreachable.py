"""`mydb-tui` on an S3 endpoint that stops answering (issue 11, sections 3 and 5).

- The real `mydb-tui s3://bucket/x` in a pseudo-terminal, its endpoint a TCP server on
  loopback that accepts connections and never answers: the UI is up at once saying
  "connecting to s3://…", and `q` or ctrl+c end the process within a second (exit
  status 0, the terminal restored, no traceback).
- SIGINT (ctrl+c outside the UI) while it starts: "mydb-tui: interrupted" and status 130
  before the UI is up, a normal quit after; never a traceback.
- The same with the database answering its listing but never a HEAD, so the engine's own
  pool threads (S3Storage's index pool, which the interpreter joins at exit) are the ones
  stuck in a request when `q` is pressed.
- The pending first answer (Pilot): True loads the tree, False or an error ends the app
  with status 2 and the one-line error the console script prints.
- A running app (Pilot, 80x24) whose endpoint (moto behind a proxy on loopback) goes
  silent: while the change watcher's polls get no answer the status line says "S3
  unreachable since HH:MM, retrying", with no key pressed; an entry chosen meanwhile shows
  the ⚠ error in History; when the proxy forwards again the status goes and History and
  the viewer show the entry, again with no key pressed.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future

import pytest
from dbengine.dbengine import DbEngine

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tui"))
from dbengine.errors import StorageError  # noqa: E402
from test_tui_hostile_meta import Tui, quit_with  # noqa: E402
from tui_helpers import (  # noqa: E402,F401 (_utc_and_no_blink: autouse fixture, as in tests/tui)
    USER,
    StepClock,
    _utc_and_no_blink,
    build_small_db,
    screen_text,
    settle,
)

from mydb_tui.__main__ import make_app  # noqa: E402
from mydb_tui.app import MyDbApp  # noqa: E402
from mydb_tui.model import watch as watch_module  # noqa: E402
from mydb_tui.widgets.timeline import Timeline  # noqa: E402

BUCKET = "mydb-tests"  # (tests/s3/conftest.py's; no request reaches it in the silent case)


class SwitchProxy:
    """A TCP proxy on loopback to the port `target` (None: nothing behind it).

    `silent = True`: every request from then on is read and never answered (the
    connection stays open, as a hung server's would); `silent_methods` does that only to
    requests of those HTTP methods. Forwarding again (`silent = False`) closes the held
    connections, as a restarted server would, so clients retry on new ones.
    """

    def __init__(self, target: int | None = None, *, silent: bool = False,
                 silent_methods: tuple[bytes, ...] = ()) -> None:
        self.target = target
        self._silent = silent
        self.silent_methods = silent_methods
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def silent(self) -> bool:
        return self._silent

    @silent.setter
    def silent(self, value: bool) -> None:
        with self._lock:
            self._silent = value
            held, self._held = (self._held, []) if not value else ([], self._held)
        for sock in held:
            with _quiet():
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._closed = True
        self.silent = False
        self.server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _hold(self, client: socket.socket, upstream: socket.socket | None) -> None:
        with self._lock:
            self._held.append(client)
        if upstream is not None:
            upstream.close()
        with _quiet():
            while client.recv(65536):  # read and drop until the client or `silent = False` closes it
                pass

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        try:
            first = client.recv(65536)
            if not first:
                return client.close()
            if self._silences(first):
                return self._hold(client, None)
            upstream = socket.create_connection(("127.0.0.1", self.target))
            upstream.sendall(first)
            threading.Thread(target=self._back, args=(upstream, client), daemon=True).start()
            while data := client.recv(65536):
                if self._silences(data):
                    return self._hold(client, upstream)
                upstream.sendall(data)
        except OSError:
            pass
        for sock in (client, upstream):
            if sock is not None:
                sock.close()

    def _silences(self, data: bytes) -> bool:
        return self._silent or self.target is None or any(data.startswith(m + b" ") for m in self.silent_methods)

    def _back(self, upstream: socket.socket, client: socket.socket) -> None:
        with _quiet():
            while data := upstream.recv(65536):
                if client in self._held:
                    return
                client.sendall(data)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)


def _s3_env(monkeypatch, endpoint: str) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MYDB_S3_ENDPOINT", endpoint)
    monkeypatch.delenv("MYDB_S3_DEADLINE", raising=False)  # the default: 30 s, longer than any test step


# ====================================================================== the real mydb-tui, quitting
def assert_quit_at_once(tui: Tui, status: int | None, took: float) -> None:
    tui._reader.join(2)
    text = tui.text
    assert status == 0, (status, text[-3000:])
    assert took < 1.0, took
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
    assert "\x1b[?1049l" in text  # the terminal left the alternate screen


@pytest.mark.parametrize("how", ["q", "ctrl+c"])
def test_a_silent_endpoint_shows_connecting_and_quits_at_once(monkeypatch, how) -> None:
    silent = SwitchProxy(None)  # accepts, reads, never answers
    _s3_env(monkeypatch, silent.url)
    start = time.monotonic()
    tui = Tui(f"s3://{BUCKET}/x")
    try:
        tui.wait_for("connecting to s3://", timeout=15)
        shown = time.monotonic() - start  # (interpreter start and imports included)
        tui.wait_for("q quits")
        time.sleep(0.5)
        assert tui.proc.poll() is None
        status, took = quit_with(tui, how)
        assert_quit_at_once(tui, status, took)
        assert shown < 10, shown
    finally:
        tui.stop()
        silent.close()


def landed_before_main(text: str) -> bool:
    """Whether a traceback shows the SIGINT landed before `mydb_tui.__main__.main()` ran:
    while the interpreter started or imported the module (its last frame of the app is the
    module's own code), the one window where Python's own traceback is expected."""
    app_frames = [line for line in text.splitlines() if "mydb_tui" in line and "File " in line]
    return "Traceback" in text and all(line.rstrip().endswith("in <module>") for line in app_frames)


@pytest.mark.parametrize("delay", [0.4, 0.8])
def test_sigint_while_starting_is_an_interrupt_or_a_quit_never_a_traceback(monkeypatch, delay) -> None:
    """Not earlier than main(): a SIGINT while the interpreter itself starts, before any
    code of the app runs, is Python's own traceback; such a try is made again, later.

    The status is 130 even when the interrupt left an import's exec() of source text
    (dataclasses, namedtuple), after which CPython would end the process by SIGINT (-2)."""
    silent = SwitchProxy(None)
    _s3_env(monkeypatch, silent.url)
    try:
        for attempt in range(4):
            tui = Tui(f"s3://{BUCKET}/x")
            try:
                time.sleep(delay + 0.2 * attempt)
                start = time.monotonic()
                os.kill(tui.proc.pid, signal.SIGINT)
                status = tui.proc.wait(5)
                took = time.monotonic() - start
                tui._reader.join(2)
                text = tui.text
            finally:
                tui.stop()
            if not landed_before_main(text):
                break
        assert took < 1.0, took
        assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
        if status == 130:  # before the app took the terminal: as the CLI says it
            assert "mydb-tui: interrupted" in text
        else:
            assert status == 0 and "\x1b[?1049l" in text, (status, text[-3000:])
    finally:
        silent.close()


@pytest.mark.parametrize("delay", [0.3, 0.6])
def test_sigint_while_the_cli_waits_is_status_130_and_one_line(monkeypatch, delay) -> None:
    """`mydb tenants s3://…` on the silent endpoint, SIGINT while it starts or waits:
    "mydb: interrupted", status 130, no traceback (the same retry as above for a signal
    that lands before the CLI's own code runs)."""
    silent = SwitchProxy(None)
    _s3_env(monkeypatch, silent.url)
    env = {k: v for k, v in os.environ.items() if k != "MYDB_ROOT"}
    try:
        for attempt in range(4):
            proc = subprocess.Popen([sys.executable, "-c", "import sys; from mydb_tui.cli import main; sys.exit(main())",
                                     "--root", f"s3://{BUCKET}/x", "tenants"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
            try:
                time.sleep(delay + 0.2 * attempt)
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=5)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if not landed_before_main(err):
                break
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
        assert proc.returncode == 130 and err == "mydb: interrupted\n", (proc.returncode, err[-3000:])
    finally:
        silent.close()


def test_quitting_while_engine_pool_threads_wait_on_the_endpoint(s3_endpoint, db_root, monkeypatch) -> None:
    """The listing answers, the HEAD of each tenant (run on S3Storage's index pool, whose
    threads the interpreter joins at exit) never does."""
    root = db_root
    engine = DbEngine(root)
    for tenant in ("t1", "t2", "t3"):
        engine.init(tenant)
        engine.save(tenant, "alice", "e", {"x": 1})
    proxy = SwitchProxy(int(s3_endpoint.rsplit(":", 1)[1]), silent_methods=(b"HEAD",))
    _s3_env(monkeypatch, proxy.url)
    tui = Tui(root)
    try:
        tui.wait_for("Quit", timeout=15)  # the footer: the app is up
        time.sleep(1.0)  # the tree's tenant listing now waits on its HEADs
        assert "t1" not in tui.text.split("Quit")[-1]
        status, took = quit_with(tui, "q")
        assert_quit_at_once(tui, status, took)
    finally:
        tui.stop()
        proxy.close()


# ====================================================================== the first answer
@pytest.mark.parametrize("answer", ["yes", "no", "error"])
async def test_the_pending_first_answer_loads_the_tree_or_ends_the_app(tmp_path, answer) -> None:
    engine = DbEngine(str(tmp_path / "db"), clock=StepClock(), durable=False)
    build_small_db(engine)
    pending: Future = Future()
    app = MyDbApp(engine, user=USER, poll_interval=0, connecting=pending)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "connecting…" in text and f"connecting to {engine.root}"[:60] in text
        assert app.tree.root.children[0].data.text == "connecting"  # nothing read yet
        if answer == "yes":
            pending.set_result(True)
        elif answer == "no":
            pending.set_result(False)
        else:
            pending.set_exception(StorageError("cannot list s3://b/x/: the S3 endpoint did not answer\nin 30 s"))
        await settle(pilot)
        if answer == "yes":
            text = screen_text(app)
            assert "acme" in text and "connecting" not in text and not app.status_line.display
            assert app.startup_error is None and app.is_running
    if answer == "no":
        assert app.return_code == 2 and "is not a MyDbEngine database" in app.startup_error
    elif answer == "error":
        assert app.return_code == 2
        assert app.startup_error == "cannot list s3://b/x/: the S3 endpoint did not answer in 30 s"


# ====================================================================== a running app
def _wait_until(condition, seconds: float):
    async def wait(pilot) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, screen_text(pilot.app)
            await pilot.pause(0.05)

    return wait


async def test_an_endpoint_going_silent_and_coming_back_shows_and_clears_by_itself(
        s3_endpoint, db_root, monkeypatch) -> None:
    root = db_root
    build_small_db(DbEngine(root, clock=StepClock()))
    proxy = SwitchProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    monkeypatch.setenv("MYDB_S3_ENDPOINT", proxy.url)
    monkeypatch.setenv("MYDB_S3_DEADLINE", "2")  # a request to the silent proxy fails within 2 s
    monkeypatch.setattr(watch_module, "SLOW_POLL", 1.0)
    app = make_app(root, user=USER, poll_interval=0.25)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.goto_entry("acme", "config")
            await settle(pilot)
            timeline = app.query_one(Timeline)
            assert timeline.row_count == 3 and not app.status_line.display

            # silent: the status shows while the user does nothing
            proxy.silent = True
            went = dt.datetime.now().astimezone()
            await _wait_until(lambda: app.unreachable_since is not None, 6)(pilot)
            await pilot.pause(0.1)
            since = app.unreachable_since
            assert abs((since - went).total_seconds()) < 2
            headline = f"⚠ S3 unreachable since {since:%H:%M}, retrying"
            assert app.status_line.display and app.status_line.plain.startswith(headline)
            lines = screen_text(app).splitlines()
            assert len(lines) == 24 and lines[-2].strip().startswith(headline), lines[-3:]
            assert lines[-1].lstrip().startswith("? Help")  # the footer still there, below it

            # an entry chosen meanwhile: its history fails, the ⚠ in History and the viewer
            app.goto_entry("acme", "users")
            await _wait_until(lambda: timeline.entry == "users" and timeline.empty_message.startswith("⚠"), 8)(pilot)
            assert timeline.row_count == 0 and "⚠" in screen_text(app)
            await _wait_until(lambda: app.viewer.failed, 8)(pilot)

            # back: everything clears and loads with no key pressed
            proxy.silent = False
            back = time.monotonic()
            await _wait_until(lambda: app.unreachable_since is None, 6)(pilot)
            await _wait_until(lambda: timeline.row_count == 2 and not app.viewer.failed
                              and app.viewer.document is not None, 6)(pilot)
            took = time.monotonic() - back
            await settle(pilot)
            text = screen_text(app)
            assert not app.status_line.display and "unreachable" not in text
            assert "⚠" not in text, text
            assert timeline.entry == "users" and "users  records · 2" in text, text
            assert took < 6, took
    finally:
        proxy.close()
