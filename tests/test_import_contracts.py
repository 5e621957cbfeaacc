"""The layer fences of pyproject.toml [tool.importlinter] hold: `lint-imports` keeps each contract.

One run of lint-imports checks them all (about a second); each contract is its own test so
a broken fence is named in the test report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
RUN = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

@pytest.fixture(scope="module")
def report() -> str:
    """The output of `lint-imports` on this checkout (its own packages first on the path)."""
    path = os.pathsep.join([str(ROOT / "engine"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", RUN, "--no-cache", "--no-logo"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True,
                            timeout=120)
    assert "Contracts:" in result.stdout, result.stdout + result.stderr  # it ran and checked
    return result.stdout


def status(report: str, name: str) -> str:
    """KEPT or BROKEN: what the report says of the contract called `name`."""
    found = [line.removeprefix(name).strip() for line in report.splitlines() if line.startswith(name + " ")]
    assert len(found) == 1 and found[0] in ("KEPT", "BROKEN"), (name, report)
    return found[0]


@pytest.mark.parametrize("contract", [pytest.param(c, id=c["id"]) for c in CONTRACTS])
def test_contract_is_kept(report: str, contract: dict) -> None:
    assert status(report, contract["name"]) == "KEPT", report[report.find("Broken contracts"):]


def test_the_fences_asked_for_are_there() -> None:
    kinds = {(c["type"], tuple(c.get("source_modules", c.get("ancestors", [])))) for c in CONTRACTS}
    assert ("forbidden", ("dbengine",)) in kinds and ("forbidden", ("mydb_tui.model",)) in kinds
    assert ("forbidden", ("mydb_tui.cli",)) in kinds and ("forbidden", ("mydb_tui.widgets",)) in kinds
    assert ("acyclic_siblings", ("dbengine", "mydb_tui")) in kinds
    layers = {c["id"]: c.get("layers") for c in CONTRACTS if c["type"] == "layers"}
    assert layers["local-storage-layers"] == ["dbengine.storage", "dbengine.local_objects | dbengine.local_index",
                                              "dbengine.journal_store", "dbengine.journal_checkpoint",
                                              "dbengine.kept_journals | dbengine.tenant_lock | dbengine.root_files",
                                              "dbengine.safe_files"]
    assert layers["s3-storage-layers"] == ["dbengine.s3storage", "dbengine.s3index | dbengine.s3packs",
                                           "dbengine.s3requests"]
