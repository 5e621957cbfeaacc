"""`mydb blame`'s fast output paths say exactly what the generic ones say: blame_json is
json.dumps(indent=2) text, blame_lines is Output.table's piped text, hostile names and
users escaped the same way."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys

from dbengine import Version

from mydb_tui.cli.commands.history import _safe, blame_json, blame_lines
from mydb_tui.cli.output import Column, Output, to_json

V1 = Version("a" * 64, [None], "al\u202eice\"\x7f", dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC))
V2 = Version("b" * 64, ["a" * 64], "bob", None)
BLAMED = {"k\n1": V1, "é\x1b[31m": V2, "plain": V1, "\U0001F600": V2}


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def test_blame_json_is_the_indented_dump() -> None:
    for blamed in (BLAMED, {}):
        for field in ("key", "path"):
            document = {"tenant": "t", "entry": "e", "head": "h", "lines": [
                {field: name, "digest": v.digest, "user": v.user_id, "date": iso(v.date)} for name, v in blamed.items()]}
            text = blame_json("t", "e", "h", field, blamed, iso)
            assert text == json.dumps(document, indent=2, ensure_ascii=False)
            assert _safe(text) == to_json(document)
    assert _safe('{"a": "plain ascii"}') == '{"a": "plain ascii"}'


def test_blame_lines_are_the_piped_table(monkeypatch) -> None:
    rows = [[name, (v.digest, "yellow"), v.user_id, iso(v.date) or "invalid date"] for name, v in BLAMED.items()]
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    Output(tty=False).table([Column("key"), Column("digest"), Column("user"), Column("date")], rows)
    assert blame_lines(BLAMED, iso) == out.getvalue()
    assert "\x1b" not in out.getvalue() and "\u202e" not in out.getvalue()
    assert blame_lines({}, iso) == ""
