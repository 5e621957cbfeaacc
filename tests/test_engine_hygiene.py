"""The engine has zero runtime dependencies and knows nothing of the TUI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine" / "dbengine"


def test_importing_every_engine_module_loads_only_the_standard_library() -> None:
    modules = sorted(p.stem for p in ENGINE.glob("*.py") if p.stem != "__init__")
    script = (
        "import importlib, sys\n"
        "before = set(sys.modules)\n"  # interpreter start-up hooks (.pth files) are not ours
        f"for name in {modules!r}:\n"
        "    importlib.import_module('dbengine.' + name)\n"
        "stdlib = sys.stdlib_module_names\n"
        "foreign = sorted({m.split('.')[0] for m in set(sys.modules) - before} - stdlib - {'dbengine'})\n"
        "print(' '.join(foreign))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == [], f"the engine imported {result.stdout.strip()}"
    assert "s3storage" in modules  # boto3 is imported only when an s3:// root is opened
