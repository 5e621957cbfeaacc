"""Packs (format 0.6): a commit's record-tree nodes written as one pack file, read back by
any engine and process, checked by verify, and never trusted (forged or damaged packs are
reported, never read wrong). Tiny node bounds make a few dozen records PACK_MIN nodes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from dbengine import errors, packs, records_tree
from dbengine.dbengine import DbEngine
from dbengine.pack_file import (
    DIGEST,
    PackDamage,
    check_index,
    encode_pack,
    index_size,
    load_index,
    parse_header,
    parse_pack,
)

T, E, U = "t", "rec", "u"
REAL_NODES = (records_tree.ORDER_LEAF, records_tree.ORDER_FANOUT, records_tree.KEY_LEAF, records_tree.KEY_BITS)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def tiny_nodes(monkeypatch):
    """Leaves of 4 seqs under 3-way nodes; key leaves of 4 keys under 4-way nodes."""
    monkeypatch.setattr(records_tree, "ORDER_LEAF", 4)
    monkeypatch.setattr(records_tree, "ORDER_FANOUT", 3)
    monkeypatch.setattr(records_tree, "KEY_LEAF", 4)
    monkeypatch.setattr(records_tree, "KEY_BITS", 2)


@pytest.fixture
def db(tmp_path) -> DbEngine:
    engine = DbEngine(str(tmp_path / "db"), durable=False)
    engine.init(T)
    return engine


def pack_paths(engine: DbEngine, tenant: str = T) -> list[Path]:
    folder = Path(engine.storage.packs.folder(tenant))
    return sorted(folder.glob("*.pack")) if folder.is_dir() else []


def loose(engine: DbEngine, tenant: str = T) -> dict[str, bytes]:
    folder = Path(engine.storage.tenant_dir(tenant)) / "objects"
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")}


def node_digests(path: Path) -> list[str]:
    return parse_pack(path.read_bytes())[1]


def test_a_put_many_writes_its_nodes_as_one_pack_and_its_version_loose(db):
    db.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    [pack] = pack_paths(db)
    assert pack.name == hashlib.sha256(pack.read_bytes()).hexdigest() + ".pack"
    files = loose(db)
    assert list(files) == [db.get_digest(T, E)]  # the version alone is loose
    assert all(packs.is_node_bytes(db.storage.read_object(T, d)) for d in node_digests(pack))
    assert len(node_digests(pack)) >= packs.PACK_MIN
    before = set(loose(db))
    db.put(T, U, E, "k1", -1)  # a small commit: its few nodes and version stay loose
    assert pack_paths(db) == [pack] and len(set(loose(db)) - before) >= 2


def test_a_new_engine_and_a_new_process_read_a_packed_entry(db):
    db.put_many(T, U, E, {f"k{i}": {"n": i} for i in range(60)})
    first = db.get_digest(T, E)
    db.put_many(T, U, E, {f"k{i}": {"n": -i} for i in range(0, 60, 2)} | {f"m{i}": i for i in range(30)})
    assert len(pack_paths(db)) >= 1
    cold = DbEngine(db.root)
    assert cold.get(T, E, "k4") == {"n": -4} and cold.get(T, E, "m29") == 29 and len(cold.get(T, E)) == 90
    old, new = cold.changed_records(T, first, cold.get_digest(T, E))
    assert set(new) == {f"k{i}" for i in range(2, 60, 2)} | {f"m{i}" for i in range(30)} and old["k2"] == {"n": 2}
    assert [v.digest for v in cold.log(T, E)][-1] == first
    assert cold.verify().ok and not cold.verify().notes
    script = ("import sys; from dbengine import records_tree as r; from dbengine.dbengine import DbEngine;"
              "r.ORDER_LEAF, r.ORDER_FANOUT, r.KEY_LEAF, r.KEY_BITS = 4, 3, 4, 2; db = DbEngine(sys.argv[1]);"
              "print(len(db.get('t', 'rec')), db.get('t', 'rec', 'k8'))")
    out = subprocess.run([sys.executable, "-c", script, db.root], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "engine"), str(ROOT)])})
    assert out.stdout.split("\n")[0] == "90 {'n': -8}"


def test_export_and_import_of_a_packed_entry(db, tmp_path):
    db.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    lines = list(db.export_jsonl(T))
    target = DbEngine(str(tmp_path / "target"), durable=False)
    result = target.import_jsonl(lines)
    assert result.objects_written > packs.PACK_MIN and target.get(T, E) == list(range(60))
    assert target.verify().ok
    again = db.import_jsonl(lines)  # every object is there already (in the pack): nothing written
    assert again.objects_written == 0 and again.objects_present == result.objects_written


def test_the_format_docs_standalone_verifier_reads_packs(db, monkeypatch):
    for name, value in zip(("ORDER_LEAF", "ORDER_FANOUT", "KEY_LEAF", "KEY_BITS"), REAL_NODES, strict=True):
        monkeypatch.setattr(records_tree, name, value)  # the script knows the real bounds
    db.put_many(T, U, E, {f"k{i}": i for i in range(64 * packs.PACK_MIN)})
    assert pack_paths(db)
    doc = (ROOT / "docs" / "FORMAT.md").read_text(encoding="utf-8")
    section = doc[doc.index("\n## 11. "):doc.index("\n## 12. ")]
    verifier = section[section.index("```python\n") + 10:section.index("```", section.index("```python\n") + 10)]
    result = subprocess.run([sys.executable, "-c", verifier, db.root], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stdout + result.stderr
    pack = pack_paths(db)[0]
    data = bytearray(pack.read_bytes())
    data[-3] ^= 1
    pack.write_bytes(bytes(data))
    result = subprocess.run([sys.executable, "-c", verifier, db.root], capture_output=True, text=True, timeout=60)
    assert "bad pack" in result.stdout


def _offsets(data: bytes) -> tuple[int, int]:
    """(count, where the offsets start) of a pack's bytes."""
    count, start = parse_header(data, len(data))
    return count, start + count * DIGEST


