"""What a version changed against its parent: the counts and change set (ChangeSummary)
that the history index keeps on each line, computed from the two versions' documents."""

from __future__ import annotations

from typing import Any

from .changesets import flat_changes, snapshot_changes
from .layout import RECORDS, SNAPSHOT, is_seed_record_entry, is_tree_doc, plain_dict, seed_records
from .record_entries import RecordEntries
from .records import same_stored
from .utils import to_json_bytes
from .versions import ChangeSummary

#: The "no parent" side of a snapshot summary.
ABSENT: Any = type("NoParent", (), {"__repr__": lambda self: "ABSENT", "__slots__": ()})()


def snapshot_summary(old: Any, new: Any) -> ChangeSummary:
    """Top-level key changes between two stored snapshot values, with the change set (the
    JSON Pointers of what changed, see changesets.py); `old` is ABSENT for a first version."""
    if old is ABSENT:
        return ChangeSummary(added=len(new) if plain_dict(new) else 1, keys=snapshot_changes(None, new, first=True))
    if plain_dict(old) and plain_dict(new):  # (a save of a JSON object: one pass when the values are flat)
        flat = flat_changes(old, new)
        if flat is not None:
            added, changed, removed, keys = flat
            return ChangeSummary(added, changed, removed, keys)
    return walked_summary(old, new)


def walked_summary(old: Any, new: Any) -> ChangeSummary:
    """snapshot_summary of two stored values (`old` not ABSENT) by the general path: the
    change set walked (snapshot_changes), the counts taken key by key."""
    if old == new and to_json_bytes(old) == to_json_bytes(new):  # a restore of equal data
        return ChangeSummary(keys=())
    keys = snapshot_changes(old, new)
    if plain_dict(old) and plain_dict(new):
        added = sum(1 for k in new if k not in old)
        removed = sum(1 for k in old if k not in new)
        changed = sum(1 for k in new if k in old and old[k] != new[k])
        return ChangeSummary(added, changed, removed, keys)
    return ChangeSummary(changed=0 if old == new else 1, keys=keys)


def version_summary(records: RecordEntries, tenant_id: str, old_doc: dict | None, new_doc: dict) -> ChangeSummary:
    """Change counts between two versions' documents (keys, or records)."""
    if new_doc["__kind__"] == SNAPSHOT:
        old = old_doc["__data__"] if old_doc is not None and old_doc["__kind__"] == SNAPSHOT else ABSENT
        return snapshot_summary(old, new_doc["__data__"])
    if is_tree_doc(new_doc) or is_tree_doc(old_doc):
        before, after = records.record_changes(tenant_id, old_doc, new_doc)
        keys = [*after, *(k for k in before if k not in after)]
        both = sum(1 for key in after if key in before)
        return ChangeSummary(len(after) - both, both, len(before) - both, keys=tuple(keys))
    if is_seed_record_entry(old_doc):
        new = {b: records.objects.bucket(tenant_id, d) for b, d in new_doc["__buckets__"].items()}
        return _records_summary(seed_records(old_doc), new)
    old_buckets = old_doc["__buckets__"] if old_doc is not None and old_doc["__kind__"] == RECORDS else {}
    added = changed = removed = 0
    for bucket_id in set(old_buckets) | set(new_doc["__buckets__"]):
        a, b = old_buckets.get(bucket_id), new_doc["__buckets__"].get(bucket_id)
        if a == b:
            continue
        # Just written, both buckets are parsed and share their unchanged records.
        cached = a is not None and b is not None and records.objects.is_parsed(tenant_id, a) \
            and records.objects.is_parsed(tenant_id, b)
        before, after = records.bucket_changes(tenant_id, a, b, by_lines=not cached)
        both = sum(1 for key in after if key in before)
        added, changed, removed = added + len(after) - both, changed + both, removed + len(before) - both
    return ChangeSummary(added, changed, removed)


def _records_summary(old: dict[str, dict[str, list]], new: dict[str, dict[str, list]]) -> ChangeSummary:
    """Records added, changed and removed between two versions' parsed buckets, by bucket id."""
    added = changed = removed = 0
    for bucket_id in set(old) | set(new):
        before, after = old.get(bucket_id, {}), new.get(bucket_id, {})
        added += sum(1 for key in after if key not in before)
        removed += sum(1 for key in before if key not in after)
        changed += sum(1 for key, item in after.items() if key in before and not same_stored(before[key][1], item[1]))
    return ChangeSummary(added, changed, removed)
