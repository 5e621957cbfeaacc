"""The user's settings file (the chosen theme, kept between runs): where it is, read and written whole."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def settings_path() -> Path:
    """The settings file in the user's config folder: $XDG_CONFIG_HOME (or ~/.config)/mydb-tui/settings.json."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mydb-tui" / "settings.json"


def read_settings(path: Path) -> dict[str, Any]:
    """The settings saved at `path`; {} when there are none or they cannot be read."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def write_settings(path: Path, settings: dict[str, Any]) -> None:
    """Save `settings` at `path` (whole or not at all: a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)
