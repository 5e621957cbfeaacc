"""`mydb demo PATH`, run through the installed console script (the one users type)."""

from __future__ import annotations

import os
import sys

import pytest
from cli_helpers import assert_error, mydb

SCRIPT = os.path.join(os.path.dirname(sys.executable), "mydb")


@pytest.mark.skipif(not os.path.exists(SCRIPT), reason="the mydb console script is not installed")
def test_demo_through_the_installed_script(tmp_path):
    path = str(tmp_path / "demo")
    built = mydb("demo", path, exe=[SCRIPT])
    assert (built.rc, built.err) == (0, ""), built.err
    assert "demo database built" in built.out
    tenants = mydb("tenants", "--json", exe=[SCRIPT], root=path).json()["tenants"]
    assert len(tenants) >= 3 and all(t["entries"] > 0 for t in tenants)
    again = mydb("demo", path, "--json", exe=[SCRIPT])
    assert again.rc == 0 and again.json() == {"path": path, "created": False}
    assert mydb("verify", exe=[SCRIPT], root=path).rc == 0


def test_demo_refuses_a_folder_that_is_not_a_database(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert_error(mydb("demo", str(tmp_path)), "refusing")
    assert os.listdir(tmp_path) == ["notes.txt"]
