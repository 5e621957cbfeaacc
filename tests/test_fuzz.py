"""Fuzzing with hypothesis: stored-form decoding and validation, names, commits, revisions, import.

Whatever the input, only DbEngineError subclasses come out, never another exception type.
Each test is sized to a few seconds; MYDB_STRESS=N multiplies its number of examples.
"""

from __future__ import annotations

import json
import os
import random

import pytest
from dbengine import errors, names
from dbengine.dbengine import DbEngine
from dbengine.records import bucket_of
from dbengine.serializer import Serializer, validate_stored
from dbengine.utils import compute_digest, to_json_bytes
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

STRESS = max(1, int(os.environ.get("MYDB_STRESS", "1") or 1))
# The default run (CI) explores the same examples every time, so a red build names a real
# regression; MYDB_STRESS>1 or MYDB_FUZZ_RANDOM=1 explores new ones (random seeds).
RANDOM = STRESS > 1 or os.environ.get("MYDB_FUZZ_RANDOM") == "1"
T = "fuzz"


def fuzz_settings(examples: int):
    return settings(max_examples=examples * STRESS, deadline=None, database=None, derandomize=not RANDOM,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


TAGS = ["py/tuple", "py/set", "py/frozenset", "py/dict", "py/bytes", "py/float", "py/object",
        "py/enum", "py/pickle", "py/int", "py/unknown", "user/tag", "", 3, None]
CLASSES = ["builtins:dict", "builtins:int", "collections:OrderedDict", "enum:Enum", "datetime:date",
           "decimal:Decimal", "fractions:Fraction", "pathlib:Path", "subprocess:Popen", "os:system",
           "builtins:eval", "re:Pattern", "uuid:UUID", "no.such:Thing", "bad path", "types:SimpleNamespace"]
KEYS = ["__special__", "items", "base64", "value", "class", "state", "hex", "__digest__", "a", "k"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(CLASSES), st.sampled_from(["nan", "inf", "0x1f", "-0x", "AAAA", "===", "0" * 64]),
)


def tagged(children):
    """Dicts that look like tags: a tag and fields the decoders read, filled at random."""
    return st.builds(
        lambda tag, fields: {"__special__": tag, **fields},
        st.sampled_from(TAGS),
        st.dictionaries(st.sampled_from(KEYS[1:]), children, max_size=4),
    )


stored_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5),
        tagged(children),
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> DbEngine:
    eng = DbEngine(str(tmp_path_factory.mktemp("fuzz") / "db"), durable=False, trust_pickle=False)
    eng.init(T)
    for i in range(3):
        eng.save(T, "u", "snap", {"i": i})
        eng.put(T, "u", "rec", f"k{i}", i)
    return eng


@fuzz_settings(400)
@given(value=stored_values, trusted=st.booleans())
def test_decode_raises_only_engine_errors(engine, value, trusted):
    serializer = Serializer(engine._write_ref, engine.read_ref, trust_pickle=trusted)
    try:
        serializer.decode(value)
    except errors.DbEngineError:
        pass


@fuzz_settings(400)
@given(value=stored_values)
def test_validate_stored_never_raises(engine, value):
    problems = validate_stored(value, engine.has_ref)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)


name_inputs = st.one_of(
    st.text(), st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=300),
    st.sampled_from(["", ".", "..", "/", "a/b", "\\", "\x00", "refs", " x", "x ", "a" * 201, "\udc80",
                     "0" * 64, "A" * 64, "0" * 63]),
    st.integers(), st.none(), st.binary(max_size=10), st.lists(st.text(max_size=3), max_size=2),
)


@fuzz_settings(500)
@given(value=name_inputs)
def test_name_checks_raise_only_invalid_name_errors(value):
    for check in (names.check_tenant, names.check_entry, names.check_key, names.check_user, names.check_digest):
        try:
            assert check(value) == value
        except errors.InvalidNameError:
            pass


documents = st.one_of(
    st.fixed_dictionaries({"__data__": stored_values}),
    st.dictionaries(st.sampled_from(["__data__", "__kind__", "__parent__", "__user_id__", "__date__",
                                     "__restored_from__", "other"]), stored_values, max_size=4),
    stored_values,
)


@fuzz_settings(200)
@given(document=documents, entry=name_inputs, user=st.sampled_from(["u", "", "\x00", 5]))
def test_commit_document_raises_only_engine_errors(engine, document, entry, user):
    try:
        digest = engine.commit_document(T, user, entry, document)
    except errors.DbEngineError:
        return
    assert engine.read_snapshot(T, digest)["__data__"] == document["__data__"]
    assert engine.get_digest(T, entry) == digest


@fuzz_settings(300)
@given(rev=st.one_of(st.text(max_size=70), st.from_regex(r"HEAD(~[0-9]{1,4})?|[0-9a-f]{0,66}", fullmatch=True)),
       entry=st.sampled_from(["snap", "rec", "missing", "", "\x00"]))
def test_resolve_raises_only_engine_errors(engine, rev, entry):
    try:
        digest = engine.resolve(T, entry, rev)
    except errors.DbEngineError:
        return
    assert digest in engine.history(T, entry)


