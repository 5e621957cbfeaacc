"""Fixtures of the CLI tests: sample databases shared per module (helpers in cli_helpers.py)."""

from __future__ import annotations

from typing import Any

import pytest
from cli_helpers import build_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict[str, Any]:
    """A sample database (read-only for the tests of one module): {"root", "config", "users", "ref"}."""
    root = str(tmp_path_factory.mktemp("sample") / "db")
    return {"root": root, **build_sample(root)}
