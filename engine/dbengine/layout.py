"""What a version document looks like: its kinds, metadata keys and record layouts.

A record version is stored in one of three layouts (docs/FORMAT.md): the seed's flat
object, format 0.4's buckets, or format 0.5's record trees; these predicates tell them
apart so that every module reads the three the same way.
"""

from __future__ import annotations

from typing import Any

from .records import bucket_of
from .records_tree import Tree
from .versions import is_seed_layout

SNAPSHOT = "snapshot"
RECORDS = "records"
META_KEYS = ("__parent__", "__user_id__", "__date__", "__restored_from__")


def envelope(kind: str, parent: str | None, user_id: str, date: str, restored_from: str | None = None) -> dict:
    """The metadata of a new version document (its data fields are added by the caller)."""
    document = {"__kind__": kind, "__parent__": [parent], "__user_id__": user_id, "__date__": date}
    if restored_from:
        document["__restored_from__"] = restored_from
    return document


def plain_dict(value: Any) -> bool:
    """True for a stored JSON object that is not a tagged value."""
    return type(value) is dict and "__special__" not in value


def is_seed_record_entry(document: dict | None) -> bool:
    """True for a seed-layout version whose value is a JSON object: the seed's record entry."""
    return is_seed_layout(document) and plain_dict(document["__data__"])


def is_record_version(document: dict) -> bool:
    """True for a record version of any layout (seed, buckets, trees)."""
    return document["__kind__"] == RECORDS or is_seed_record_entry(document)


def is_tree_doc(document: dict | None) -> bool:
    """True for a record version stored as trees (format 0.5), not as buckets or seed data."""
    return document is not None and "__order__" in document


def tree_of(document: dict) -> Tree:
    """The record trees a tree-format version names."""
    return Tree(document["__order__"], document["__keys__"], document["__count__"], document["__next_seq__"])


def tree_fields(tree: Tree) -> dict:
    """The record fields of a tree-format version document."""
    return {"__count__": tree.count, "__next_seq__": tree.next_seq, "__order__": tree.order, "__keys__": tree.keys}


def seed_records(document: dict) -> dict[str, dict[str, list]]:
    """The records of a seed record entry (see is_seed_record_entry), by bucket id,
    `[seq, stored]` in the object's order."""
    records: dict[str, dict[str, list]] = {}
    for seq, (key, stored) in enumerate(document["__data__"].items()):
        records.setdefault(bucket_of(key), {})[key] = [seq, stored]
    return records
