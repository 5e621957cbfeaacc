"""`mydb put / save / restore`: output, exit codes and the database afterwards."""

from __future__ import annotations

import json
import os

import pytest
from cli_helpers import CLI_DATE, assert_error, build_sample, engine_on, mydb
from dbengine.utils import parse_date


@pytest.fixture
def fresh(tmp_path):
    root = str(tmp_path / "db")
    return {"root": root, **build_sample(root)}


def test_put_adds_a_record_as_the_user_at_the_fixed_date(fresh):
    root = fresh["root"]
    before = engine_on(root).get_digest("acme", "users")
    result = mydb("put", "acme", "users", "carol", '{"name": "Carol", "tags": [1, 2]}', "--user", "zed", root=root)
    assert (result.rc, result.err) == (0, "")
    engine = engine_on(root)
    head = engine.get_digest("acme", "users")
    assert result.out == head + "\n" and head != before
    assert engine.get("acme", "users", key="carol") == {"name": "Carol", "tags": [1, 2]}
    version = engine.version("acme", "users", head)
    assert (version.user_id, version.date, version.parent) == ("zed", parse_date(CLI_DATE), before)
    assert str(version.summary) == "+1 ~0 -0"
    again = mydb("put", "acme", "users", "carol", '{"name": "Carol", "tags": [1, 2]}', root=root)
    assert again.rc == 0 and again.out == head + "\n" and "nothing changed" in again.err
    assert len(engine_on(root).history("acme", "users")) == 4


def test_put_json_result_and_default_user(fresh):
    root = fresh["root"]
    result = mydb("put", "acme", "users", "dan", "42", "--json", root=root, LOGNAME="tester", USER="tester")
    data = result.json()
    assert data["changed"] is True and data["user"] == "tester" and data["previous"] == fresh["users"][-1]
    assert data == {"tenant": "acme", "entry": "users", "digest": data["digest"], "previous": fresh["users"][-1],
                    "changed": True, "user": "tester"}
    engine = engine_on(root)
    assert engine.get_digest("acme", "users") == data["digest"]
    assert engine.version("acme", "users", data["digest"]).user_id == "tester"


def test_bad_writes_change_nothing(fresh, tmp_path):
    root = fresh["root"]
    snapshot = engine_on(root).change_token()
    assert_error(mydb("put", "acme", "users", "x", "{not json", root=root), "not valid JSON")
    assert_error(mydb("put", "acme", "config", "x", "1", root=root), "snapshot entry")
    assert_error(mydb("save", "acme", "users", "-", stdin='{"a": 1}', root=root), "record entry")
    assert_error(mydb("save", "acme", "config", str(tmp_path / "missing.json"), root=root), "missing.json")
    assert_error(mydb("save", "acme", "config", "-", stdin=b"\xff\xfe", root=root), "not UTF-8")
    assert_error(mydb("restore", "acme", "config", "HEAD", root=root), "already the HEAD")
    assert_error(mydb("put", "acme", "users", "x", "1", root=root, MYDB_DATE="yesterday"), "MYDB_DATE")
    assert engine_on(root).change_token() == snapshot


def test_save_from_file_and_stdin(fresh, tmp_path):
    root = fresh["root"]
    path = tmp_path / "doc.json"
    document = {"theme": "solarized", "__special__": "not a tag", "nested": {"x": [1, None]}}
    path.write_text(json.dumps(document), encoding="utf-8")
    first = mydb("save", "acme", "config", str(path), "--user", "erin", root=root)
    assert first.rc == 0
    engine = engine_on(root)
    assert engine.load("acme", "config") == document  # a "__special__" key is data, not a tag
    assert first.out == engine.get_digest("acme", "config") + "\n"
    same = mydb("save", "acme", "config", "-", stdin=json.dumps(document), root=root)
    assert same.out == first.out and "nothing changed" in same.err
    new = mydb("save", "acme", "other", "-", stdin="[1, 2, 3]", root=root)
    assert new.rc == 0 and engine_on(root).load("acme", "other") == [1, 2, 3]


def test_writes_create_root_and_tenant_on_first_use(tmp_path):
    root = str(tmp_path / "new" / "db")
    result = mydb("put", "t1", "people", "ann", '{"age": 3}', root=root)
    assert result.rc == 0 and "initialized tenant 't1'" in result.err
    assert engine_on(root).get("t1", "people", key="ann") == {"age": 3}
    assert mydb("save", "t2", "cfg", "-", stdin="{}", root=root).rc == 0
    assert engine_on(root).tenants() == ["t1", "t2"]
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("keep me")
    assert_error(mydb("put", "t", "e", "k", "1", root=str(junk)), "refusing")
    assert sorted(os.listdir(junk)) == ["notes.txt"]


def test_restore_makes_an_old_version_the_head(fresh):
    root = fresh["root"]
    v1, v2, v3, v4 = fresh["config"]
    result = mydb("restore", "acme", "config", v2[:10], "--user", "zed", "--json", root=root)
    assert result.rc == 0
    data = result.json()
    assert (data["previous"], data["restored_from"], data["changed"]) == (v4, v2, True)
    engine = engine_on(root)
    head = engine.get_digest("acme", "config")
    assert data["digest"] == head
    assert engine.load("acme", "config") == engine.load("acme", "config", digest=v2)
    version = engine.version("acme", "config", head)
    assert (version.restored_from, version.user_id, version.parent) == (v2, "zed", v4)
    plain = mydb("restore", "acme", "users", "HEAD~1", root=root)
    assert plain.rc == 0 and plain.out == engine_on(root).get_digest("acme", "users") + "\n"
    assert engine_on(root).get("acme", "users", key="alice") == {"name": "Alice", "age": 30}
