"""`mydb` of an engine-only install (`pip install mydbengine`: no Rich, DeepDiff, Textual):
the same results as with the `[tui]` extra, plain text on a terminal."""

from __future__ import annotations

import json
import subprocess
import sys

from cli_helpers import Result, batch_script, cli_env

from mydb_tui.cli.output import Column, Output

THIRD_PARTY = ("textual", "rich", "deepdiff", "tree_sitter", "tree_sitter_json")
BATCH = batch_script(
    before=r"""if sys.argv[1] == "block":  # `import rich` (and the others) raise ImportError, as when not installed
    for name in THIRD_PARTY:
        sys.modules[name] = None
""".replace("THIRD_PARTY", repr(THIRD_PARTY)),
    after=r"""loaded = sorted(n for n in THIRD_PARTY if sys.modules.get(n) is not None)
print(json.dumps({"results": results, "loaded": loaded}))
""".replace("THIRD_PARTY", repr(THIRD_PARTY)),
)

COMMANDS = [
    ["diff", "acme", "config"], ["diff", "acme", "config", "HEAD~3", "HEAD~1", "--json"],
    ["diff", "acme", "users"], ["diff", "acme", "users", "HEAD~2", "--json"], ["diff", "globex", "flags"],
    ["show", "acme", "config"], ["get", "acme", "users", "alice"], ["log", "acme", "config"],
    ["entries", "acme"], ["tenants"], ["verify"], ["export", "acme", "config"],
]


def run_batch(root: str, mode: str) -> tuple[list[Result], list[str]]:
    proc = subprocess.run([sys.executable, "-c", BATCH, mode], input=json.dumps(COMMANDS).encode(),
                          capture_output=True, env=cli_env(root), timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout)
    return [Result(*r) for r in data["results"]], data["loaded"]


def test_every_command_gives_the_same_results_without_third_party_modules(sample) -> None:
    blocked, loaded = run_batch(sample["root"], "block")
    assert loaded == []
    full, _ = run_batch(sample["root"], "full")
    for argv, alone, extra in zip(COMMANDS, blocked, full, strict=True):
        assert alone.rc in (0, 1) and "error" not in alone.err, (argv, alone)
        assert alone == extra, argv
    assert blocked[0].out.count("\n") == 4 and "~ ['port']: 9090 → 8080" in blocked[0].out


def test_a_terminal_without_rich_gets_aligned_plain_text(capsys) -> None:
    out = Output(tty=True, rich=False)
    out.table([Column("entry"), Column("versions", justify="right")],
              [["config", "12"], [("users\x1b[31m", "bold"), "7"]], title="acme")
    out.styled([("acme / config  ", "bold"), ("1a2b3c4", "yellow")])
    out.json({"a": [1]})
    assert capsys.readouterr().out.splitlines() == [
        "acme",
        "entry          versions",
        "config               12",
        "users\\x1b[31m         7",  # escaped as everywhere: no terminal control reaches the screen
        "acme / config  1a2b3c4",
        "{", '  "a": [', "    1", "  ]", "}",
    ]
