"""Disk faults: ENOSPC, EIO and EACCES at every os call of every write, and a read-only root.

For each operation (save, put, put_many, restore, delete, import, init) a reference run
counts the storage module's os calls (write, fsync, replace, mkdir, open, flock); then
the operation is repeated on a fresh copy of the database with call N failing, for every
N. Each time: the error is a DbEngineError (StorageError carrying the errno), the
database holds exactly the state before or exactly the state after the operation, it
verifies clean, no temp file is left, and the same operation then succeeds.
MYDB_STRESS=3 (or more) injects all three errnos at every call instead of one per call.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import shutil
import sys
import time

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine
from fault_injection import Faults, read_fault_log, write_sitecustomize

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cli"))
from cli_helpers import assert_error, mydb  # noqa: E402
from ref_values import Blob

T = "acme"
NOW = dt.datetime(2026, 11, 26, 14, 3, 7, tzinfo=dt.timezone(dt.timedelta(hours=1)))
ERRNOS = [errno.ENOSPC, errno.EIO, errno.EACCES]


def open_engine(root: str, **options) -> DbEngine:
    options.setdefault("durable", True)
    return DbEngine(root, clock=lambda: NOW, **options)


def build_template(root: str) -> dict:
    """A tenant with a snapshot entry (3 versions) and a record entry (3 versions)."""
    engine = open_engine(root)
    engine.init(T)
    first = engine.save(T, "alice", "config", {"theme": "dark", "n": 1})
    engine.save(T, "bob", "config", {"theme": "light", "n": 2})
    engine.save(T, "alice", "config", {"theme": "light", "n": 3, "blob": Blob([1, 2])})
    engine.put_many(T, "alice", "users", {f"u{i}": {"age": i} for i in range(6)})
    engine.put(T, "bob", "users", "u1", {"age": 100})
    engine.delete(T, "bob", "users", "u2")
    return {"first": first}


def build_source_lines(root: str) -> list[str]:
    """An export of another tenant (with a ref not in the template) to import."""
    engine = open_engine(root, durable=False)
    engine.init("globex")
    engine.save("globex", "dave", "flags", {"beta": True, "blob": Blob(["imported"])})
    engine.save("globex", "dave", "flags", {"beta": False})
    engine.put("globex", "dave", "people", "p1", {"x": 1})
    return list(engine.export_jsonl("globex"))


def state(root: str) -> dict:
    """Everything a reader sees: heads, values and histories of every entry of every tenant."""
    engine = open_engine(root, durable=False)
    seen = {}
    for tenant in engine.tenants():
        for entry in engine.entries(tenant):
            if engine.entry_kind(tenant, entry) == "records":
                value = engine.get(tenant, entry)
            else:
                value = engine.load(tenant, entry)
            seen[(tenant, entry)] = (engine.get_digest(tenant, entry), value,
                                     engine.history(tenant, entry, max_items=None))
    return seen


OPERATIONS = {
    "save": lambda e, ctx: e.save(T, "carol", "config", {"theme": "blue", "blob": Blob([3])}),
    "save-new-entry": lambda e, ctx: e.save(T, "carol", "fresh", {"a": 1}),
    "put": lambda e, ctx: e.put(T, "carol", "users", "u9", {"age": 9}),
    "put-new-entry": lambda e, ctx: e.put(T, "carol", "newrec", "k", Blob("x")),
    "put_many": lambda e, ctx: e.put_many(T, "carol", "users", {"u1": 1, "u7": 7, "u8": 8}),
    "restore": lambda e, ctx: e.restore(T, "carol", "config", ctx["first"]),
    "delete": lambda e, ctx: e.delete(T, "carol", "users", "u3"),
    "import": lambda e, ctx: e.import_jsonl(ctx["lines"]),
    "init": lambda e, ctx: e.init("newco"),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("faults")
    root = str(base / "template")
    ctx = build_template(root)
    ctx["lines"] = build_source_lines(str(base / "source"))
    ctx["root"] = root
    _age(root)
    ctx["before"] = state(root)
    return ctx


def _age(root: str) -> None:
    """Date every file of `root` an hour back: a head written in the last 2 s is re-read
    (heads.RACY_NS), so a copy made at once would make more storage calls than one made
    later, and the counted calls of a fault run would depend on how fast the test runs."""
    past = time.time() - 3600
    for folder, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(folder, name), (past, past))


def fresh_copy(template: dict, dest: str) -> str:
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(template["root"], dest)
    return dest


def reference(template: dict, name: str, tmp_path) -> tuple[int, dict]:
    """Run the operation without faults: how many storage calls it makes, and the state after."""
    root = fresh_copy(template, str(tmp_path / "reference"))
    faults = Faults()
    with pytest.MonkeyPatch.context() as mp:
        faults.install(mp.setattr)
        OPERATIONS[name](open_engine(root), template)
    return len(faults.calls), state(root)


def check_sound(root: str, before: dict, after: dict, failed: bool, label: str) -> None:
    now = state(root)
    if failed:  # every entry is as it was or as the operation makes it (import moves several)
        assert set(now) <= set(before) | set(after), label
        for key, seen in now.items():
            assert seen in (before.get(key), after.get(key)), f"{label}: {key} is neither before nor after"
    else:
        assert now == after, f"{label}: the operation returned but its result is not all there"
    engine = open_engine(root, durable=False)
    report = engine.verify()
    assert report.ok, (label, [str(p) for p in report.problems])
    assert engine.storage.temp_files() == [], label


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_a_fault_at_every_call_leaves_a_sound_database(template, name, tmp_path, stress_factor):
    count, after = reference(template, name, tmp_path)
    assert count >= 4, "the operation should write something"
    before = template["before"]
    failures = successes = 0
    for n in range(1, count + 1):
        codes = ERRNOS if stress_factor >= 3 else [ERRNOS[n % 3]]
        for err in codes:
            label = f"{name}: call {n}/{count} fails with {errno.errorcode[err]}"
            root = fresh_copy(template, str(tmp_path / "case"))
            faults = Faults(fail_at=n, err=err)
            failed = False
            with pytest.MonkeyPatch.context() as mp:
                faults.install(mp.setattr)
                try:
                    OPERATIONS[name](open_engine(root), template)
                except errors.DbEngineError as exc:
                    failed = True
                    assert isinstance(exc, (errors.StorageError, errors.LockTimeoutError)), (label, exc)
                    assert getattr(exc, "errno", None) == err, (label, exc)
                    assert os.path.basename(root) in str(exc), (label, "the message names the file", exc)
            assert faults.fired is not None, label
            failures += failed
            successes += not failed
            check_sound(root, before, after, failed, label)
            # A later run is not tripped by anything the failure left behind.
            OPERATIONS[name](open_engine(root), template)
            final = state(root)
            assert {k: v[1] for k, v in final.items()} == {k: v[1] for k, v in after.items()}, label
            assert open_engine(root, durable=False).verify().ok, label
    # Faults after the head is replaced hit only the index (a cache): the write stands.
    assert failures >= count // 2, (failures, successes)
    print(f"{name}: {count} calls, {failures} faults raised, {successes} absorbed")


def test_a_held_lock_times_out_cleanly(template, tmp_path):
    root = fresh_copy(template, str(tmp_path / "locked"))
    engine = open_engine(root, lock_timeout=0.2)
    holder = os.open(os.path.join(root, T, "head.lock"), os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        for name in ("save", "put", "put_many", "restore", "delete"):
            with pytest.raises(errors.LockTimeoutError, match="head.lock"):
                OPERATIONS[name](engine, template)
        assert engine.load(T, "config")["n"] == 3  # readers take no lock
        assert [v.user_id for v in engine.log(T, "config")] == ["alice", "bob", "alice"]
    finally:
        os.close(holder)
    assert state(root) == template["before"]
    OPERATIONS["put"](engine, template)
    assert engine.get(T, "users", key="u9") == {"age": 9}


def make_read_only(root: str) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)


@pytest.mark.parametrize("how", ["chmod", "erofs"])
def test_a_read_only_root_refuses_writes_and_stays_readable(template, tmp_path, how, monkeypatch):
    root = fresh_copy(template, str(tmp_path / "ro"))
    shutil.rmtree(os.path.join(root, T, "index"))  # reads will want to rebuild it
    if how == "chmod":
        if os.geteuid() == 0:
            pytest.skip("root ignores file modes (the erofs case covers a read-only root)")
        make_read_only(root)
    else:
        Faults(err=errno.EROFS, read_only=True).install(monkeypatch.setattr)
    try:
        engine = open_engine(root)
        for name in OPERATIONS:
            with pytest.raises((errors.StorageError, errors.LockTimeoutError)) as caught:
                OPERATIONS[name](engine, template)
            assert caught.value.errno in (errno.EACCES, errno.EROFS, errno.EPERM), (name, caught.value)
        # Reads work, even those that want to repair the missing history index.
        cold = open_engine(root)
        assert [v.user_id for v in cold.log(T, "config")] == ["alice", "bob", "alice"]
        assert cold.load(T, "config")["n"] == 3
        assert cold.verify().ok
        monkeypatch.undo()
        assert {k: v[1] for k, v in state(root).items()} == {k: v[1] for k, v in template["before"].items()}
    finally:
        for folder, _dirs, _files in os.walk(root):
            os.chmod(folder, 0o755)
    assert not any(name.startswith(".tmp-") for _f, _d, names in os.walk(root) for name in names)


# ------------------------------------------------------------------ the same faults through `mydb`
CLI_COMMANDS = {
    "put": lambda ctx: ("put", T, "users", "u9", '{"age": 9}'),
    "save": lambda ctx: ("save", T, "config", ctx["doc"]),
    "restore": lambda ctx: ("restore", T, "config", ctx["first"][:10]),
    "import": lambda ctx: ("import", ctx["export"]),
}


@pytest.fixture(scope="module")
def cli_case(template, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("cli-faults")
    doc, export = str(base / "doc.json"), str(base / "export.jsonl")
    with open(doc, "w") as out:
        out.write('{"theme": "blue"}')
    with open(export, "w") as out:
        out.writelines(template["lines"])
    return {**template, "doc": doc, "export": export, "env": write_sitecustomize(str(base / "site"))}


@pytest.mark.parametrize("name", list(CLI_COMMANDS))
def test_cli_faults_are_one_line_errors(cli_case, name, tmp_path):
    args = CLI_COMMANDS[name](cli_case)
    root = fresh_copy(cli_case, str(tmp_path / "count"))
    env = cli_case["env"]
    assert mydb(*args, root=root, MYDB_FAULT="0:EIO", **env).rc == 0
    count, _ = read_fault_log(env)
    assert count >= 4
    errors_seen = 0
    points = sorted({1, 2, count // 3, count // 2, (2 * count) // 3, count - 2, count - 1, count})
    for i, n in enumerate(points):
        code = ["ENOSPC", "EIO", "EACCES"][i % 3]
        root = fresh_copy(cli_case, str(tmp_path / "case"))
        result = mydb(*args, root=root, MYDB_FAULT=f"{n}:{code}", **env)
        assert read_fault_log(env)[1] is not None, (n, "the fault did not fire")
        assert "Traceback" not in result.err, result.err
        if result.rc != 0:
            assert_error(result)
            errors_seen += 1
        check = mydb("verify", root=root)
        assert check.rc == 0, (n, code, check.out, check.err)
    assert errors_seen >= len(points) // 2


def test_cli_on_a_read_only_root(cli_case, tmp_path):
    root = fresh_copy(cli_case, str(tmp_path / "ro"))
    env = cli_case["env"]
    for make in CLI_COMMANDS.values():
        result = mydb(*make(cli_case), root=root, MYDB_FAULT="readonly:EROFS", **env)
        assert_error(result, "Read-only file system")
    for args in (("log", T, "config"), ("show", T, "config"), ("verify",), ("export", T)):
        result = mydb(*args, root=root, MYDB_FAULT="readonly:EROFS", **env)
        assert result.rc == 0, (args, result.err)
