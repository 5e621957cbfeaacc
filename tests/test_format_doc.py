"""docs/FORMAT.md stays true: its worked example (section 13) is rebuilt from its own
script and compared file by file, and its verifier (section 11) accepts the result."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = (Path(__file__).resolve().parents[1] / "docs" / "FORMAT.md").read_text(encoding="utf-8")


def _section(number: int) -> str:
    start = DOC.index(f"\n## {number}. ")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else len(DOC)]


def _blocks(text: str) -> list[str]:
    return re.findall(r"```(?:python|json)?\n(.*?)```", text, re.S)


def test_the_worked_example_is_what_its_script_writes(tmp_path):
    example = _section(13)
    script = _blocks(example)[0]
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, timeout=120)
    root = tmp_path / "example_db"
    files = sorted(str(p.relative_to(tmp_path)) for p in root.rglob("*") if p.is_file())
    assert _blocks(example)[1].split() == files
    contents = {str(p.relative_to(tmp_path)): p.read_bytes().decode("utf-8", "replace")  # the journal is binary
                for p in root.rglob("*") if p.is_file()}
    for block in _blocks(example)[2:-1]:
        for piece in re.split(r"\n?[0-9a-f]{8}…  \(bucket [0-9a-f]{2}\)\n", block.replace("→", "\t")):
            lines = [line for line in piece.splitlines() if line]
            if not lines:
                continue
            if all(line.startswith("{") and line.endswith("}") for line in lines) and len(lines) > 1 and '"bucket"' not in piece:
                found = [any(line == text.strip() for text in contents.values()) for line in lines]
            else:
                found = [any(piece.strip() == text.strip() for text in contents.values())]
            assert all(found), piece[:200]
    listing = _blocks(example)[-1].splitlines()[1:]
    sums = subprocess.run("find . -type f \\( -path '*objects/*' -o -path '*refs/*' \\) | sort | xargs sha256sum",
                          shell=True, cwd=root, capture_output=True, text=True, check=True).stdout.splitlines()
    assert listing == sums
    verifier = _blocks(_section(11))[0]
    result = subprocess.run([sys.executable, "-c", verifier, str(root)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert result.stdout.strip() == "ok", result.stdout + result.stderr
