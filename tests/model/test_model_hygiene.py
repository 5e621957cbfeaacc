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


def test_every_model_module_loads_without_textual_or_rich():
    """The layer both front-ends share (escaping, defaults, entries, tags...) stays UI-free."""
    code = (
        "import importlib, pkgutil, sys, mydb_tui.model as m\n"
        "names = [i.name for i in pkgutil.iter_modules(m.__path__)]\n"
        "for name in names: importlib.import_module('mydb_tui.model.' + name)\n"
        "loaded = sorted(x for x in sys.modules if x.split('.')[0] in ('textual', 'rich'))\n"
        "print(len(names), loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, loaded = out.stdout.strip().split(" ", 1)
    assert int(count) >= 15 and loaded == "[]", out.stdout
