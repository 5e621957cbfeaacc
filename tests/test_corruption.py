"""Random damage to a real database: flipped bytes and truncations in objects, refs, heads, indexes.

For every case a fresh copy of a pristine database gets one file damaged; then a fresh
engine reads everything (heads, values, raw documents, records, histories, refs): each
answer must equal the pristine one or be a DbEngineError, never wrong data. verify()
and `mydb verify` must name the damaged object, ref or head file; a damaged history
index is repaired from the objects (log stays right, verify ends clean). Seeded
(MYDB_CORRUPTION_SEED replays), 100 cases by default; MYDB_STRESS=N runs N times more.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import sys

import pytest
from dbengine import errors
from dbengine.dbengine import DbEngine

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cli"))
from cli_helpers import mydb  # noqa: E402
from ref_values import Blob

CASES = 100
CLI_CASES = 12
NOW = dt.datetime(2026, 11, 26, 14, 3, 7, tzinfo=dt.timezone(dt.timedelta(hours=1)))


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        self.now += dt.timedelta(minutes=7)
        return self.now


def build(root: str) -> None:
    engine = DbEngine(root, clock=Clock(), durable=False)
    engine.init("acme")
    first = engine.save("acme", "alice", "config", {"theme": "dark", "port": 8080})
    engine.save("acme", "bob", "config", {"theme": "light", "port": 8080, "blob": Blob([1, "two"])})
    engine.save("acme", "carol", "config", {"theme": "light", "port": 9090, "tags": ("a", "b")})
    engine.restore("acme", "dave", "config", first)
    engine.save("acme", "erin", "config", {"theme": "sepia", "bytes": b"\x00\x01", "blob": Blob({"k": 3})})
    engine.put_many("acme", "alice", "users", {f"user{i}": {"age": i, "name": f"n{i}"} for i in range(40)})
    engine.put("acme", "bob", "users", "user3", {"age": 33})
    engine.delete("acme", "carol", "users", "user7")
    engine.put_many("acme", "dave", "users", {"user3": {"age": 34}, "extra": [1, 2, 3]})
    engine.init("globex")
    engine.save("globex", "frank", "flags", {"beta": True})
    engine.save("globex", "frank", "flags", {"beta": False, "blob": Blob(b"ref bytes")})


def _log(engine, tenant, entry):
    return [(v.digest, v.parents, v.user_id, v.date, v.restored_from, v.summary)
            for v in engine.log(tenant, entry, max_items=None)]


def _value(engine, tenant, entry):
    return engine.get(tenant, entry) if entry == "users" else engine.load(tenant, entry)


def observe(root: str) -> dict:
    """Everything a fresh engine returns for the database, each answer or the error type."""
    engine = DbEngine(root, durable=False)
    seen: dict = {}

    def ask(label, call, *args, **kwargs):
        try:
            seen[label] = call(*args, **kwargs)
        except errors.DbEngineError as exc:
            seen[label] = ("error", type(exc).__name__)

    ask("tenants", engine.tenants)
    for tenant in ("acme", "globex"):
        ask(("entries", tenant), engine.entries, tenant)
        for entry in ENTRIES[tenant]:
            ask(("head", tenant, entry), engine.get_digest, tenant, entry)
            ask(("history", tenant, entry), engine.history, tenant, entry, max_items=None)
            ask(("log", tenant, entry), _log, engine, tenant, entry)
            ask(("value", tenant, entry), _value, engine, tenant, entry)
            ask(("info", tenant, entry), engine.entry_info, tenant, entry)
            ask(("resolve", tenant, entry), engine.resolve, tenant, entry, "HEAD~1")
            for digest in PRISTINE[("digests", tenant, entry)]:
                ask(("doc", tenant, digest), engine.read_snapshot, tenant, digest)
                if entry == "users":
                    ask(("records", tenant, digest), engine.read_records, tenant, digest)
                    ask(("get", tenant, digest), engine.get, tenant, entry, key="user3", digest=digest)
                else:
                    ask(("load", tenant, digest), engine.load, tenant, entry, digest=digest)
                ask(("version", tenant, digest), engine.version, tenant, entry, digest)
    for ref in PRISTINE.get("refs", []):
        ask(("ref", ref), engine.read_ref, ref)
    return seen


ENTRIES = {"acme": ["config", "users"], "globex": ["flags"]}
PRISTINE: dict = {}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("corruption") / "pristine")
    build(root)
    engine = DbEngine(root, durable=False)
    for tenant, entries in ENTRIES.items():
        for entry in entries:
            PRISTINE[("digests", tenant, entry)] = engine.history(tenant, entry, max_items=None)
    PRISTINE["refs"] = sorted(engine.storage.iter_refs())
    PRISTINE.update(observe(root))
    assert engine.verify().ok
    return root


def damage_targets(root: str) -> list[tuple[str, str]]:
    """(kind, path) of every object, ref, head and index file of the database."""
    targets = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).split(os.sep)
            if name == "head.lock":
                continue
            kind = "head" if name == "head" else rel[0] if rel[0] == "refs" else rel[1]
            targets.append((kind, path))
    return sorted(targets)


def damage(path: str, rng: random.Random) -> str:
    """Flip or truncate bytes of `path` (its content always changes); returns what was done."""
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    how = rng.choice(["flip", "flip", "flip", "flips", "truncate", "empty", "append"])
    if how == "flip" or (how == "flips" and len(data) < 4):
        i = rng.randrange(len(data))
        data[i] ^= rng.randrange(1, 256)
    elif how == "flips":
        for i in rng.sample(range(len(data)), 3):
            data[i] ^= rng.randrange(1, 256)
    elif how == "truncate":
        del data[rng.randrange(len(data)):]
    elif how == "empty":
        data = bytearray()
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    with open(path, "wb") as handle:
        handle.write(data)
    return how


def index_owner(root: str, path: str) -> tuple[str, str]:
    engine = DbEngine(root, durable=False)
    for tenant, entries in ENTRIES.items():
        for entry in entries:
            if engine.storage.index_path(tenant, entry) == path:
                return tenant, entry
    raise AssertionError(path)


def test_random_damage_never_yields_wrong_data(pristine, tmp_path, stress_factor):
    seed = int(os.environ.get("MYDB_CORRUPTION_SEED", "0")) or random.randrange(10**9)
    print(f"MYDB_CORRUPTION_SEED={seed}")
    rng = random.Random(seed)
    targets = damage_targets(pristine)
    kinds = sorted({kind for kind, _ in targets})
    assert kinds == ["head", "index", "objects", "refs"], kinds
    counts: dict[str, int] = {}
    errors_raised = 0
    for case in range(CASES * stress_factor):
        root = str(tmp_path / "case")
        if os.path.exists(root):
            shutil.rmtree(root)
        shutil.copytree(pristine, root)
        kind = kinds[case % len(kinds)]  # every kind equally often
        rel = os.path.relpath(rng.choice([p for k, p in targets if k == kind]), pristine)
        path = os.path.join(root, rel)
        how = damage(path, rng)
        label = f"case {case}: {how} {rel}"
        counts[f"{kind} {how}"] = counts.get(f"{kind} {how}", 0) + 1
        seen = observe(root)
        for key, answer in seen.items():
            if isinstance(answer, tuple) and len(answer) == 2 and answer[0] == "error":
                errors_raised += 1
                continue
            if key == "tenants" or key[0] == "entries":
                continue  # checked below with verify
            assert answer == PRISTINE[key], f"{label}: wrong data for {key}"
        report = DbEngine(root, durable=False).verify()
        named = {p.path for p in report.problems}
        if kind in ("objects", "refs"):
            assert path in named, (label, [str(p) for p in report.problems])
        elif kind == "head":
            head_named = path in named or any(path in p.message for p in report.problems)
            assert head_named, (label, [str(p) for p in report.problems])
        else:  # an index is a cache: the reads above repaired it, or the next write does
            assert report.ok, (label, [str(p) for p in report.problems])
            tenant, entry = index_owner(root, path)
            writer = DbEngine(root, durable=False)
            if entry == "users":
                writer.put(tenant, "zed", entry, "new", 1)
            else:
                writer.save(tenant, "zed", entry, {"new": 1})
            after = DbEngine(root, durable=False)
            assert after.history(tenant, entry, max_items=None)[1:] == PRISTINE[("history", tenant, entry)]
            report = after.verify()
            assert report.ok and not [n for n in report.notes if n.kind.startswith("index")], (label, report.notes)
        if seen["tenants"] != PRISTINE["tenants"] or any(
            seen[("entries", t)] != PRISTINE[("entries", t)] for t in ENTRIES
        ):
            assert not report.ok, f"{label}: the entry list changed and verify did not notice"
    print(f"{CASES * stress_factor} damaged copies, {errors_raised} reads refused, none wrong: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))


def test_mydb_verify_names_the_damaged_file(pristine, tmp_path):
    rng = random.Random(7)
    targets = [(k, p) for k, p in damage_targets(pristine) if k != "index"]
    for case in range(CLI_CASES):
        root = str(tmp_path / f"cli{case}")
        shutil.copytree(pristine, root)
        kind, source = targets[rng.randrange(len(targets))]
        path = os.path.join(root, os.path.relpath(source, pristine))
        damage(path, rng)
        result = mydb("verify", "--json", root=root)
        assert result.rc == 1, (case, path, result.out, result.err)
        problems = json.loads(result.out)["problems"]
        assert any(path == p["path"] or path in p["message"] for p in problems), (path, problems)
        plain = mydb("verify", root=root)
        assert plain.rc == 1 and path in plain.out + plain.err
