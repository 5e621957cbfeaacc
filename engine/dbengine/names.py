"""The one chokepoint for names that reach the file system or the stored format."""

from __future__ import annotations

import re

from .errors import InvalidDigestError, InvalidNameError

DIGEST_RE = re.compile(r"[0-9a-f]{64}")
RESERVED_TENANTS = frozenset({"refs"})
MAX_NAME_LENGTH = 200


def check_digest(digest: object) -> str:
    """Return `digest` if it is 64 lowercase hex characters, else raise InvalidDigestError."""
    if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
        raise InvalidDigestError(f"invalid digest {digest!r}: expected 64 lowercase hex characters")
    return digest


def _check_text(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidNameError(f"{kind} must be a string, not {type(value).__name__}")
    if value == "":
        raise InvalidNameError(f"{kind} must not be empty")
    if "\x00" in value:
        raise InvalidNameError(f"{kind} {value!r} contains a NUL character")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"{kind} {value[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNameError(f"{kind} {value!r} is not valid Unicode text") from None
    return value


def check_tenant(tenant_id: object) -> str:
    """Validate a tenant id: it becomes a folder name directly under the root."""
    name = _check_text("tenant id", tenant_id)
    if "/" in name or "\\" in name:
        raise InvalidNameError(f"tenant id {name!r} must not contain '/' or '\\'")
    if name in (".", "..") or name.startswith("."):
        raise InvalidNameError(f"tenant id {name!r} must not start with '.'")
    if name in RESERVED_TENANTS:
        raise InvalidNameError(f"tenant id {name!r} is reserved by the storage layout")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidNameError(f"tenant id {name!r} contains control characters")
    if name != name.strip():
        raise InvalidNameError(f"tenant id {name!r} has leading or trailing spaces")
    return name


def check_entry(entry: object) -> str:
    """Validate an entry name (a key of the head file; never used as a path)."""
    return _check_text("entry name", entry)


def check_user(user_id: object) -> str:
    """Validate a user id recorded in snapshot metadata."""
    return _check_text("user id", user_id)


def check_key(key: object) -> str:
    """Validate a record key of a record entry."""
    if not isinstance(key, str):
        raise InvalidNameError(f"record key must be a string, not {type(key).__name__}")
    if "\x00" in key:
        raise InvalidNameError(f"record key {key!r} contains a NUL character")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNameError(f"record key {key!r} is not valid Unicode text") from None
    return key
