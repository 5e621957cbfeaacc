"""Record-tree nodes handled as bytes: a key-index leaf read without parsing it, and the
bytes of a changed node built from its old bytes instead of encoding every item again.

Each fast form is taken only when it is proven to give what the full path gives (the
parse, or `to_json_bytes` of the new node); otherwise these functions return None and the
caller takes the full path. The proofs are in the comments; tests/test_node_bytes.py
checks them against the full path on random and hostile inputs.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from itertools import islice
from operator import itemgetter
from typing import Any

from .utils import json_text, to_json_bytes

KEY_LEAF_HEAD = b'{"__kind__":"key-leaf","keys":[["'
KEY_LEAF_TAIL = b"]]}"
ORDER_LEAF_HEAD = b'{"__kind__":"rec-leaf","items":['
ORDER_LEAF_TAIL = b"]}"
ORDER_LEAF_LINED_HEAD = ORDER_LEAF_HEAD + b"\n"  # the lined spelling: one item a line
ORDER_LEAF_LINED_TAIL = b"\n" + ORDER_LEAF_TAIL
_CONTROL = bytes(range(0x20))  # raw in a JSON string: refused by the parse
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKET = bytes(set(range(256)) - set(b"[]{}\n"))
_SEQ_DIGITS = 18  # longer seqs (never written) take the full path: json limits int digits
_LEADING_ZERO = re.compile(rb"[,|]0[0-9]")
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_digits_of = itemgetter(slice(1, -3))  # `,123],[` or `,123]]}` -> b"123"


class KeyLeafScan:
    """A key-index leaf as its keys (UTF-8 bytes, in the leaf's order) and the separator
    after each (`,seq],[`, the last `,seq]]}`); see scan_key_leaf."""

    __slots__ = ("keys", "seps", "data")

    def __init__(self, keys: list[bytes], seps: list[bytes], data: bytes = b""):
        self.keys = keys
        self.seps = seps
        self.data = data  # the leaf's bytes: HEAD, then key, `"`, sep, `"` ... the last sep ends them

    def seq_at(self, index: int) -> int:
        """The seq of the `index`-th pair."""
        return int(_digits_of(self.seps[index]))

    def find(self, key: str) -> int | None:
        """The seq of `key` (binary search: call only once the keys are known sorted), or None."""
        try:
            wanted = key.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: such a key is written escaped, and this leaf has no escape
            return None
        at = bisect_left(self.keys, wanted)
        if at < len(self.keys) and self.keys[at] == wanted:
            return self.seq_at(at)
        return None

    def key_text(self, index: int) -> str:
        return self.keys[index].decode("utf-8")


def scan_key_leaf(data: bytes) -> KeyLeafScan | None:
    """The pairs of a key-index leaf's bytes when they are exactly
    `{"__kind__":"key-leaf","keys":[["k1",s1],...,["kn",sn]]}` with n >= 1, keys holding no
    `"`, backslash or control character, seqs plain non-negative integers; None otherwise
    (the caller parses the leaf: it may be valid JSON in another spelling, or damage).

    Why the answer is the parse's: with no backslash in the bytes, no string can hold an
    escaped quote, so every `"` byte opens or closes a string, and splitting at `"` cuts the
    bytes exactly at string boundaries: the head's seven pieces, then key, separator, key...
    Each separator is checked to be `,digits],[` (the last `,digits]]}`), which makes the
    bytes the grammar above, a subset of JSON: json.loads would return these keys (UTF-8
    checked, no escapes to undo) and seqs, and the node's shape check would pass. Such
    bytes are also exactly what `to_json_bytes` writes for them (no escape needed, ints in
    their only spelling), so a leaf spliced from them is canonical too.
    """
    if not data.startswith(KEY_LEAF_HEAD) or not data.endswith(KEY_LEAF_TAIL) or b"\\" in data:
        return None
    if len(data.translate(None, _CONTROL)) != len(data):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    parts = data.split(b'"')
    if len(parts) < 9 or not len(parts) % 2:
        return None
    keys, seps = parts[7::2], parts[8::2]
    last = seps[-1]
    digits = last[1:-3]
    if last[:1] != b"," or not last.endswith(b"]]}") or not digits.isdigit() or (digits[:1] == b"0" and len(digits) > 1):
        return None
    if len(seps) > 1:
        # `,d1],[` `"` `,d2],[` ... joined at `"`: each join must read `],[",`, which leaves
        # `,d1|d2|...|dm],[`; one `|` per join and nothing else but digits.
        joined = b'"'.join(seps[:-1]).replace(b'],[",', b"|")
        core = joined[1:-3]
        if joined[:1] != b"," or not joined.endswith(b"],[") or b'"' in joined or core.count(b"|") != len(seps) - 2 \
                or b"||" in core or core[:1] == b"|" or core[-1:] == b"|" or not core.replace(b"|", b"").isdigit() \
                or ((b"|0" in joined or joined[:2] == b",0") and _LEADING_ZERO.search(joined)):
            return None
    if max(map(len, seps)) > _SEQ_DIGITS + 4:
        return None
    return KeyLeafScan(keys, seps, data)


def key_leaf_bytes(keys: list[bytes], seqs: list[bytes]) -> bytes:
    """The bytes of a key-index leaf of escape-free keys (UTF-8) and seqs (digits), as
    `to_json_bytes` writes it (see scan_key_leaf)."""
    return KEY_LEAF_HEAD + b'],["'.join(map(b'",'.join, zip(keys, seqs, strict=True))) + KEY_LEAF_TAIL


def plain_key(key: str) -> bytes | None:
    """`key` as UTF-8 bytes when JSON writes it with no escape (no `"`, backslash, control
    character or lone surrogate), else None."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if b'"' in raw or b"\\" in raw or len(raw.translate(None, _CONTROL)) != len(raw):
        return None
    return raw


def splice_key_leaf(scan: KeyLeafScan, changes: list[tuple[Any, str, int | None]]) -> tuple[bytes, int] | None:
    """(bytes, pair count) of the leaf `scan` after `changes` ((hash, key, seq or None to
    remove) in any order), as `to_json_bytes` of the changed pairs would write them; None
    when a new key needs escapes (the caller encodes the pairs) or nothing is left.

    Edited in place in the leaf's bytes (scan_key_leaf's layout: the head, then each key
    followed by `"`, its separator `,seq],[` (the last `,seq]]}`) and `"`, except after the
    last separator), at offsets summed from the scanned keys' and separators' lengths: the
    other pairs are not joined again."""
    keys = list(scan.keys)
    seps = list(scan.seps)
    data = scan.data
    if len(keys) == 1 and any(change[2] is None for change in changes):
        changes = sorted(changes, key=lambda change: change[2] is None)  # adds first: the one key may go
    for _h, key, seq in changes:
        raw = plain_key(key)
        if raw is None:
            if seq is None:
                continue  # a key written with escapes is not in a leaf without any
            return None
        at = bisect_left(keys, raw)
        here = at < len(keys) and keys[at] == raw
        start = len(KEY_LEAF_HEAD) + sum(map(len, islice(keys, at))) + sum(map(len, islice(seps, at))) + 2 * at
        last = at == len(keys) - 1
        if here and seq is not None:  # a new seq for a kept key: its separator
            sep = b",%d%s" % (seq, KEY_LEAF_TAIL if last else b"],[")
            begin = start + len(raw) + 1
            data = data[:begin] + sep + data[begin + len(seps[at]):]
            seps[at] = sep
        elif here:  # removed
            if len(keys) == 1:
                return None
            if not last:
                data = data[:start] + data[start + len(raw) + len(seps[at]) + 2:]
            else:  # the one before becomes the last: its `],[` and the quote become the tail
                data = data[:start - 4] + KEY_LEAF_TAIL
                seps[at - 1] = seps[at - 1][:-3] + KEY_LEAF_TAIL
            del keys[at], seps[at]
        elif seq is not None:  # added
            if at < len(keys):
                sep = b",%d],[" % seq
                data = data[:start] + raw + b'"' + sep + b'"' + data[start:]
            else:
                sep = b",%d%s" % (seq, KEY_LEAF_TAIL)
                data = data[:-len(KEY_LEAF_TAIL)] + b'],["' + raw + b'"' + sep
                seps[-1] = seps[-1][:-3] + b"],["
            keys.insert(at, raw)
            seps.insert(at, sep)
    if not keys:
        return None
    return data, len(keys)


def order_leaf_bytes(items: list[list]) -> bytes:
    r"""The bytes of an order leaf as this engine writes it (the lined spelling; 0.5 wrote them compact):
    `to_json_bytes` of the leaf with a `\n` after the items' `[`, after each comma between
    two items and before the closing `]}`: one item a line. Each item is spelled as
    `to_json_bytes` spells it within the whole leaf (UTF-8, or ASCII escapes for every item
    when one holds a lone surrogate). A raw newline cannot occur inside a JSON string, so
    every `\n` byte is structural: splitting at `\n` gives the items exactly."""
    encoded = list(map(item_bytes, items))
    if any(data is None for data in encoded):
        encoded = [json.dumps(item, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")
                   for item in items]
    return ORDER_LEAF_LINED_HEAD + b",\n".join(encoded) + ORDER_LEAF_LINED_TAIL


def node_to_bytes(document: dict) -> bytes:
    """The bytes this engine writes for a record-tree node: order leaves lined
    (order_leaf_bytes), the other kinds as `to_json_bytes` writes them."""
    if document.get("__kind__") == "rec-leaf" and document.get("items"):
        return order_leaf_bytes(document["items"])
    return to_json_bytes(document)


def order_leaf_is_canonical(data: bytes, items: list[list]) -> bool:
    r"""True when `data`, the checked bytes of an order leaf whose parse gave `items`, is
    exactly `order_leaf_bytes(items)` (the lined spelling), proven without encoding it
    (False: not proven; a compact 0.5 leaf never is: it is re-encoded when rewritten).

    Without its `\n` bytes the leaf must be `to_json_bytes` of the leaf (_compact_is_canonical).
    Then the newlines: the head's and the tail's are in place, there are len(items) + 1 of
    them, the n - 1 in the body each follow a `,`, and each is at depth 0 of the items
    array. A raw newline is never inside a string (the parse refused it) and with no
    backslash every `"` opens or closes one, so the brackets outside strings are found by
    splitting at `"`; kept with the newlines alone (`{}` read as `[]`), and with every
    adjacent `[]` removed until none is left (the brackets nest: the parse succeeded), what
    remains is the n - 1 newlines exactly when no bracket pair spans one. A body newline
    at depth 0 right after a comma is between two items: n - 1 of them for n - 1 commas,
    one after each, as order_leaf_bytes writes them (an empty line would need a newline
    not after a comma)."""
    if not data.startswith(ORDER_LEAF_LINED_HEAD) or not data.endswith(ORDER_LEAF_LINED_TAIL) or b"\\" in data:
        return False
    if data.count(b"\n") != len(items) + 1 or data.count(b",\n") != len(items) - 1:
        return False
    outside = b"".join(data.split(b'"')[::2])
    if not _outside_is_canonical(outside.replace(b"\n", b""), data, items):
        return False
    brackets = outside.translate(_AS_SQUARE, _NOT_BRACKET)  # the head's `{[`, the tail's `]}`
    while b"[]" in brackets:
        brackets = brackets.replace(b"[]", b"")
    return brackets == b"[[" + b"\n" * (len(items) + 1) + b"]]"


def _compact_is_canonical(data: bytes, items: list[list]) -> bool:
    """True when `data`, compact bytes of an order leaf whose parse gave `items`, is
    exactly `to_json_bytes` of that leaf, proven without encoding it (False: not proven).

    With no backslash in the bytes every `"` opens or closes a string, so the pieces between
    them alternate outside / inside strings. Inside: no escape, and a raw `"`, backslash or
    control character cannot be there (the parse refused it), so each string is written as
    json writes it, in its UTF-8 mode (no lone surrogate can be spelled without an escape).
    Outside: no whitespace byte, no number but plain integers (no `.`, exponent or `-0`: an
    integer has one spelling), and as many `:` as the parsed objects have keys (a repeated
    key, which the parse drops, would leave one more). What remains is the structure and
    the literals, which have one spelling each. So the bytes are the canonical encoding.
    """
    if not data.startswith(ORDER_LEAF_HEAD) or not data.endswith(ORDER_LEAF_TAIL) or b"\\" in data:
        return False
    return _outside_is_canonical(b"".join(data.split(b'"')[::2]), data, items)


def _outside_is_canonical(outside: bytes, data: bytes, items: list[list]) -> bool:
    """The checks of _compact_is_canonical on `outside`, the bytes of the leaf `data` outside
    its strings (less the newlines of a lined leaf)."""
    # Single-byte searches only (memchr): a search for two bytes costs ~2 ns a byte here.
    if b" " in outside or b"\t" in outside or b"\n" in outside or b"\r" in outside \
            or b"." in outside or b"E" in outside:
        return False
    if b"e" in outside and b"e" in outside.replace(b"true", b"").replace(b"false", b""):
        return False  # an exponent
    if b"-" in outside and b"-0" in outside:
        return False
    return outside.count(b":") == 2 + _record_keys(data, items)


def _record_keys(data: bytes, items: list[list]) -> int:
    """The number of keys of all objects in the items' stored values (parsed from `data`)."""
    values = list(map(itemgetter(2), items))
    dicts = [value for value in values if type(value) is dict]
    if data.count(b"{") == 1 + len(dicts):  # no other `{` anywhere: no nested object
        return sum(map(len, dicts))
    return _object_keys(values)


def _object_keys(values: list[Any]) -> int:
    """The number of keys of every object in `values`, nested ones included."""
    count = 0
    stack = [v for v in values if type(v) in (dict, list)]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            count += len(value)
            stack.extend(v for v in value.values() if type(v) in (dict, list))
        else:
            stack.extend(v for v in value if type(v) in (dict, list))
    return count


def item_bytes(item: Any) -> bytes | None:
    """`to_json_bytes(item)` when JSON can write it in UTF-8 (no lone surrogate), else None
    (then the whole leaf is written with ASCII escapes: the caller encodes it whole)."""
    try:
        return json_text(item).encode("utf-8")  # to_json_bytes's text, its C encoder built once
    except UnicodeEncodeError:
        return None


def splice_order_leaf(data: bytes, replaced: list[tuple[int, bytes | None]], appended: list[bytes]) -> bytes | None:
    """The bytes of an order leaf whose bytes `data` are lined canonical
    (order_leaf_is_canonical), with the items at `replaced` ((index of an old item, its new
    bytes or None to remove it)) changed and `appended` (bytes of items after the last)
    added at its end; None when no item is left. In such bytes every body newline follows
    the comma between two items, so splitting the body at `,\\n` gives the items' bytes."""
    lines = data[len(ORDER_LEAF_LINED_HEAD):-len(ORDER_LEAF_LINED_TAIL)].split(b",\n")
    for index, new in replaced:
        lines[index] = new
    lines = [line for line in lines if line is not None]
    lines.extend(appended)
    return ORDER_LEAF_LINED_HEAD + b",\n".join(lines) + ORDER_LEAF_LINED_TAIL if lines else None


_HEX = b"0123456789abcdef"


def order_node_head(level: int) -> bytes:
    """How the bytes of an order node of `level` start, up to its first child."""
    return b'{"__kind__":"rec-node","level":%d,"children":[' % level


KEY_NODE_HEAD = b'{"__kind__":"key-node","children":['


def splice_inner_node(data: bytes, head: bytes, children: list[list],
                      replaced: list[tuple[int, tuple[str | None, int], tuple[str | None, int]]],
                      canonical: bool = False) -> bytes | None:
    """The bytes of an inner node (order or key index) whose checked bytes are `data`,
    starting with `head` (order_node_head, KEY_NODE_HEAD), and whose checked children are
    `children`, after `replaced` ((index, (old digest, count), (new digest, count)))
    changed some children in place; None when `data` is not proven canonical or a child
    comes or goes (the caller encodes the node).

    Canonical, proven without encoding: the head is as json writes it (the level too); no
    backslash (a digest spelled `\\u0061...` parses to hex too); every child digest is
    lowercase hex (no `[`, `]`, `,`, `:` or space in a string); no whitespace, no `-` after
    the head; no `:` but the head's (no key twice).
    The shape check made each child `[int, str, int]`, indexes >= 0 and counts >= 1, so each
    child is spelled `[index,"digest",count]` and is found by its own bytes, once.
    `canonical`: the bytes are known to be `to_json_bytes` of the node (this engine wrote
    them), so only the place of each child is needed: a `,"` cannot be inside a string
    (a quote there is escaped), so `[index,"digest",count]` occurs only as that child."""
    if not data.startswith(head) or not data.endswith(b"]]}"):
        return None
    if not canonical:
        # (searches of one byte: memchr; a `:` or `-` after the head is one too many)
        if data.find(b":", len(head)) >= 0 or data.find(b"-", len(head)) >= 0 or b" " in data or b"\n" in data \
                or b"\t" in data or b"\r" in data or b"\\" in data:
            return None
        digests = "".join(map(itemgetter(1), children)).encode("ascii", "replace")
        if digests.translate(None, _HEX):
            return None
    for index, (old, old_count), (new, new_count) in replaced:
        if old is None or new is None or not _is_hex_digest(new) or not _is_hex_digest(old):
            return None
        old_bytes = b'[%d,"%s",%d]' % (index, old.encode("ascii"), old_count)
        at = data.find(old_bytes)
        if at < 0:
            return None
        data = b"%s[%d,\"%s\",%d]%s" % (data[:at], index, new.encode("ascii"), new_count, data[at + len(old_bytes):])
    return data


def inner_node_bytes(head: bytes, children: list[list]) -> bytes | None:
    """The bytes `to_json_bytes` writes for an inner node starting with `head`
    (order_node_head, KEY_NODE_HEAD) whose children are `children`, when each is `[index,
    digest, count]` with int index and count (the shape check's, or built so) and a lowercase
    hex digest of 64: then each child is spelled `[index,"digest",count]` (an int has one
    spelling, hex needs no escape). None when a digest is not so (the caller encodes the node).
    Cheaper than one splice per child when many children change (a tree's root)."""
    digests = "".join(map(itemgetter(1), children)).encode("ascii", "replace")
    if len(digests) != 64 * len(children) or digests.translate(None, _HEX):
        return None
    return head + b",".join([b'[%d,"%s",%d]' % (index, digest.encode("ascii"), count)
                             for index, digest, count in children]) + b"]}"


def _is_hex_digest(digest: str) -> bool:
    raw = digest.encode("ascii", "replace")
    return len(raw) == 64 and not raw.translate(None, _HEX)


# ---------------------------------------------------------------------- lined order leaves, line by line
def lined_leaf_framed(data: bytes, count: int, canonical: bool = False) -> bool:
    r"""True when `data` is framed as a lined order leaf of `count` items (order_leaf_bytes):
    the lined head and tail, no backslash (an ASCII-escaped leaf is rewritten whole),
    `count + 1` newlines, every one in the body following a comma, and every line of the
    body balanced (lines_balanced; not needed when the bytes are known `canonical`, written
    by this engine): so each line starts in the items array itself, never inside another
    item's value. All in C (memchr, counts, translate, replace): the items are not parsed."""
    return count > 0 and data.startswith(ORDER_LEAF_LINED_HEAD) and data.endswith(ORDER_LEAF_LINED_TAIL) \
        and b"\\" not in data and data.count(b"\n") == count + 1 and data.count(b",\n") == count - 1 \
        and (canonical or lines_balanced(data[len(ORDER_LEAF_LINED_HEAD):-len(ORDER_LEAF_LINED_TAIL)], count - 1))


#: translate() table and deletions keeping only quotes, newlines and brackets, braces as brackets.
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}\n')))
LINE_NESTING = 32  # deeper values: lines_balanced says no (the leaf is parsed whole)


def lines_balanced(body: bytes, lines: int) -> bool:
    r"""True when every line of `body` (bytes with no backslash, `lines` newlines) has its
    quotes paired and its brackets and braces, outside strings, closed on the same line in
    order (kinds not told apart: a mismatch is no JSON, refused by any parse): what each
    line of order_leaf_bytes is (one item). A line parsed alone as an item is then an item
    of the leaf's array, not text inside another item's value spread over lines (valid JSON
    too, and framed as far as newlines go). With no backslash every `"` opens or closes a
    string, so splitting at quotes leaves the text outside strings at the even places."""
    outside = body.translate(_AS_BRACKETS, _NOT_STRUCTURE)
    if outside.count(b'""') * 2 == outside.count(b'"'):
        # Every run of quotes is of even length: the first quote of each run opens a string
        # (the body starts outside one), so its last closes one: no bracket is inside a string.
        outside = outside.translate(None, b'"')
    else:
        parts = outside.split(b'"')
        if not len(parts) % 2:
            return False
        outside = b"".join(parts[::2])  # brackets and newlines outside strings
    for _ in range(LINE_NESTING):
        if len(outside) == lines:
            return outside == b"\n" * lines
        shorter = outside.replace(b"[]", b"")
        if len(shorter) == len(outside):
            return False
        outside = shorter
    return False


def item_line(data: bytes, seq: int) -> tuple[int, int, bool] | None:
    r"""(start, end, last) of the line of the item of `seq` in framed lined leaf bytes
    (lined_leaf_framed): the only line that starts `[seq,`; `end` is the index of its
    trailing comma (`last`: no comma, the line before the tail). None when no line or more
    than one starts so, or the line does not end as its place says."""
    pattern = b"\n[%d," % seq
    at = data.find(pattern)
    if at < 0 or data.find(pattern, at + 1) >= 0:
        return None
    start = at + 1
    newline = data.find(b"\n", start)
    last = newline == len(data) - len(ORDER_LEAF_LINED_TAIL)
    end = newline if last else newline - 1
    if not last and data[end] != 0x2C:  # a comma
        return None
    return start, end, last


def last_line_seq(data: bytes) -> int | None:
    r"""The seq that the last line of framed lined leaf bytes starts with (`[seq,`), or None."""
    tail = len(data) - len(ORDER_LEAF_LINED_TAIL)
    start = data.rfind(b"\n", 0, tail) + 1
    comma = data.find(b",", start, tail)
    digits = data[start + 1:comma]
    if data[start:start + 1] != b"[" or comma < 0 or not digits.isdigit() or len(digits) > _SEQ_DIGITS \
            or (digits[:1] == b"0" and len(digits) > 1):
        return None
    return int(digits)


def splice_lines(data: bytes, changes: list[tuple[int, bytes | None]],
                 first: tuple[int, int, bool] | None = None) -> tuple[bytes | None, int] | None:
    r"""(bytes, change in item count) of framed lined leaf bytes after `changes` ((seq, the
    new item's bytes or None to remove it), by increasing seq): an item whose line is found
    (item_line) is replaced or removed, a seq past the last line's is appended. The other
    lines are copied byte for byte, unparsed. Bytes None: no item left. None: a change
    that is none of these (the caller rewrites the leaf whole). `first`: item_line(data,
    seq) of the first change, found by the caller in these same bytes (not searched again)."""
    delta = 0
    for number, (seq, new) in enumerate(changes, 1):
        where = first if number == 1 and first is not None else item_line(data, seq)
        if where is not None:
            start, end, last = where
            if new is not None:
                data = data[:start] + new + data[end:]
            elif not last:
                data = data[:start] + data[end + 2:]  # the line, its comma and its newline
                delta -= 1
            elif data[start - 2:start] == b",\n":
                data = data[:start - 2] + data[end:]  # the last line and the comma before it
                delta -= 1
            elif number == len(changes):
                return None, delta - 1  # the only item: nothing left
            else:
                return None  # the only item goes, others come: the caller builds the leaf
            continue
        if new is None:
            return None  # not found here: the full path decides
        last_seq = last_line_seq(data)
        if last_seq is None or seq <= last_seq:
            return None
        data = data[:-len(ORDER_LEAF_LINED_TAIL)] + b",\n" + new + data[-len(ORDER_LEAF_LINED_TAIL):]
        delta += 1
    return data, delta


# ---------------------------------------------------------------------- key-index leaves, one key at a time
def key_leaf_ends(data: bytes) -> tuple[bytes, bytes, int] | None:
    """(first key, last key, pair count) of key-leaf bytes framed as this engine writes them
    (KEY_LEAF_HEAD ... KEY_LEAF_TAIL, no backslash), read without splitting them: with no
    backslash every `"` opens or closes a string, so the head's six quotes and two per key
    give the count, and the first and last keys lie between the first and last pairs of
    quotes. None when not so framed (the caller scans or parses the leaf)."""
    if not data.startswith(KEY_LEAF_HEAD) or not data.endswith(KEY_LEAF_TAIL) or b"\\" in data:
        return None
    quotes = data.count(b'"')
    if quotes < 8 or quotes % 2:
        return None
    first_end = data.find(b'"', len(KEY_LEAF_HEAD))
    last_end = data.rfind(b'"')
    last_start = data.rfind(b'"', 0, last_end)
    return data[len(KEY_LEAF_HEAD):first_end], data[last_start + 1:last_end], (quotes - 6) // 2


def find_key_seq(data: bytes, raw: bytes) -> int | None:
    """The seq of the key whose UTF-8 bytes are `raw` (a plain key: plain_key) in key-leaf
    bytes framed as key_leaf_ends wants, found by its own spelling `["key",seq]`; None when
    not found once, at a string's start, with a plain seq (the caller scans the leaf: the
    key may be absent, or the bytes damaged). An even number of quotes before the match
    makes its `"` an opening one (see key_leaf_ends), so the match is a whole pair."""
    pattern = b'["' + raw + b'",'
    at = data.find(pattern)
    if at < 0 or data.find(pattern, at + 1) >= 0 or data.count(b'"', 0, at) % 2:
        return None
    start = at + len(pattern)
    end = data.find(b"]", start, start + _SEQ_DIGITS + 1)
    digits = data[start:end]
    if end < 0 or not digits.isdigit() or (digits[:1] == b"0" and len(digits) > 1) \
            or data[end + 1:end + 3] not in (b',[', b']}'):
        return None
    return int(digits)


#: Bytes of a key leaf below which key_insert_offset reads the keys in order rather than bisecting.
KEY_WINDOW = 768


def key_insert_offset(data: bytes, raw: bytes) -> int | None:
    """Where the pair of the key `raw` (plain UTF-8 bytes, not in the leaf) goes in key-leaf
    bytes framed as key_leaf_ends wants, keys sorted: the offset of the first byte of the
    first key greater than `raw`, or len(data) - 3 (before the tail) when there is none;
    None when `raw` is there. A binary search on byte offsets: between two known key
    starts, the quotes alternate (with no backslash, every `"` opens or closes a string),
    so the parity of the quotes counted from a key's closing quote tells whether the next
    quote opens a key; the last KEY_WINDOW bytes or fewer are read in order. The keys'
    order is trusted, not checked (see insert_keys)."""
    first, end = len(KEY_LEAF_HEAD), len(data) - len(KEY_LEAF_TAIL)
    key = data[first:data.find(b'"', first)]
    if raw <= key:
        return first if raw < key else None
    lo, hi = first, end  # the key at lo is less than raw; the answer is a key start in (lo, hi], or end
    while hi - lo > KEY_WINDOW:
        close = data.find(b'"', lo)  # the closing quote of the key at lo
        mid = max((lo + hi) // 2, close + 1)
        quote = data.find(b'"', mid, hi - 1)  # not the opening quote of the key at hi
        if quote >= 0 and data.count(b'"', close + 1, quote) % 2:  # it closes a key: the next opens one
            quote = data.find(b'"', quote + 1, hi - 1)
        if quote < 0:  # no key starts in [mid, hi): the one right after lo, if any
            quote = data.find(b'"', close + 1, hi - 1)
            if quote < 0:
                return hi
        start = quote + 1
        key = data[start:data.find(b'"', start)]
        if key < raw:
            lo = start
        elif key > raw:
            hi = start
        else:
            return None
    return _window_insert_offset(data, lo, hi, raw)


def _window_insert_offset(data: bytes, lo: int, hi: int, raw: bytes) -> int | None:
    """key_insert_offset's answer between `lo`, the first byte of a key less than `raw`, and
    `hi`, that of a key greater than it or the end of the pairs: the window split at its
    quotes alternates key, separator from `lo` on (every `"` opens or closes a string), so
    its keys are read in order, no quote counted."""
    parts = data[lo:hi].split(b'"')
    at = lo
    for index in range(2, len(parts), 2):
        at += len(parts[index - 2]) + len(parts[index - 1]) + 2  # the key before, its separator, two quotes
        if at >= hi:
            break
        key = parts[index]
        if key > raw:
            return at
        if key == raw:
            return None
    return hi


def insert_keys(data: bytes, pairs: list[tuple[bytes, int]], absent: bool = False) -> bytes | None:
    """Key-leaf bytes framed as key_leaf_ends wants with the pairs `(plain key bytes, seq)`
    added in their sorted places (key_insert_offset), as `to_json_bytes` writes the new
    pairs; the other pairs are copied unread. None when a key is there already (the caller
    scans the leaf). When the old bytes were `to_json_bytes` of sorted pairs (every leaf an
    engine writes), so are the new ones; keys out of order in a forged leaf stay so, and
    the scan or parse of any read refuses the leaf. `absent`: the caller found none of the
    keys in the bytes (not even as a string), so they are not looked for again."""
    for raw, seq in pairs:
        if not absent and data.find(b'["' + raw + b'",') >= 0:
            return None
        at = key_insert_offset(data, raw)
        if at is None:
            return None
        if at == len(data) - len(KEY_LEAF_TAIL):
            data = b'%s],["%s",%d%s' % (data[:at], raw, seq, KEY_LEAF_TAIL)
        else:
            data = b'%s%s",%d],["%s' % (data[:at], raw, seq, data[at:])
    return data
