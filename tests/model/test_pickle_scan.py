"""pickle_globals names what a pickle would import, without running it."""

from __future__ import annotations

import collections
import datetime as dt
import os
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from mydb_tui.model import pickle_globals


class Evil:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_a_malicious_pickle_is_named_and_not_run(tmp_path):
    target = tmp_path / "pwned"
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps(Evil(str(target)), protocol=protocol)
        names = pickle_globals(data)
        assert names == [f"{os.system.__module__}.system"], (protocol, names)
    assert not target.exists()


def test_classes_of_ordinary_values_in_every_protocol():
    value = {"when": dt.date(2026, 1, 2), "seen": collections.OrderedDict(a=1), "n": [1.5, "x"]}
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        names = pickle_globals(pickle.dumps(value, protocol=protocol))
        assert "datetime.date" in names and "collections.OrderedDict" in names, (protocol, names)
    assert pickle_globals(pickle.dumps([1, 2, "plain"])) == []


def test_memoized_strings_in_stack_global():
    # The same class twice: protocol 4 reuses memoized module/name strings.
    data = pickle.dumps([dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.time(1, 2)], protocol=4)
    assert pickle_globals(data) == ["datetime.date", "datetime.time"]


def test_inst_opcode():
    data = b"(ios\nsystem\n(S'echo hi'\ntR."  # protocol-0 INST: module name on one line
    assert pickle_globals(data) == ["os.system"]


def test_truncated_data_keeps_what_was_found():
    data = pickle.dumps(Evil("/nonexistent/x"), protocol=2)
    assert pickle_globals(data[: data.index(b"system") + 8]) == [f"{os.system.__module__}.system"]
    assert pickle_globals(b"") == []
    assert pickle_globals(b"not a pickle at all") == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_never_raises_on_arbitrary_bytes(data):
    assert isinstance(pickle_globals(data), list)
