"""Versions as the history shows them: `Version`, `ChangeSummary`, a Version built from a
stored version document (damaged metadata becomes its `damage`), the shape every reader
relies on, and the seed spec's flat layout read as a snapshot version."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field

from .errors import InvalidDateError, InvalidMetadataError, InvalidNameError
from .names import DIGEST_RE, check_user
from .utils import date_text, parse_date


@dataclass(frozen=True)
class ChangeSummary:
    """How a version differs from its parent: counts of keys (or records)."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    #: What changed, when the writer knows it: record keys (record entries) or JSON
    #: Pointers of changed values (snapshots); None when unknown (older index lines).
    keys: tuple[str, ...] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"+{self.added} ~{self.changed} -{self.removed}"

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


@dataclass(frozen=True, slots=True)
class Version:
    """One version of an entry, as the history shows it."""

    digest: str
    parents: list = field(hash=False)
    user_id: str
    #: None when the stored `__date__` is invalid (see `damage`).
    date: _dt.datetime | None
    restored_from: str | None = None
    summary: ChangeSummary | None = None
    #: What is wrong with this version's metadata (None: nothing); the rest stays readable.
    damage: str | None = None

    @property
    def parent(self) -> str | None:
        return self.parents[0] if self.parents else None

    @property
    def date_text(self) -> str:
        return date_text(self.date)


def version_from_document(digest: str, document: dict, summary: ChangeSummary | None) -> Version:
    """Build a Version from a stored version document's metadata, field by field.

    The document's shape (a `__parent__` list starting with a digest or null, a string
    user and date) is checked when it is parsed; what is still wrong (a date no timezone
    can show, an empty user id, a `__restored_from__` or extra parent that is not a
    digest) becomes the version's `damage`, so one bad field never hides the version.
    """
    damage = []
    parents = document["__parent__"]
    valid_parents = [parents[0], *(p for p in parents[1:] if p is None or (type(p) is str and DIGEST_RE.fullmatch(p)))]
    if len(valid_parents) != len(parents):
        damage.append(f"__parent__ holds {len(parents) - len(valid_parents)} value(s) that are not digests")
    user = document["__user_id__"]
    try:
        check_user(user)
    except InvalidNameError as exc:
        damage.append(str(exc))
    try:
        date = parse_date(document["__date__"])
    except InvalidDateError as exc:
        date = None
        damage.append(str(exc))
    restored = document.get("__restored_from__")
    if restored is not None and not (type(restored) is str and DIGEST_RE.fullmatch(restored)):
        damage.append(f"__restored_from__ is not a digest: {json.dumps(restored)[:40]}")
        restored = None
    return Version(digest, valid_parents, user, date, restored, summary, "; ".join(damage) or None)


def is_version_doc(document: object) -> bool:
    """True when a parsed object has a version's shape: what every reader relies on
    (kind, a `__parent__` list whose first item is a digest or null, a string user and
    date, and `__data__` or well-formed bucket fields). Finer metadata faults are a
    version's `damage`, not a reason to refuse the whole object."""
    if type(document) is not dict:
        return False
    kind = document.get("__kind__")
    parents = document.get("__parent__")
    if kind not in ("snapshot", "records") or type(parents) is not list or not parents:
        return False
    if not (parents[0] is None or (type(parents[0]) is str and DIGEST_RE.fullmatch(parents[0]))):
        return False
    if type(document.get("__user_id__")) is not str or type(document.get("__date__")) is not str:
        return False
    if kind == "snapshot":
        return "__data__" in document
    if type(document.get("__count__")) is not int or type(document.get("__next_seq__")) is not int:
        return False
    if "__order__" in document or "__keys__" in document:  # format 0.5: record trees (records_tree.py)
        if "__order__" not in document or "__keys__" not in document:
            return False
        roots = (document.get("__order__"), document.get("__keys__"))
        return all(root is None or (type(root) is str and DIGEST_RE.fullmatch(root)) for root in roots)
    buckets = document.get("__buckets__")
    return (
        type(buckets) is dict
        and all(type(v) is str and DIGEST_RE.fullmatch(v) for v in buckets.values())
        and type(document.get("__count__")) is int
        and type(document.get("__next_seq__")) is int
    )


SEED_META = ("__parent__", "__user_id__", "__date__")
SEED_LAYOUT = "seed"


def normalize_version(document: dict) -> dict:
    """A parsed object in the engine's form. The seed spec's flat layout (its metadata keys
    beside the value's own keys, no `__kind__`) is read as a snapshot version whose
    `__data__` is the rest of the object, marked `"__layout__": "seed"`; anything else is
    returned as it is."""
    if "__kind__" in document or not all(key in document for key in SEED_META):
        return document
    normalized = {"__kind__": "snapshot", **{key: document[key] for key in SEED_META}}
    normalized["__data__"] = {key: value for key, value in document.items() if key not in SEED_META}
    normalized["__layout__"] = SEED_LAYOUT
    return normalized


def is_seed_layout(document: dict | None) -> bool:
    """True for a version read from the seed's flat layout (a dict of records, too)."""
    return document is not None and document.get("__layout__") == SEED_LAYOUT


def metadata_error(version: Version, path: str | None = None) -> InvalidMetadataError | None:
    """The engine error for a version with damaged metadata (None when it has none)."""
    if version.damage is None:
        return None
    return InvalidMetadataError(f"version {version.digest[:12]}: {version.damage}", path, version.digest)


def same_metadata(a: Version, b: Version) -> bool:
    """True when two Versions of one digest agree on every field stored in the index but the summary."""
    return (a.digest, a.parents, a.user_id, a.date, a.restored_from, a.damage) == \
        (b.digest, b.parents, b.user_id, b.date, b.restored_from, b.damage) and \
        (a.date is None or a.date.utcoffset() == b.date.utcoffset())