def _set_offset(data: bytes, at: int, value: int) -> bytes:
    count, where = _offsets(data)
    return data[:where + 8 * at] + value.to_bytes(8, "big") + data[where + 8 * at + 8:]


def _reader(data: bytes):
    return lambda length, offset: data[offset:offset + length]


@pytest.mark.parametrize("count", [1, 7, 20])
def test_a_large_index_loaded_in_chunks_is_the_index_loaded_at_once(monkeypatch, count):
    from dbengine import pack_file

    objects = {hashlib.sha256(b"%d" % i).hexdigest(): b"%d" % i for i in range(count)}
    data = encode_pack(objects)
    at_once, _digests = parse_pack(data)
    start = parse_header(data, len(data))[1]
    monkeypatch.setattr(pack_file, "CHUNK", 3)
    monkeypatch.setattr(pack_file, "CHUNK_BYTES", 3 * DIGEST)
    reads: list[int] = []
    read = _reader(data)
    chunked = load_index(lambda length, offset: (reads.append(length), read(length, offset))[1], count, start, len(data))
    assert (chunked.keys, chunked.offsets, chunked.count) == (at_once.keys, at_once.offsets, at_once.count)
    small = index_size(count) <= 3 * DIGEST  # read at once
    assert reads == [index_size(count)] if small else (len(reads) == -(-count // 3) + 1 and max(reads[:-1]) <= 3 * DIGEST)
    for cut in (start + DIGEST * count - 5, start + index_size(count) - 1):
        with pytest.raises(PackDamage, match="cut short"):
            load_index(_reader(data[:cut]), count, start, len(data))


def test_encode_and_parse_agree_and_parse_refuses_every_deviation():
    objects = {hashlib.sha256(b"%d" % i).hexdigest(): b"%d" % i for i in range(20)}
    data = encode_pack(objects)
    count, start = parse_header(data, len(data))
    assert count == 20 and data[:start] == b"mydb-pack 1 20\n"
    assert data[start:start + 20 * DIGEST] == bytes.fromhex("".join(sorted(objects)))
    index, digests = parse_pack(data)
    assert digests == sorted(objects) and index.count == 20 and len(index.offsets) == 21
    assert index.offsets[0] == start + index_size(20) and index.offsets[20] == len(data)
    assert [data[index.offsets[i]:index.offsets[i + 1]] for i in range(20)] == [objects[d] for d in digests]
    assert list(index.keys) == [int(d[:16], 16) for d in digests]
    bad_headers = [b"mydb-pack 2 20\n", b"mydb-pack 1 020\n", b"mydb-pack 1 0\n", b"mydb-pack 1 99999999999\n", b"xx"]
    for header in bad_headers:
        with pytest.raises(PackDamage):
            parse_header(header + data[len(b"mydb-pack 1 20\n"):], len(data))
    with pytest.raises(PackDamage, match="does not fit"):
        parse_header(data, start + index_size(20) - 1)
    first, second = start, start + DIGEST
    swapped = data[:first] + data[second:second + DIGEST] + data[first:second] + data[second + DIGEST:]
    backwards = _set_offset(data, 5, index.offsets[7])  # past its successor's start
    for forged, why in [(swapped, "digest 1: digests not in strictly increasing order"),
                        (backwards, "offset 6 .* is before offset 5")]:
        loaded = load_index(_reader(forged), 20, start, len(data))  # the O(1) checks pass
        with pytest.raises(PackDamage, match=why):
            check_index(forged[start:start + index_size(20)], loaded)
    with pytest.raises(PackDamage, match="cut short"):
        load_index(_reader(data[:start + index_size(20) - 1]), 20, start, len(data))
    with pytest.raises(PackDamage, match="offset 0 is"):
        parse_pack(_set_offset(data, 0, index.offsets[0] + 1))
    with pytest.raises(PackDamage, match="end of the file"):
        load_index(_reader(data), 20, start, len(data) + 1)
    with pytest.raises(PackDamage, match="end of the file"):
        parse_pack(data + b"x")


def test_a_forged_index_that_passes_the_open_checks_never_gives_wrong_bytes(db):
    """Offsets out of order or past the end, digests unsorted: the O(1) checks at open pass,
    every read checks its slot and hashes its bytes, and the error path names the pack."""
    objects = {hashlib.sha256(b"object %d" % i).hexdigest(): b"object %d" % i for i in range(20)}
    data = encode_pack(objects)
    index, digests = parse_pack(data)
    count, start = parse_header(data, len(data))
    swapped = bytearray(data)  # digests 3 and 4 swapped, offsets kept: each names the other's bytes
    swapped[start + 3 * DIGEST:start + 5 * DIGEST] = data[start + 4 * DIGEST:start + 5 * DIGEST] + \
        data[start + 3 * DIGEST:start + 4 * DIGEST]
    past = _set_offset(data, 8, len(data) + 100)  # slot 7 ends and slot 8 starts past the end of the file
    backwards = _set_offset(data, 12, index.offsets[10])  # slot 12 starts where slot 10 does
    folder = Path(db.storage.packs.folder(T))
    folder.mkdir()
    for forged, victims in [(bytes(swapped), [3, 4]), (past, [7, 8]), (backwards, [11, 12])]:
        for old in folder.iterdir():
            old.unlink()
        path = folder / (hashlib.sha256(forged).hexdigest() + ".pack")
        path.write_bytes(forged)
        cold = DbEngine(db.root)
        for at, digest in enumerate(digests):
            if at not in victims:  # read first: once a full check fails, the pack is skipped
                assert cold.storage.read_object(T, digest) == objects[digest]
        for at in victims:  # its slot fails, its bytes are another's, or a bisect misses it: named
            with pytest.raises(errors.CorruptObjectError, match=path.name):
                cold.storage.read_object(T, digests[at])
        report = cold.verify()
        assert [(p.kind, p.path) for p in report.problems if p.kind == "pack-damaged"] == [("pack-damaged", str(path))]


def _packed(db: DbEngine) -> tuple[Path, str]:
    """A packed entry and the digest of a node of it (its key-index root)."""
    db.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    [pack] = pack_paths(db)
    root = db.read_snapshot(T, db.get_digest(T, E))["__keys__"]
    return pack, root


def test_a_flipped_byte_in_a_packed_object_is_refused_naming_the_pack(db):
    pack, root = _packed(db)
    data = bytearray(pack.read_bytes())
    index, digests = parse_pack(bytes(data))
    at = digests.index(root)
    offset = index.offsets[at]
    data[offset + 5] ^= 0x20
    pack.write_bytes(bytes(data))
    cold = DbEngine(db.root)
    with pytest.raises(errors.CorruptObjectError, match=f"{pack.name}.*offset {offset}"):
        cold.storage.read_object(T, root)
    with pytest.raises(errors.CorruptObjectError):
        cold.get(T, E, "k3")
    report = cold.verify()
    kinds = {(p.kind, p.path) for p in report.problems}
    assert ("hash-mismatch", str(pack)) in kinds and ("hash-mismatch", f"{pack} at offset {offset}") in kinds
    # the version's missing root is named where its damaged copy lies, not as a loose file never written
    assert ("missing-node", f"{pack} at offset {offset}") in kinds, kinds


@pytest.mark.parametrize("forge", ["header", "unsorted-digests", "first-offset", "huge-count", "truncated"])
def test_a_pack_with_a_forged_header_or_index_is_skipped_and_reported(db, forge):
    """Damage the O(1) checks see at open (header, count, offset[0], offset[count]: the file
    cut short), and unsorted digests (the root's slot naming its neighbour: seen by the full
    checks, run when the root is then missing everywhere)."""
    pack, root = _packed(db)
    data = pack.read_bytes()
    index, digests = parse_pack(data)
    count, start = parse_header(data, len(data))
    if forge == "header":
        data = b"mydb-pock 1" + data[11:]
    elif forge == "unsorted-digests":
        at = digests.index(root)
        neighbour = bytes.fromhex(digests[at - 1 if at else at + 1])
        data = data[:start + at * DIGEST] + neighbour + data[start + (at + 1) * DIGEST:]
    elif forge == "first-offset":
        data = _set_offset(data, 0, index.offsets[0] - 1)
    elif forge == "huge-count":
        data = b"mydb-pack 1 999999999999" + data[data.index(b"\n"):]
    else:
        data = data[:len(data) - 7]
    pack.unlink()
    forged = pack.with_name(hashlib.sha256(data).hexdigest() + ".pack")  # well named: only the content is wrong
    forged.write_bytes(data)
    cold = DbEngine(db.root)
    with pytest.raises(errors.CorruptObjectError, match="damaged packs"):
        cold.storage.read_object(T, root)
    assert not cold.storage.has_object(T, root)
    report = cold.verify()
    assert [(p.kind, p.path) for p in report.problems if p.kind == "pack-damaged"] == [("pack-damaged", str(forged))]
    assert any(p.kind == "missing-node" for p in report.problems)


def test_a_damaged_pack_does_not_hide_a_good_copy_elsewhere(db):
    pack, root = _packed(db)
    good = db.storage.read_object(T, root)
    forged = pack.with_name("0" * 64 + ".pack")
    forged.write_bytes(b"mydb-pack 1 3\nnot an index")
    db.storage.files.write_content(db.storage.object_path(T, root), good)
    cold = DbEngine(db.root)
    assert cold.storage.read_object(T, root) == good and cold.get(T, E, "k7") == 7
    assert [p.kind for p in cold.verify().problems] == ["hash-mismatch", "pack-damaged"]


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder", "misnamed"])
def test_things_in_packs_that_are_not_packs_are_never_read_and_are_reported(db, kind, tmp_path):
    pack, root = _packed(db)
    if kind == "symlink":
        outside = tmp_path / "elsewhere.pack"
        outside.write_bytes(pack.read_bytes())
        pack.unlink()
        pack.symlink_to(outside)
        strange = pack
    elif kind == "fifo":
        pack.unlink()
        os.mkfifo(pack)
        strange = pack
    elif kind == "folder":
        strange = pack.with_name("1" * 64 + ".pack")
        strange.mkdir()
    else:
        strange = pack.with_name("notes.txt")
        strange.write_text("hello")
    cold = DbEngine(db.root)
    if kind in ("symlink", "fifo"):
        with pytest.raises(errors.CorruptObjectError, match="damaged packs"):
            cold.storage.read_object(T, root)
    else:
        assert cold.get(T, E, "k5") == 5
    problems = [(p.kind, p.path) for p in cold.verify().problems if p.path == str(strange)]
    assert problems and all(k in ("stray-file", "special-file", "outside-link") for k, _ in problems)


def test_a_pack_from_another_process_is_found_on_a_miss(db, tmp_path):
    db.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    reader = DbEngine(db.root)
    assert reader.get(T, E, "k1") == 1  # lists packs/ once
    db.put_many(T, U, E, {f"n{i}": i for i in range(60)})  # a second pack meanwhile
    assert len(pack_paths(db)) >= 1
    assert reader.get(T, E, "n59") == 59 and len(reader.get(T, E)) == 120


def test_iter_objects_lists_every_object_once(db):
    db.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    db.put(T, U, E, "x", 1)
    listed = list(DbEngine(db.root).storage.iter_objects(T))
    packed = {d for p in pack_paths(db) for d in node_digests(p)}
    assert len(listed) == len(set(listed)) and set(listed) == set(loose(db)) | packed


def test_the_pack_goes_in_before_the_head(db, monkeypatch):
    db.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    events: list[str] = []
    store, files = db.storage, db.storage.files
    write_atomic = files.write_atomic
    monkeypatch.setattr(files, "write_atomic", lambda path, data, durable=None: (
        events.append("head" if path == store.head_path(T) else "pack" if path.endswith(".pack") else "other"),
        write_atomic(path, data, durable))[1])
    db.put_many(T, U, E, {f"k{i}": -i for i in range(60)})
    assert events.index("pack") < events.index("head")


def test_durable_commits_journal_their_nodes_and_a_big_batch_flushes_them_as_a_pack(tmp_path, monkeypatch):
    from dbengine import journal_store

    engine = DbEngine(str(tmp_path / "d"))  # durable: the journal holds a commit's nodes, no pack
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    assert pack_paths(engine) == []
    monkeypatch.setattr(journal_store, "PENDING_LIMIT", 3000)  # a big batch is written (and synced) in place
    synced: list[str] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), fsync(fd))[1])
    engine.put_many(T, U, E, {f"n{i}": "x" * 50 for i in range(60)})
    pack = pack_paths(engine)[0]  # one pack a flush (merged once a tier holds MERGE_FANOUT)
    # the pack (synced as its temp file, before the rename) and its folder
    assert any(path.startswith(f"{pack.parent}/.tmp-") for path in synced) and str(pack.parent) in synced
    cold = DbEngine(engine.root)
    assert len(cold.get(T, E)) == 120 and cold.verify().ok


