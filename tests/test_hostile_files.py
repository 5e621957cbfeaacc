"""Files that are not what they seem: FIFOs, sockets, devices and symlinks inside a database,
and content-addressed files damaged on disk.

A FIFO in place of a head, an index, an object or a ref, and a head symlinked to /dev/zero,
make the engine and `mydb tenants/entries/log/show/verify` fail with an engine error naming
the file (or work around it), never hang or eat memory. Symlinks never make the engine
write outside the root (a symlinked `index/` folder, a `head.lock` symlink). verify reports
symlinks leading out of the root and special files. A damaged object or ref is replaced by
the next write that produces it. `lock(tenant, timeout=0)` tries once.

Every subprocess and every engine call runs under a timeout, so a hang fails the test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import types

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine
from dbengine.s3storage import S3Storage

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cli"))
from cli_helpers import MODULE, Result, cli_env  # noqa: E402
from ref_values import Blob  # noqa: E402

T = "acme"
NOW = dt.datetime(2026, 11, 26, 14, 3, 7, tzinfo=dt.timezone(dt.timedelta(hours=1)))
TIMEOUT = 60  # seconds: any subprocess or engine call still running then is a hang
MEMORY_LIMIT = 1 << 30  # address space of a subprocess that might read /dev/zero


def open_engine(root: str, **options) -> DbEngine:
    options.setdefault("durable", False)
    return DbEngine(root, clock=lambda: NOW, **options)


def build(root: str) -> dict:
    """Tenant acme: `config` (2 versions, the second with a pickled ref) and `users` (records)."""
    engine = open_engine(root)
    engine.init(T)
    first = engine.save(T, "alice", "config", {"theme": "dark"})
    second = engine.save(T, "bob", "config", {"theme": "light", "blob": Blob([1, 2, 3])})
    engine.put(T, "alice", "users", "u1", {"age": 1})
    ref = engine.read_snapshot(T, second)["__data__"]["blob"]["state"]["payload"]["__digest__"]
    storage = engine.storage
    return {"root": root, "first": first, "second": second, "ref": ref,
            "head": storage.head_path(T), "index": storage.index_path(T, "config"),
            "object": storage.object_path(T, first), "ref_path": storage.ref_path(ref)}


@pytest.fixture
def db(tmp_path) -> dict:
    return build(str(tmp_path / "db"))


@contextlib.contextmanager
def deadline(seconds: int = TIMEOUT):
    """Fail (instead of hanging) if the block runs longer than `seconds`."""

    def expire(_signum, _frame):
        raise TimeoutError(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def cli(*args: str, root: str, stdin: str | None = None) -> Result:
    """`mydb ARGS` in a subprocess that must end within TIMEOUT and 1 GB of address space."""
    proc = subprocess.run([*MODULE, *args], input=stdin.encode() if stdin else None, capture_output=True,
                          env=cli_env(root), timeout=TIMEOUT, preexec_fn=limit_memory)
    return Result(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))


def assert_clean_exit(result: Result, label: str) -> None:
    """Exit 0/1 (a report) or 2 with one line `mydb: error: ...`; never a traceback."""
    assert "Traceback" not in result.err and "internal error" not in result.err, (label, result.err)
    assert result.rc in (0, 1, 2), (label, result.rc, result.err)
    if result.rc == 2:
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mydb: error: "), (label, result.err)


def replace_with_fifo(path: str) -> None:
    os.unlink(path)
    os.mkfifo(path)


def tree(folder: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _s, fs in os.walk(folder) for f in fs)


# ------------------------------------------------------------------ special files
@pytest.mark.parametrize("what", ["head", "index", "object", "ref_path"])
def test_a_fifo_in_place_of_a_file_never_hangs(db, what):
    path = db[what]
    replace_with_fifo(path)
    engine = open_engine(db["root"])
    storage = engine.storage
    reads = {  # the storage read of that file, and an engine call that reads it
        "head": (lambda: storage.read_head(T), lambda: engine.entries(T)),
        "index": (lambda: storage.read_index_tail(T, "config", 100), lambda: engine.log(T, "config")),
        "object": (lambda: storage.read_object(T, db["first"]), lambda: engine.load(T, "config", db["first"])),
        "ref_path": (lambda: storage.read_ref(db["ref"]), lambda: engine.load(T, "config")),
    }
    storage_read, engine_read = reads[what]
    with deadline():
        with pytest.raises(errors.CorruptObjectError, match="not a regular file") as caught:
            storage_read()
        assert path in str(caught.value) and caught.value.path == path
        if what == "index":
            with pytest.raises(errors.CorruptObjectError, match="not a regular file"):
                storage.read_index(T, "config")
        report = engine.verify()  # read-only: before a read repairs the index
        assert any(p.path == path and p.kind == "special-file" for p in report.problems), [str(p) for p in report.problems]
        try:
            engine_read()
        except errors.CorruptObjectError as exc:
            assert path in str(exc)
        else:  # only the index (a cache) may be worked around: rebuilt, and replaced by a regular file
            assert what == "index"
            assert os.path.isfile(path) and not os.path.islink(path)
            replace_with_fifo(path)
    show = ["show", T, "config", db["first"]] if what == "object" else ["show", T, "config"]
    for args in (["verify"], ["tenants"], ["entries", T], ["log", T, "config"], show):
        result = cli(*args, root=db["root"])
        assert_clean_exit(result, args)
        if args[0] == "verify":
            assert result.rc == 1 and path in result.out, result.out
        elif result.rc == 2:
            assert path in result.err, (args, result.err)
    if what == "object":
        assert cli(*show, root=db["root"]).rc == 2


def test_a_head_symlinked_to_dev_zero_is_refused_at_once(db):
    os.unlink(db["head"])
    os.symlink("/dev/zero", db["head"])
    for args in (["entries", T], ["log", T, "config"], ["tenants"]):
        started = time.monotonic()
        result = cli(*args, root=db["root"])
        assert_clean_exit(result, args)
        assert result.rc == 2 and db["head"] in result.err and "symbolic link" in result.err, result.err
        assert time.monotonic() - started < 20
    # in-process too (bounded: the file is refused before anything is read)
    with deadline():
        with pytest.raises(errors.CorruptObjectError, match="symbolic link"):
            open_engine(db["root"]).entries(T)


def test_a_huge_regular_head_is_refused_without_reading_it(db, monkeypatch):
    from dbengine import storage as storage_module

    monkeypatch.setattr(storage_module, "HEAD_LIMIT", 100)
    with open(db["head"], "r+b") as handle:  # still valid JSON, just larger than the limit
        data = handle.read()
        handle.seek(0)
        handle.write(data[:-1] + b" " * 200 + b"}")
    with pytest.raises(errors.CorruptObjectError, match="larger than"):
        open_engine(db["root"]).entries(T)


# ------------------------------------------------------------------ symlinks out of the root
def test_a_symlinked_index_folder_is_never_written_through(db, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    index = os.path.dirname(db["index"])
    for name in os.listdir(index):
        os.unlink(os.path.join(index, name))
    os.rmdir(index)
    os.symlink(outside, index)
    result = cli("log", T, "config", root=db["root"])
    assert result.rc == 0, result.err
    assert [line.split("\t")[0] for line in result.out.splitlines()] == [db["second"], db["first"]]
    assert tree(str(outside)) == []
    engine = open_engine(db["root"])
    with deadline():
        assert [v.user_id for v in engine.log(T, "config")] == ["bob", "alice"]
        # a writer: its save stands, its index stays in memory, nothing lands outside
        engine.save(T, "carol", "config", {"theme": "blue"})
        assert [v.user_id for v in open_engine(db["root"]).log(T, "config")] == ["carol", "bob", "alice"]
        problems = open_engine(db["root"]).verify().problems
    assert tree(str(outside)) == []
    assert [(p.path, p.kind) for p in problems] == [(index, "outside-link")], [str(p) for p in problems]


def test_a_head_lock_symlink_is_never_followed(db, tmp_path):
    victim = tmp_path / "victim"
    lock = os.path.join(db["root"], T, "head.lock")
    os.unlink(lock)
    os.symlink(victim, lock)
    os.unlink(db["index"])  # the reader wants to repair it under the lock
    result = cli("log", T, "config", root=db["root"])
    assert result.rc == 0 and len(result.out.splitlines()) == 2, result.err
    assert not victim.exists(), "a reader created the lock symlink's target"
    result = cli("save", T, "config", "-", root=db["root"], stdin='{"theme": "red"}')
    assert_clean_exit(result, "save")
    assert result.rc == 2 and lock in result.err, result.err
    assert not victim.exists(), "a writer created the lock symlink's target"
    with deadline():
        with pytest.raises(errors.StorageError, match="head.lock"):
            open_engine(db["root"]).save(T, "carol", "config", {"theme": "blue"})
    assert not victim.exists()
    # a FIFO as the lock file: refused, not waited on
    os.unlink(lock)
    os.mkfifo(lock)
    with deadline():
        with pytest.raises(errors.StorageError, match="not a regular file"):
            open_engine(db["root"]).save(T, "carol", "config", {"theme": "blue"})
    assert open_engine(db["root"]).load(T, "config")["theme"] == "light"


def test_verify_reports_outside_links_and_special_files(db, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "file").write_text("outside")
    root = db["root"]
    links = {
        os.path.join(root, T, "objects", "outside-dir"): str(outside),
        os.path.join(root, "refs", "outside-file"): str(outside / "file"),
        os.path.join(root, "dangling-outside"): str(tmp_path / "nothing"),
    }
    for link, target in links.items():
        os.symlink(target, link)
    os.symlink(db["object"], os.path.join(root, T, "inside-link"))  # inside the root: fine
    fifo = os.path.join(root, "a-fifo")
    os.mkfifo(fifo)
    sock_path = os.path.join(root, T, "a-socket")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(sock_path)
    try:
        expected = {(link, "outside-link") for link in links} | {(fifo, "special-file"), (sock_path, "special-file")}
        with deadline():
            found = {(p.path, p.kind) for p in open_engine(root).verify().problems}
            in_tenant = {(p.path, p.kind) for p in open_engine(root).verify(T).problems}
        stray = (os.path.join(root, "refs", "outside-file"), "stray-file")  # misnamed under refs/, as before
        assert found == expected | {stray}, found
        assert in_tenant == {(os.path.join(root, T, "objects", "outside-dir"), "outside-link"),
                             (sock_path, "special-file"), stray}, in_tenant
        result = cli("verify", "--json", root=root)
        assert result.rc == 1, result.err
        assert expected <= {(p["path"], p["kind"]) for p in result.json()["problems"]}
        result = cli("verify", root=root)
        assert result.rc == 1, result.err
        for path, kind in expected:
            assert path in result.out and kind in result.out
    finally:
        sock.close()


# ------------------------------------------------------------------ healing of content-addressed files
def damage(path: str, how: str, tmp_path) -> None:
    if how == "truncated":
        with open(path, "r+b") as handle:
            handle.truncate(os.path.getsize(path) // 2)
    elif how == "emptied":
        open(path, "wb").close()
    elif how == "symlink":  # to a file outside, which must stay untouched
        target = tmp_path / "outside-file"
        target.write_bytes(b"not yours")
        os.unlink(path)
        os.symlink(target, path)


@pytest.mark.parametrize("how", ["truncated", "emptied", "symlink"])
@pytest.mark.parametrize("what", ["ref", "object"])
def test_a_damaged_file_is_healed_by_the_next_write_of_the_same_content(tmp_path, what, how):
    root = str(tmp_path / "db")
    engine = open_engine(root)
    engine.init(T)
    value = {"theme": "dark", "blob": Blob(list(range(50)))}
    first = engine.save(T, "alice", "a", value)
    storage = engine.storage
    if what == "ref":
        ref = engine.read_snapshot(T, first)["__data__"]["blob"]["state"]["payload"]["__digest__"]
        path = storage.ref_path(ref)
    else:
        path = storage.object_path(T, first)
    damage(path, how, tmp_path)
    with pytest.raises(errors.CorruptObjectError):
        open_engine(root).load(T, "a")
    # the same value by the same user at the same instant: the same version object and ref
    assert open_engine(root).save(T, "alice", "b", value) == first
    for entry in ("a", "b"):
        assert open_engine(root).load(T, entry)["blob"].payload == list(range(50))
    assert os.path.isfile(path) and not os.path.islink(path)
    report = open_engine(root).verify()
    assert report.ok, [str(p) for p in report.problems]
    if how == "symlink":
        assert (tmp_path / "outside-file").read_bytes() == b"not yours"


def test_an_intact_file_is_left_alone(db):
    storage = open_engine(db["root"]).storage
    before = os.stat(db["ref_path"])
    data = storage.read_ref(db["ref"])
    assert storage.write_ref(db["ref"], data) is False
    after = os.stat(db["ref_path"])
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


# ------------------------------------------------------------------ lock(timeout=...)
HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_lock_with_timeout_zero_does_not_wait(db):
    storage = open_engine(db["root"], lock_timeout=30).storage
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, os.path.join(db["root"], T, "head.lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"held\n"
        started = time.monotonic()
        with pytest.raises(errors.LockTimeoutError, match="head.lock"):
            with storage.lock(T, timeout=0):
                pass
        assert time.monotonic() - started < 0.5
        started = time.monotonic()
        with pytest.raises(errors.LockTimeoutError):
            with storage.lock(T, timeout=0.3):
                pass
        assert 0.25 < time.monotonic() - started < 5
    finally:
        holder.communicate(b"", timeout=TIMEOUT)
    with storage.lock(T, timeout=0):  # free now: taken at once
        pass


def hold_in_thread(storage, holding: threading.Event, release: threading.Event) -> None:
    with storage.lock(T):
        holding.set()
        release.wait(TIMEOUT)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_lock_with_timeout_zero_does_not_wait_for_another_thread(tmp_path, backend):
    if backend == "s3":  # no requests are made: the S3 lock is a thread lock of this process
        events = types.SimpleNamespace(register=lambda *_args: None)
        meta = types.SimpleNamespace(events=events, endpoint_url="http://127.0.0.1:9")
        storage = S3Storage("s3://bucket/prefix", client=types.SimpleNamespace(meta=meta), lock_timeout=30)
        assert storage.strange_files() == []
    else:
        storage = open_engine(str(tmp_path / "db"), lock_timeout=30).storage
        storage.init_tenant(T)
    holding, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=hold_in_thread, args=(storage, holding, release))
    thread.start()
    try:
        assert holding.wait(TIMEOUT)
        started = time.monotonic()
        with pytest.raises(errors.LockTimeoutError):
            with storage.lock(T, timeout=0):
                pass
        assert time.monotonic() - started < 0.5
    finally:
        release.set()
        thread.join(TIMEOUT)
    with storage.lock(T, timeout=0):
        with storage.lock(T, timeout=0):  # re-entrant in one thread
            pass
