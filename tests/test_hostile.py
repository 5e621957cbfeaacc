"""Hostile databases: crafted objects written straight through the storage layer.

A pickle ref that would run a command, class paths naming functions or dangerous classes
(`os:system`, `builtins:eval`, `subprocess:Popen`, a class with a finalizer that deletes a
file, a module whose import touches a file), an unknown ref tag, a huge inline tag, a
10 MB string and nesting 10,000 deep. Reading, loading untrusted, logging, verifying and
exporting them (engine and `mydb`) runs nothing, does not hang and fails only with
engine errors / one-line messages. Names, users and values carrying Rich markup, ANSI
escapes and control characters reach a terminal literally.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine
from dbengine.utils import compute_digest, to_json_bytes

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cli"))
from cli_helpers import assert_error, mydb, mydb_tty, strip_styles  # noqa: E402

T = "evil"
DATE = "20261126 14:03:07 +0100"
BIG = 10 * 1024 * 1024
DEPTH = 10_000
PROBE_MODULE = "mydb_hostile_probe"


def envelope(data_json: bytes, kind: str = "snapshot") -> bytes:
    head = {"__kind__": kind, "__parent__": [None], "__user_id__": "mallory", "__date__": DATE}
    return to_json_bytes(head)[:-1] + b',"__data__":' + data_json + b"}"


def hostile_values(paths: dict[str, str], pickle_digest: str) -> dict[str, object]:
    """Entry name -> stored __data__ (each would run code, or worse, if decoded carelessly)."""
    touch = ["touch", paths["marker"]]
    return {
        "pickle": {"x": {"__special__": "py/pickle", "__digest__": pickle_digest}},
        "pickle-in-object": {"__special__": "py/object", "class": "collections:OrderedDict",
                             "state": {"p": {"__special__": "py/pickle", "__digest__": pickle_digest}}},
        "os-system": {"__special__": "py/object", "class": "os:system", "state": {}},
        "eval": {"__special__": "py/object", "class": "builtins:eval", "state": {"x": "1"}},
        "popen-object": {"__special__": "py/object", "class": "subprocess:Popen",
                         "state": {"args": touch, "_child_created": True, "returncode": None, "pid": 1}},
        "popen-enum": {"__special__": "py/enum", "class": "subprocess:Popen",
                       "value": {"__special__": "py/tuple", "items": touch}},
        "system-enum": {"__special__": "py/enum", "class": "os:system", "value": " ".join(touch)},
        "finalizer": {"__special__": "py/object", "class": "tempfile:_TemporaryFileCloser",
                      "state": {"file": [], "name": paths["victim"], "delete": True}},
        "import-probe": {"__special__": "py/object", "class": f"{PROBE_MODULE}:Thing", "state": {}},
        "unknown-ref-tag": {"__special__": "evil/ref", "__digest__": pickle_digest},
        "huge-inline": {"__special__": "evil/inline", "payload": "A" * BIG},
        "big-string": {"s": "x" * BIG},
    }


def build_hostile(base: str) -> dict:
    root = os.path.join(base, "db")
    paths = {"marker": os.path.join(base, "executed.marker"), "victim": os.path.join(base, "victim.txt"),
             "probe_marker": os.path.join(base, "imported.marker"), "probe_dir": os.path.join(base, "site")}
    with open(paths["victim"], "w") as out:
        out.write("must survive")
    os.makedirs(paths["probe_dir"])
    with open(os.path.join(paths["probe_dir"], PROBE_MODULE + ".py"), "w") as out:
        out.write(f"open({paths['probe_marker']!r}, 'w').close()\nclass Thing:\n    pass\n")
    engine = DbEngine(root, durable=False)
    engine.init(T)
    storage = engine.storage
    payload = f"cos\nsystem\n(S'touch {paths['marker']}'\ntR.".encode()
    pickle_digest = compute_digest(payload)
    storage.write_ref(pickle_digest, payload)
    head = {}
    for name, value in hostile_values(paths, pickle_digest).items():
        data = envelope(to_json_bytes(value))
        head[name] = compute_digest(data)
        storage.write_object(T, head[name], data)
    deep = {"deep-lists": b"[" * DEPTH + b"]" * DEPTH,
            "deep-dicts": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
            "deep-tuples": b'{"__special__":"py/tuple","items":[' * 500 + b"1" + b"]}" * 500}
    for name, data_json in deep.items():
        data = envelope(data_json)
        head[name] = compute_digest(data)
        storage.write_object(T, head[name], data)
    # A record entry whose record is a hostile enum.
    record = hostile_values(paths, pickle_digest)["popen-enum"]
    bucket = to_json_bytes({"__kind__": "bucket", "records": {"k": [0, record]}})
    bucket_digest = compute_digest(bucket)
    storage.write_object(T, bucket_digest, bucket)
    from dbengine.records import bucket_of

    records = to_json_bytes({"__kind__": "records", "__parent__": [None], "__user_id__": "mallory",
                             "__date__": DATE, "__count__": 1, "__next_seq__": 1,
                             "__buckets__": {bucket_of("k"): bucket_digest}})
    head["records"] = compute_digest(records)
    storage.write_object(T, head["records"], records)
    with storage.lock(T):
        storage.write_head(T, to_json_bytes(head))
    return {"root": root, "paths": paths, "entries": sorted(head)}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict:
    return build_hostile(str(tmp_path_factory.mktemp("hostile")))


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging) if the block runs longer than `seconds`."""

    def expire(_signum, _frame):
        raise TimeoutError(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_harmless(paths: dict) -> None:
    gc.collect()  # finalizers of anything decoded run now
    assert not os.path.exists(paths["marker"]), "a hostile value ran a command"
    assert not os.path.exists(paths["probe_marker"]), "a hostile class path imported a module"
    assert os.path.exists(paths["victim"]), "a hostile finalizer deleted a file"


def attempt(outcomes: dict, label: str, call, *args, **kwargs) -> None:
    """Run one engine call: it returns, or raises a DbEngineError (anything else fails the test)."""
    try:
        call(*args, **kwargs)
        outcomes[label] = "ok"
    except errors.DbEngineError as exc:
        outcomes[label] = type(exc).__name__


def test_engine_reads_of_hostile_objects_run_nothing(hostile, monkeypatch):
    monkeypatch.syspath_prepend(hostile["paths"]["probe_dir"])  # the probe module is importable
    engine = DbEngine(hostile["root"], trust_pickle=False)
    outcomes: dict[str, str] = {}
    with deadline(120):
        for entry in hostile["entries"]:
            digest = engine.get_digest(T, entry)
            attempt(outcomes, f"read_snapshot {entry}", engine.read_snapshot, T, digest)
            if entry == "records":
                attempt(outcomes, "read_records", engine.read_records, T, digest)
                attempt(outcomes, "get records", engine.get, T, entry)
                attempt(outcomes, "get records k", engine.get, T, entry, key="k")
            else:
                attempt(outcomes, f"load {entry}", engine.load, T, entry)
            attempt(outcomes, f"log {entry}", engine.log, T, entry)
            attempt(outcomes, f"export {entry}", lambda e: list(engine.export_jsonl(T, e)), entry)
            assert_harmless(hostile["paths"])
        report = engine.verify()
    assert_harmless(hostile["paths"])
    # What must be refused is refused; the rest is stored data, shown as such.
    for entry in ("pickle", "pickle-in-object", "os-system", "eval", "popen-object", "popen-enum",
                  "system-enum", "finalizer", "import-probe", "unknown-ref-tag", "huge-inline"):
        assert outcomes[f"load {entry}"] != "ok", (entry, outcomes[f"load {entry}"])
    assert outcomes["get records"] != "ok" and outcomes["get records k"] != "ok"
    assert outcomes["read_snapshot big-string"] == "ok" and outcomes["load big-string"] == "ok"
    for entry in ("deep-lists", "deep-dicts"):  # too deep for the JSON parser: reported, not crashed
        assert outcomes[f"read_snapshot {entry}"] == "CorruptObjectError"
        assert any(entry_digest_path(hostile, engine, entry) == p.path for p in report.problems)
    print(json.dumps(outcomes, indent=1))


def entry_digest_path(hostile, engine, entry) -> str:
    return engine.storage.object_path(T, engine.get_digest(T, entry))


def test_the_same_values_decoded_directly_run_nothing(hostile, monkeypatch):
    """decode() of each hostile value, untrusted: refused with a DeserializationError."""
    monkeypatch.syspath_prepend(hostile["paths"]["probe_dir"])
    engine = DbEngine(hostile["root"], trust_pickle=False)
    values = hostile_values(hostile["paths"], "0" * 64)
    for name in ("os-system", "eval", "popen-object", "popen-enum", "system-enum", "finalizer",
                 "import-probe"):
        with deadline(30), pytest.raises(errors.DeserializationError):
            engine.decode(values[name])
        assert_harmless(hostile["paths"])


def test_the_cli_on_hostile_objects_runs_nothing(hostile):
    root = hostile["root"]
    cli_entries = ["pickle-in-object", "popen-enum", "finalizer", "huge-inline", "big-string",
                   "deep-lists", "records"]
    env = {"PYTHONPATH": os.pathsep.join([hostile["paths"]["probe_dir"], os.environ.get("PYTHONPATH", "")])}
    runs = 0
    for entry in cli_entries:
        for args in (("show", T, entry), ("show", "--raw", T, entry), ("diff", T, entry, "HEAD"),
                     ("log", T, entry)):
            result = mydb(*args, root=root, **env)
            runs += 1
            assert "Traceback" not in result.err and "Exception ignored" not in result.err, (args, result.err)
            if result.rc != 0:
                assert_error(result)
            else:
                assert result.err == "", (args, result.err)
            assert_harmless(hostile["paths"])
    for args in (("verify",), ("export", T), ("entries", T), ("tenants",)):
        result = mydb(*args, root=root, **env)
        runs += 1
        assert "Traceback" not in result.err, (args, result.err)
        assert result.rc in (0, 1, 2), (args, result.rc)
        if result.rc == 2 and args[0] == "entries":  # one line per unreadable entry, the rest listed
            assert result.err and all(line.startswith("mydb: error: entry ") for line in result.err.splitlines()), result.err
        elif result.rc == 2:
            assert_error(result)
        assert_harmless(hostile["paths"])
    assert mydb("verify", root=root).rc == 1  # the too-deep objects are named as damage
    print(f"{runs} mydb runs on hostile objects")


# ------------------------------------------------------------------ markup and escapes on a terminal
MARKUP_TENANT = "[bold red]acme"
MARKUP_ENTRY = "[link=http://x]e[/link]\x1b[31m\x07"
MARKUP_USER = "\x1b]0;pwned\x07[blink]u[/blink]"
MARKUP_VALUE = "\x1b[2J\x9b31m[bold]v[/bold]\u202e\r"


def test_markup_and_escapes_reach_the_terminal_literally(tmp_path):
    root = str(tmp_path / "db")
    engine = DbEngine(root, durable=False)
    engine.init(MARKUP_TENANT)
    engine.save(MARKUP_TENANT, MARKUP_USER, MARKUP_ENTRY, {MARKUP_VALUE: MARKUP_VALUE})
    engine.save(MARKUP_TENANT, MARKUP_USER, MARKUP_ENTRY, {MARKUP_VALUE: [MARKUP_VALUE, 1]})
    engine.put(MARKUP_TENANT, MARKUP_USER, "recs", MARKUP_VALUE, MARKUP_VALUE)
    with open(engine.storage.object_path(MARKUP_TENANT, engine.get_digest(MARKUP_TENANT, "recs")), "ab") as f:
        f.write(b"damage")  # so verify prints a problem naming the tenant's path
    commands = [("tenants",), ("entries", MARKUP_TENANT), ("log", MARKUP_TENANT, MARKUP_ENTRY),
                ("show", MARKUP_TENANT, MARKUP_ENTRY), ("show", "--raw", MARKUP_TENANT, MARKUP_ENTRY),
                ("diff", MARKUP_TENANT, MARKUP_ENTRY), ("verify",), ("log", MARKUP_TENANT, "no\x1b[31mpe")]
    for args in commands:
        result = mydb_tty(*args, root=root)
        visible = strip_styles(result.out).replace("\r\n", "\n")  # the terminal's own line ends
        for text in (visible, result.err):
            for byte in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
                assert byte not in text, (args, byte, text)
        assert "[bold red]acme" in visible + result.err or args[0] not in ("tenants", "entries"), args
        if args[0] == "log" and result.rc == 0:
            assert "[blink]u[/blink]" in visible and "\\x1b]0;pwned\\x07" in visible, visible
        if args[0] == "show":
            assert "[bold]v[/bold]" in visible, visible
        if args[-1] == "no\x1b[31mpe":
            assert_error(result, "no\\x1b[31mpe")