class _Fake:
    def __init__(self, count: int, size: int | None = None, name: str = ""):
        self.index = type("I", (), {"count": count})()
        self.size = size if size is not None else count * 100
        self.name = name or f"{count}-{id(self)}"


def test_the_tiered_rule_merges_the_smallest_packs_of_the_lowest_full_tier(monkeypatch):
    fanout, base = packs.MERGE_FANOUT, packs.MERGE_TIER_BASE
    assert [packs.merge_tier(size) for size in (0, base - 1, base, base * fanout - 1, base * fanout)] == [0, 0, 1, 1, 2]
    assert packs.choose_merge([_Fake(1, 1000) for _ in range(fanout - 1)]) == []  # a tier not full yet: no merge
    full = [_Fake(1, 1000 + i) for i in range(fanout + 2)]
    assert packs.choose_merge(full) == full[:fanout]  # the smallest MERGE_FANOUT of the tier
    monkeypatch.setattr(packs, "MERGE_FANOUT", 2)
    monkeypatch.setattr(packs, "MERGE_TIER_BASE", 100)  # tiers: < 100, < 200, < 400, < 800 ... bytes
    sizes = lambda chosen: sorted(p.size for p in chosen)  # noqa: E731
    assert sizes(packs.choose_merge([_Fake(1, 150), _Fake(1, 250)])) == []  # one pack in each tier
    assert sizes(packs.choose_merge([_Fake(1, 150), _Fake(1, 250), _Fake(1, 300)])) == [250, 300]
    assert sizes(packs.choose_merge([_Fake(1, 10), _Fake(1, 20), _Fake(1, 250), _Fake(1, 300)])) == [10, 20]  # lowest first
    monkeypatch.setattr(packs, "MERGE_MAX_BYTES", 1000)
    assert sizes(packs.choose_merge([_Fake(1, 1000), _Fake(1, 1000)])) == []  # at the bound: never take part
    assert sizes(packs.choose_merge([_Fake(1, 600), _Fake(1, 700)])) == []  # the merged pack would reach the bound
    monkeypatch.setattr(packs, "MERGE_FANOUT", 4)
    monkeypatch.setattr(packs, "MERGE_TIER_BASE", 1000)  # one tier below 1000 bytes
    # the smallest four would reach the bound: the largest of them stays out
    assert sizes(packs.choose_merge([_Fake(1, 300), _Fake(1, 310), _Fake(1, 320), _Fake(1, 330), _Fake(1, 900)])) == [
        300, 310, 320]
    assert sizes(packs.choose_merge([_Fake(1, 900), _Fake(1, 910), _Fake(1, 920), _Fake(1, 930)])) == []


