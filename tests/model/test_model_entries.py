"""Issue 15 §2: the Entries pane's listing (filter, chunks, details cache) without Textual."""

from __future__ import annotations

from dbengine.dbengine import DbEngine

from mydb_tui.model.entries import EntryDetails, chunks, filter_names, matching_entries


def _engine(tmp_path) -> DbEngine:
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    for tenant in ("acme", "beta"):
        engine.init(tenant)
    engine.save("acme", "u", "Config", {"a": 1})
    engine.save("acme", "u", "users", {"b": 2})
    engine.save("beta", "u", "config-old", [1])
    return engine


def test_filter_is_a_case_insensitive_substring_and_empty_keeps_all() -> None:
    names = ["Config", "users", "reconfigure"]
    assert filter_names(names, "CONF") == ["Config", "reconfigure"]
    assert filter_names(names, "") == names
    assert filter_names(names, "zzz") == []


def test_matching_entries_per_tenant_and_cancel(tmp_path) -> None:
    engine = _engine(tmp_path)
    assert matching_entries(engine, ["acme", "beta"], "config") == {"acme": ["Config"], "beta": ["config-old"]}
    assert matching_entries(engine, ["acme", "beta"], "users") == {"acme": ["users"]}
    assert matching_entries(engine, ["acme", "no-such"], "c") == {"acme": ["Config"]}  # unreadable: left out
    assert matching_entries(engine, ["acme"], "c", cancelled=lambda: True) is None


def test_chunks_cover_every_name_once() -> None:
    names = [f"e{i}" for i in range(7)]
    pieces = list(chunks(names, 3))
    assert [start for start, _ in pieces] == [0, 3, 6]
    assert [n for _, chunk in pieces for n in chunk] == names
    assert list(chunks([], 3)) == []


def test_details_are_read_again_only_when_the_head_moved(tmp_path) -> None:
    engine = _engine(tmp_path)
    details = EntryDetails(engine)
    calls: list[str] = []
    read = engine.entry_info

    def counting(tenant: str, entry: str):
        calls.append(entry)
        return read(tenant, entry)

    engine.entry_info = counting  # type: ignore[method-assign]
    first = details.read("acme", "Config")
    assert (first.info.kind, first.info.versions, first.error) == ("snapshot", 1, None)
    assert details.read("acme", "Config").info is first.info and calls == ["Config"]
    engine.save("acme", "u", "Config", {"a": 2})
    again = details.read("acme", "Config")
    assert again.info.versions == 2 and calls == ["Config", "Config"]
    missing = details.read("acme", "nothing")
    assert missing.info is None and missing.error
