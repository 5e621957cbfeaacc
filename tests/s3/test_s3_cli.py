"""`mydb --root s3://bucket/prefix`: every command on S3 (real `mydb` subprocesses against the
moto server of conftest.py), and one-line errors (exit 2) when S3 cannot be used.

The same commands run on a local copy built with the same clock: the outputs must match,
digests included (same bytes, same names).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from dbengine.dbengine import DbEngine

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "cli"))
from cli_helpers import Result, StepClock, assert_error, mydb  # noqa: E402
from ref_values import Blob


def build(root: str) -> None:
    engine = DbEngine(root, clock=StepClock(), durable=False)
    engine.init("acme")
    engine.save("acme", "alice", "config", {"theme": "dark", "port": 8080, "tags": ("a", "b")})
    engine.save("acme", "bob", "config", {"theme": "light", "port": 8080, "blob": Blob(b"\x00" * 64)})
    engine.save("acme", "alice", "config", {"theme": "light", "port": 9090})
    engine.put_many("acme", "alice", "users", {"alice": {"age": 30}, "bob": {"age": 25}})
    engine.put("acme", "bob", "users", "alice", {"age": 31})
    engine.init("globex")
    engine.save("globex", "dave", "flags", {"beta": True})


def run_both(roots: list[str], *args: str, stdin: str | None = None) -> list[Result]:
    """The same `mydb` command on every root, concurrently."""
    with ThreadPoolExecutor(len(roots)) as pool:
        return list(pool.map(lambda root: mydb(*args, "--root", root, stdin=stdin), roots))


def same(results: list[Result], roots: list[str]) -> Result:
    """The outputs of one command on each root, with the root's name taken out, are equal."""
    seen = [(r.rc, r.out.replace(root, "ROOT"), r.err.replace(root, "ROOT")) for r, root in zip(results, roots, strict=True)]
    assert seen[0] == seen[1], seen
    return results[1]


def test_every_command_works_on_an_s3_root(db_root, tmp_path):
    roots = [str(tmp_path / "local"), db_root]
    for root in roots:
        build(root)
    reads = [
        ("tenants", "--json"), ("entries", "acme"), ("log", "acme", "users", "--json"),
        ("show", "acme", "config", "HEAD~1", "--raw"), ("show", "acme", "users"),
        ("diff", "acme", "config", "HEAD~2", "HEAD", "--json", "--exit-code"),
        ("verify", "--json"), ("export", "acme"),
    ]
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda args: same(run_both(roots, *args), roots), reads))
    by_command = dict(zip(reads, outputs, strict=True))
    assert json.loads(by_command[("tenants", "--json")].out) == {
        "root": db_root, "tenants": [{"name": "acme", "entries": 2}, {"name": "globex", "entries": 1}]}
    assert by_command[("diff", "acme", "config", "HEAD~2", "HEAD", "--json", "--exit-code")].rc == 1
    report = json.loads(by_command[("verify", "--json")].out)
    assert report["ok"] and report["refs_checked"] == 1 and report["objects_checked"] == 9
    exported = by_command[("export", "acme")].out
    assert exported.count('"type":"head"') == 2

    # writes: the new versions get the same digests on both roots ($MYDB_DATE fixes the clock)
    writes = [
        (("put", "acme", "users", "carol", '{"age": 40}'), None),
        (("save", "newco", "config", "-"), '{"theme": "blue"}'),  # a new tenant, created on first use
        (("restore", "acme", "config", "HEAD~2"), None),
        (("import", "-", "--tenant", "copy"), exported),
    ]
    for args, stdin in writes:
        result = same(run_both(roots, *args, stdin=stdin), roots)
        assert result.rc == 0, result
    after = [("log", "acme", "config"), ("verify",), ("export", "copy")]
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda args: same(run_both(roots, *args), roots), after))
    assert all(result.rc == 0 for result in outputs)
    remote = DbEngine(db_root)
    log = outputs[0].out.splitlines()
    history = remote.history("acme", "config")
    assert len(log) == 4 and log[0].split("\t")[-1] == history[3]  # HEAD~2 before the restore
    assert remote.read_snapshot("acme", history[0])["__data__"] == remote.read_snapshot("acme", history[3])["__data__"]
    assert remote.get("acme", "users", "carol") == {"age": 40}
    assert remote.load("newco", "config") == {"theme": "blue"}
    assert remote.history("copy", "config") == history[1:]
    assert outputs[2].out.replace('"tenant":"copy"', '"tenant":"acme"') == exported
    assert remote.verify().ok


