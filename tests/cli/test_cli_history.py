"""`mydb log --key/--path/-S/--user/--since/--until`, `mydb blame`, `mydb search` and
`@{DATE}` revisions, run as subprocesses on a small real database."""

from __future__ import annotations

import json
import subprocess

import pytest
from cli_helpers import MODULE, START, StepClock, assert_error, cli_env, mydb
from dbengine.dbengine import DbEngine


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> dict:
    root = str(tmp_path_factory.mktemp("history") / "db")
    engine = DbEngine(root, durable=False, clock=StepClock())
    engine.init("t")
    people = [
        engine.put("t", "alice", "people", "p1", {"city": "Lyon", "n": 1}),
        engine.put("t", "bob", "people", "p2", {"city": "Oslo", "n": 1}),
        engine.put("t", "alice", "people", "p1", {"city": "Oslo", "n": 2}),
        engine.put("t", "carol", "people", "p2", {"city": "Lyon", "n": 2}),
        engine.delete("t", "bob", "people", "p1"),
    ]
    assert all(people)
    config = [engine.save("t", "alice", "config", {"db": {"port": 5432, "host": "a"}}),
              engine.save("t", "bob", "config", {"db": {"port": 5433, "host": "a"}}),
              engine.save("t", "carol", "config", {"db": {"port": 5433, "host": "b"}})]
    log = engine.log("t", "people", max_items=None)
    return {"root": root, "people": [v.digest for v in log], "config": config}


def test_log_of_one_record_json_shape(db):
    result = mydb("log", "t", "people", "--key", "p1", "--json", root=db["root"])
    assert result.rc == 0, result.err
    data = json.loads(result.out)
    assert set(data) == {"tenant", "entry", "head", "versions"}
    changes = [(v["user"], v["change"]) for v in data["versions"]]
    assert changes == [
        ("bob", {"kind": "removed", "old": {"city": "Oslo", "n": 2}, "new": None}),
        ("alice", {"kind": "changed", "old": {"city": "Lyon", "n": 1}, "new": {"city": "Oslo", "n": 2}}),
        ("alice", {"kind": "added", "old": None, "new": {"city": "Lyon", "n": 1}}),
    ]


def test_log_of_a_path_plain_and_filters(db):
    result = mydb("log", "t", "config", "--path", "/db/port", root=db["root"])
    assert result.rc == 0, result.err
    lines = [line.split("\t") for line in result.out.splitlines()]
    assert [line[0] for line in lines] == [db["config"][1], db["config"][0]]
    assert [line[3] for line in lines] == ["changed", "added"]
    inside = mydb("log", "t", "people", "--key", "p2", "--path", "/city", "--json", root=db["root"])
    assert [v["change"]["new"] for v in json.loads(inside.out)["versions"]] == ["Lyon", "Oslo"]
    by_user = mydb("log", "t", "people", "--user", "alice", root=db["root"])
    assert {line.split("\t")[2] for line in by_user.out.splitlines()} == {"alice"}
    since = (START.replace(minute=START.minute + 3)).isoformat()  # versions 4 and 5 of people
    recent = mydb("log", "t", "people", "--since", since, root=db["root"])
    assert len(recent.out.splitlines()) == 2


def test_pickaxe_and_search_stream(db):
    result = mydb("log", "t", "people", "-S", "Lyon", "--json", root=db["root"])
    assert result.rc == 0, result.err
    found = [(v["user"], v["change"]["pickaxe"]) for v in json.loads(result.out)["versions"]]
    assert found == [("carol", ["p2"]), ("alice", ["p1"]), ("alice", ["p1"])]
    hits = mydb("search", "t", "Lyon", "--json", root=db["root"])
    rows = [json.loads(line) for line in hits.out.splitlines()]
    assert {(r["entry"], r["key"]) for r in rows} == {("people", "p1"), ("people", "p2")}
    assert all("Lyon" in r["snippet"] for r in rows)
    # streamed: a reader that stops early does not make it fail loudly
    proc = subprocess.Popen([*MODULE, "search", "t", "o"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cli_env(db["root"]))
    first = proc.stdout.readline()
    proc.stdout.close()
    proc.wait(timeout=60)
    assert first and b"Traceback" not in proc.stderr.read()


def test_blame_records_and_snapshot(db):
    records = json.loads(mydb("blame", "t", "people", "--json", root=db["root"]).out)
    assert [(line["key"], line["user"]) for line in records["lines"]] == [("p2", "carol")]
    snapshot = json.loads(mydb("blame", "t", "config", "--json", root=db["root"]).out)
    assert {line["path"]: line["digest"] for line in snapshot["lines"]} == {
        "/db/port": db["config"][1], "/db/host": db["config"][2]}


def test_dated_revisions_and_empty_results(db):
    at = START.replace(minute=START.minute + 1, second=START.second + 30).isoformat()
    shown = mydb("show", "t", "people", f"@{{{at}}}", "--json", root=db["root"])
    assert shown.rc == 0, shown.err
    assert json.loads(shown.out)["digest"] == db["people"][-2]  # the second version was HEAD then
    assert_error(mydb("show", "t", "people", "@{2001-01-01}", root=db["root"]), "no version yet")
    assert_error(mydb("show", "t", "people", "@{soon}", root=db["root"]), "ISO 8601")
    empty = mydb("log", "t", "people", "--key", "never", root=db["root"])
    assert (empty.rc, empty.out) == (0, "")
    assert mydb("log", "t", "people", "--key", "never", "--exit-code", root=db["root"]).rc == 1
    assert mydb("search", "t", "people", "zzz", "--exit-code", root=db["root"]).rc == 1
    assert_error(mydb("log", "t", "config", "--path", "db/port", root=db["root"]), "RFC 6901")
    assert_error(mydb("log", "t", "people", "--since", "last week", root=db["root"]), "--since")


def test_restore_one_record_and_one_path(tmp_path):
    root = str(tmp_path / "db")
    engine = DbEngine(root, durable=False, clock=StepClock())
    engine.init("t")
    engine.put_many("t", "u", "people", {"p1": {"city": "Lyon"}, "p2": {"city": "Oslo"}})
    engine.put_many("t", "u", "people", {"p1": {"city": "Rome"}, "p2": {"city": "Bern"}})
    first = engine.history("t", "people")[1]
    result = mydb("restore", "t", "people", "HEAD~1", "--key", "p1", "--json", root=root)
    assert result.rc == 0, result.err
    assert json.loads(result.out)["restored_from"] == first
    assert engine.read_records("t", engine.get_digest("t", "people")) == {"p1": {"city": "Lyon"}, "p2": {"city": "Bern"}}
    engine.save("t", "u", "config", {"db": {"port": 1}})
    engine.save("t", "u", "config", {"db": {"port": 2}, "x": 1})
    assert mydb("restore", "t", "config", "HEAD~1", "--path", "/db/port", root=root).rc == 0
    assert engine.load("t", "config") == {"db": {"port": 1}, "x": 1}
    assert_error(mydb("restore", "t", "config", "HEAD~2", "--path", "/db/port", root=root), "nothing to restore")