@pytest.mark.parametrize("fanout", [2, 4])
def test_packs_merge_and_every_object_stays_readable_to_an_engine_opened_before(db, monkeypatch, fanout):
    monkeypatch.setattr(packs, "MERGE_FANOUT", fanout)
    early = DbEngine(db.root)
    digests = []
    for round_ in range(12):
        db.put_many(T, U, E, {f"r{round_}-{i}": i for i in range(40)})
        digests.append(db.get_digest(T, E))
        if round_ == 0:
            assert early.get(T, E, "r0-3") == 3  # it lists packs/ and keeps the pack open
    paths = pack_paths(db)
    tiers = Counter(packs.merge_tier(p.stat().st_size) for p in paths)
    assert 1 <= len(paths) < 12 and max(tiers.values()) < fanout  # merged: no tier full after a commit
    gone = [name for name in early.storage.packs._of(T).packs if not (Path(db.storage.packs.folder(T)) / name).exists()]
    assert gone  # the engine opened before holds a merged-away pack, still readable through its fd
    first = early.read_snapshot(T, digests[0])
    assert early.storage.read_object(T, first["__keys__"])
    for engine in (early, DbEngine(db.root)):
        assert len(engine.get(T, E)) == 480 and engine.get(T, E, "r0-39") == 39
        assert len(engine.get(T, E, digest=digests[0])) == 40
    assert DbEngine(db.root).verify().ok


