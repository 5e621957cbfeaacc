"""The per-entry history index's line format (docs/FORMAT.md section 10): encoding Versions
as lines, scanning lines checked by their CRC-32, and building Versions from their fields.

Each index line describes one version, oldest first, as ten tab-separated ASCII fields:
digest, first parent, restored_from, summary, date, user_id, other parents, the version's
position in the chain, its change set and a CRC-32 of the whole file up to that field, so
that one CRC call checks a whole file and each line's check continues from the previous
line's value. Lines of format 0.4 (eight fields: no position, no change set) are still
read; both kinds may share a file.
The digest and first parent have fixed widths, so history() cuts lines without
splitting them; Versions are built field by field with C-level splits and maps,
because log() of a 10,000-version history is measured against sqlite.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import re
import zlib
from collections import deque
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter

from .errors import InvalidDateError, InvalidNameError
from .names import DIGEST_RE, check_user
from .utils import MAX_DATE, MIN_DATE, parse_date
from .versions import ChangeSummary, Version, version_from_document

_SUMMARIES: dict[tuple, ChangeSummary] = {}


def _summary_of(counts: list) -> ChangeSummary:
    """Shared ChangeSummary instances: histories repeat the same few counts."""
    key = tuple(counts)
    summary = _SUMMARIES.get(key)
    if summary is None:
        added, changed, removed = key
        if not all(type(n) is int for n in key):
            raise ValueError("bad change summary")
        summary = ChangeSummary(added, changed, removed)
        if len(_SUMMARIES) < 4096:
            _SUMMARIES[key] = summary
    return summary


# ---------------------------------------------------------------------- index lines
NONE_FIELD = "-"
NO_PARENT = "-" * 64
_FIELDS = 10  # digest, parent, restored_from, summary, date, user_id, parents, position, changes, crc
_TAIL_FIELDS = 8  # the fields after the first parent
_OLD_TAIL_FIELDS = 6  # format 0.4: no position, no change set
#: Change sets longer than this (keys, or bytes of JSON) are stored as `-` (unknown):
#: a reader then compares the version with its parent.
CHANGES_MAX_KEYS = 1000
CHANGES_MAX_BYTES = 32 * 1024
_CRC_TAIL = 10  # b"\t%08x\n"
_CRC_RE = re.compile(rb"[0-9a-f]{8}")
_SETTERS = tuple(
    Version.__dict__[name].__set__
    for name in ("digest", "parents", "user_id", "date", "restored_from", "summary", "damage")
)


def encode_lines(versions: list[Version], crc: int, first: int | None = None) -> tuple[bytes, int]:
    """Index lines for `versions`, continuing a file whose running CRC-32 is `crc`:
    (the bytes to append, the running CRC-32 after them). `first` is the chain position
    of `versions[0]` (0 = the entry's first version; None: unknown, written `-`)."""
    out = []
    for number, version in enumerate(versions):
        summary, parents = version.summary, version.parents
        parent = parents[0] if parents else None
        body = "\t".join((
            version.digest,
            NO_PARENT if parent is None else parent,
            _restored_field(version),
            NONE_FIELD if summary is None else f"{summary.added},{summary.changed},{summary.removed}",
            NONE_FIELD if version.date is None else _isoformat(version.date),
            json.dumps(version.user_id),
            NONE_FIELD if len(parents) == 1 else json.dumps(parents, separators=(",", ":")),
            NONE_FIELD if first is None else str(first + number),
            changes_field(summary),
        )).encode("ascii")
        crc = zlib.crc32(body, crc)
        tail = b"\t%08x\n" % crc
        crc = zlib.crc32(tail, crc)
        out += (body, tail)
    return b"".join(out), crc


_last_iso: tuple[_dt.datetime | None, str] = (None, "")


def _isoformat(moment: _dt.datetime) -> str:
    """moment.isoformat(), kept for the last datetime asked (parse_date hands a save's
    commit the same datetime object for the date it wrote: an identity check suffices)."""
    global _last_iso
    last = _last_iso
    if last[0] is moment:
        return last[1]
    text = moment.isoformat()
    _last_iso = (moment, text)
    return text


_COMPACT = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps(..., separators=(",", ":")), built once
_quoted = json.encoder.encode_basestring_ascii  # json.dumps(text) of a str: what _COMPACT writes for each item


def changes_field(summary: ChangeSummary | None) -> str:
    """The change-set field: `-` (unknown, or more than the caps allow), else the changed
    record keys or JSON Pointers as a compact JSON array of strings (ASCII)."""
    keys = summary.keys if summary is not None else None
    if keys is None or len(keys) > CHANGES_MAX_KEYS:
        return NONE_FIELD
    global _last_changes
    last = _last_changes  # (one read: another thread may replace it meanwhile)
    if last[0] == keys:  # saves of one document's fields repeat their change set
        return last[1]
    if set(map(type, keys)) <= {str}:  # (always, from the engine) the array's text without the encoder's set-up
        text = "[" + ",".join(map(_quoted, keys)) + "]"
        text = text if len(text) <= CHANGES_MAX_BYTES else NONE_FIELD
        if type(keys) is tuple:  # (a tuple of str is equal only to one that has the same text)
            _last_changes = (keys, text)
        return text
    text = _COMPACT(list(keys))
    return text if len(text) <= CHANGES_MAX_BYTES else NONE_FIELD


_last_changes: tuple[tuple | None, str] = (None, "")  # the last change set written and its field


_last_user: tuple[str | None, str] = (None, "")  # a writer's user id (checked) and its field: saves repeat it


def _user_field(user: str) -> str:
    """json.dumps(user) (ASCII-escaped) of a valid user id (InvalidNameError if it is not),
    kept for the last user asked."""
    global _last_user
    last = _last_user  # (one read: another thread may replace it meanwhile)
    if last[0] == user and type(user) is str:
        return last[1]
    check_user(user)
    text = _quoted(user)
    _last_user = (user, text)
    return text


def encode_commit(digest: str, document: dict, summary: ChangeSummary | None, crc: int,
                  position: int) -> tuple[bytes, int]:
    """`encode_lines([version_from_document(digest, document, summary)], crc, position)`: the
    index line of a version just committed, made from its document's fields without building
    a Version when its metadata is sound (one parent; a valid user, date and restored-from:
    what the engine writes); else by that general path."""
    parents, user = document["__parent__"], document["__user_id__"]
    parent, restored = parents[0], document.get("__restored_from__")
    if len(parents) == 1 and type(user) is str and (parent is None or type(parent) is str) \
            and (restored is None or (type(restored) is str and DIGEST_RE.fullmatch(restored))):
        try:
            user_field = _user_field(user)
            moment = parse_date(document["__date__"])
        except (InvalidNameError, InvalidDateError):
            moment = None
        if moment is not None:  # no damage: the fields version_from_document and encode_lines would make
            body = "\t".join((
                digest,
                NO_PARENT if parent is None else parent,
                NONE_FIELD if restored is None else f'"{restored}"',
                NONE_FIELD if summary is None else f"{summary.added},{summary.changed},{summary.removed}",
                _isoformat(moment),
                user_field,
                NONE_FIELD,
                str(position),
                changes_field(summary),
            )).encode("ascii")
            crc = zlib.crc32(body, crc)
            tail = b"\t%08x\n" % crc
            return body + tail, zlib.crc32(tail, crc)
    return encode_lines([version_from_document(digest, document, summary)], crc, position)


def parse_changes(text: str) -> tuple[str, ...] | None:
    """The keys or pointers of a change-set field (None for `-`); ValueError if malformed."""
    if text == NONE_FIELD:
        return None
    keys = json.loads(text)
    if type(keys) is not list or not all(type(k) is str for k in keys):
        raise ValueError("bad change set in the index")
    return tuple(keys)


def _restored_field(version: Version) -> str:
    """`-`, the restored-from digest as a JSON string, or, for a version with damaged
    metadata, a JSON object holding both the damage and the restored-from digest."""
    if version.damage is not None:
        return json.dumps({"damage": version.damage, "restored_from": version.restored_from},
                          separators=(",", ":"))
    return NONE_FIELD if version.restored_from is None else json.dumps(version.restored_from)


@dataclass
class IndexChunk:
    """Index lines whose CRCs match, cut into digest, first parent and the rest of the line.

    `tails` keeps each line's other fields as text until a Version is asked for.
    `consumed` bytes were read, ending with a running CRC-32 of `crc`. `clean` is False
    when a damaged line stopped the scan early (a partial last line, left by a crash
    during an append, is not damage).
    """

    digests: list[str]
    parents: list[str | None]
    tails: list[str]
    consumed: int
    crc: int
    clean: bool


def parse_index(data: bytes, crc: int = 0) -> IndexChunk:
    """Scan index bytes that start at a line boundary where the file's running CRC-32 is `crc`."""
    end = data.rfind(b"\n") + 1
    if not end:
        return IndexChunk([], [], [], 0, crc, True)
    stored = data[end - 9 : end - 1]
    if data[end - _CRC_TAIL : end - 9] == b"\t" and _CRC_RE.fullmatch(stored) \
            and zlib.crc32(memoryview(data)[: end - _CRC_TAIL], crc) == int(stored, 16):
        paused = gc.isenabled()
        gc.disable()  # thousands of strings: collection passes only cost time
        try:  # the whole span is intact: cut every line at the same places
            return _parse_fixed(data[:end], int(stored, 16))
        except ValueError:
            pass
        finally:
            if paused:
                gc.enable()
    return _parse_lines(data, end, crc)


def _parse_fixed(body: bytes, last_crc: int) -> IndexChunk:
    lines = body.decode("ascii").split("\n")
    lines.pop()
    digests = [line[:64] for line in lines]
    firsts = [line[65:129] for line in lines]
    if firsts[:1] == [NO_PARENT] and firsts.count(NO_PARENT) == 1:  # a whole file
        named = firsts[1:]
        parents: list[str | None] = [None, *named]
    else:
        named = [p for p in firsts if p != NO_PARENT]
        parents = [None if p == NO_PARENT else p for p in firsts]
    if not (_all_hex(digests) and _all_hex(named)):
        raise ValueError("index lines are not cut where expected")
    tails = [line[130:] for line in lines]
    crc = zlib.crc32(body[-_CRC_TAIL:], last_crc)
    return IndexChunk(digests, parents, tails, len(body), crc, True)


def _all_hex(digests: list[str]) -> bool:
    """Every item is 64 lowercase hex digits (checked on the joined text, in C)."""
    joined = "".join(digests)
    if len(joined) != 64 * len(digests) or set(map(len, digests)) - {64}:
        return False
    try:
        return len(bytes.fromhex(joined)) * 2 == len(joined) and joined == joined.lower()
    except ValueError:
        return False


def _parse_lines(data: bytes, end: int, crc: int) -> IndexChunk:
    """Line by line, stopping at the first line whose CRC or shape is wrong.

    The line before a bad one is dropped too: a line altered together with its own CRC
    passes its check, and only the next line's check, which continues from it, fails.
    """
    chunk = IndexChunk([], [], [], 0, crc, False)
    before = (0, crc)
    for line in data[:end].split(b"\n")[:-1]:
        stored = line[-8:]
        if line[-9:-8] != b"\t" or not _CRC_RE.fullmatch(stored) or zlib.crc32(line[:-9], crc) != int(stored, 16):
            break
        try:
            text = line.decode("ascii")
        except ValueError:
            break
        digest, first = text[:64], text[65:129]
        if text[64:65] != "\t" or text[129:130] != "\t" or not _all_hex([digest]) \
                or (first != NO_PARENT and not _all_hex([first])):
            break
        chunk.digests.append(digest)
        chunk.parents.append(None if first == NO_PARENT else first)
        chunk.tails.append(text[130:])
        before = (chunk.consumed, crc)
        crc = zlib.crc32(line[-9:] + b"\n", int(stored, 16))
        chunk.consumed += len(line) + 1
    chunk.crc, chunk.clean = crc, chunk.consumed == end
    if not chunk.clean and chunk.digests:
        for column in (chunk.digests, chunk.parents, chunk.tails):
            column.pop()
        chunk.consumed, chunk.crc = before
    return chunk


def _parents_of(text: str) -> list:
    parents = json.loads(text)
    if type(parents) is not list or not all(p is None or (type(p) is str and DIGEST_RE.fullmatch(p)) for p in parents):
        raise ValueError(f"bad parents in the index: {text[:80]!r}")
    return parents


def _user_of(text: str) -> str:
    user = json.loads(text)
    if type(user) is not str:
        raise ValueError("bad user in the index")
    return user


def _restored_of(text: str) -> tuple[str | None, str | None]:
    """(restored_from, damage) of a restored-from field."""
    if text == NONE_FIELD:
        return None, None
    value = json.loads(text)
    if type(value) is dict:
        damage, restored = value.get("damage"), value.get("restored_from")
        if type(damage) is not str or not (restored is None or (type(restored) is str and DIGEST_RE.fullmatch(restored))):
            raise ValueError("bad damage field in the index")
        return restored, damage
    if type(value) is not str or not DIGEST_RE.fullmatch(value):
        raise ValueError("bad restored_from in the index")
    return value, None


def _date_of(text: str) -> _dt.datetime | None:
    """A date field: None for `-` (an invalid stored date, with its damage in the line)."""
    if text == NONE_FIELD:
        return None
    moment = _dt.datetime.fromisoformat(text)
    if moment.tzinfo is None or not MIN_DATE <= moment <= MAX_DATE:
        raise ValueError(f"date {text!r} out of range in the index")
    return moment


def _dates(texts: list[str]) -> list[_dt.datetime | None]:
    """The date column, parsed in C when every date is valid (the common case)."""
    try:
        dates = list(map(_dt.datetime.fromisoformat, texts))
        if dates and MIN_DATE <= min(dates) and max(dates) <= MAX_DATE:
            return dates
    except (ValueError, TypeError):
        pass
    return list(map(_date_of, texts))


def _summary_of_text(text: str) -> ChangeSummary | None:
    if text == NONE_FIELD:
        return None
    counts = text.split(",")
    if len(counts) != 3 or not all(c.isdigit() and c.isascii() for c in counts):
        raise ValueError("bad change summary in the index")
    return _summary_of([int(c) for c in counts])


def _decoded(texts: list[str], decode) -> list:
    """Decode each distinct text once (histories repeat users and summaries)."""
    if len(texts) == 1:  # (one line: the head's, read for an entry listing)
        return [decode(texts[0])]
    if texts.count(NONE_FIELD) == len(texts):
        return [decode(NONE_FIELD)] * len(texts)
    table = {text: decode(text) for text in set(texts)}
    return list(map(table.__getitem__, texts))


def _tail_columns(tails: list[str]) -> list[str]:
    """The tail fields of every line, flattened with _TAIL_FIELDS per line: lines of format
    0.4 get `-` for the position and the change set (ValueError if a line has neither shape)."""
    count = len(tails)
    flat = "\t".join(tails).split("\t")
    if len(flat) == _TAIL_FIELDS * count:
        return flat
    if len(flat) == _OLD_TAIL_FIELDS * count:
        out = [NONE_FIELD] * (_TAIL_FIELDS * count)
        for src, dst in ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 7)):
            out[dst::_TAIL_FIELDS] = flat[src::_OLD_TAIL_FIELDS]
        return out
    out = []
    for tail in tails:  # a file of both formats (0.5 lines appended to a 0.4 index)
        fields = tail.split("\t")
        if len(fields) == _OLD_TAIL_FIELDS:
            fields[5:5] = [NONE_FIELD, NONE_FIELD]
        elif len(fields) != _TAIL_FIELDS:
            raise ValueError("index lines do not have ten (or eight) fields each")
        out += fields
    return out


