"""`mydb tenants / entries / log / show` against a real sample database, in subprocesses."""

from __future__ import annotations

import os

import pytest
from cli_helpers import (
    EVIL_KEY,
    EVIL_VALUE,
    assert_error,
    build_ambiguous,
    mydb,
    mydb_tty,
    strip_styles,
)


def test_tenants_plain_and_json(sample):
    result = mydb("tenants", root=sample["root"])
    assert (result.rc, result.err) == (0, "")
    assert result.out == "acme\t3\nglobex\t1\ntraps\t1\n"
    data = mydb("tenants", "--json", root=sample["root"]).json()
    assert data == {"root": sample["root"], "tenants": [
        {"name": "acme", "entries": 3}, {"name": "globex", "entries": 1}, {"name": "traps", "entries": 1}]}


def test_entries_plain_escapes_names_and_json_keeps_them(sample):
    v4 = sample["config"][3]
    users_head = sample["users"][-1]
    result = mydb("entries", "acme", root=sample["root"])
    assert result.rc == 0
    assert result.out.splitlines() == [
        f"config\tsnapshot\t4\t{v4}\t2026-11-26T13:06:07+00:00\tcarol",
        "evil\\x1b[31mred\tsnapshot\t1\t" + result.out.splitlines()[1].split("\t")[3] + "\t2026-11-26T13:10:07+00:00\tmallory",
        f"users\trecords\t3\t{users_head}\t2026-11-26T13:09:07+00:00\tbob",
    ]
    data = mydb("--json", "entries", "acme", root=sample["root"]).json()  # global option before the command
    assert data["tenant"] == "acme"
    assert [e["name"] for e in data["entries"]] == ["config", EVIL_KEY, "users"]
    assert data["entries"][0] == {"name": "config", "kind": "snapshot", "versions": 4, "head": v4,
                                  "date": "2026-11-26T13:06:07+00:00", "user": "carol"}


def test_log_plain_newest_first_with_summary_and_restored_from(sample):
    v1, v2, v3, v4 = sample["config"]
    result = mydb("log", "acme", "config", root=sample["root"])
    assert result.rc == 0
    assert result.out.splitlines() == [
        f"{v4}\t2026-11-26T13:06:07+00:00\tcarol\t+1 ~2 -1\t{v1}",
        f"{v3}\t2026-11-26T13:05:07+00:00\talice\t+1 ~1 -1\t-",
        f"{v2}\t2026-11-26T13:04:07+00:00\tbob\t+0 ~1 -0\t-",
        f"{v1}\t2026-11-26T13:03:07+00:00\talice\t+3 ~0 -0\t-",
    ]
    limited = mydb("log", "acme", "config", "-n", "2", root=sample["root"])
    assert limited.out.splitlines() == result.out.splitlines()[:2]


def test_log_json_shape(sample):
    v1, v2, v3, v4 = sample["config"]
    data = mydb("log", "acme", "config", "-n", "2", "--json", root=sample["root"]).json()
    assert data["tenant"] == "acme" and data["entry"] == "config" and data["head"] == v4
    assert data["versions"] == [
        {"digest": v4, "parents": [v3], "user": "carol", "date": "2026-11-26T13:06:07+00:00",
         "summary": {"added": 1, "changed": 2, "removed": 1}, "restored_from": v1, "is_head": True},
        {"digest": v3, "parents": [v2], "user": "alice", "date": "2026-11-26T13:05:07+00:00",
         "summary": {"added": 1, "changed": 1, "removed": 1}, "restored_from": None, "is_head": False},
    ]


