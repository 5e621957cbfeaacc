"""A swap's new head bytes spliced into the old ones (`heads.splice_head`) are exactly what
encoding the new map whole gives, for entry names that look like JSON structure (quotes,
backslashes, commas, colons, braces), non-ASCII names, and entries sharing one digest; a
name that is not plain UTF-8 or a head written elsewhere is encoded whole."""

from __future__ import annotations

import json

from dbengine.heads import splice_head
from dbengine.utils import strict_loads, to_json_bytes, to_json_bytes_utf8
from hypothesis import given, settings
from hypothesis import strategies as st

T = "tenant_1"
DIGESTS = ["a" * 64, "b" * 64, "0123456789abcdef" * 4]
TRICKY = ['a', '"a', 'x"a', 'a\\', '\\', '",', ':', ',', '}', '{', '","a":"', 'a":"' + "a" * 64, 'é', '\n', 'a,', '\u2028']

names = st.one_of(st.sampled_from(TRICKY), st.text(alphabet='a",:\\{}é\n ', min_size=1, max_size=6))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, st.sampled_from(DIGESTS), max_size=8), names, st.sampled_from(DIGESTS + ["c" * 64]))
def test_a_splice_is_the_whole_encoding(head, entry, digest):
    data = to_json_bytes_utf8(head)
    new_head = dict(head)
    new_head[entry] = digest
    assert splice_head(data, entry, head.get(entry), digest) == to_json_bytes_utf8(new_head)


def test_every_tricky_name_against_every_other_sharing_its_digest():
    for entry in TRICKY:
        head = {name: "a" * 64 for name in TRICKY}  # one digest for all: only the key tells them apart
        new_head = {**head, entry: "b" * 64}
        spliced = splice_head(to_json_bytes_utf8(head), entry, "a" * 64, "b" * 64)
        assert spliced == to_json_bytes_utf8(new_head) and strict_loads(spliced) == new_head


def test_names_that_are_not_plain_utf8_are_not_spliced():
    head = {"\ud800": "a" * 64}
    assert splice_head(to_json_bytes(head), "\ud800", "a" * 64, "b" * 64) is None


def test_a_swap_after_a_head_written_elsewhere_encodes_it_whole(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", "b", {"n": 0})
    engine.save(T, "alice", "a", {"n": 0})
    head = engine.heads.head(T, fresh=True)
    # another program's head: the same map, spaces and another key order (not this engine's bytes)
    engine.storage.checkpoint(T)
    with open(engine.storage.head_path(T), "w") as handle:
        json.dump(dict(reversed(list(head.items()))), handle, indent=1)
    other = make_engine(engine.root, durable=True)
    digest = other.save(T, "alice", "a", {"n": 1})
    data = other.storage.read_head(T)[0]
    assert data == to_json_bytes({"a": digest, "b": head["b"]})  # encoded whole, in the file's key order
    again = other.save(T, "alice", "c", {"n": 2})  # now spliced (a new entry goes last)
    assert other.storage.read_head(T)[0] == to_json_bytes({"a": digest, "b": head["b"], "c": again})
