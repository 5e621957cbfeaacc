"""Import DeepDiff without its optional integrations (pandas, numpy, polars, pydantic, torch).

The comparison model gives DeepDiff stored JSON values only (dict, list, str, int, float,
bool, None), so those integrations are never used; when they happen to be installed,
DeepDiff imports them anyway, and pandas alone adds about 0.25 s to the first compare.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

OPTIONAL = ("pandas", "numpy", "polars", "pydantic", "torch")
_lock = threading.Lock()
_hide_optional = True


def keep_optional_imports() -> None:
    """Import DeepDiff plainly: call it when user code (handlers, trusted pickles) may
    import the OPTIONAL modules in another thread while DeepDiff loads."""
    global _hide_optional
    _hide_optional = False


def import_deepdiff() -> Any:
    """The DeepDiff class; its first import hides the OPTIONAL modules not yet imported
    (`import numpy` fails meanwhile, in every thread). Modules already imported stay."""
    with _lock:
        if "deepdiff" in sys.modules or not _hide_optional:
            from deepdiff import DeepDiff

            return DeepDiff
        hidden = [name for name in OPTIONAL if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
        try:
            from deepdiff import DeepDiff
        finally:
            for name in hidden:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
        return DeepDiff
