"""`mydb verify` on a clean and on a damaged database; reads of damaged data fail cleanly."""

from __future__ import annotations

import os

import pytest
from cli_helpers import assert_error, build_sample, engine_on, mydb, mydb_tty, strip_styles


def test_clean_database_verifies(sample):
    result = mydb("verify", root=sample["root"])
    assert (result.rc, result.out) == (0, "")
    assert "0 problems" in result.err and "3 tenants" in result.err
    data = mydb("verify", "--json", root=sample["root"]).json()
    assert data["ok"] is True and data["problems"] == [] and data["tenants_checked"] == 3
    assert data["objects_checked"] > 10 and data["refs_checked"] == 2
    assert set(data) == {"ok", "tenants_checked", "objects_checked", "refs_checked", "problems", "notes"}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """The sample with a flipped byte in an object, a deleted ref and a deleted record-tree node."""
    root = str(tmp_path_factory.mktemp("damaged") / "db")
    info = build_sample(root)
    v2 = info["config"][1]
    flipped = os.path.join(root, "acme", "objects", v2[:24], v2)
    with open(flipped, "r+b") as handle:
        data = bytearray(handle.read())
        data[len(data) // 2] ^= 0x01
        handle.seek(0)
        handle.write(data)
    ref = os.path.join(root, "refs", info["ref"][:24], info["ref"])
    os.remove(ref)
    bucket = engine_on(root).read_snapshot("acme", info["users"][0])["__order__"]
    gone = os.path.join(root, "acme", "objects", bucket[:24], bucket)
    os.remove(gone)
    return {"root": root, "paths": {"flipped": flipped, "ref": ref, "bucket": gone}, **info}


def test_damage_is_found_and_every_file_named(damaged):
    result = mydb("verify", root=damaged["root"])
    assert result.rc == 1, (result.out, result.err)
    lines = [line.split("\t") for line in result.out.splitlines()]
    problems = {(kind, path) for level, kind, path, _msg in lines if level == "problem"}
    assert ("hash-mismatch", damaged["paths"]["flipped"]) in problems
    assert ("missing-ref", damaged["paths"]["ref"]) in problems
    # A missing record-tree node is reported on the versions that use it, naming its digest.
    bucket = os.path.basename(damaged["paths"]["bucket"])
    assert any(kind == "missing-node" and bucket[:12] in msg for _l, kind, _p, msg in lines)
    assert "problem" in result.err and "Traceback" not in result.err


def test_damage_json_and_per_tenant(damaged):
    result = mydb("verify", "--json", root=damaged["root"])
    data = result.json()
    assert result.rc == 1 and data["ok"] is False
    assert all(set(p) == {"path", "kind", "message", "tenant"} for p in data["problems"])
    paths = {os.path.realpath(p["path"]) for p in data["problems"]}
    assert {os.path.realpath(damaged["paths"][k]) for k in ("flipped", "ref")} <= paths
    assert {p["kind"] for p in data["problems"]} >= {"hash-mismatch", "missing-ref", "missing-node", "missing-parent"}
    assert mydb("verify", "globex", root=damaged["root"]).rc == 0
    assert mydb("verify", "acme", root=damaged["root"]).rc == 1


def test_terminal_report(damaged):
    result = mydb_tty("verify", root=damaged["root"])
    text = strip_styles(result.out)
    assert result.rc == 1 and "DAMAGED" in text and "hash-mismatch" in text


def test_reading_damaged_data_is_a_one_line_error(damaged):
    assert_error(mydb("show", "acme", "config", "HEAD~2", root=damaged["root"]), "corrupt")
    assert_error(mydb("show", "acme", "users", "HEAD~2", root=damaged["root"]))
    assert_error(mydb("export", "acme", root=damaged["root"]))
    missing = mydb("show", "acme", "config", "HEAD~1", root=damaged["root"]).json()
    assert "missing" in missing["blob"]["payload"]  # the badge says the ref is gone
    assert mydb("show", "globex", "flags", root=damaged["root"]).json() == {"beta": True}


def test_checkpoint_gives_durable_commits_objects_their_files(tmp_path):
    """`mydb checkpoint` (all tenants, or one): the journal emptied, every object in
    objects/, still verified; an unknown tenant is one line, exit 2."""
    root = str(tmp_path / "db")
    engine = engine_on(root, durable=True)
    for tenant in ("acme", "globex"):
        engine.init(tenant)
        versions = [engine.save(tenant, "alice", "doc", {"n": i}) for i in range(3)]
    journal = os.path.join(root, "acme", "journal")
    assert os.path.getsize(journal) > 0
    assert not os.path.exists(os.path.join(root, "globex", "objects", versions[-1][:24], versions[-1]))
    one = mydb("checkpoint", "acme", "--json", root=root)
    assert (one.rc, one.json()) == (0, {"tenants": ["acme"]}) and os.path.getsize(journal) == 0
    every = mydb("checkpoint", root=root)
    assert every.rc == 0 and "checkpointed 2 tenants" in every.out
    assert os.path.isfile(os.path.join(root, "globex", "objects", versions[-1][:24], versions[-1]))
    assert mydb("verify", root=root).rc == 0
    assert_error(mydb("checkpoint", "acmee", root=root), "no tenant 'acmee'")


def test_checkpoint_of_every_tenant_names_the_one_that_failed_and_does_the_others(tmp_path):
    """One tenant whose journal is a folder: the others are checkpointed, the error is one
    line naming the tenant and its journal, exit 2."""
    root = str(tmp_path / "db")
    engine = engine_on(root, durable=True)
    for tenant in ("acme", "globex", "initech"):
        engine.init(tenant)
        engine.save(tenant, "alice", "doc", {"n": 1})
    os.replace(os.path.join(root, "globex", "journal"), os.path.join(root, "globex-journal"))
    os.mkdir(os.path.join(root, "globex", "journal"))
    result = mydb("checkpoint", root=root)
    assert_error(result, "globex")
    assert "journal" in result.err and "2 done" in result.err
    for tenant in ("acme", "initech"):
        assert os.path.getsize(os.path.join(root, tenant, "journal")) == 0