def test_show_value_and_revisions(sample):
    v1, v2, v3, v4 = sample["config"]
    head = mydb("show", "acme", "config", root=sample["root"])
    assert head.rc == 0
    assert head.out == '{\n  "theme": "dark",\n  "port": 8080,\n  "tags": [\n    "a",\n    "b"\n  ]\n}\n'
    assert mydb("show", "acme", "config", "HEAD~2", root=sample["root"]).json()["theme"] == "light"
    by_prefix = mydb("show", "acme", "config", v2[:6], "--json", root=sample["root"]).json()
    assert by_prefix == {"tenant": "acme", "entry": "config", "kind": "snapshot", "digest": v2,
                         "value": {"theme": "light", "port": 8080, "tags": ["a", "b"]}}
    assert mydb("show", "acme", "config", v2, "--json", root=sample["root"]).json() == by_prefix


def test_show_records_keyed_in_insertion_order(sample):
    result = mydb("show", "acme", "users", root=sample["root"])
    assert result.rc == 0
    assert list(result.json().items()) == [("alice", {"name": "Alice", "age": 31}),
                                           ("bob", {"name": "Bob", "age": 25})]
    first = mydb("show", "acme", "users", "HEAD~2", root=sample["root"]).json()
    assert first == {"alice": {"name": "Alice", "age": 30}}


def test_show_raw_is_the_stored_document(sample):
    v1, v2, v3, v4 = sample["config"]
    document = mydb("show", "acme", "config", "--raw", root=sample["root"]).json()
    assert document == {
        "__kind__": "snapshot", "__parent__": [v3], "__user_id__": "carol",
        "__date__": "20261126 14:06:07 +0100", "__restored_from__": v1,
        "__data__": {"theme": "dark", "port": 8080, "tags": {"__special__": "py/tuple", "items": ["a", "b"]}},
    }
    raw = mydb("show", "acme", "users", "--raw", "--json", root=sample["root"]).json()
    assert raw["kind"] == "records" and raw["digest"] == sample["users"][-1]
    assert raw["document"]["__kind__"] == "records" and raw["document"]["__count__"] == 2
    assert raw["records"] == {"alice": {"name": "Alice", "age": 31}, "bob": {"name": "Bob", "age": 25}}
    plain = mydb("show", "acme", "users", "--raw", root=sample["root"]).json()
    assert plain == {"document": raw["document"], "records": raw["records"]}


def test_pickles_are_badges_unless_trusted(sample):
    marker = sample["marker"]
    value = mydb("show", "acme", "config", "HEAD~1", root=sample["root"]).json()
    badge = value["blob"]["payload"]
    assert value["blob"]["__class__"] == "cli_helpers:Blob" and value["blob"]["name"] == "n"
    assert badge.startswith(f"⟨pickle {sample['ref'][:7]} · ") and "datetime.date" in badge
    trap = mydb("show", "traps", "trap", root=sample["root"])
    assert trap.rc == 0 and "pathlib" in trap.json()["blob"]["payload"]
    assert mydb("show", "traps", "trap", "--raw", root=sample["root"]).rc == 0
    assert not os.path.exists(marker), "a pickle was executed without --trust-pickle"
    trusted = mydb("show", "acme", "config", "HEAD~1", "--trust-pickle", root=sample["root"]).json()
    assert trusted["blob"]["payload"] == [1, "datetime.date(2020, 1, 2)"]
    assert mydb("--trust-pickle", "show", "traps", "trap", root=sample["root"]).rc == 0
    assert os.path.exists(marker)  # the flag is what lets pickles run
    os.remove(marker)


def test_hostile_strings_are_escaped_when_piped(sample):
    result = mydb("show", "acme", EVIL_KEY, root=sample["root"])
    assert result.rc == 0 and result.json() == {EVIL_KEY: EVIL_VALUE}  # still exact JSON
    for args in (("entries", "acme"), ("show", "acme", EVIL_KEY), ("log", "acme", EVIL_KEY),
                 ("show", "acme", EVIL_KEY, "--json")):
        out = mydb(*args, root=sample["root"]).out
        assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out, args