def test_a_merge_never_carries_damage_and_never_deletes_a_damaged_pack(db, monkeypatch):
    monkeypatch.setattr(packs, "MERGE_FANOUT", 2)
    db.put_many(T, U, E, {f"a{i}": i for i in range(40)})
    [pack] = pack_paths(db)
    data = bytearray(pack.read_bytes())
    data[-4] ^= 1
    pack.write_bytes(bytes(data))
    writer = DbEngine(db.root, durable=False)
    writer.put_many(T, U, "other", {f"b{i}": i for i in range(40)})  # another entry: never reads that pack
    writer.put_many(T, U, "third", {f"c{i}": i for i in range(40)})
    assert len(pack_paths(writer)) == 2  # the two sound packs merged, the damaged one left out
    assert pack.exists()  # left for verify to report, not merged away
    assert any(p.kind == "hash-mismatch" and str(pack) in p.path for p in writer.verify().problems)


MERGE_SCRIPT = """
import os, sys, time
from dbengine import packs, records_tree as r
from dbengine.dbengine import DbEngine
r.ORDER_LEAF, r.ORDER_FANOUT, r.KEY_LEAF, r.KEY_BITS = 4, 3, 4, 2
root, step, marker = sys.argv[1:4]
packs.MERGE_FANOUT = 2
def pause(name):
    if name == step:
        open(marker, "w").close()
        time.sleep(60)
packs._merge_step = pause
db = DbEngine(root, durable=False)
db.put_many("t", "u", "rec", {f"z{i}": i for i in range(40)})
"""


