"""DeepDiff is imported without pandas/numpy (unused on JSON values), unless user code may need them."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("pandas")  # the test extras install it; without it there is nothing to hide

PROBE = """
import sys
{setup}
import mydb_tui.model.compare as compare
loaded = sorted(name for name in ("pandas", "numpy") if name in sys.modules)
changes = compare._deep_changes({{"a": 1, "b": [1, 2]}}, {{"a": True, "b": [1, 3]}})
import numpy, pandas  # still importable afterwards
print(loaded, sorted((path, kind) for path, kind, _old, _new in changes))
"""


def probe(setup: str = "") -> str:
    result = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.strip()


def test_the_comparison_model_does_not_import_pandas_or_numpy():
    assert probe() == "[] [(('a',), 'changed'), (('b', 1), 'changed')]"


def test_keep_optional_imports_lets_deepdiff_import_them():
    setup = "from mydb_tui.model.lean_import import keep_optional_imports; keep_optional_imports()"
    assert probe(setup) == "['numpy', 'pandas'] [(('a',), 'changed'), (('b', 1), 'changed')]"