def _check_positions(texts: list[str], first: int) -> None:
    """Each position field is `-` (a line of format 0.4) or its line's chain position."""
    expected = list(map(str, range(first, first + len(texts))))
    if texts != expected and any(t != e and t != NONE_FIELD for t, e in zip(texts, expected, strict=True)):
        raise ValueError("an index line names the wrong position in the chain")


def line_position(tail: str) -> int | None:
    """The chain position a line's tail names (None: a line of format 0.4, or malformed)."""
    fields = tail.split("\t")
    if len(fields) != _TAIL_FIELDS or not (fields[5].isascii() and fields[5].isdigit()):
        return None
    return int(fields[5])


def line_changes(tail: str) -> tuple[str, ...] | None:
    """The change set of a line's tail (None: unknown); ValueError if malformed."""
    fields = tail.split("\t")
    if len(fields) == _OLD_TAIL_FIELDS:
        return None
    if len(fields) != _TAIL_FIELDS:
        raise ValueError("bad index line")
    return parse_changes(fields[6])


def build_versions(digests: list[str], parents: list[str | None], tails: list[str],
                   first: int | None = None, changes: bool = False) -> list[Version]:
    """Versions from scanned index lines, built field by field at C speed (ValueError if malformed).

    `first`: the chain position of the first line, checked against the lines' position
    fields. `changes`: parse the change sets into `summary.keys` (off by default: log()
    of many versions does not pay for them; versions_touching() reads them instead).
    """
    if not digests and not tails:
        return []
    if len(tails) != len(digests):
        raise ValueError("index columns differ in length")
    try:
        flat = _tail_columns(tails)
    except (TypeError, AttributeError):
        raise ValueError("bad index line") from None
    return versions_from_fields(digests, parents, flat, first, changes)


