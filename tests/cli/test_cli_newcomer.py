"""Issue 13 §5, the CLI for a newcomer: `mydb get` / `show --key`, "did you mean …?" for
mistyped names, `mydb` alone, `entries` without a tenant, `--help` with examples, one rule
for dates (local time, `--utc`), and packaging metadata without deprecation warnings.

Piped runs of one test share one subprocess (`batch`: the real `main()` once per command
line); terminal runs use a pseudo-terminal (`mydb_tty`, TZ=UTC), one process each.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tomllib

from cli_helpers import Result, batch_script, cli_env, engine_on, mydb_tty, strip_styles

from mydb_tui.cli.dispatch import COMMANDS

ROOT = pathlib.Path(__file__).resolve().parents[2]
BATCH = batch_script()


def batch(root: str, *commands: list[str], **env: str) -> list[Result]:
    """Run each `mydb ARGS` of `commands` (piped output) in one subprocess."""
    proc = subprocess.run([sys.executable, "-c", BATCH], input=json.dumps(commands).encode(),
                          capture_output=True, env=cli_env(root, **env), timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return [Result(*r) for r in json.loads(proc.stdout)]


def one_error(result: Result, *needles: str) -> str:
    """Exit 2, one `mydb: error:` line naming `needles`, never the engine's API wording."""
    assert result.rc == 2, (result.rc, result.out, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mydb: error: "), result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "init()" not in lines[0] and "not initialized" not in lines[0], lines[0]
    return lines[0]


def test_get_and_show_key_print_one_record(sample):
    root, users = sample["root"], sample["users"]
    (plain, old, show_key, raw, show_plain, missing, snapshot, no_entry, no_tenant, no_rev) = batch(
        root, ["get", "acme", "users", "alice"], ["get", "acme", "users", "alice", "HEAD~1", "--json"],
        ["show", "acme", "users", "--key", "bob", "--json"], ["get", "acme", "users", "bob", "--raw", "--json"],
        ["show", "acme", "users", "HEAD~1", "--key", "alice"],
        ["get", "acme", "users", "alce"], ["get", "acme", "config", "theme"],
        ["get", "acme", "usrs", "alice"], ["get", "acmee", "users", "alice"],
        ["get", "acme", "users", "alice", "HEAD~9"])
    assert (plain.rc, plain.err) == (0, "")
    assert json.loads(plain.out) == {"name": "Alice", "age": 31}
    assert old.rc == 0 and old.json() == {"tenant": "acme", "entry": "users", "kind": "records",
                                          "digest": users[1], "key": "alice",
                                          "value": {"name": "Alice", "age": 30}}
    assert show_key.json() == {"tenant": "acme", "entry": "users", "kind": "records", "digest": users[2],
                               "key": "bob", "value": {"name": "Bob", "age": 25}}
    assert raw.json()["stored"] == {"name": "Bob", "age": 25} and "value" not in raw.json()
    assert show_plain.rc == 0 and json.loads(show_plain.out) == {"name": "Alice", "age": 30}
    one_error(missing, "no record 'alce'", "did you mean 'alice'?")
    one_error(snapshot, "'config'", "snapshot entry", "mydb show acme config")
    one_error(no_entry, "no entry 'usrs'", "did you mean 'users'?")
    one_error(no_tenant, "no tenant 'acmee'", "did you mean 'acme'?")
    one_error(no_rev)

    shown = mydb_tty("get", "acme", "users", "alice", root=root)
    assert shown.rc == 0, shown.err
    header, *body = strip_styles(shown.out).replace("\r", "").splitlines()
    assert header.startswith(f"acme / users / alice {users[2][:12]}") and "(HEAD)" in header
    assert "2026-11-26 13:09 +0000  bob  records" in header
    assert json.loads("\n".join(body)) == {"name": "Alice", "age": 31}


def test_mistyped_names_get_did_you_mean(sample, tmp_path):
    root = sample["root"]
    results = batch(
        root, ["log", "acm", "users"], ["log", "acme", "usres"], ["show", "acme", "confg"],
        ["diff", "acme", "Users"], ["entries", "globx"], ["export", "globex", "flag"],
        ["verify", "acmee"], ["restore", "acme", "conf", "HEAD~1"], ["log", "zzz", "users"],
        ["put", "acme", "usrs", "carol", "{}"],
    )
    log_t, log_e, show_e, diff_e, entries_t, export_e, verify_t, restore_e, far, put = results
    one_error(log_t, "no tenant 'acm'", "did you mean 'acme'?")
    one_error(log_e, "no entry 'usres' in tenant 'acme'", "did you mean 'users'?")
    one_error(show_e, "did you mean 'config'?")
    one_error(diff_e, "did you mean 'users'?")
    one_error(entries_t, "did you mean 'globex'?")
    one_error(export_e, "did you mean 'flags'?")
    one_error(verify_t, "did you mean 'acme'?")
    one_error(restore_e, "did you mean 'config'?")
    one_error(far, "no tenant 'zzz'", "'acme', 'globex', 'traps'")  # nothing close: the few names
    assert put.rc == 0 and "new entry 'usrs'" in put.err and "did you mean 'users'?" in put.err


def test_mydb_alone_prints_help_and_entries_lists_every_tenant(sample, tmp_path):
    alone, every, every_json, one = batch(
        sample["root"], [], ["entries"], ["entries", "--json"], ["entries", "globex", "--json"])
    assert alone.rc == 2 and alone.err == ""
    assert alone.out.startswith("usage: mydb") and "commands:" in alone.out and "get " in alone.out
    assert "--help" in alone.out and "mydb demo .demo_db" in alone.out

    assert every.rc == 0, every.err
    rows = [line.split("\t") for line in every.out.splitlines()]
    assert [(r[0], r[1]) for r in rows if r[0] != "acme"] == [("globex", "flags"), ("traps", "trap")]
    assert {r[1] for r in rows if r[0] == "acme"} >= {"config", "users"}
    data = every_json.json()
    assert data["tenant"] is None and data["errors"] == []
    assert [(e["tenant"], e["name"]) for e in data["entries"] if e["tenant"] != "acme"] == [
        ("globex", "flags"), ("traps", "trap")]
    flags = next(e for e in data["entries"] if e["name"] == "flags")
    assert {k: v for k, v in flags.items() if k != "tenant"} == one.json()["entries"][0]

    empty = tmp_path / "empty"
    engine_on(str(empty)).init("t")
    (empty_entries,) = batch(str(empty), ["entries"])
    assert empty_entries.rc == 0  # a tenant without entries: nothing listed, no error
    bare = tmp_path / "bare"
    (bare / "refs").mkdir(parents=True)
    bare_entries, bare_json = batch(str(bare), ["entries"], ["entries", "--json"])
    assert bare_entries.rc == 0 and bare_entries.out == ""
    assert "no tenant yet" in bare_entries.err and "mydb put" in bare_entries.err
    assert bare_json.json() == {"tenant": None, "entries": [], "errors": []}


def test_every_subcommand_help_describes_its_arguments_with_an_example(tmp_path):
    names = list(COMMANDS)
    assert "get" in names and len(names) >= 13
    results = batch(str(tmp_path), *[[name, "--help"] for name in names])
    for name, result in zip(names, results, strict=True):
        assert result.rc == 0, (name, result.err)
        text = result.out
        examples = text.split("\nexample")[-1]
        assert "\nexample" in text and "  mydb " in examples, (name, text)
        section = text.split("positional arguments:\n")[1].split("\n\n")[0] if "positional arguments:" in text else ""
        for line in section.splitlines():
            if line.startswith("  ") and not line.startswith("   "):
                assert len(line.split()) > 1, (name, line)  # every positional has its help text


def test_one_rule_for_dates_local_by_default_utc_on_request(sample):
    root, v4 = sample["root"], sample["config"][3]
    log, log_json, entries, utc_log, utc_json = batch(
        root, ["log", "acme", "config", "-n", "1"], ["log", "acme", "config", "-n", "1", "--json"],
        ["entries", "globex", "--json"], ["--utc", "log", "acme", "config", "-n", "1"],
        ["log", "acme", "config", "-n", "1", "--json", "--utc"], TZ="Asia/Tokyo")
    # written 2026-11-26 14:06:07 +0100: Tokyo (+0900) local time, or UTC with --utc
    assert log.out.split("\t")[:2] == [v4, "2026-11-26T22:06:07+09:00"]
    assert log_json.json()["versions"][0]["date"] == "2026-11-26T22:06:07+09:00"
    assert entries.json()["entries"][0]["date"].endswith("+09:00")
    assert utc_log.out.split("\t")[1] == "2026-11-26T13:06:07+00:00"
    assert utc_json.json()["versions"][0]["date"] == "2026-11-26T13:06:07+00:00"

    # a terminal: the same moment as the TUI's History pane shows it (TZ=UTC here)
    tty_log = strip_styles(mydb_tty("log", "acme", "config", "-n", "1", root=root).out)
    assert "2026-11-26 13:06 +0000" in tty_log
    tty_show = strip_styles(mydb_tty("show", "acme", "config", root=root).out).splitlines()[0]
    assert "2026-11-26 13:06 +0000  carol  snapshot" in tty_show
    from mydb_tui.model.dates import local_time, zoned_iso

    moment = engine_on(root).version("acme", "config", v4).date
    assert local_time(moment, seconds=False, utc=True) == "2026-11-26 13:06 +0000"
    assert zoned_iso(moment, utc=True) == "2026-11-26T13:06:07+00:00"


def test_license_metadata_is_an_spdx_string():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["license"] == "MIT"  # a TOML table is deprecated (setuptools >= 77)
    assert any(req.replace(" ", "").startswith("setuptools>=") and int(req.split(">=")[1].split(".")[0]) >= 77
               for req in data["build-system"]["requires"])