@pytest.mark.parametrize("step", ["written", "renamed"])
def test_a_writer_killed_in_a_merge_leaves_a_database_that_reads_and_verifies(db, tmp_path, step, monkeypatch):
    import signal
    import time

    monkeypatch.setattr(packs, "MERGE_FANOUT", 2)
    db.put_many(T, U, E, {f"a{i}": i for i in range(40)})  # one pack: the next commit's merges with it
    expected = db.get(T, E)
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "engine"), str(ROOT)])}
    child = subprocess.Popen([sys.executable, "-c", MERGE_SCRIPT, db.root, step, str(marker)], env=env)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert marker.exists(), "the merge never reached its step"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    cold = DbEngine(db.root)
    assert cold.get(T, E) == expected  # the killed commit's head never went in
    assert len(pack_paths(cold)) == (2 if step == "written" else 3)  # before the rename / before the unlinks
    report = cold.verify()
    assert report.ok and {n.kind for n in report.notes} <= {"temp-file"}
    cold.put_many(T, U, E, {f"b{i}": i for i in range(40)})  # the next commit merges what was left
    assert len(DbEngine(db.root).get(T, E)) == 80 and DbEngine(db.root).verify().ok


def test_a_checkpoint_writes_the_journals_nodes_as_one_pack_and_syncs_it(tmp_path, monkeypatch):
    from dbengine import journal_checkpoint

    engine = DbEngine(str(tmp_path / "d"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    engine.put(T, U, E, "k1", -1)
    journaled = {digest for _where, digest, _data in engine.storage.journal_objects(T)}
    monkeypatch.setattr(journal_checkpoint, "_syncfs", lambda fd: False)  # the fsync of each file instead
    synced: list[str] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), fsync(fd))[1])
    engine.storage.checkpoint(T)
    assert os.path.getsize(engine.storage.journal_path(T)) == 0
    [pack] = pack_paths(engine)
    assert str(pack) in synced and str(pack.parent) in synced
    packed = set(node_digests(pack))
    assert packed | set(loose(engine)) == journaled and not packed & set(loose(engine))
    assert all(not packs.is_node_bytes(data) for data in loose(engine).values())  # versions stay loose
    cold = DbEngine(engine.root)
    assert cold.get(T, E, "k1") == -1 and len(cold.get(T, E)) == 60 and cold.verify().ok


KILLED_AFTER_THE_PACK = r"""
import os, signal, sys
from dbengine import journal_checkpoint, records_tree as r, storage
r.ORDER_LEAF, r.ORDER_FANOUT, r.KEY_LEAF, r.KEY_BITS = 4, 3, 4, 2
journal_checkpoint.JournalCheckpoints._sync_all = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # pack in, not synced
storage.LocalStorage(sys.argv[1]).checkpoint("t")
"""


