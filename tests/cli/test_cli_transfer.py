"""`mydb export / import`: byte-identical round trips, idempotent re-import, refused bad input."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_error, mydb


@pytest.fixture(scope="module")
def exported(sample):
    result = mydb("export", "acme", root=sample["root"])
    assert (result.rc, result.err) == (0, "")
    return result.out


def _files(root):
    import os

    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = handle.read()
    return found


def test_export_format_and_determinism(sample, exported):
    lines = [json.loads(line) for line in exported.splitlines()]
    assert lines[0] == {"type": "mydb-export", "version": 1, "tenant": "acme", "entry": None}
    types = [line["type"] for line in lines]
    assert types.count("head") == 3 and types.count("ref") == 1
    v3 = sample["config"][2]  # the version whose pickled field is the ref
    digests = [line.get("digest") for line in lines]
    assert types.index("ref") < digests.index(v3)
    assert mydb("export", "acme", root=sample["root"]).out == exported


def test_export_import_export_is_identical_and_reimport_is_a_no_op(sample, exported, tmp_path):
    target = str(tmp_path / "copy")
    path = tmp_path / "acme.jsonl"
    path.write_text(exported, encoding="utf-8")
    first = mydb("import", str(path), "--json", root=target)
    assert first.rc == 0
    counts = first.json()
    assert counts["tenant"] == "acme" and counts["heads_updated"] == 3 and counts["refs_written"] == 1
    assert counts["objects_written"] > 10 and counts["objects_present"] == 0
    assert mydb("export", "acme", root=target).out == exported
    before = _files(target)
    again = mydb("import", "-", "--json", root=target, stdin=exported)
    assert again.json() == {"tenant": "acme", "objects_written": 0, "objects_present": counts["objects_written"],
                            "refs_written": 0, "refs_present": 1, "heads_updated": 0, "heads_unchanged": 3}
    assert _files(target) == before
    assert mydb("log", "acme", "config", root=target).out == mydb("log", "acme", "config", root=sample["root"]).out


def test_import_into_another_tenant_and_one_entry(sample, exported, tmp_path):
    target = str(tmp_path / "db")
    result = mydb("import", "-", "--tenant", "copy", root=target, stdin=exported)
    assert result.rc == 0 and result.out.startswith("imported into tenant copy: ")
    assert mydb("export", "copy", root=target).out.splitlines()[1:] == exported.splitlines()[1:]
    one = mydb("export", "acme", "users", root=sample["root"]).out
    assert json.loads(one.splitlines()[0])["entry"] == "users"
    assert mydb("import", "-", root=target, stdin=one).rc == 0
    assert mydb("entries", "acme", root=target).out.split("\t")[0] == "users"
    assert mydb("show", "acme", "users", root=target).json()["bob"] == {"name": "Bob", "age": 25}


def test_bad_imports_are_refused(sample, exported, tmp_path):
    lines = exported.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "object")
    record = json.loads(lines[index])
    record["text"] = record["text"].replace("dark", "dork")
    tampered = "".join(lines[:index]) + json.dumps(record) + "\n" + "".join(lines[index + 1:])
    target = str(tmp_path / "db")
    assert_error(mydb("import", "-", root=target, stdin=tampered), "do not match digest")
    assert mydb("entries", "acme", root=target).out == ""  # no head was written
    assert_error(mydb("import", "-", root=target, stdin="not json\n"), "line 1")
    assert_error(mydb("import", str(tmp_path / "nope.jsonl"), root=target), "nope.jsonl")
    diverged = str(tmp_path / "diverged")
    assert mydb("save", "acme", "config", "-", stdin='{"x": 1}', root=diverged).rc == 0
    assert_error(mydb("import", "-", root=diverged, stdin=exported), "different history")
    assert_error(mydb("export", "nobody", root=sample["root"]), "no tenant 'nobody'")
