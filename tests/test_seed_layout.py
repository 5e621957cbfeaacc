"""Databases written in the seed spec's documented layout open, read and continue.

The seed's snapshot is the saved JSON object with `__parent__`, `__user_id__` and
`__date__` beside the value's own keys (no `__kind__`, no `__data__`), named by the
SHA-256 of its bytes under `objects/{digest[:24]}/`, and `head` maps entry -> digest.
These tests write such files by hand, with no engine code.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cli"))
from cli_helpers import mydb  # noqa: E402

T = "tenant_1"


def seed_object(root: str, value: dict, parent: str | None, user: str, date: str) -> str:
    document = {**value, "__parent__": [parent], "__user_id__": user, "__date__": date}
    data = json.dumps(document).encode("utf-8")  # the seed's own spacing: any bytes name themselves
    digest = hashlib.sha256(data).hexdigest()
    folder = os.path.join(root, T, "objects", digest[:24])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, digest), "wb") as handle:
        handle.write(data)
    return digest


@pytest.fixture
def seed_db(tmp_path) -> dict:
    root = str(tmp_path / ".mytools_db")
    c1 = seed_object(root, {"theme": "dark", "lang": "en"}, None, "user_1", "20250101 10:00:00 +0000")
    c2 = seed_object(root, {"theme": "light", "lang": "en"}, c1, "user_2", "20250102 10:00:00 +0000")
    u1 = seed_object(root, {"john": {"name": "John", "age": 30}}, None, "user_1", "20250101 11:00:00 +0000")
    u2 = seed_object(root, {"john": {"name": "John", "age": 30}, "jane": {"name": "Jane", "age": 25}}, u1,
                     "user_1", "20250101 12:00:00 +0000")
    os.makedirs(os.path.join(root, "refs"), exist_ok=True)
    with open(os.path.join(root, T, "head"), "w") as handle:
        json.dump({"config": c2, "users": u2}, handle)
    return {"root": root, "config": [c1, c2], "users": [u1, u2]}


def test_a_seed_layout_database_reads_as_the_seed_says(seed_db):
    engine = DbEngine(seed_db["root"])
    assert engine.tenants() == [T] and engine.entries(T) == ["config", "users"]
    assert engine.load(T, "config") == {"theme": "light", "lang": "en"}
    assert engine.load(T, "config", digest=seed_db["config"][0]) == {"theme": "dark", "lang": "en"}
    assert engine.history(T, "config") == seed_db["config"][::-1]
    log = engine.log(T, "config")
    assert [(v.user_id, v.date_text, v.damage) for v in log] == [
        ("user_2", "20250102 10:00:00 +0000", None), ("user_1", "20250101 10:00:00 +0000", None)]
    assert str(log[0].summary) == "+0 ~1 -0"
    assert engine.get(T, "users") == [{"name": "John", "age": 30}, {"name": "Jane", "age": 25}]
    assert engine.get(T, "users", key="jane") == {"name": "Jane", "age": 25}
    with pytest.raises(errors.RecordNotFoundError):
        engine.get(T, "users", key="nobody")
    assert engine.read_snapshot(T, seed_db["config"][1])["__layout__"] == "seed"
    report = engine.verify()
    assert report.ok, [str(p) for p in report.problems]


def test_writes_continue_a_seed_history(seed_db):
    engine = DbEngine(seed_db["root"])
    engine.save(T, "user_3", "config", {"theme": "blue", "lang": "en"})
    assert engine.log(T, "config")[0].parent == seed_db["config"][1]
    assert engine.put(T, "user_3", "users", "alice", {"name": "Alice"}) is True
    assert engine.log(T, "users")[0].parent == seed_db["users"][1]
    assert str(engine.log(T, "users")[0].summary) == "+1 ~0 -0"
    assert engine.get(T, "users") == [{"name": "John", "age": 30}, {"name": "Jane", "age": 25}, {"name": "Alice"}]
    assert engine.delete(T, "user_3", "users", "john") is True
    assert engine.get(T, "users", key="jane") == {"name": "Jane", "age": 25}
    engine.restore(T, "user_3", "users", seed_db["users"][0])  # a seed version into a record entry
    assert engine.get(T, "users") == [{"name": "John", "age": 30}]
    engine.restore(T, "user_3", "config", seed_db["config"][0])
    assert engine.load(T, "config") == {"theme": "dark", "lang": "en"}
    fresh = DbEngine(seed_db["root"])
    assert fresh.verify().ok, [str(p) for p in fresh.verify().problems]
    assert len(fresh.log(T, "users")) == 5
    target = DbEngine(os.path.join(os.path.dirname(seed_db["root"]), "copy"))
    target.import_jsonl(fresh.export_jsonl(T))
    assert target.get(T, "users") == fresh.get(T, "users") and target.verify().ok


def test_the_cli_reads_a_seed_layout_database(seed_db):
    root = seed_db["root"]
    log = mydb("log", T, "config", root=root)
    assert log.rc == 0 and "user_2" in log.out and "user_1" in log.out, log.err
    show = mydb("show", T, "config", "--json", root=root)
    assert show.rc == 0, show.err
    assert json.loads(show.out)["value"] == {"theme": "light", "lang": "en"}
    records = mydb("show", T, "users", "--json", root=root)
    assert records.rc == 0 and json.loads(records.out)["value"]["jane"] == {"name": "Jane", "age": 25}
    assert mydb("verify", root=root).rc == 0

