"""Decoding data the engine does not trust runs no code of the classes it names."""

from __future__ import annotations

import enum
from pathlib import Path

import pytest
from dbengine.errors import DeserializationError
from dbengine.serializer import Serializer

MARKS: list[str] = []


class Evil:
    def __hash__(self) -> int:
        MARKS.append("hash")
        return 1

    def __eq__(self, other: object) -> bool:
        MARKS.append("eq")
        return False


class Color(enum.Enum):
    RED = 1

    @classmethod
    def _missing_(cls, value: object) -> Color:
        MARKS.append("missing")
        return cls.RED


def _obj(cls: type) -> dict:
    return {"__special__": "py/object", "class": f"{__name__}:{cls.__qualname__}", "state": {}}


HOSTILE = {
    "set item": {"__special__": "py/set", "items": [_obj(Evil)]},
    "frozenset item": {"__special__": "py/frozenset", "items": [_obj(Evil)]},
    "dict key in a tuple": {
        "__special__": "py/dict",
        "items": [[{"__special__": "py/tuple", "items": [1, _obj(Evil)]}, "v"]],
    },
    "enum value with _missing_": {"__special__": "py/enum", "class": f"{__name__}:Color", "value": 99},
}


@pytest.fixture(autouse=True)
def _clear_marks() -> None:
    MARKS.clear()


@pytest.mark.parametrize("stored", HOSTILE.values(), ids=HOSTILE.keys())
def test_untrusted_decode_refuses_and_runs_nothing(stored: dict) -> None:
    with pytest.raises(DeserializationError):
        Serializer(trust_pickle=False).decode(stored)
    assert MARKS == []


def test_trusted_decode_does_run_them_so_the_hostile_cases_are_real() -> None:
    trusted = Serializer(trust_pickle=True)
    trusted.decode(HOSTILE["set item"])
    assert trusted.decode(HOSTILE["enum value with _missing_"]) is Color.RED
    assert "hash" in MARKS and "missing" in MARKS


def test_untrusted_decode_keeps_plain_sets_keys_and_enum_members(tmp_path: Path) -> None:
    untrusted = Serializer(trust_pickle=False)
    assert untrusted.decode({"__special__": "py/enum", "class": f"{__name__}:Color", "value": 1}) is Color.RED
    value = {"__special__": "py/set", "items": [1, "a", {"__special__": "py/tuple", "items": [1, 2]}]}
    assert untrusted.decode(value) == {1, "a", (1, 2)}
    keys = {"__special__": "py/dict", "items": [[1, "one"], [{"__special__": "py/tuple", "items": [2]}, "two"]]}
    assert untrusted.decode(keys) == {1: "one", (2,): "two"}