def versions_from_fields(digests: list[str], parents: list[str | None], flat: list[str],
                         first: int | None = None, changes: bool = False) -> list[Version]:
    """Versions from the tail fields of index lines of format 0.5, flattened with eight per
    line (see build_versions; ValueError if malformed)."""
    paused = gc.isenabled()
    gc.disable()  # thousands of small immutable objects: collection passes only cost time
    try:
        count = len(digests)
        if len(flat) != _TAIL_FIELDS * count or len(parents) != count:
            raise ValueError("index columns differ in length")
        if first is not None:
            _check_positions(flat[5::_TAIL_FIELDS], first)
        extra = flat[4::_TAIL_FIELDS]
        if extra.count(NONE_FIELD) == count:
            parent_lists = [[p] for p in parents]
        else:
            parent_lists = [[p] if more == NONE_FIELD else _parents_of(more) for p, more in zip(parents, extra, strict=True)]
            if [p[0] if p else None for p in parent_lists] != parents:
                raise ValueError("index line names two different first parents")
        restored = flat[0::_TAIL_FIELDS]
        if any(text.startswith("{") for text in set(restored)):  # some version has damage
            pairs = _decoded(restored, _restored_of)
            restored_column, damage_column = [p[0] for p in pairs], [p[1] for p in pairs]
        else:
            restored_column = list(map(itemgetter(0), _decoded(restored, _restored_of)))
            damage_column = [None] * count
        dates = _dates(flat[2::_TAIL_FIELDS])
        if None in dates and any(d is None and m is None for d, m in zip(dates, damage_column, strict=True)):
            raise ValueError("an index line without a date names no damage")
        summaries = _decoded(flat[1::_TAIL_FIELDS], _summary_of_text)
        change_texts = flat[6::_TAIL_FIELDS]
        if changes and change_texts.count(NONE_FIELD) != count:
            summaries = [s if s is None or text == NONE_FIELD
                         else ChangeSummary(s.added, s.changed, s.removed, parse_changes(text))
                         for s, text in zip(summaries, change_texts, strict=True)]
        elif not changes:  # still checked: a malformed change set is damage wherever it is read
            for text in set(change_texts):
                if text != NONE_FIELD and not (text.startswith("[") and text.endswith("]")):
                    raise ValueError("bad change set in the index")
        values = (
            digests,
            parent_lists,
            _decoded(flat[3::_TAIL_FIELDS], _user_of),
            dates,
            restored_column,
            summaries,
            damage_column,
        )
        versions = list(map(object.__new__, repeat(Version, count)))
        if count == 1:  # (one line: the head's, read for an entry listing)
            for setter, column in zip(_SETTERS, values, strict=True):
                setter(versions[0], column[0])
            return versions
        for setter, column in zip(_SETTERS, values, strict=True):
            deque(map(setter, versions, column), maxlen=0)
        return versions
    except (TypeError, KeyError, IndexError, RecursionError) as exc:
        raise ValueError(f"bad index line: {exc}") from None
    finally:
        if paused:
            gc.enable()


def seed_crc(line: bytes) -> int | None:
    """The running CRC-32 after one complete index line (with its `\\n`), or None if it has no CRC field."""
    stored = line[-9:-1]
    if line[-_CRC_TAIL:-9] != b"\t" or not line.endswith(b"\n") or not _CRC_RE.fullmatch(stored):
        return None
    return zlib.crc32(line[-_CRC_TAIL:], int(stored, 16))








def chain_breaks(digests: list[str], parents: list[str | None], start: int = 0) -> bool:
    """True when some version from `start` on does not have the one before it as first parent."""
    if not digests:
        return False
    if start == 0:
        return parents[0] is not None or parents[1:] != digests[:-1]
    return parents[start:] != digests[start - 1 : -1]
