"""`mydb diff`: 0, 1 or 2 revisions, --exit-code, --json, record entries."""

from __future__ import annotations

from cli_helpers import assert_error, engine_on, mydb, mydb_tty, strip_styles

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


def test_changes_within_a_record_come_in_document_order_whatever_the_hash_seed(tmp_path):
    """DeepDiff lists a record's changes in an order that follows string hashing; `mydb diff`
    lists them as the TUI does, by shown row, so two runs give the same output."""
    root = str(tmp_path / "db")
    engine = engine_on(root)
    engine.init("t")
    engine.put_many("t", "u", "users", {f"k{i}": {"a": i, "b": "x", "c": [1, 2], "d": {"e": 1}, "f": 1.0} for i in range(3)})
    engine.put_many("t", "u", "users", {f"k{i}": {"a": i + 1, "b": "y", "c": [1, 2, 3], "d": {"e": 2}, "g": True}
                                       for i in range(3)})
    outputs = {mydb("diff", "t", "users", root=root, PYTHONHASHSEED=str(seed)).out for seed in (1, 2, 3, 4, 5)}
    assert len(outputs) == 1, outputs
    lines = outputs.pop().splitlines()
    assert [line.split(":")[0] for line in lines[:6]] == [
        "~ [k0]['a']", "~ [k0]['b']", "+ [k0]['c'][2]", "~ [k0]['d']['e']", "- [k0]['f']", "+ [k0]['g']"]
