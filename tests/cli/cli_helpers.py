"""Helpers of the CLI tests: run the real `mydb` in a subprocess, build sample databases.

Every run gets TZ=UTC, a fixed $MYDB_DATE (the clock of CLI writes) and no $MYDB_ROOT
unless given, so output is deterministic.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import pty
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from dbengine.dbengine import DbEngine

TZ = dt.timezone(dt.timedelta(hours=1))
START = dt.datetime(2026, 11, 26, 14, 3, 7, tzinfo=TZ)
CLI_DATE = "20261201 09:00:00 +0100"  # $MYDB_DATE of every CLI run
MODULE = [sys.executable, "-m", "mydb_tui.cli"]
EVIL_KEY = "evil\x1b[31mred"  # an ANSI escape inside a key
EVIL_VALUE = "x\u202ey\x9bz[2J"  # a bidi override and a C1 CSI inside a value


class StepClock:
    """A deterministic clock: START, then one minute later at every call."""

    def __init__(self, start: dt.datetime = START):
        self.now = start

    def __call__(self) -> dt.datetime:
        moment = self.now
        self.now += dt.timedelta(minutes=1)
        return moment


class Blob:
    """A value with a `use_refs` field: `payload` is pickled into refs/."""

    def __init__(self, name: str, payload: Any):
        self.name = name
        self.payload = payload

    @staticmethod
    def use_refs() -> set[str]:
        return {"payload"}


class Trap:
    """Unpickling this touches `marker`: proof of whether a pickle was executed."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@dataclass
class Result:
    """What one `mydb` run did."""

    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli_env(root: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MYDB_ROOT", "MYDB_DEBUG", "NO_COLOR")}
    env.update(TZ="UTC", MYDB_DATE=CLI_DATE, COLUMNS="120", LINES="50", PYTHONIOENCODING="utf-8")
    if root is not None:
        env["MYDB_ROOT"] = root
    env.update(extra)
    return env


def mydb(*args: str, root: str | None = None, stdin: str | bytes | None = None,
         exe: list[str] | None = None, cwd: str | None = None, **env: str) -> Result:
    """Run `mydb ARGS` (with $MYDB_ROOT=root) and capture its exit code and output."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    proc = subprocess.run([*(exe or MODULE), *args], input=data, capture_output=True,
                          env=cli_env(root, **env), cwd=cwd, timeout=120)
    return Result(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))


def mydb_tty(*args: str, root: str | None = None) -> Result:
    """Run `mydb ARGS` with stdout on a pseudo-terminal (what a user sees); raw bytes kept."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*MODULE, *args], stdout=slave, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=cli_env(root, TERM="xterm-256color"))
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    err = proc.stderr.read().decode("utf-8")
    proc.stderr.close()
    proc.wait(timeout=60)
    return Result(proc.returncode, b"".join(chunks).decode("utf-8"), err)


def strip_styles(text: str) -> str:
    """Terminal output without Rich's colour codes (SGR sequences)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def assert_error(result: Result, *needles: str) -> None:
    """Exit 2 with exactly one line `mydb: error: ...` on stderr, no traceback, naming `needles`."""
    assert result.rc == 2, (result.rc, result.out, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("mydb: error: "), result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def engine_on(root: str, **options: Any) -> DbEngine:
    options.setdefault("durable", False)
    return DbEngine(root, **options)


def build_sample(root: str) -> dict[str, Any]:
    """A small database: snapshot + record entries, a pickled ref, a restore, hostile strings,
    and a pickle that touches a marker file if it is ever unpickled.

    Returns the digests and paths the tests refer to.
    """
    engine = engine_on(root, clock=StepClock())
    engine.init("acme")
    v1 = engine.save("acme", "alice", "config", {"theme": "dark", "port": 8080, "tags": ("a", "b")})
    v2 = engine.save("acme", "bob", "config", {"theme": "light", "port": 8080, "tags": ("a", "b")})
    v3 = engine.save("acme", "alice", "config",
                     {"theme": "light", "port": 9090, "blob": Blob("n", [1, dt.date(2020, 1, 2)])})
    v4 = engine.restore("acme", "carol", "config", v1)
    engine.put("acme", "alice", "users", "alice", {"name": "Alice", "age": 30})
    engine.put("acme", "bob", "users", "bob", {"name": "Bob", "age": 25})
    engine.put("acme", "bob", "users", "alice", {"name": "Alice", "age": 31})
    users = engine.history("acme", "users")[::-1]
    engine.save("acme", "mallory", EVIL_KEY, {EVIL_KEY: EVIL_VALUE})
    engine.init("globex")
    engine.save("globex", "dave", "flags", {"beta": True})
    marker = os.path.join(os.path.dirname(root), "unpickled.marker")
    engine.init("traps")
    engine.save("traps", "mallory", "trap", {"blob": Blob("trap", Trap(marker))})
    return {"marker": marker, "config": [v1, v2, v3, v4], "users": users,
            "ref": engine.read_snapshot("acme", v3)["__data__"]["blob"]["state"]["payload"]["__digest__"]}


def build_ambiguous(root: str, tenant: str = "hist", entry: str = "counter") -> list[str]:
    """Save versions until two digests share their first 4 hex digits; returns those two."""
    engine = engine_on(root, clock=StepClock())
    engine.init(tenant)
    seen: dict[str, str] = {}
    for n in range(100_000):
        digest = engine.save(tenant, "bot", entry, {"n": n})
        other = seen.setdefault(digest[:4], digest)
        if other != digest:
            return [other, digest]
    raise AssertionError("no 4-digit prefix collision")


def batch_script(before: str = "", after: str = "print(json.dumps(results))\n") -> str:
    """Python source that runs `mydb` once per argv list read as JSON from stdin, in one
    process (CLI start-up paid once), and leaves `results` = [[exit code, stdout, stderr]...];
    `before` runs first (after `import io, json, sys`), `after` prints what the test reads."""
    return "import io, json, sys\n" + before + _BATCH_LOOP + after


_BATCH_LOOP = r"""from mydb_tui.cli import main
results = []
real = sys.stdout, sys.stderr
for argv in json.load(sys.stdin):
    out, err = io.BytesIO(), io.BytesIO()
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    sys.stdout.flush(); sys.stderr.flush()
    results.append([rc, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")])
sys.stdout, sys.stderr = real
"""