def test_a_checkpoint_killed_after_writing_its_pack_loses_nothing(tmp_path):
    engine = DbEngine(str(tmp_path / "d"))
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    size = os.path.getsize(engine.storage.journal_path(T))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "engine"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", KILLED_AFTER_THE_PACK, engine.root], env=env, capture_output=True,
                          timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert os.path.getsize(engine.storage.journal_path(T)) == size and len(pack_paths(engine)) == 1
    cold = DbEngine(engine.root)
    assert len(cold.get(T, E)) == 60 and cold.verify().ok
    cold.storage.checkpoint(T)  # the same pack again (same bytes, same name): kept
    assert len(pack_paths(engine)) == 1 and DbEngine(engine.root).verify().ok


def test_a_pack_that_cannot_be_written_leaves_the_head_and_the_next_put_writes_what_it_needs(db, monkeypatch):
    db.put_many(T, U, E, {f"k{i}": i for i in range(60)})
    before = db.get_digest(T, E)
    files = db.storage.files
    write_atomic = files.write_atomic

    def failing(path, data, durable=None):
        if path.endswith(".pack"):
            raise errors.StorageError(f"cannot write {path}: disk full (simulated)")
        return write_atomic(path, data, durable)

    monkeypatch.setattr(files, "write_atomic", failing)
    with pytest.raises(errors.StorageError, match="simulated"):
        db.put_many(T, U, E, {f"k{i}": -i for i in range(60)})
    assert DbEngine(db.root).get_digest(T, E) == before
    monkeypatch.setattr(files, "write_atomic", write_atomic)
    db.put_many(T, U, E, {f"k{i}": -i for i in range(60)} | {"last": 1})
    cold = DbEngine(db.root)
    assert cold.get(T, E) == [-i for i in range(60)] + [1] and cold.verify().ok


def test_a_process_keeps_the_packs_of_a_bounded_number_of_tenants_open(db, monkeypatch):
    monkeypatch.setattr(packs, "PACK_TENANTS_MAX", 2)
    for tenant in ("a", "b", "c"):
        db.init(tenant)
        db.put_many(tenant, U, E, {f"k{i}": i for i in range(60)})
    roots = {tenant: db.read_snapshot(tenant, db.get_digest(tenant, E))["__keys__"] for tenant in ("a", "b", "c")}
    reader = DbEngine(db.root)
    for tenant in ("a", "b", "c", "a"):
        assert packs.is_node_bytes(reader.storage.read_object(tenant, roots[tenant]))
    assert list(reader.storage.packs._tenants) == ["c", "a"]
    assert reader.get("b", E, "k9") == 9  # listed and opened again


def _reference_check(data: bytes) -> bool:
    """The layout's rules spelled out one by one (to hold pack_file's bulk checks against)."""
    count, start = parse_header(data, len(data))
    digests = [data[start + DIGEST * i:start + DIGEST * (i + 1)] for i in range(count)]
    base = start + DIGEST * count
    offsets = [int.from_bytes(data[base + 8 * i:base + 8 * i + 8], "big") for i in range(count + 1)]
    return (all(digests[i] < digests[i + 1] for i in range(count - 1)) and offsets[0] == base + 8 * (count + 1)
            and all(offsets[i] <= offsets[i + 1] for i in range(count)) and offsets[count] == len(data))


def test_every_flipped_index_byte_is_refused_by_the_full_checks_or_harmless_to_reads(tmp_path):
    """A byte of the index changed at random (400 times): the full checks agree with the rules
    spelled out; whatever the O(1) checks let through, a read gives the object's own bytes,
    nothing (not found), or CorruptObjectError naming the pack, never other bytes."""
    import random

    objects = {hashlib.sha256(b"%d" % i).hexdigest(): b"%d" % i * (i % 5 + 1) for i in range(12)}
    data = encode_pack(objects)
    count, start = parse_header(data, len(data))
    rng = random.Random(5)
    path = tmp_path / "x.pack"
    outcomes = {"damaged at open": 0, "damaged in full": 0, "sound": 0}
    for _ in range(400):
        forged = bytearray(data)
        at = rng.randrange(start, start + index_size(count))
        forged[at] ^= 1 << rng.randrange(8)
        forged = bytes(forged)
        try:
            parse_pack(forged)
            full = True
        except PackDamage:
            full = False
        assert full == _reference_check(forged), at
        path.write_bytes(forged)
        try:
            pack = packs._open_pack(str(path))
        except PackDamage:
            outcomes["damaged at open"] += 1
            assert not full
            continue
        outcomes["sound" if pack.full_check() is None else "damaged in full"] += 1
        for digest, item in objects.items():
            try:
                got = pack.read(digest, int(digest[:16], 16))
            except errors.CorruptObjectError as exc:
                assert "x.pack" in str(exc)
                continue
            assert got in (None, item), (at, digest)
        pack.close()
    assert all(outcomes.values()), outcomes  # each way was taken


