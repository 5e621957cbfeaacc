"""The model layer (and the demo) must work without Textual, for the CLI and tests."""

from __future__ import annotations

import subprocess
import sys


def test_model_and_demo_do_not_import_textual():
    code = (
        "import sys, mydb_tui.model, mydb_tui.model.compare, mydb_tui.demo, mydb_tui.demo_types; "
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')); "
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