@pytest.fixture
def fake_no_boto3(tmp_path) -> str:
    """A PYTHONPATH on which `import boto3` fails, as without the [s3] extra."""
    folder = tmp_path / "no_boto3"
    (folder / "boto3").mkdir(parents=True)
    (folder / "boto3" / "__init__.py").write_text("raise ImportError('No module named boto3')\n")
    return str(folder)


def test_unusable_s3_roots_give_one_line_errors(db_root, tmp_path, fake_no_boto3):
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    no_credentials = {
        "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "HOME": str(empty_home),
        "AWS_CONFIG_FILE": str(empty_home / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(empty_home / "creds"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    cases = [
        (("tenants",), {"MYDB_ROOT": "s3://no-such-bucket-mydb/db"}, ["bucket 'no-such-bucket-mydb' does not exist"]),
        (("put", "t", "e", "k", "1"), {"MYDB_ROOT": "s3://no-such-bucket-mydb/db"},
         ["bucket 'no-such-bucket-mydb' does not exist"]),
        (("log", "t", "e"), {"MYDB_ROOT": db_root}, ["no database at", db_root]),
        (("tenants",), {"MYDB_ROOT": db_root, "MYDB_S3_ENDPOINT": "http://127.0.0.1:9"},
         ["cannot reach the S3 endpoint", "mydb-tests"]),
        (("tenants",), {"MYDB_ROOT": db_root, **no_credentials}, ["no AWS credentials", "mydb-tests"]),
        (("tenants",), {"MYDB_ROOT": db_root, "AWS_PROFILE": "no-such-profile"}, ["no-such-profile"]),
        (("tenants",), {"MYDB_ROOT": db_root, "PYTHONPATH": fake_no_boto3}, ["pip install 'mydbengine[s3]'"]),
        (("tenants",), {"MYDB_ROOT": "s3://"}, ["no bucket"]),
    ]

    def run(case):
        args, env, needles = case
        root = env.pop("MYDB_ROOT")
        return mydb(*args, root=root, **env), needles

    with ThreadPoolExecutor(4) as pool:
        for result, needles in pool.map(run, cases):
            assert_error(result, *needles)


def test_the_clock_of_cli_writes_on_s3_is_mydb_date(db_root):
    """(A guard for the comparisons above: CLI writes on S3 are stamped with $MYDB_DATE.)"""
    assert mydb("put", "t", "e", "k", "1", root=db_root).rc == 0
    date = DbEngine(db_root).log("t", "e")[0].date
    assert date == dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def test_an_upper_case_scheme_is_the_same_database_in_the_cli(db_root, tmp_path, monkeypatch):
    engine = DbEngine(db_root)
    engine.init("t")
    engine.save("t", "u", "e", {"v": 1})
    upper = "S3://" + db_root[len("s3://"):]
    monkeypatch.chdir(tmp_path)  # no local folder may appear
    for args in (["tenants"], ["entries", "t"], ["show", "t", "e"]):
        result = mydb(*args, root=upper)
        assert result.rc == 0, (args, result.err)
    assert mydb("show", "t", "e", root=upper).out.strip().replace(" ", "").replace("\n", "") == '{"v":1}'
    assert not os.path.exists(tmp_path / "S3:")