def test_a_fault_at_every_storage_call_of_a_packing_commit_leaves_a_sound_database(tmp_path, monkeypatch):
    """EIO at each os call the local storage makes during a put_many that writes a pack and
    merges it (tests/fault_injection.py): raised as StorageError or absorbed (a merge can
    wait; the index is a cache), the entry before or after, verify clean, no temp file, and
    the same put_many then succeeds."""
    import errno

    sys.path.insert(0, str(ROOT / "tests"))
    from fault_injection import Faults, each_fault, faulted

    monkeypatch.setattr(packs, "MERGE_FANOUT", 2)
    template = tmp_path / "template"
    engine = DbEngine(str(template), durable=False)
    engine.init(T)
    engine.put_many(T, U, E, {f"k{i}": i for i in range(40)})
    before = engine.get(T, E)
    batch = {f"k{i}": -i for i in range(0, 40, 3)} | {f"n{i}": i for i in range(8)}  # about as many nodes
    after = list((dict(zip([f"k{i}" for i in range(40)], before, strict=True)) | batch).values())

    def run(root: Path, faults: Faults | None) -> Exception | None:
        return faulted(lambda: DbEngine(str(root), durable=False).put_many(T, U, E, batch), faults, errors.DbEngineError)

    counting = Faults()
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    assert run(reference, counting) is None and len(pack_paths(DbEngine(str(reference)))) == 1  # merged
    raised = 0
    for _n, label, case, error in each_fault(template, tmp_path, len(counting.calls), run):
        if error is not None:
            raised += 1
            assert isinstance(error, errors.StorageError) and error.errno == errno.EIO, (label, error)
        cold = DbEngine(str(case))
        assert cold.get(T, E) in (before, after), label
        assert cold.verify().ok and cold.storage.temp_files() == [], label
        assert run(case, None) is None and DbEngine(str(case)).get(T, E) == after, label
    assert raised >= len(counting.calls) // 3


def test_tiny_commit_packs_are_not_rewritten_again_and_again_in_the_lowest_tier():
    """Packs of a few kB (16 small nodes): the lowest tier must not hold a growing merged pack that
    every merge of it rewrites again (it did up to 512 kB: 11.8 times each byte over 10,000 commits)."""
    live, written, rewritten = [], 0, 0
    for commit in range(3000):
        live.append(_Fake(1, 4096, name=f"c{commit:06d}"))
        written += 4096
        chosen = packs.choose_merge(live)
        if chosen:
            merged = sum(pack.size for pack in chosen)
            rewritten += merged
            for pack in chosen:
                live.remove(pack)
            live.append(_Fake(1, merged, name=f"m{commit:06d}"))
        assert len(live) <= 4 * packs.MERGE_FANOUT  # a reader probes a bounded number of small packs
    tiers = packs.merge_tier(packs.MERGE_MAX_BYTES - 1) - packs.merge_tier(4096) + 1  # the tiers a byte climbs
    assert rewritten / written <= tiers  # about once per tier, not once per merge of the lowest one


def test_a_problem_of_a_sound_object_is_named_at_its_file_not_at_a_damaged_packed_copy(db):
    """A damaged copy names where a missing object was looked for, never a problem of an
    object whose file is sound (a7bef21 named the damaged copy for both)."""
    import json

    saved = Path(db.storage.object_path(T, db.save(T, U, "doc", {"a": 1})))
    document = json.loads(saved.read_bytes())
    document["__data__"] = {"__special__": "ref", "__digest__": "not-a-digest"}  # verify: bad-ref
    data = json.dumps(document).encode()
    digest = hashlib.sha256(data).hexdigest()
    good = Path(db.storage.object_path(T, digest))
    good.parent.mkdir(exist_ok=True)
    good.write_bytes(data)
    pack_bytes = encode_pack({digest: data.replace(b"not-a-digest", b"not-a-digesT")})  # a damaged copy
    folder = Path(db.storage.packs.folder(T))
    folder.mkdir(exist_ok=True)
    (folder / f"{hashlib.sha256(pack_bytes).hexdigest()}.pack").write_bytes(pack_bytes)
    problems = DbEngine(db.root).verify().problems
    assert any(p.kind == "hash-mismatch" and str(folder) in p.path for p in problems)  # the damaged copy
    assert [p.path for p in problems if p.kind == "bad-ref"] == [str(good)]
