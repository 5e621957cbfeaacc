"""Bad input, damaged files, dead lock holders and untrusted pickles."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine
from dbengine.handlers import BaseInlineHandler, handlers

T = "tenant_1"
U = "user_1"


def object_path(engine: DbEngine, digest: str) -> str:
    return os.path.join(engine.root, T, "objects", digest[:24], digest)


def head_path(engine: DbEngine) -> str:
    return os.path.join(engine.root, T, "head")


def rewrite(path: str, data: bytes) -> None:
    os.chmod(path, 0o644)
    with open(path, "wb") as handle:
        handle.write(data)


# ---------------------------------------------------------------- names that become paths
BAD_TENANTS = ["", "/", "a/b", "\\", "a\\b", "..", ".", "../outside", "../../etc", "a\x00b", "\x00",
               "/etc", "/tmp/x", "refs", ".hidden", "tab\tname", " padded ", None, 3, b"bytes", "x" * 300,
               "\ud800"]


@pytest.mark.parametrize("tenant", BAD_TENANTS, ids=repr)
def test_bad_tenant_ids_are_refused(make_engine, tmp_path, list_files, tenant):
    engine = make_engine()
    engine.init(T)
    before = list_files(str(tmp_path))
    calls = [
        lambda: engine.init(tenant),
        lambda: engine.is_initialized(tenant),
        lambda: engine.save(tenant, U, "e", 1),
        lambda: engine.load(tenant, "e"),
        lambda: engine.put(tenant, U, "e", "k", 1),
        lambda: engine.get(tenant, "e"),
        lambda: engine.exists(tenant, "e"),
        lambda: engine.history(tenant, "e"),
        lambda: engine.entries(tenant),
        lambda: engine.read_snapshot(tenant, "0" * 64),
    ]
    if tenant is not None:  # change_token(None) means every tenant
        calls.append(lambda: engine.change_token(tenant))
    for call in calls:
        with pytest.raises(errors.InvalidNameError):
            call()
    assert list_files(str(tmp_path)) == before  # nothing written anywhere
    assert engine.tenants() == [T]


BAD_DIGESTS = ["", "abc", "../" * 21 + "x", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "0" * 63 + "\n",
               "/" + "0" * 63, None, 12]


@pytest.mark.parametrize("digest", BAD_DIGESTS, ids=repr)
def test_bad_digests_are_refused(engine, digest):
    engine.save(T, U, "e", 1)
    engine.put(T, U, "r", "k", 1)
    calls = [
        lambda: engine.read_snapshot(T, digest),
        lambda: engine.read_ref(digest),
        lambda: engine.ref_size(digest),
        lambda: engine.read_bucket(T, digest),
        lambda: engine.read_records(T, digest),
        lambda: engine.record_buckets(T, digest),
        lambda: engine.restore(T, U, "e", digest),
    ]
    if digest is not None:  # None means "the head"
        calls.append(lambda: engine.load(T, "e", digest=digest))
        calls.append(lambda: engine.get(T, "r", digest=digest))
    if digest:  # None and "" mean "the head" for history
        calls.append(lambda: engine.history(T, "e", digest=digest))
        calls.append(lambda: engine.log(T, "e", digest=digest))
    for call in calls:
        with pytest.raises(errors.InvalidDigestError):
            call()
    if isinstance(digest, str):
        assert engine.has_ref(digest) is False


def test_entry_names_and_keys_never_become_paths(engine, tmp_path, list_files):
    outside = list_files(str(tmp_path))
    nasty = ["../../escape", "/etc/passwd", "..", "a/b\\c", "refs", "head", "index", "objects"]
    for name in nasty:
        engine.save(T, U, name, {"n": name})
        engine.put(T, U, "rec" + name, name, name)
    for name in nasty:
        assert engine.load(T, name) == {"n": name}
        assert engine.get(T, "rec" + name, key=name) == name
    new = list_files(str(tmp_path)) - outside
    assert all(path.startswith("db" + os.sep + T + os.sep) for path in new), new
    assert engine.entries(T) == sorted(nasty + ["rec" + n for n in nasty])
    for bad in ("", "a\x00b", None):
        with pytest.raises(errors.InvalidNameError):
            engine.save(T, U, bad, 1)
    with pytest.raises(errors.InvalidNameError):
        engine.put(T, U, "r", "a\x00b", 1)
    with pytest.raises(errors.InvalidNameError):
        engine.put(T, U, "r", 5, 1)
    with pytest.raises(errors.InvalidNameError):
        engine.save(T, "", "e", 1)


# ---------------------------------------------------------------- corrupt files
@pytest.fixture
def populated(engine):
    class_ref = _Pickled([1, 2, 3])
    first = engine.save(T, U, "config", {"theme": "dark"})
    second = engine.save(T, U, "config", {"theme": "light", "ref": class_ref})
    engine.put_many(T, U, "records", {f"k{i}": i for i in range(50)})
    return engine, first, second


class _Pickled:
    def __init__(self, payload):
        self.payload = payload

    @staticmethod
    def use_refs():
        return {"payload"}


CORRUPTIONS = {
    "flipped byte": lambda data: data[:10] + bytes([data[10] ^ 1]) + data[11:],
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "appended": lambda data: data + b" ",
    "other valid json": lambda data: b'{"__kind__":"snapshot","__parent__":[null],"__user_id__":"x","__date__":"20260101 00:00:00 +0000","__data__":666}',
}


@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_a_corrupt_snapshot_raises_naming_the_file(populated, how):
    engine, first, second = populated
    path = object_path(engine, second)
    with open(path, "rb") as handle:
        rewrite(path, CORRUPTIONS[how](handle.read()))
    cold = DbEngine(engine.root)
    for call in (lambda: cold.load(T, "config"), lambda: cold.read_snapshot(T, second),
                 lambda: cold.load(T, "config", digest=second)):
        with pytest.raises(errors.CorruptObjectError) as info:
            call()
        assert path in str(info.value) and info.value.path == path
    assert cold.load(T, "config", digest=first) == {"theme": "dark"}  # the rest still reads
    assert not cold.verify().ok


@pytest.mark.parametrize("root", ["__order__", "__keys__"])
@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_a_corrupt_record_node_raises_naming_the_file(populated, how, root):
    engine, _first, _second = populated
    digest = engine.read_snapshot(T, engine.get_digest(T, "records"))[root]
    path = object_path(engine, digest)
    with open(path, "rb") as handle:
        rewrite(path, CORRUPTIONS[how](handle.read()))
    cold = DbEngine(engine.root)
    calls = [lambda: cold.get(T, "records", key="k1"), lambda: cold.put(T, U, "records", "k1", "new")]
    if root == "__order__":
        calls.append(lambda: cold.get(T, "records"))
    for call in calls:
        with pytest.raises(errors.CorruptObjectError) as info:
            call()
        assert path in str(info.value)


def test_a_corrupt_ref_raises_naming_the_file(populated):
    engine, _first, second = populated
    pointer = engine.read_snapshot(T, second)["__data__"]["ref"]["state"]["payload"]
    digest = pointer["__digest__"]
    path = os.path.join(engine.root, "refs", digest[:24], digest)
    good = pickle.dumps([1, 2, 4], protocol=pickle.HIGHEST_PROTOCOL)  # well formed, wrong data
    rewrite(path, good)
    cold = DbEngine(engine.root)
    with pytest.raises(errors.CorruptObjectError) as info:
        cold.load(T, "config")
    assert path in str(info.value)
    with pytest.raises(errors.CorruptObjectError):
        cold.read_ref(digest)


HEAD_DAMAGE = [
    b"",
    b'{"config": "abc',
    b"not json",
    b"[]",
    b'{"config": 5}',
    b'{"config": "ZZZ"}',
    b'{"config": "../../../etc/passwd"}',
    b"\xff\xfe",
]


@pytest.mark.parametrize("data", HEAD_DAMAGE, ids=repr)
def test_a_corrupt_head_raises_naming_the_file(populated, data):
    engine, *_ = populated
    path = head_path(engine)
    rewrite(path, data)
    cold = DbEngine(engine.root)
    for call in (lambda: cold.load(T, "config"), lambda: cold.entries(T), lambda: cold.history(T, "config"),
                 lambda: cold.save(T, U, "config", 1)):
        with pytest.raises(errors.CorruptObjectError) as info:
            call()
        assert path in str(info.value)
    with open(path, "rb") as handle:
        assert handle.read() == data  # a failed write changed nothing


def test_a_head_pointing_to_a_missing_object(populated):
    engine, *_ = populated
    with open(head_path(engine), "rb") as handle:
        head = json.loads(handle.read())
    head["config"] = "a" * 64
    rewrite(head_path(engine), json.dumps(head).encode())
    cold = DbEngine(engine.root)
    with pytest.raises(errors.DigestNotFoundError, match="a{12}"):
        cold.load(T, "config")
    assert not cold.verify().ok


def test_a_head_pointing_to_a_record_node_is_not_a_version(populated):
    engine, *_ = populated
    bucket = engine.read_snapshot(T, engine.get_digest(T, "records"))["__order__"]
    with pytest.raises(errors.CorruptObjectError):
        engine.read_snapshot(T, bucket)
    with pytest.raises(errors.CorruptObjectError):
        engine.load(T, "config", digest=bucket)


# ---------------------------------------------------------------- locks of dead processes
LOCK_HOLDER = """
import sys, time
from dbengine.storage import LocalStorage
storage = LocalStorage(sys.argv[1])
with storage.lock(sys.argv[2]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_lock_held_by_a_killed_process_does_not_block(engine):
    engine.save(T, U, "e", 1)
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, engine.root, T],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        blocked = DbEngine(engine.root, lock_timeout=0.3)
        with pytest.raises(errors.LockTimeoutError):  # the lock is real while its holder lives
            blocked.save(T, U, "e", 2)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdout.close()
    assert os.path.exists(os.path.join(engine.root, T, "head.lock"))  # the file stays...
    start = time.monotonic()
    assert DbEngine(engine.root, lock_timeout=5).save(T, U, "e", 3)  # ...but does not block
    assert time.monotonic() - start < 1.0
    assert engine.load(T, "e") == 3