# ------------------------------------------------------------------ import
@pytest.fixture(scope="module")
def export_lines(tmp_path_factory) -> list[str]:
    source = DbEngine(str(tmp_path_factory.mktemp("fuzz-src") / "db"), durable=False)
    source.init("src")
    source.save("src", "u", "snap", {"a": 1, "b": b"bytes", "t": (1, 2)})
    source.save("src", "u", "snap", {"a": 2})
    source.put_many("src", "u", "rec", {"k1": 1, "k2": [1, 2]})
    source.delete("src", "u", "rec", "k1")
    return list(source.export_jsonl("src"))


def _json_object(line: str) -> dict | None:
    """The JSON object on `line`, or None (an earlier mutation may have broken it)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if type(record) is dict and record else None


def mutate(lines: list[str], rng: random.Random) -> list[str]:
    lines = list(lines)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        how = rng.randrange(7)
        line = lines[i]
        if how == 0 and len(line) > 1:  # flip one character
            j = rng.randrange(len(line) - 1)
            lines[i] = line[:j] + chr(rng.randrange(32, 127)) + line[j + 1:]
        elif how == 1 and line:
            lines[i] = line[: rng.randrange(len(line))]
        elif how == 2:
            del lines[i]
        elif how == 3:
            lines.insert(rng.randrange(len(lines) + 1), line)
        elif how == 4:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif how == 5 and (record := _json_object(line)) is not None:
            key = rng.choice(list(record))
            record[key] = rng.choice([None, 1, "x", [], {}, "0" * 64, record.get("digest"), "py/x"])
            lines[i] = json.dumps(record) + "\n"
        else:
            lines[i] = rng.choice(["", "\n", "null\n", "[]\n", "{}\n", '{"type": 1}\n', "\udc80\n"])
        if not lines:
            lines = [""]
    return lines


def consistent_records_version(bucket_items: dict, count: object) -> list[str]:
    """An export with a records version whose (random) bucket content has correct digests."""
    bucket = json.dumps({"__kind__": "bucket", "records": bucket_items}).encode()
    bucket_digest = compute_digest(bucket)
    version = to_json_bytes({"__kind__": "records", "__parent__": [None], "__user_id__": "u",
                             "__date__": "20261126 14:03:07 +0100", "__count__": count, "__next_seq__": 9,
                             "__buckets__": {bucket_of("k"): bucket_digest}})
    digest = compute_digest(version)
    return [json.dumps({"type": "mydb-export", "version": 1, "tenant": "x", "entry": None}),
            json.dumps({"type": "object", "digest": bucket_digest, "text": bucket.decode()}),
            json.dumps({"type": "object", "digest": digest, "text": version.decode()}),
            json.dumps({"type": "head", "entry": "r", "digest": digest})]


_counter = iter(range(10**9))


def import_and_read(engine: DbEngine, lines: list[str]) -> None:
    """Import (only engine errors), then read what it made (only engine errors), verify clean."""
    tenant = f"imp{next(_counter)}"
    try:
        engine.import_jsonl(lines, tenant_id=tenant)
    except errors.DbEngineError:
        pass
    if not engine.is_initialized(tenant):
        return
    for entry in engine.entries(tenant):
        try:
            if engine.entry_kind(tenant, entry) == "records":
                engine.get(tenant, entry)
                engine.read_records(tenant, engine.get_digest(tenant, entry))
            else:
                engine.load(tenant, entry)
            engine.log(tenant, entry)
        except errors.DbEngineError:
            pass
    report = engine.verify(tenant)
    assert report.ok, [str(p) for p in report.problems]


@fuzz_settings(150)
@given(seed=st.integers(0, 2**32))
def test_import_of_mutated_exports_raises_only_engine_errors(engine, export_lines, seed):
    import_and_read(engine, mutate(export_lines, random.Random(seed)))


@fuzz_settings(100)
@given(lines=st.lists(st.one_of(st.text(max_size=80), st.builds(json.dumps, stored_values)), max_size=6))
def test_import_of_random_lines_raises_only_engine_errors(engine, lines):
    header = json.dumps({"type": "mydb-export", "version": 1, "tenant": "x", "entry": None})
    import_and_read(engine, [header, *lines])
    import_and_read(engine, lines)


# Record items: mostly well-formed `[seq, stored]` pairs (seqs negative, duplicated or past
# __next_seq__ included), sometimes arbitrary values.
bucket_items = st.one_of(st.tuples(st.integers(-3, 12), stored_values).map(list), stored_values)


@fuzz_settings(150)
@given(items=st.dictionaries(st.text(max_size=4), bucket_items, max_size=3),
       count=st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)))
@example(items={"0": "00", "": [None, None]}, count=0)  # once returned "0" as a record, then a TypeError
@example(items={"a": [-1, 1], "b": [1, 2], "c": [1, 3]}, count=3)
def test_import_of_self_consistent_odd_objects_raises_only_engine_errors(engine, items, count):
    import_and_read(engine, consistent_records_version(items, count))
