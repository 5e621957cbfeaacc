"""Issue 15 §2: the Entries pane's listing (filter, chunks, details cache) without Textual."""

from __future__ import annotations

import pytest
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


def test_list_entries_gives_what_each_entry_says(tmp_path) -> None:
    from mydb_tui.model.dates import zoned_iso, zoned_iso_texts
    from mydb_tui.model.entries import list_entries

    engine = _engine(tmp_path)
    engine.save("acme", "v", "users", {"b": 3})
    for _ in range(2):  # the entries cache built, then read
        listing = list_entries(DbEngine(engine.root), "acme", zoned_iso_texts)
        assert listing.names == ["Config", "users"] and listing.errors == [] and listing.damage is None
        for i, name in enumerate(listing.names):
            info = engine.entry_info("acme", name)
            head = engine.version("acme", name, info.head)
            assert (listing.kinds[i], listing.versions[i], listing.version_texts[i], listing.heads[i]) == \
                (info.kind, info.versions, str(info.versions), info.head)
            assert (listing.dates[i], listing.users[i]) == (zoned_iso(head.date), head.user_id)


def _moments(texts: list[str]) -> dict:
    import datetime as dt

    return {text: dt.datetime.fromisoformat(text) for text in texts}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_zoned_iso_texts_is_zoned_iso_of_each_date(zone, monkeypatch) -> None:
    """Across DST changes (Lord Howe moves by 30 minutes), in every offset, with and without
    --utc, and for texts isoformat() would write otherwise (space, fraction, Z): the bulk
    answer is the one-by-one answer."""
    import datetime as dt
    import time

    from mydb_tui.model.dates import zoned_iso, zoned_iso_texts

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        texts, local, plus_one, window = [], [], [], []
        for start in ("2026-03-29T00:00:00+00:00", "2026-10-25T00:00:00+00:00", "2026-04-04T14:00:00+00:00",
                      "2026-11-01T03:00:00+00:00", "2026-10-03T15:00:00+00:00"):
            base = dt.datetime.fromisoformat(start)
            for minutes in range(0, 6 * 60, 7):
                moment = base + dt.timedelta(minutes=minutes, seconds=minutes % 60)
                local.append(moment.astimezone().isoformat())  # as written on this machine: the fast path
                plus_one.append(moment.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat())  # one offset
                if start == "2026-10-03T15:00:00+00:00" and minutes < 60:  # Lord Howe changes at 15:30 UTC
                    hour_start = moment.replace(minute=0, second=0).astimezone().utcoffset()
                    window.append(moment.astimezone(dt.timezone(hour_start)).isoformat())
                texts += [moment.isoformat(), moment.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat()]
                for near in (moment - dt.timedelta(hours=1), moment, moment + dt.timedelta(hours=1)):
                    # in the local offset of this moment, or of the hour before or after (wrong across a change)
                    texts.append(moment.astimezone(dt.timezone(near.astimezone().utcoffset())).isoformat())
        odd = ["2026-01-01 10:00:00+00:00", "2026-01-01T10:00:00.500000+02:00", "2026-01-01T10:00:00Z",
               "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"]
        for chosen in (local, texts, texts + odd, odd, local + odd[:1], plus_one, plus_one[:40], plus_one[-40:], window):
            moments = {**_moments(chosen), "-": None}
            for utc in (False, True):
                assert zoned_iso_texts(moments, utc) == {text: zoned_iso(m, utc) for text, m in moments.items()}
    finally:
        monkeypatch.undo()
        time.tzset()
