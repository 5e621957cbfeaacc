"""Small helpers: canonical JSON bytes, digests, dates, and type checks."""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

from .errors import InvalidDateError

DATE_FORMAT = "%Y%m%d %H:%M:%S %z"  # as strftime would write it, the year padded


def compute_digest(data: bytes) -> str:
    """SHA-256 of the exact bytes stored: `sha256sum` of the file gives the same digest."""
    return hashlib.sha256(data).hexdigest()


# What json.dumps(..., ensure_ascii=False, separators=(",", ":"), allow_nan=False) builds on
# every call, made once (the same encoder class and options: the same bytes, 2 µs less a call).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _c_encoder(ensure_ascii: bool) -> Any:
    """The C encoder `JSONEncoder(ensure_ascii=..., separators=(",", ":"), allow_nan=False).encode`
    builds on every call (with a fresh floatstr closure), built once; None without the C module.
    Built without the circular-reference markers (no shared state: safe across threads): a
    cycle then ends in RecursionError, and callers re-encode with `_ENCODE`, which reports it
    as the stdlib does."""
    maker = getattr(json.encoder, "c_make_encoder", None)
    if maker is None:
        return None
    escape = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    return maker(None, json.JSONEncoder().default, escape, None, ":", ",", False, False, False)


_C_ENCODE = _c_encoder(False)


def json_text(document: Any) -> str:
    """`_ENCODE(document)`: compact JSON text, non-ASCII kept, NaN refused (ValueError), with the
    C encoder built once (about 2 µs less a call: a save encodes four documents)."""
    if _C_ENCODE is not None and type(document) in (dict, list):  # (a scalar: the stdlib's own fast path)
        try:
            return "".join(_C_ENCODE(document, 0))
        except RecursionError:  # a cycle or deep nesting: the stdlib's answer (ValueError or RecursionError)
            pass
    return _ENCODE(document)


def to_json_bytes(document: Any) -> bytes:
    """Compact, order-preserving JSON; falls back to ASCII escapes for lone surrogates."""
    text = json_text(document)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(
            document, ensure_ascii=True, separators=(",", ":"), allow_nan=False
        ).encode("ascii")


def to_json_bytes_utf8(document: Any) -> bytes | None:
    """to_json_bytes(document) when it is plain UTF-8 (no lone surrogate); None otherwise (then
    the whole text is ASCII-escaped, so its bytes cannot be spliced into a larger document's)."""
    try:
        return json_text(document).encode("utf-8")
    except UnicodeEncodeError:
        return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):
        raise ValueError(f"{text} is out of range for a JSON number here")
    return value


_INF = float("inf")
_BIG_EXPONENT = re.compile(rb"[0-9][eE][+]?0*[0-9]{3}")


#: What json.loads(text, parse_constant=_no_constant) builds on every call (a decoder and its
#: scanner), made once: the same parse, ~2 µs less a call (a write parses a line per changed record).
#: Shared as json's own default decoder is: with no Python hook called on valid input, a parse
#: holds the GIL throughout.
_STRICT_DECODE = json.JSONDecoder(parse_constant=_no_constant).decode


def strict_loads(data: bytes, overflow: bool = False) -> Any:
    """Parse stored UTF-8 JSON as the engine writes it: no UTF-16/32 (json.loads guesses
    encodings from bytes) and no `NaN`/`Infinity` (the engine stores those as tagged
    values, so bare ones are damage). ValueError if not. `overflow=True` (verify, import)
    also refuses numbers that overflow to infinity (`1e999`): a scan that costs as much as
    the parse, so reads skip it and show such a number as the infinity it parses to."""
    text = data.decode("utf-8")
    if overflow and _BIG_EXPONENT.search(data):  # rare: only then pay for a Python call per float
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    return _STRICT_DECODE(text)


def canonical_key(value: Any) -> str:
    """A deterministic sort key for an already-encoded JSON value (used to order sets)."""
    return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


_UTC = _dt.UTC
# Every instant in this range has a valid local time in every timezone (offsets are
# below 24 hours), so a stored date can always be shown; outside it, astimezone overflows.
MIN_DATE = _dt.datetime(1, 1, 2, tzinfo=_UTC)
MAX_DATE = _dt.datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=_UTC)
# `YYYYMMDD HH:MM:SS +hhmm`; years below 1000 written by versions before 0.5 lack their
# leading zeros (strftime does not pad them), which the 1-4 digit year reads back right.
_DATE_RE = re.compile(r"([0-9]{1,4})([0-9]{2})([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})")


def check_date(moment: _dt.datetime) -> _dt.datetime:
    """`moment` (made timezone-aware) if every timezone can show it, else InvalidDateError."""
    if not isinstance(moment, _dt.datetime):
        raise InvalidDateError(f"a date must be a datetime, not {type(moment).__name__}")
    try:
        if moment.tzinfo is None or moment.utcoffset() is None:
            moment = moment.astimezone()
        offset = moment.utcoffset()
        in_range = MIN_DATE <= moment <= MAX_DATE
    except (OverflowError, ValueError) as exc:
        raise InvalidDateError(f"date {moment!r} cannot be shown in every timezone: {exc}") from None
    if not in_range:
        raise InvalidDateError(
            f"date {moment.isoformat()} is outside the range the engine stores "
            f"({MIN_DATE.date()} to {MAX_DATE.date()} UTC)"
        )
    if offset.microseconds or offset.seconds % 60:
        raise InvalidDateError(f"date {moment.isoformat()} has a UTC offset with seconds: not storable")
    return moment