def test_terminal_output_is_rich_but_never_passes_control_characters(sample):
    entries = mydb_tty("entries", "acme", root=sample["root"])
    assert entries.rc == 0 and "\x1b[" in entries.out  # styled
    assert "┃ entry" in strip_styles(entries.out)  # a table
    assert "evil\\x1b[31mred" in entries.out and "\x1b[31mred" not in entries.out
    shown = mydb_tty("show", "acme", EVIL_KEY, root=sample["root"])
    assert shown.rc == 0 and "\\u202e" in shown.out
    assert "\u202e" not in shown.out and "\x9b" not in shown.out and "\x1b[31mred" not in shown.out
    log = mydb_tty("log", "acme", "config", root=sample["root"])
    assert "HEAD" in log.out and f"restored from {sample['config'][0][:7]}" in log.out
    assert "14:06" in log.out.replace("13:06", "14:06")  # local time (TZ=UTC shows 13:06)


def test_markup_in_names_is_not_interpreted(tmp_path):
    from cli_helpers import engine_on

    root = str(tmp_path / "db")
    engine = engine_on(root)
    engine.init("t")
    engine.save("t", "[bold]u[/bold]", "[red]e[/red]", {"[link=x]k[/link]": 1})
    for args in (("entries", "t"), ("log", "t", "[red]e[/red]"), ("show", "t", "[red]e[/red]")):
        out = mydb_tty(*args, root=root).out
        assert "[red]e[/red]" in out or "[link=x]k[/link]" in out, (args, out)
    assert "[bold]u[/bold]" in mydb_tty("log", "t", "[red]e[/red]", root=root).out


@pytest.fixture(scope="module")
def ambiguous(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("amb") / "db")
    return root, build_ambiguous(root)


def test_ambiguous_prefix_lists_the_candidates(ambiguous):
    root, (first, second) = ambiguous
    result = mydb("show", "hist", "counter", first[:4], root=root)
    assert_error(result, "ambiguous", first[:12], second[:12])
    assert mydb("show", "hist", "counter", first[:12], root=root).rc == 0


@pytest.mark.parametrize("rev, needle", [("HEAD~9", "only 4 versions"), ("zzzz", "not a revision"),
                                         ("abc", "not a revision"), ("0000000", "no version")])
def test_bad_revisions_are_one_line_errors(sample, rev, needle):
    assert_error(mydb("show", "acme", "config", rev, root=sample["root"]), needle)


def test_missing_root_not_a_database_unknown_names(sample, tmp_path):
    assert_error(mydb("tenants", root=str(tmp_path / "nowhere")), "nowhere", "does not exist")
    assert_error(mydb("tenants", "--root", str(tmp_path / "nowhere")), "does not exist")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("hi")
    assert_error(mydb("log", "a", "b", root=str(tmp_path / "junk")), "not a MyDbEngine database")
    assert_error(mydb("entries", "nobody", root=sample["root"]), "no tenant 'nobody'")
    assert_error(mydb("log", "acme", "nothing", root=sample["root"]), "no entry 'nothing'")
    assert_error(mydb("log", "acme", "config", "-n", "0", root=sample["root"]), "at least 1")
    assert_error(mydb("frobnicate", root=sample["root"]), "invalid choice")
    assert mydb("--help").rc == 0 and mydb("--version").out.startswith("mydb ")


def test_default_root_is_dot_mytools_db(sample, tmp_path):
    os.symlink(sample["root"], tmp_path / ".mytools_db")
    assert mydb("tenants", cwd=str(tmp_path)).out.startswith("acme\t3\n")


def test_the_cli_never_loads_textual(sample):
    import subprocess
    import sys

    code = ("import sys, contextlib, io\n"
            "from mydb_tui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    codes = [main(['--root', {sample['root']!r}, *a]) for a in "
            "(['show', 'acme', 'config'], ['diff', 'acme', 'users'], ['log', 'acme', 'config'])]\n"
            "assert codes == [0, 0, 0], codes\n"
            "assert 'textual' not in sys.modules, 'textual was imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
