"""Issue 15 §1: the tag strings come from dbengine.serializer, never retyped in mydb_tui."""

from __future__ import annotations

import ast
from pathlib import Path

from dbengine import serializer

import mydb_tui
from mydb_tui.model.badged import child, has_value, value_at
from mydb_tui.model.values import is_plain_dict, is_special

TAGS = {serializer.SPECIAL, serializer.DIGEST, *serializer.BUILTIN_TAGS}


def test_no_module_of_mydb_tui_spells_a_tag_itself() -> None:
    """Every string constant equal to a tag (`"__special__"`, `"py/dict"`...) is a copy; f-strings
    and docstrings that mention one are not constants equal to it."""
    found = []
    for path in Path(mydb_tui.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in TAGS:
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not found, f"use the constants of dbengine.serializer: {found}"


def test_plain_and_tagged_dicts() -> None:
    assert is_plain_dict({"a": 1}) and is_plain_dict({})
    tagged = {serializer.SPECIAL: serializer.TAG_TUPLE, "items": [1]}
    assert not is_plain_dict(tagged) and is_special(tagged)
    assert not is_plain_dict([1]) and not is_plain_dict(None)


def test_walking_a_path_into_a_stored_value() -> None:
    root = {"a": [10, {"b": None}]}
    assert value_at(root, ("a", 1, "b")) is None and has_value(root, ("a", 1, "b"))
    assert value_at(root, ("a", 0)) == 10 and has_value(root, ("a", -1))
    assert not has_value(root, ("a", 2)) and not has_value(root, ("x",)) and not has_value(root, ("a", "0"))
    assert value_at(root, ("a", 5, "b")) is None
    assert child(root, "a") is root["a"] and not has_value(child(root, "zz"), ())  # the marker is no value