def format_date(moment: _dt.datetime) -> str:
    """Render a date as `YYYYMMDD HH:MM:SS +hhmm`, the year always four digits.

    Dates no timezone could show are refused (InvalidDateError) before anything is written.
    """
    global _last_format
    key = None
    if type(moment) is _dt.datetime and type(moment.tzinfo) is _dt.timezone:  # (a fixed offset: never raises)
        # the text and the range check depend on nothing else (MAX_DATE ends its second)
        key = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.utcoffset())
        last = _last_format  # (one read: another thread may replace it meanwhile)
        if last[0] == key:
            return last[1]
    moment = check_date(moment)
    minutes = int(moment.utcoffset().total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    text = (f"{moment.year:04d}{moment.month:02d}{moment.day:02d} "
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{hours:02d}{minutes:02d}")
    if key is not None:
        _last_format = (key, text)
    return text


_last_format: tuple[tuple | None, str] = (None, "")  # the last date formatted: saves within a second share it


_last_date: tuple[str | None, _dt.datetime] = (None, MIN_DATE)  # the last date parsed: a save parses the one it wrote


def parse_date(text: object) -> _dt.datetime:
    """Parse a stored `YYYYMMDD HH:MM:SS +hhmm` date (InvalidDateError if it is not one, or
    if some timezone could not show it)."""
    global _last_date
    last = _last_date  # (one read: another thread may replace it meanwhile)
    if text == last[0] and type(text) is str:
        return last[1]  # datetimes are immutable: the same value, shared
    match = _DATE_RE.fullmatch(text) if type(text) is str else None
    if match is None:
        raise InvalidDateError(f"invalid date {str(text)[:60]!r}: expected 'YYYYMMDD HH:MM:SS +hhmm'")
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    try:
        offset = _dt.timedelta(hours=int(off_h), minutes=int(off_m))
        zone = _dt.timezone(-offset if sign == "-" else offset)
        moment = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone)
    except (ValueError, OverflowError) as exc:
        raise InvalidDateError(f"invalid date {text!r}: {exc}") from None
    moment = check_date(moment)
    _last_date = (text, moment)
    return moment


def date_text(moment: _dt.datetime | None) -> str:
    """A stored-format rendering of `moment`, or "invalid date" for None."""
    return "invalid date" if moment is None else format_date(moment)


_ZONES: dict[tuple[int, str], _dt.timezone] = {}  # (UTC offset in seconds, zone name) -> its timezone


def now_local() -> _dt.datetime:
    """The current time in the local timezone (the default clock): what
    `datetime.now().astimezone()` gives (the same offset and zone name), with the zone
    object kept instead of made anew by every call."""
    now = time.time()
    local = time.localtime(now)
    key = (local.tm_gmtoff, local.tm_zone)
    zone = _ZONES.get(key)
    if zone is None:
        zone = _dt.timezone(_dt.timedelta(seconds=local.tm_gmtoff), local.tm_zone)
        if len(_ZONES) < 64:
            _ZONES[key] = zone
    return _dt.datetime.fromtimestamp(now, zone)


def json_copy(value: Any) -> Any:
    """A deep copy of parsed JSON: recursive (fast), iterative when nesting is too deep."""
    try:
        return _json_copy_recursive(value)
    except RecursionError:
        return _json_copy_iterative(value)


def _json_copy_recursive(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _json_copy_recursive(v) for k, v in value.items()}
    if kind is list:
        return [_json_copy_recursive(v) for v in value]
    return value


def _json_copy_iterative(value: Any) -> Any:
    kind = type(value)
    if kind is not dict and kind is not list:
        return value
    root = {} if kind is dict else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if type(source) is dict else enumerate(source)
        for key, item in items:
            item_kind = type(item)
            if item_kind is dict or item_kind is list:
                child = {} if item_kind is dict else []
                stack.append((item, child))
                item = child
            if type(target) is dict:
                target[key] = item
            else:
                target.append(item)
    return root


@contextlib.contextmanager
def gc_paused(skip_collection: bool = False) -> Iterator[None]:
    """Pause the cyclic GC while building many small acyclic objects (JSON). With
    `skip_collection`, the objects made meanwhile are not examined after it either: a put
    leaves thousands of parsed and built nodes alive in the object cache, and the
    young-generation pass their count triggers at once would cost ~10 ms at 1,000,000
    records. gc.freeze() + gc.unfreeze() moves every tracked object to the oldest
    generation in O(1), where the next full collection examines them (garbage cycles made
    meanwhile are freed then, not lost). Skipped when the program froze objects itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if skip_collection and gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
