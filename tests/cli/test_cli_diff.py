"""`mydb diff`: 0, 1 or 2 revisions, --exit-code, --json, record entries."""

from __future__ import annotations

from cli_helpers import assert_error, mydb, mydb_tty, strip_styles

HEAD_VS_PARENT = {
    "~ ['theme']: \"light\" → \"dark\"",
    "~ ['port']: 9090 → 8080",
    "- ['blob']: ⟨Blob · 2 fields⟩",
    "+ ['tags']: ⟨tuple · 2 items⟩",
}


def test_no_rev_compares_head_with_its_parent(sample):
    result = mydb("diff", "acme", "config", root=sample["root"])
    assert (result.rc, result.err) == (0, "")
    assert set(result.out.splitlines()) == HEAD_VS_PARENT
    assert len(result.out.splitlines()) == 4
    assert mydb("diff", "acme", "config", "--exit-code", root=sample["root"]).rc == 1


def test_one_rev_compares_it_with_head(sample):
    v1, v2, v3, v4 = sample["config"]
    same = mydb("diff", "acme", "config", v1[:8], "--exit-code", root=sample["root"])
    assert (same.rc, same.out) == (0, "")  # v4 restored v1: same content
    changed = mydb("diff", "acme", "config", "HEAD~2", "--exit-code", root=sample["root"])
    assert changed.rc == 1 and changed.out == "~ ['theme']: \"light\" → \"dark\"\n"
    assert mydb("diff", "acme", "config", "HEAD", "--exit-code", root=sample["root"]).rc == 0


def test_two_revs_older_on_the_left_in_either_order(sample):
    v1, v2, v3, v4 = sample["config"]
    forward = mydb("diff", "acme", "config", v1, v2, root=sample["root"])
    backward = mydb("diff", "acme", "config", "HEAD~2", "HEAD~3", root=sample["root"])
    assert forward.out == backward.out == "~ ['theme']: \"dark\" → \"light\"\n"
    assert_error(mydb("diff", "acme", "config", "HEAD", "HEAD~1", "HEAD~2", root=sample["root"]),
                 "at most two")


def test_json_shape(sample):
    v1, v2, v3, v4 = sample["config"]
    result = mydb("diff", "acme", "config", "HEAD~3", "HEAD~1", "--json", "--exit-code", root=sample["root"])
    assert result.rc == 1
    data = result.json()
    assert {k: data[k] for k in ("tenant", "entry", "kind", "old", "new", "added", "changed", "removed")} == {
        "tenant": "acme", "entry": "config", "kind": "snapshot", "old": v1, "new": v3,
        "added": 1, "changed": 2, "removed": 1}
    changes = {c["path"]: c for c in data["changes"]}
    assert changes["['port']"] == {"path": "['port']", "kind": "changed", "record_key": None, "old": 8080, "new": 9090}
    assert changes["['tags']"]["kind"] == "removed"
    assert changes["['tags']"]["old"] == {"__special__": "py/tuple", "items": ["a", "b"]}
    assert changes["['blob']"]["kind"] == "added" and changes["['blob']"]["new"]["__special__"] == "py/object"


def test_record_entries_diff_record_by_record(sample):
    last = mydb("diff", "acme", "users", "--exit-code", root=sample["root"])
    assert (last.rc, last.out) == (1, "~ [alice]['age']: 30 → 31\n")
    whole = mydb("diff", "acme", "users", "HEAD~2", "--json", root=sample["root"]).json()
    assert whole["kind"] == "records" and (whole["added"], whole["changed"], whole["removed"]) == (1, 1, 0)
    assert [(c["path"], c["kind"], c["record_key"]) for c in whole["changes"]] == [
        ("[alice]['age']", "changed", "alice"), ("[bob]", "added", "bob")]
    assert whole["changes"][1]["new"] == {"name": "Bob", "age": 25}


def test_first_version_compares_with_nothing(sample):
    result = mydb("diff", "globex", "flags", "--json", root=sample["root"]).json()
    assert result["old"] is None and result["added"] == 1
    assert mydb("diff", "globex", "flags", root=sample["root"]).out == "+ ['beta']: true\n"


def test_terminal_table(sample):
    result = mydb_tty("diff", "acme", "config", root=sample["root"])
    text = strip_styles(result.out)
    assert result.rc == 0 and "path" in text and "┃" in text
    assert "['theme']" in text and "light" in text and "dark" in text and "+1 ~2 -1" in text