def test_leftover_temp_files_are_harmless(engine):
    digest = engine.save(T, U, "e", {"a": 1})
    folder = os.path.dirname(object_path(engine, digest))
    for where in (folder, os.path.join(engine.root, T), os.path.join(engine.root, "refs")):
        with open(os.path.join(where, ".tmp-999-1-deadbeef"), "wb") as handle:
            handle.write(b'{"half')
    cold = DbEngine(engine.root)
    assert cold.load(T, "e") == {"a": 1}
    assert cold.entries(T) == ["e"] and cold.tenants() == [T]
    assert cold.save(T, U, "e", {"a": 2})
    assert cold.verify().ok


# ---------------------------------------------------------------- misuse of the API
def test_pattern_mismatch(engine):
    engine.save(T, U, "snap", {"a": 1})
    engine.put(T, U, "recs", "a", 1)
    for call in (lambda: engine.put(T, U, "snap", "a", 2), lambda: engine.put_many(T, U, "snap", {"a": 2}),
                 lambda: engine.get(T, "snap"), lambda: engine.save(T, U, "recs", {"a": 1}),
                 lambda: engine.load(T, "recs"), lambda: engine.read_records(T, engine.get_digest(T, "snap")),
                 lambda: engine.commit_document(T, U, "recs", {"__data__": 1}),
                 lambda: engine.put_stored(T, U, "snap", "k", 1)):
        with pytest.raises(errors.PatternMismatchError):
            call()
    assert len(engine.history(T, "snap")) == 1 and len(engine.history(T, "recs")) == 1


