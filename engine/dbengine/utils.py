"""Small helpers: canonical JSON bytes, digests, dates, and type checks."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from typing import Any

DATE_FORMAT = "%Y%m%d %H:%M:%S %z"


def compute_digest(data: bytes) -> str:
    """SHA-256 of the exact bytes stored: `sha256sum` of the file gives the same digest."""
    return hashlib.sha256(data).hexdigest()


def to_json_bytes(document: Any) -> bytes:
    """Compact, order-preserving JSON; falls back to ASCII escapes for lone surrogates."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(
            document, ensure_ascii=True, separators=(",", ":"), allow_nan=False
        ).encode("ascii")


def canonical_key(value: Any) -> str:
    """A deterministic sort key for an already-encoded JSON value (used to order sets)."""
    return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def format_date(moment: _dt.datetime) -> str:
    """Render a timezone-aware datetime as `YYYYMMDD HH:MM:SS %z`."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.strftime(DATE_FORMAT)


def parse_date(text: str) -> _dt.datetime:
    """Parse a `YYYYMMDD HH:MM:SS %z` date into a timezone-aware datetime."""
    return _dt.datetime.strptime(text, DATE_FORMAT)


def now_local() -> _dt.datetime:
    """The current time in the local timezone (the default clock)."""
    return _dt.datetime.now().astimezone()


def is_primitive(obj: Any) -> bool:
    """True for values JSON stores as they are."""
    return obj is None or type(obj) in (bool, int, str) or (type(obj) is float and obj == obj and obj not in (float("inf"), float("-inf")))


def is_dict(obj: Any) -> bool:
    return type(obj) is dict


def is_list(obj: Any) -> bool:
    return type(obj) is list
