"""Index lines (docs/FORMAT.md section 10): what is written is read back exactly, whole or
line by line, and the CRC chain stops at the first altered byte."""

from __future__ import annotations

import datetime as dt
import hashlib

from dbengine import ChangeSummary, Version
from dbengine.index_format import build_versions, encode_lines, parse_index
from hypothesis import example, given, settings
from hypothesis import strategies as st

digests = st.binary(min_size=1, max_size=8).map(lambda b: hashlib.sha256(b).hexdigest())
zones = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
dates = st.builds(lambda s, tz: dt.datetime(2020, 1, 1, tzinfo=tz) + dt.timedelta(seconds=s),
                  st.integers(0, 10**9), zones)
summaries = st.none() | st.builds(ChangeSummary, st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6))
users = st.text()  # tabs, newlines, quotes, lone surrogates: all escaped as JSON


@st.composite
def histories(draw) -> list[Version]:
    """A chain of versions; some have extra parents (merges, imports) or odd parent lists."""
    count = draw(st.integers(1, 12))
    chain, previous = [], None
    for _ in range(count):
        digest = draw(digests)
        extra = draw(st.lists(st.none() | digests, max_size=2))
        parents = [previous, *extra] if previous or not draw(st.booleans()) else []
        damage = draw(st.none() | st.text(max_size=20))  # damaged metadata: the date may be invalid
        date = draw(st.none() | dates) if damage is not None else draw(dates)
        chain.append(Version(digest, parents, draw(users), date,
                             draw(st.none() | digests), draw(summaries), damage))
        previous = digest
    return chain


def _read(data: bytes, crc: int = 0) -> list[Version]:
    chunk = parse_index(data, crc)
    assert chunk.clean and chunk.consumed == len(data)
    return build_versions(chunk.digests, chunk.parents, chunk.tails)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(histories())
@example([Version("a" * 64, [None], "u\t\n\"\\\ud800", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))])
def test_lines_read_back_exactly_whole_or_in_pieces(versions):
    data, crc = encode_lines(versions, 0)
    assert data.isascii() and data.count(b"\n") == len(versions)
    assert _read(data) == versions
    cut = len(versions) // 2
    head, middle = encode_lines(versions[:cut], 0)
    tail, end = encode_lines(versions[cut:], middle)
    assert head + tail == data and end == crc
    assert _read(head) + _read(tail, middle) == versions  # an append continues the chain


def test_one_altered_byte_ends_the_trusted_lines():
    versions = [Version(hashlib.sha256(b"%d" % i).hexdigest(), [None], f"user{i}",
                        dt.datetime(2026, 1, 1, i, tzinfo=dt.UTC), None, ChangeSummary(1, 0, 0))
                for i in range(6)]
    data, _ = encode_lines(versions, 0)
    lines = data.splitlines(keepends=True)
    for i, line in enumerate(lines):
        for position in range(0, len(line) - 1, 7):
            altered = bytearray(data)
            altered[sum(map(len, lines[:i])) + position] ^= 0x01
            chunk = parse_index(bytes(altered))
            assert not chunk.clean
            # the line before a bad one is dropped too: it may carry a forged CRC
            assert len(chunk.digests) == max(i - 1, 0)
            assert chunk.digests == [v.digest for v in versions[: len(chunk.digests)]]


def test_a_partial_last_line_is_not_damage():
    versions = [Version("b" * 64, [None], "u", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))]
    data, _ = encode_lines(versions, 0)
    chunk = parse_index(data + data[:40])
    assert chunk.clean and chunk.consumed == len(data) and chunk.digests == ["b" * 64]