def test_registering_a_handler_twice(handler_tags):
    class H(BaseInlineHandler):
        def is_eligible_for(self, obj):
            return False

        def tag(self):
            return "SafetyTag"

        def serialize(self, obj):
            return {"__special__": "SafetyTag"}

        def deserialize(self, data):
            return None

    handlers.register_handler(H())
    handler_tags.append("SafetyTag")
    with pytest.raises(errors.HandlerAlreadyRegisteredError, match="SafetyTag"):
        handlers.register_handler(H())
    assert handlers.tags().count("SafetyTag") == 1


def test_restore_refuses_a_digest_outside_the_entry(ticking_engine, list_files):
    engine = ticking_engine
    engine.save(T, U, "a", 1)
    engine.save(T, U, "a", 2)
    foreign = engine.save(T, U, "b", 1)
    engine.put(T, U, "r", "k", 1)
    bucket = engine.read_snapshot(T, engine.get_digest(T, "r"))["__order__"]
    before = list_files(engine.root)
    for digest, error in ((foreign, errors.DigestNotFoundError), (bucket, errors.DigestNotFoundError),
                          ("1" * 64, errors.DigestNotFoundError), ("X", errors.InvalidDigestError)):
        with pytest.raises(error):
            engine.restore(T, U, "a", digest)
    with pytest.raises(errors.EntryNotFoundError):
        engine.restore(T, U, "nothing", foreign)
    assert list_files(engine.root) == before


