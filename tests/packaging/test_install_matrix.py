"""Each install brings what it promises and nothing more (README "Install").

The wheel goes into a fresh venv (made without pip: this interpreter's pip installs into it
with `--python`, from the package index pip is configured with, as `make test` installs):

- `pip install mydbengine`: the engine and `mydb`, and not one third-party package;
  `mydb-tui` says in one line what to install;
- `pip install 'mydbengine[tui]'`: `mydb-tui` works, and none of the test tools came along.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

TUI_PACKAGES = {"textual", "rich", "deepdiff", "tree-sitter", "tree-sitter-json"}
TEST_TOOLS = {"pytest", "pytest-xdist", "hypothesis", "boto3", "moto", "pandas", "numpy", "ruff",
              "build", "import-linter"}
ENGINE_ROUND_TRIP = r"""
import sys
import dbengine
from dbengine.dbengine import DbEngine
assert dbengine.__file__.startswith(sys.argv[2]), dbengine.__file__  # the installed engine
e = DbEngine(sys.argv[1])
e.init("t")
e.save("t", "u", "cfg", {"port": 80, "tags": ["a"]})
e.save("t", "u", "cfg", {"port": 8080, "tags": ["a", "b"]})
assert e.load("t", "cfg") == {"port": 8080, "tags": ["a", "b"]}, e.load("t", "cfg")
print("round trip ok")
"""


def clean_env() -> dict[str, str]:
    """This environment without what would put this checkout (or another path) before the venv's."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def fresh_venv(where: Path, wheel: Path, extras: str = "") -> Path:
    """A new venv at `where` with the wheel (and `extras`) installed: its bin folder."""
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-compile", f"{wheel}{extras}"], check=True, capture_output=True, timeout=600,
                   env=clean_env())
    return where / "bin"


def installed(bin_dir: Path) -> set[str]:
    """The names of the distributions installed in that venv (normalized: lower case, dashes)."""
    listing = subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "list",
                              "--format=json"], check=True, capture_output=True, text=True, timeout=120,
                             env=clean_env())
    return {re.sub(r"[-_.]+", "-", item["name"]).lower() for item in json.loads(listing.stdout)}


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A command of the venv, with nothing of this checkout on its path."""
    env = clean_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_engine_only_install_has_no_third_party_package(wheel: Path, tmp_path: Path) -> None:
    bin_dir = fresh_venv(tmp_path / "venv", wheel)
    assert installed(bin_dir) <= {"mydbengine", "pip", "setuptools"}

    helped = run(bin_dir, "mydb", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: mydb"), helped.stderr
    db = tmp_path / "db"
    trip = run(bin_dir, "python", "-c", ENGINE_ROUND_TRIP, str(db), str(tmp_path / "venv"), cwd=tmp_path)
    assert trip.returncode == 0 and "round trip ok" in trip.stdout, trip.stderr
    diff = run(bin_dir, "mydb", "--root", str(db), "diff", "t", "cfg", cwd=tmp_path)  # no DeepDiff
    assert (diff.returncode, diff.stderr) == (0, "")
    assert diff.stdout.splitlines() == ["~ ['port']: 80 → 8080", "+ ['tags'][1]: \"b\""]

    tui = run(bin_dir, "mydb-tui", "--help", cwd=tmp_path)
    assert tui.returncode == 2 and tui.stdout == "", tui
    assert tui.stderr.count("\n") == 1 and "pip install 'mydbengine[tui]'" in tui.stderr, tui.stderr


def test_tui_install_brings_the_tui_and_no_test_tools(wheel: Path, tmp_path: Path) -> None:
    bin_dir = fresh_venv(tmp_path / "venv", wheel, "[tui]")
    names = installed(bin_dir)
    assert TUI_PACKAGES <= names and not names & TEST_TOOLS, names

    helped = run(bin_dir, "mydb-tui", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: mydb-tui"), helped.stderr
    assert run(bin_dir, "mydb", "--help", cwd=tmp_path).returncode == 0
