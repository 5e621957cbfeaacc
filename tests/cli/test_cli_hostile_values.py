"""Issue 10 §1-2 and §6 through the real `mydb`: damaged versions, invisible characters in
names, dict keys that are not strings, JSON input Python accepts but JSON does not, numbers
and revisions beyond Python's int-string limit, objects in another encoding.

Damaged objects are written with correct digests through the storage layer, as a hostile
or buggy writer would. To keep the suite fast, the piped runs of one test go through one
subprocess (`mydb_batch`: the real `main()` once per command line, each with its own
stdout/stderr); terminal runs use a pseudo-terminal (`mydb_tty`), one process each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from cli_helpers import (
    Result,
    assert_error,
    batch_script,
    cli_env,
    engine_on,
    mydb_tty,
    strip_styles,
)
from dbengine.utils import compute_digest, to_json_bytes

T = "t"
DATE = "20261126 14:03:07 +0100"
BATCH = batch_script()


def mydb_batch(root: str, *commands: list[str]) -> list[Result]:
    """Run each `mydb ARGS` of `commands` (piped output) in one subprocess."""
    proc = subprocess.run([sys.executable, "-c", BATCH], input=json.dumps(commands).encode(),
                          capture_output=True, env=cli_env(root), timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return [Result(*r) for r in json.loads(proc.stdout)]


def assert_clean(result: Result) -> None:
    """Never a traceback, never an internal error."""
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err


def write_doc(engine, document: dict | bytes, tenant: str = T) -> str:
    data = document if isinstance(document, bytes) else to_json_bytes(document)
    digest = compute_digest(data)
    engine.storage.write_object(tenant, digest, data)
    return digest


def set_head(engine, head: dict, tenant: str = T) -> None:
    with engine.storage.lock(tenant):
        engine.storage.write_head(tenant, to_json_bytes(head))


# ---------------------------------------------------------------------- damaged metadata
ODD = {  # entry name -> what its head version holds (a chain: each one's parent is the one before)
    "yesterday": {"__date__": "yesterday"},
    "year1": {"__date__": "00010101 00:00:00 +0000"},
    "far": {"__date__": "99991231 23:00:00 -0500"},
    "nouser": {"__user_id__": ""},
    "restdict": {"__restored_from__": {"x": 1}},
    "restshort": {"__restored_from__": "abc"},
    "extra": None,  # a __parent__ list whose second item is a dict
}
BAD_DATES = ("yesterday", "year1", "far")
BAD_NAMES = ["\ud800lone", "x" * 201, "nul\x00", ""]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory) -> dict[str, Any]:
    """Entry "chain": base, the seven odd versions, then a sound one; one entry per odd
    version (its head); four head keys that are not valid entry names."""
    root = str(tmp_path_factory.mktemp("damaged") / "db")
    engine = engine_on(root)
    engine.init(T)
    parent = base = engine.save(T, "alice", "base", {"n": 0})
    head: dict[str, str] = {"base": base}
    for n, (name, meta) in enumerate(ODD.items(), 1):
        document = {"__kind__": "snapshot", "__parent__": [parent], "__user_id__": "mallory",
                    "__date__": DATE, "__data__": {"n": n, "odd": name}}
        if meta is None:
            document["__parent__"] = [parent, {"evil": 1}]
        else:
            document.update(meta)
        parent = head[name] = write_doc(engine, document)
    head["chain"] = write_doc(engine, {"__kind__": "snapshot", "__parent__": [parent], "__user_id__": "bob",
                                       "__date__": DATE, "__data__": {"n": 99}})
    set_head(engine, {**head, **{name: base for name in BAD_NAMES}})
    return {"root": root, "head": head}


def test_damaged_versions_piped_and_json(damaged):
    root, head = damaged["root"], damaged["head"]
    entries, entries_json, log, log_json, show, diff, diff_json, log_bad = mydb_batch(
        root, ["entries", T], ["entries", T, "--json"], ["log", T, "chain"], ["log", T, "chain", "--json"],
        ["show", T, "chain", head["far"], "--json"], ["diff", T, "far"],
        ["diff", T, "chain", head["yesterday"], head["year1"], "--json"], ["log", T, ""])
    for result in (entries, entries_json, log, log_json, show, diff, diff_json, log_bad):
        assert_clean(result)

    # entries: every sound name listed, bad dates as "invalid date", each bad name one error line
    assert entries.rc == 2
    rows = {line.split("\t")[0]: line.split("\t") for line in entries.out.splitlines()}
    assert set(rows) == {"base", "chain", *ODD}
    assert all(rows[name][4] == "invalid date" for name in BAD_DATES)
    assert rows["nouser"][5] == "" and rows["chain"][4] == "2026-11-26T13:03:07+00:00"
    errors = [line for line in entries.err.splitlines() if line.startswith("mydb: error: ")]
    assert len(errors) == len(BAD_NAMES)
    assert "'\\ud800lone'" in entries.err and "'nul\\x00'" in entries.err and "\x00" not in entries.err
    warnings = [line for line in entries.err.splitlines() if line.startswith("mydb: warning: ")]
    assert len(warnings) == len(ODD)
    data = entries_json.json()
    assert entries_json.rc == 2 and len(data["errors"]) == len(BAD_NAMES)
    by_name = {row["name"]: row for row in data["entries"]}
    assert all(by_name[name]["date"] is None for name in BAD_DATES)
    assert all(by_name[name]["damage"] for name in ODD) and "damage" not in by_name["chain"]

    # log: nine versions, three invalid dates, each damage a warning on stderr
    assert log.rc == 0
    lines = [line.split("\t") for line in log.out.splitlines()]
    assert len(lines) == 9 and [line[1] for line in lines].count("invalid date") == 3
    assert len(log.err.splitlines()) == len(ODD)
    versions = log_json.json()["versions"]
    assert [v["date"] is None for v in versions] == [False, False, False, False, False, True, True, True, False]
    assert [("damage" in v) for v in versions] == [False, *[True] * 7, False]
    restored = {v["digest"]: v["restored_from"] for v in versions}
    assert restored[head["restdict"]] is None and restored[head["restshort"]] is None

    # show, diff of damaged versions
    shown = show.json()
    assert show.rc == 0 and shown["value"] == {"n": 3, "odd": "far"} and "9999-12-31" in shown["damage"]
    assert diff.rc == 0 and diff.out.splitlines() == ["~ ['n']: 2 → 3", "~ ['odd']: \"year1\" → \"far\""]
    assert diff_json.rc == 0 and diff_json.json()["changed"] == 2
    assert_error(log_bad, "must not be empty")


def test_damaged_versions_on_a_terminal(damaged):
    root, head = damaged["root"], damaged["head"]
    log = mydb_tty("log", T, "chain", root=root)
    entries = mydb_tty("entries", T, root=root)
    show = mydb_tty("show", T, "chain", head["year1"], root=root)
    for result in (log, entries, show):
        assert_clean(result)
    text = strip_styles(log.out)
    assert log.rc == 0 and text.count("│ invalid date ") == 3 and text.count("⚠") == len(ODD)
    assert "restored from" not in text
    table = strip_styles(entries.out)
    assert entries.rc == 2 and table.count("│ invalid date ") == 3 and table.count("⚠") == len(ODD)
    assert "\\ud800lone" in entries.err and len(entries.err.splitlines()) == len(BAD_NAMES)
    header = strip_styles(show.out).splitlines()[0]
    assert show.rc == 0 and "invalid date  mallory  snapshot" in header and "date" in show.err


# ---------------------------------------------------------------------- invisible characters
HIDDEN_NAMES = {  # stored name -> how every output shows it
    "zw\u200bsp": "zw\\u200bsp", "zw\u200cnj": "zw\\u200cnj", "zw\u200dj": "zw\\u200dj",
    "wj\u2060": "wj\\u2060", "\ufeffbom": "\\ufeffbom", "h\u115ff": "h\\u115ff", "h\u1160f": "h\\u1160f",
    "h\u3164f": "h\\u3164f", "h\uffa0f": "h\\uffa0f", "tag\U000e0041": "tag\\U000e0041",
    "vs\ufe0f": "vs\\ufe0f", "ls\u2028": "ls\\u2028", "alm\u061c": "alm\\u061c",
}


def test_invisible_characters_in_names_show_as_escapes(tmp_path):
    root = str(tmp_path / "db")
    engine = engine_on(root)
    engine.init(T)
    for name in HIDDEN_NAMES:
        engine.save(T, f"u{name}", name, {name: name})
    plain, as_json, show = mydb_batch(root, ["entries", T], ["entries", T, "--json"],
                                      ["show", T, "zw\u200bsp"])
    tty = mydb_tty("entries", T, root=root)
    for result in (plain, as_json, show, tty):
        assert result.rc == 0, result.err
        assert not any(name in result.out for name in HIDDEN_NAMES)  # never raw
    rows = [line.split("\t") for line in plain.out.splitlines()]
    assert {row[0] for row in rows} == set(HIDDEN_NAMES.values())
    assert {row[5] for row in rows} == {f"u{shown}" for shown in HIDDEN_NAMES.values()}
    assert [row["name"] for row in as_json.json()["entries"]] == sorted(HIDDEN_NAMES)  # same names after parsing
    assert "\\udb40\\udc41" in as_json.out  # a tag character as a JSON surrogate pair
    assert show.json() == {"zw\u200bsp": "zw\u200bsp"} and '"zw\\u200bsp"' in show.out
    table = strip_styles(tty.out)
    assert all(shown in table for shown in HIDDEN_NAMES.values())
    widths = {len(line) for line in table.splitlines() if line.startswith("│")}
    assert len(widths) == 1  # every row as wide as the border


# ---------------------------------------------------------------------- dict keys
SIX = {1: "int one", "1": "string one", None: "none", "null": "string null", (1, 2): "tuple", "[1, 2]": "string list"}
SIX_SHOWN = {"⟨1⟩": "int one", "1": "string one", "⟨None⟩": "none", "null": "string null",
             "⟨(1, 2)⟩": "tuple", "[1, 2]": "string list"}


def test_non_string_keys_show_apart_from_string_keys(tmp_path):
    root = str(tmp_path / "db")
    engine = engine_on(root)
    engine.init(T)
    old = engine.save(T, "u", "e", SIX)
    engine.save(T, "u", "e", {**SIX, 1: "INT ONE", "⟨1⟩": "a string that looks like the int key"})
    engine.put(T, "u", "r", "k", SIX)
    plain, as_json, records, diff, diff_json = mydb_batch(
        root, ["show", T, "e", old], ["show", T, "e", old, "--json"], ["show", T, "r"],
        ["diff", T, "e"], ["diff", T, "e", "--json"])
    assert list(plain.json().items()) == list(SIX_SHOWN.items())
    assert as_json.json()["value"] == SIX_SHOWN
    assert records.json() == {"k": SIX_SHOWN}
    # named as `show` names them on that side: next to the string key "⟨1⟩", the int 1 is "⟨1⟩ (2)"
    assert diff.out.splitlines() == ['~ [⟨1⟩ (2)]: "int one" → "INT ONE"',
                                     "+ ['⟨1⟩']: [\"⟨1⟩\", \"a string that looks like the int key\"]"]
    assert [c["path"] for c in diff_json.json()["changes"]] == ["[⟨1⟩ (2)]", "['⟨1⟩']"]
    head = mydb_batch(root, ["show", T, "e"])[0].json()
    assert head["⟨1⟩"] == "a string that looks like the int key" and head["⟨1⟩ (2)"] == "INT ONE"
    assert len(head) == 7


# ---------------------------------------------------------------------- JSON input
def test_json_input_that_is_not_json_is_refused_with_its_position(tmp_path):
    root = str(tmp_path / "db")
    engine_on(root).init(T)
    results = mydb_batch(
        root, ["put", T, "r", "k", "NaN"], ["put", T, "r", "k", "--", "-Infinity"],
        ["put", T, "r", "k", '{"a": "1e999",\n "b": [1, 1e999]}'], ["put", T, "r", "k", '[1, Infinity]'],
        ["save", T, "s", str(_file(tmp_path, '{"a":\n  NaN}'))], ["put", T, "r", "k", "--", "-1E400"],
        ["put", T, "r", "k", '"NaN"'])
    expected = [("NaN", "line 1 column 1"), ("-Infinity", "line 1 column 1"), ("1e999", "line 2 column 11"),
                ("Infinity", "line 1 column 5"), ("NaN", "line 2 column 3"), ("-1E400", "line 1 column 1")]
    for result, (token, where) in zip(results, expected, strict=False):
        assert_error(result, "is not valid JSON", token, where)
    assert results[-1].rc == 0  # a string is fine
    assert engine_on(root).get(T, "r", "k") == "NaN" and not engine_on(root).exists(T, "s")


def _file(tmp_path, text: str):
    path = tmp_path / "input.json"
    path.write_text(text)
    return path


# ---------------------------------------------------------------------- beyond the int-string limit
def test_integers_and_revisions_beyond_the_int_string_limit(tmp_path):
    root = str(tmp_path / "db")
    engine_on(root).init(T)
    big = "7" * 5000
    put, show, diff, restore, log, leading_zeros = mydb_batch(
        root, ["put", T, "r", "k", f"[{big}, -{big}]"], ["show", T, "r", "HEAD~" + "9" * 5000],
        ["diff", T, "r", "HEAD~" + "9" * 5000], ["restore", T, "r", "HEAD~1" + "0" * 4999],
        ["log", T, "r", "-n", "9" * 5000], ["show", T, "r", "HEAD~" + "0" * 5000])
    assert put.rc == 0, put.err
    old_limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        assert engine_on(root).get(T, "r", "k") == [int(big), -int(big)]
    finally:
        sys.set_int_max_str_digits(old_limit)
    for result in (show, diff, restore):
        assert_error(result, "HEAD~", "has only 1 version")
        assert len(result.err) < 200
    assert log.rc == 0 and len(log.out.splitlines()) == 1
    assert leading_zeros.rc == 0 and leading_zeros.json()["k"][0].startswith("⟨int · ")


# ---------------------------------------------------------------------- another encoding
def test_an_object_in_another_encoding_is_one_line_of_damage_everywhere(tmp_path):
    root = str(tmp_path / "db")
    engine = engine_on(root)
    engine.init(T)
    engine.save(T, "u", "good", 1)
    document = {"__kind__": "snapshot", "__parent__": [None], "__user_id__": "u", "__date__": DATE, "__data__": "x"}
    digest = write_doc(engine, json.dumps(document).encode("utf-16"))
    bare_nan = write_doc(engine, json.dumps({**document, "__data__": {"a": float("nan")}}).encode())
    set_head(engine, {"good": engine.get_digest(T, "good"), "e": digest, "nan": bare_nan})
    export, export_entry, show, log, diff, entries, nan = mydb_batch(
        root, ["export", T], ["export", T, "e"], ["show", T, "e"], ["log", T, "e"], ["diff", T, "e"],
        ["entries", T], ["show", T, "nan"])
    for result in (export, export_entry, show, log, diff):
        assert_error(result, digest)  # the path names the object
    assert entries.rc == 2 and entries.out.startswith("good\t") and digest in entries.err
    # one line per unreadable entry: the UTF-16 one and the bare NaN (not JSON either)
    assert len(entries.err.splitlines()) == 2 and "internal error" not in entries.err
    assert all(line.startswith("mydb: error: entry ") for line in entries.err.splitlines())
    # a bare NaN in a stored object (not JSON either): damage, or shown as valid JSON
    if nan.rc == 2:
        assert_error(nan, bare_nan)
    else:
        assert nan.rc == 0 and json.loads(nan.out, parse_constant=_refuse) == {"a": "⟨float nan⟩"}


def _refuse(token: str):
    raise AssertionError(f"{token} in JSON output")