# ---------------------------------------------------------------- commit_document
def _commit_cases(head_doc: dict) -> dict:
    data = head_doc["__data__"]
    missing_ref = {"__special__": "SomeTag", "__digest__": "e" * 64}
    return {
        "forged user": {**head_doc, "__user_id__": "root"},
        "forged date": {**head_doc, "__date__": "19990101 00:00:00 +0000"},
        "forged parent": {**head_doc, "__parent__": ["f" * 64]},
        "forged restored_from": {**head_doc, "__restored_from__": head_doc["__parent__"][0]},
        "records kind": {**head_doc, "__kind__": "records"},
        "unknown top-level key": {**head_doc, "__buckets__": {}},
        "no data": {"__kind__": "snapshot"},
        "not a dict": [data],
        "malformed tuple": {"__data__": {"a": {"__special__": "py/tuple", "items": "no"}}},
        "malformed bytes": {"__data__": {"__special__": "py/bytes", "base64": "@@@"}},
        "malformed float": {"__data__": {"__special__": "py/float", "value": "1e999"}},
        "empty tag": {"__data__": {"__special__": ""}},
        "non-string tag": {"__data__": {"__special__": 5}},
        "unknown engine tag": {"__data__": {"__special__": "py/eval", "code": "1"}},
        "bad class path": {"__data__": {"__special__": "py/object", "class": "os.system", "state": {}}},
        "missing ref": {"__data__": {"x": [missing_ref]}},
        "missing pickle": {"__data__": {"__special__": "py/pickle", "__digest__": "d" * 64}},
        "bad ref digest": {"__data__": {"__special__": "SomeTag", "__digest__": "../../x"}},
        "nan": {"__data__": [float("nan")]},
    }


def test_commit_document_refuses_bad_documents_and_writes_nothing(ticking_engine, list_files):
    engine = ticking_engine
    engine.save(T, U, "config", {"a": 1})
    head = engine.save(T, U, "config", {"a": 2})
    head_doc = engine.read_snapshot(T, head)
    before = list_files(engine.root)
    for name, document in _commit_cases(head_doc).items():
        with pytest.raises(errors.InvalidDocumentError):
            engine.commit_document(T, "editor", "config", document)
        assert list_files(engine.root) == before, name
        assert engine.get_digest(T, "config") == head, name
    # The head's own metadata is accepted, and the engine writes new metadata.
    edited = {**head_doc, "__data__": {"a": 3}}
    new = engine.commit_document(T, "editor", "config", edited)
    doc = engine.read_snapshot(T, new)
    assert doc["__user_id__"] == "editor" and doc["__parent__"] == [head] and doc["__date__"] != head_doc["__date__"]


