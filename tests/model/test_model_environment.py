"""Issue 15 §1: the CLI and the TUI find the same database and the same user."""

from __future__ import annotations

import getpass

import pytest

from mydb_tui import __main__ as tui_main
from mydb_tui.cli import args as cli_args
from mydb_tui.model import environment
from mydb_tui.model.environment import DEFAULT_ROOT, UNKNOWN_USER, default_root, default_user


def test_mydb_root_names_the_database_of_both_front_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYDB_ROOT", "/somewhere/db")
    assert default_root() == "/somewhere/db"
    assert cli_args.parse(["tenants"]).root == "/somewhere/db"
    opened: list[str] = []

    def make_app(root: str, **_kwargs: object) -> object:
        opened.append(root)
        raise KeyboardInterrupt  # stop before any terminal is taken

    monkeypatch.setattr(tui_main, "make_app", make_app)
    assert tui_main.main(["--user", "tester"]) == 130
    assert opened == ["/somewhere/db"]
    opened.clear()
    assert tui_main.main(["/given", "--user", "tester"]) == 130  # an argument wins over $MYDB_ROOT
    assert opened == ["/given"]


def test_without_mydb_root_both_use_the_default_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in (None, ""):
        if value is None:
            monkeypatch.delenv("MYDB_ROOT", raising=False)
        else:
            monkeypatch.setenv("MYDB_ROOT", value)
        assert default_root() == DEFAULT_ROOT == ".mytools_db"
        assert cli_args.parse(["tenants"]).root == DEFAULT_ROOT


def test_default_user_is_the_login_name_or_unknown_for_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    assert default_user() == "alice"
    assert cli_args.parse(["tenants"]).user == "alice"

    def no_login() -> str:
        raise OSError("no username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_login)
    assert default_user() == UNKNOWN_USER == "unknown"
    assert cli_args.parse(["tenants"]).user == UNKNOWN_USER
    assert tui_main.default_user is environment.default_user  # the TUI's make_app falls back to it too
