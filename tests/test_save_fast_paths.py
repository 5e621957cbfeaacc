"""The save path's fast forms give exactly what their general paths give: the index line of
a commit (encode_commit vs encode_lines of version_from_document), the change summary of
flat objects (flat_changes vs the walk), the snapshot metadata bytes (snapshot_meta vs
to_json_bytes of the envelope), the JSON text (json_text vs the stdlib encoder), the
change-set field, and IndexState.add_line vs add_chunk of the parsed line."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import time

import pytest
from dbengine import ChangeSummary, index_format
from dbengine.changesets import LEAF_CAP, _TooMany, _walk, flat_changes, snapshot_changes
from dbengine.commits import snapshot_meta
from dbengine.index_format import encode_commit, encode_lines, parse_index
from dbengine.index_state import IndexState
from dbengine.layout import envelope
from dbengine.summaries import snapshot_summary, walked_summary
from dbengine.utils import (
    _ENCODE,
    format_date,
    json_text,
    now_local,
    to_json_bytes,
    to_json_bytes_utf8,
)
from dbengine.versions import version_from_document
from hypothesis import given, settings
from hypothesis import strategies as st

DIGEST_A, DIGEST_B = "a" * 64, "0123456789abcdef" * 4
_DATE_TEXT = re.compile(r"[0-9]{8} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}")

names = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["bench", "", '"', "\\", "é", "😀", "\ud800", "\x00", "\x1f", "a\tb", "~/", "x" * 201, " u "]),
)
dates = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 3), max_value=dt.datetime(9999, 12, 29),
                 timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30)),
                                            dt.timezone(dt.timedelta(hours=14))])).map(format_date),
    st.sampled_from(["", "20261306 25:00:00 +0000", "not a date", "00000101 00:00:00 +0000"]),
    st.integers(),
)
digests_or_junk = st.one_of(st.none(), st.sampled_from([DIGEST_A, DIGEST_B, "", "A" * 64, "g" * 64, "a" * 63]),
                            st.integers(0, 3))
change_sets = st.one_of(
    st.none(),
    st.lists(names, max_size=6).map(tuple),
    st.just(tuple(f"/k{i}" for i in range(index_format.CHANGES_MAX_KEYS + 1))),
    st.just(("x" * (index_format.CHANGES_MAX_BYTES + 1),)),
)
summaries = st.one_of(st.none(), st.builds(ChangeSummary, st.integers(0, 9), st.integers(0, 9), st.integers(0, 9),
                                           change_sets))


@settings(max_examples=400, deadline=None)
@given(user=names, date=dates, parents=st.lists(digests_or_junk, min_size=1, max_size=3), restored=digests_or_junk,
       summary=summaries, crc=st.integers(0, 2**32 - 1), position=st.integers(0, 10**7))
def test_a_commit_line_is_what_encode_lines_writes(user, date, parents, restored, summary, crc, position):
    if parents[0] is not None and type(parents[0]) is not str:
        parents[0] = DIGEST_B  # (the first parent's type is checked when an object is parsed)
    document = {"__kind__": "snapshot", "__parent__": parents, "__user_id__": user, "__date__": date}
    if restored is not None:
        document["__restored_from__"] = restored
    document["__data__"] = {}
    try:
        expected = encode_lines([version_from_document(DIGEST_A, document, summary)], crc, position)
    except (UnicodeEncodeError, TypeError) as exc:
        with pytest.raises(type(exc)):
            encode_commit(DIGEST_A, document, summary, crc, position)
        return
    assert encode_commit(DIGEST_A, document, summary, crc, position) == expected
    assert encode_commit(DIGEST_A, document, summary, crc, position) == expected  # (kept texts: the same again)


def test_a_commit_line_parses_back_into_the_index():
    document = envelope("snapshot", DIGEST_B, "ünï \"user\"", "20261206 08:00:00 +0100", restored_from=DIGEST_B)
    line, crc = encode_commit(DIGEST_A, document, ChangeSummary(1, 2, 3, ("/a", "/b~1c")), 0, 0)
    chunk = parse_index(line)
    assert chunk.digests == [DIGEST_A] and chunk.parents == [DIGEST_B] and chunk.crc == crc and chunk.clean
    state = IndexState()
    state.add_chunk(chunk)
    version = state.version(0)
    assert version.restored_from == DIGEST_B and version.user_id == "ünï \"user\"" and version.damage is None
    assert state.changes(0) == ("/a", "/b~1c")


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, -0.0, 1.0, 2.5, 10**20]),
                         st.text(max_size=4), st.just(True), st.just(1))
json_values = st.recursive(json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children, max_size=3),
    st.builds(lambda items: {"__special__": "tuple", "items": items}, st.lists(children, max_size=2))), max_leaves=8)
keys = st.one_of(st.text(max_size=3), st.sampled_from(["~", "/", "a/b", "~1", "__special__"]))
flat_docs = st.dictionaries(keys, json_values, max_size=8)


def _same_summary(a: ChangeSummary, b: ChangeSummary) -> bool:
    return (a.added, a.changed, a.removed, a.keys) == (b.added, b.changed, b.removed, b.keys)


@settings(max_examples=200, deadline=None)
@given(old=flat_docs, new=flat_docs, edits=st.lists(st.tuples(keys, json_values), max_size=4))
def test_the_summary_of_flat_objects_is_the_walked_one(old, new, edits):
    derived = dict(old)  # a save changes a few keys of its head's value: share the rest
    for key, value in edits:
        derived[key] = value
    for a, b in ((old, new), (old, derived), (derived, old), (old, dict(old)), (old, dict(reversed(old.items())))):
        assert _same_summary(snapshot_summary(a, b), walked_summary(a, b))
        fast = flat_changes(a, b) if "__special__" not in a and "__special__" not in b else None
        if fast is not None:
            assert fast[3] == snapshot_changes(a, b)


def test_the_flat_summary_leaves_walks_and_caps_to_the_general_path():
    many = {f"k{i}": i for i in range(LEAF_CAP + 5)}
    assert flat_changes(many, {k: v + 1 for k, v in many.items()}) is None  # the walk gives up at LEAF_CAP
    assert flat_changes({"a": {"x": 1}}, {"a": {"x": 2}}) is None  # the walk goes inside
    assert flat_changes({"a": [1, 2]}, {"a": [1, 3]}) is None
    assert flat_changes({"a": 1}, {"a": 1.0}) == (0, 0, 0, ("/a",))  # equal, written differently
    assert flat_changes({"a": 1}, {"a": 1}) is None
    for count in range(LEAF_CAP - 2, LEAF_CAP + 3):  # around the cap, with removed and added keys before
        for extra in (0, 1, 3):
            a = {**{f"r{i}": i for i in range(extra)}, **{f"k{i}": i for i in range(count)}}
            b = {**{f"k{i}": -i - 1 for i in range(count)}, **{f"n{i}": i for i in range(extra)}}
            assert _same_summary(snapshot_summary(a, b), walked_summary(a, b)), (count, extra)
    added = {f"n{i}": i for i in range(LEAF_CAP + 5)}  # only additions: the walk does not cap them either
    assert flat_changes({}, added) == (len(added), 0, 0, tuple(f"/{k}" for k in added))
    assert flat_changes({}, added)[3] == snapshot_changes({}, added)
    nan = math.nan
    shared = {"x": nan}  # the same NaN object on both sides: counted changed by `!=`, not in the change set
    assert _same_summary(snapshot_summary(shared, {"x": nan, "y": 1}), walked_summary(shared, {"x": nan, "y": 1}))


@settings(max_examples=300, deadline=None)
@given(parent=st.one_of(st.none(), st.just(DIGEST_A), st.sampled_from(["", "a\"b" * 21 + "c", "é" * 64])),
       user=names, date=st.one_of(dates.filter(lambda d: type(d) is str), st.sampled_from(['2"', "a\\b", "\x7f"])))
def test_snapshot_metadata_bytes_are_the_envelopes(parent, user, date):
    expected = to_json_bytes_utf8(envelope("snapshot", parent, user, date))
    made = snapshot_meta(parent, user, date)
    assert made is None or made == expected
    engines_own = parent in (None, DIGEST_A) and not any(0xD800 <= ord(c) <= 0xDFFF for c in user) \
        and _DATE_TEXT.fullmatch(date) is not None
    if engines_own:  # what a save writes always takes the fast form
        assert made == expected


@settings(max_examples=400, deadline=None)
@given(value=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(),
              st.sampled_from(["\ud800", "\u2028", "é"])),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(st.text(max_size=4), st.integers(), st.booleans(), st.none()),
                                               children, max_size=4)), max_leaves=12))
def test_json_text_is_the_stdlib_encoders(value):
    try:
        expected = _ENCODE(value)
    except ValueError as exc:
        with pytest.raises(ValueError, match=str(exc)[:20]):
            json_text(value)
        return
    assert json_text(value) == expected
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in expected):
        assert to_json_bytes(value) == to_json_bytes_utf8(value) == expected.encode("utf-8")


def test_json_text_reports_cycles_and_unknown_types_as_the_stdlib():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference detected"):
        json_text({"a": cycle})
    with pytest.raises(TypeError, match="is not JSON serializable"):
        json_text({"a": object()})
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        json_text(deep)


@settings(max_examples=300, deadline=None)
@given(first=change_sets, second=change_sets, as_list=st.booleans())
def test_the_change_set_field_is_the_compact_json(first, second, as_list):
    for keys in (first, second, first, list(second) if as_list and second is not None else second):
        summary = ChangeSummary(keys=keys)
        if keys is None or len(keys) > index_format.CHANGES_MAX_KEYS:
            expected = "-"
        else:
            text = json.dumps(list(keys), separators=(",", ":"))
            expected = text if len(text) <= index_format.CHANGES_MAX_BYTES else "-"
        assert index_format.changes_field(summary) == expected


@settings(max_examples=100, deadline=None)
@given(count=st.integers(1, 6), ask=st.booleans())
def test_add_line_is_add_chunk_of_the_parsed_line(count, ask):
    document = envelope("snapshot", None, "u", "20261206 08:00:00 +0000")
    by_line, by_chunk, parent = IndexState(), IndexState(), None
    for i in range(count):
        digest = f"{i:064x}"
        document["__parent__"] = [parent]
        line, crc = encode_commit(digest, document, ChangeSummary(1, 0, 0, ("",)), by_line.crc, len(by_line))
        if ask:
            by_line.position(DIGEST_A)  # a position map built before the append is kept current
        by_line.add_line(digest, parent, line[130:-1].decode("ascii"), len(line), crc)
        by_chunk.add_chunk(parse_index(line, by_chunk.crc))
        parent = digest
    assert (by_line.digests, by_line.parents, by_line.tails, by_line.offset, by_line.crc) == \
        (by_chunk.digests, by_chunk.parents, by_chunk.tails, by_chunk.offset, by_chunk.crc)
    assert [by_line.position(d) for d in by_line.digests] == list(range(count))
    assert by_line.versions_between(0, count) == by_chunk.versions_between(0, count)


def _reference_walk(a, b, pointer, out):
    """The change-set walk as first written (changesets._walk before its inlining), kept as the reference."""
    if len(out) > LEAF_CAP:
        raise OverflowError
    special = lambda v: type(v) is dict and "__special__" in v  # noqa: E731
    if type(a) is dict and type(b) is dict and not special(a) and not special(b):
        for key in a:
            if key not in b:
                out.append(f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}")
        for key, value in b.items():
            if key not in a:
                out.append(f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}")
            elif a[key] is not value and (a[key] != value or type(a[key]) is not type(value)):
                _reference_walk(a[key], value, f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}", out)
        return
    if type(a) is list and type(b) is list and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x is not y and (x != y or type(x) is not type(y)):
                _reference_walk(x, y, f"{pointer}/{i}", out)
        return
    out.append(pointer)
    if len(out) > LEAF_CAP:
        raise OverflowError


@settings(max_examples=300, deadline=None)
@given(old=json_values, new=json_values, wide=st.integers(0, 80))
def test_the_walk_gives_the_reference_pointers(old, new, wide):
    pairs = [(old, new), ({"a~/b": old, "x": [old] * 3}, {"a~/b": new, "x": [old, new, old]}),
             ({f"k/{i}": i for i in range(wide)}, {f"k/{i}": [i] for i in range(wide)})]
    for a, b in pairs:
        out: list = []
        try:
            _reference_walk(a, b, "", out)
            expected = out
        except OverflowError:
            expected = None  # both give up: snapshot_changes then names the top-level keys
        mine: list = []
        try:
            _walk(a, b, "", mine)
        except _TooMany:
            mine = None
        assert mine == expected


@pytest.mark.parametrize("zone", [None, "America/New_York", "Asia/Kolkata", "Europe/Paris"])
def test_the_default_clock_is_now_astimezone(zone):
    """now_local keeps its zone objects: the same offset and zone name as astimezone() gives."""
    before = os.environ.get("TZ")
    try:
        if zone is not None:
            os.environ["TZ"] = zone
            time.tzset()
        for _ in range(2):  # (the second call takes the kept zone)
            mine, theirs = now_local(), dt.datetime.now().astimezone()
            assert (mine.utcoffset(), mine.tzname()) == (theirs.utcoffset(), theirs.tzname())
            assert abs((theirs - mine).total_seconds()) < 5
            assert format_date(mine) in (format_date(theirs), format_date(theirs - dt.timedelta(seconds=1)))
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_the_default_clock_follows_a_dst_switch_and_a_zone_change_in_one_process(monkeypatch):
    """The kept zones are per (offset, name): a process living across a DST switch, or whose
    TZ changes (tzset), gets the offset of each moment, as astimezone() does."""
    from dbengine import utils
    switch = dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC).timestamp()  # Europe/Paris: 02:00 CET -> 03:00 CEST
    fold = dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC).timestamp()  # 03:00 CEST -> 02:00 CET
    before = os.environ.get("TZ")
    try:
        for zone in ("Europe/Paris", "America/New_York", "Europe/Paris"):
            os.environ["TZ"] = zone
            time.tzset()
            for moment in (switch - 1, switch, switch + 1, fold - 1800, fold, fold + 1800):
                monkeypatch.setattr(utils.time, "time", lambda m=moment: m)
                mine, theirs = now_local(), dt.datetime.fromtimestamp(moment).astimezone()
                assert (mine.utcoffset(), mine.tzname(), mine.timestamp()) == \
                    (theirs.utcoffset(), theirs.tzname(), theirs.timestamp())
    finally:
        monkeypatch.undo()
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