def test_commit_document_accepts_present_refs(engine):
    engine.save(T, U, "h", _Pickled({"k": 1}))
    doc = engine.read_snapshot(T, engine.get_digest(T, "h"))
    doc["__data__"]["state"]["extra"] = 5
    engine.commit_document(T, U, "h", doc)
    loaded = engine.load(T, "h")
    assert loaded.payload == {"k": 1} and loaded.extra == 5


def test_put_stored_refuses_malformed_values(engine, list_files):
    engine.put(T, U, "r", "a", 1)
    before = list_files(engine.root)
    for stored in ({"__special__": "py/set", "items": 1}, {"__special__": "Tag", "__digest__": "c" * 64}):
        with pytest.raises(errors.InvalidDocumentError):
            engine.put_stored(T, U, "r", "b", stored)
    assert list_files(engine.root) == before


# ---------------------------------------------------------------- pickles are never trusted by accident
class _Trap:
    """Unpickling this creates the file at `path` (stands for any code a pickle can run)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _Carrier:
    def __init__(self, trap):
        self.name = "innocent"
        self.trap = trap

    @staticmethod
    def use_refs():
        return {"trap"}


@pytest.fixture
def trapped(engine, tmp_path):
    marker = tmp_path / "pwned"
    digest = engine.save(T, U, "evil", _Carrier(_Trap(str(marker))))
    engine.put(T, U, "evil_records", "k", _Carrier(_Trap(str(marker))))
    assert not marker.exists()
    return engine, digest, marker


def test_read_snapshot_never_unpickles(trapped):
    engine, digest, marker = trapped
    cold = DbEngine(engine.root, trust_pickle=False)
    doc = cold.read_snapshot(T, digest)
    pointer = doc["__data__"]["state"]["trap"]
    assert pointer["__special__"] == "py/pickle"
    assert cold.read_ref(pointer["__digest__"])  # raw bytes, not unpickled
    cold.read_records(T, cold.get_digest(T, "evil_records"))
    cold.read_record(T, "evil_records", "k")
    cold.log(T, "evil")
    trusted = DbEngine(engine.root)  # even a trusting engine's raw views do not unpickle
    trusted.read_snapshot(T, digest)
    trusted.read_records(T, trusted.get_digest(T, "evil_records"))
    assert cold.verify().ok
    assert not marker.exists()
    trusted.load(T, "evil")  # proves the trap works: a trusted load runs it
    assert marker.exists()


def test_untrusted_engines_refuse_use_refs_fields(trapped):
    engine, digest, marker = trapped
    cold = DbEngine(engine.root, trust_pickle=False)
    for call in (lambda: cold.load(T, "evil"), lambda: cold.load(T, "evil", digest=digest),
                 lambda: cold.get(T, "evil_records"), lambda: cold.get(T, "evil_records", key="k"),
                 lambda: cold.decode(cold.read_snapshot(T, digest)["__data__"])):
        with pytest.raises(errors.UntrustedPickleError):
            call()
    assert not marker.exists()
    assert issubclass(errors.UntrustedPickleError, errors.DbEngineError)


def test_class_paths_cannot_call_functions(engine, tmp_path):
    """A py/object names a class; a function or a module attribute is refused, never called."""
    evil = {"__special__": "py/object", "class": "os:system", "state": {}}
    with pytest.raises(errors.DeserializationError):
        engine.decode(evil)
    marker = tmp_path / "made"
    with pytest.raises(errors.DeserializationError):
        engine.decode({"__special__": "py/enum", "class": "builtins:open", "value": str(marker)})
    assert not marker.exists()
