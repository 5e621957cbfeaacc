"""The records of record versions, in any of their three layouts (seed, buckets, trees):
reads, the tree updates a put writes, and what differs between two versions.

Glue between the verified object store and the trees (records_tree.py, order_tree.py,
key_tree.py) / records.py: every node and bucket is read through the ObjectStore, and a
node that disagrees with its place raises CorruptObjectError. Values returned are the
engine's cached ones (read-only) unless said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from .errors import CorruptObjectError, RecordNotFoundError
from .key_tree import key_lookup_many, key_update
from .layout import RECORDS, is_seed_record_entry, is_tree_doc, tree_fields, tree_of
from .names import check_key
from .objects import ObjectStore
from .order_tree import order_diff, order_get_many, order_leaves, order_update
from .records import RecordsView, bucket_of, changed_items, ordered_records, same_stored, scan_keys
from .records_tree import Nodes, Tree, TreeError
from .records_view import TreeRecordsView
from .utils import gc_paused, json_copy
from .versions import ChangeSummary

_EMPTY = Tree(None, None, 0, 0)


class RecordEntries:
    """Record reads, writes and comparisons over one database's object store."""

    def __init__(self, objects: ObjectStore):
        self.objects = objects

    # ------------------------------------------------------------------ reads
    def record(self, tenant_id: str, document: dict, key: str, absent: Any = None) -> Any:
        """Record `key`'s stored value in a (bucket or tree) record version, or `absent`."""
        if is_tree_doc(document):
            item = self.tree_items(tenant_id, tree_of(document), [key]).get(key)
        else:
            bucket_digest = document["__buckets__"].get(bucket_of(key))
            item = self.objects.bucket(tenant_id, bucket_digest).get(key) if bucket_digest else None
        return absent if item is None else item[1]

    def required(self, tenant_id: str, entry: str, document: dict, key: str) -> Any:
        """Record `key`'s stored value, or RecordNotFoundError."""
        missing = object()
        value = self.record(tenant_id, document, key, missing)
        if value is missing:
            raise RecordNotFoundError(f"no record {key!r} in entry {entry!r} of tenant {tenant_id!r}")
        return value

    def all_records(self, tenant_id: str, document: dict) -> list[tuple[str, Any]]:
        """(key, stored) of every record of a bucket or tree version, in insertion order."""
        with gc_paused():  # parsing ~100k small objects: collection passes only cost time
            if is_tree_doc(document):
                return [(item[1], item[2]) for _first, items in self.leaves(tenant_id, document) for item in items]
            buckets = [self.objects.bucket(tenant_id, d) for d in document["__buckets__"].values()]
            return ordered_records(buckets, document["__next_seq__"])

    def leaves(self, tenant_id: str, document: dict) -> Iterator[tuple[int, list[list]]]:
        """The order tree's leaves of a tree version, one by one (items: [seq, key, stored])."""
        with self.objects.tree_guard(tenant_id):
            yield from order_leaves(self.objects.nodes(tenant_id), tree_of(document))

    def tree_values(self, tenant_id: str, document: dict, decode: Callable[[Any], Any]) -> list[Any]:
        """Every record's value of a tree version, `decode`d, in insertion order: the caller's
        own. A leaf not in the cache is parsed afresh and left out of it, so when its bytes
        hold no tag (no `__special__`, no `\\u` escape that could spell one) its values are
        returned as parsed, without a decode or a copy each (get() of 1,000,000 records)."""
        fresh = _FreshLeaves(self.objects, tenant_id)
        values: list[Any] = []
        with gc_paused(), self.objects.tree_guard(tenant_id):
            for _first, items in order_leaves(self.objects.nodes(tenant_id), tree_of(document), 0, fresh.load):
                if fresh.plain:
                    values.extend(map(itemgetter(2), items))
                else:
                    values.extend([decode(item[2]) for item in items])
        return values

    def record_items(self, tenant_id: str, document: dict | None) -> dict[str, list]:
        """Every record of a record version of any layout (seed, buckets, trees): key -> [seq, stored]."""
        if document is None:
            return {}
        if is_seed_record_entry(document):
            return {key: [seq, stored] for seq, (key, stored) in enumerate(document["__data__"].items())}
        if is_tree_doc(document):
            return {item[1]: [item[0], item[2]] for _first, items in self.leaves(tenant_id, document) for item in items}
        records: dict[str, list] = {}
        for digest in document["__buckets__"].values():
            records.update(self.objects.bucket(tenant_id, digest))
        return records

    def tree_items(self, tenant_id: str, tree: Tree, keys: Iterable[str], lined: bool = False,
                   nodes: Nodes | None = None) -> dict[str, list]:
        """key -> [seq, stored] for those of `keys` in a tree-format version, each checked
        in both trees (the key index's seq must name that key in the order tree). `lined`:
        a write's lookups, reading only the lines of lined order leaves it needs
        (order_tree._lined_items), through the write's `nodes`."""
        nodes = nodes if nodes is not None else self.objects.nodes(tenant_id)
        with self.objects.tree_guard(tenant_id):
            seqs = key_lookup_many(nodes, tree, keys, lined)
            items = order_get_many(nodes, tree, seqs.values(), lined)
            found = {}
            for key, seq in seqs.items():
                item = items.get(seq)
                if item is None or item[1] != key:
                    raise TreeError(tree.keys or "", f"the key index names sequence number {seq} for {key[:40]!r}, "
                                    "whose record in the order tree is another or missing")
                found[key] = [seq, item[2]]
            return found

    def view(self, tenant_id: str, document: dict) -> RecordsView:
        """A record version's records as a lazy read-only mapping (see DbEngine.records_view)."""
        if is_tree_doc(document):
            return TreeRecordsView(self.objects.nodes(tenant_id), tree_of(document),
                                   lambda: self.objects.tree_guard(tenant_id))
        with gc_paused():
            keys = self.ordered_keys(tenant_id, document)
        return RecordsView(keys, dict(document["__buckets__"]), lambda bucket: self.objects.bucket(tenant_id, bucket))

    def ordered_keys(self, tenant_id: str, document: dict) -> list[str]:
        """Keys of a bucket version in insertion order, scanned from the buckets' line starts;
        a bucket that is parsed already, or not scannable, is read whole."""
        keys: list[str] = []
        seqs: list = []
        objects = self.objects
        objects.prefetch(tenant_id, document["__buckets__"].values())
        for bucket in document["__buckets__"].values():
            scanned = scan_keys(objects.bucket_data(tenant_id, bucket)) if not objects.is_parsed(tenant_id, bucket) else None
            if scanned is None:
                records = objects.bucket(tenant_id, bucket)
                keys += records
                seqs += [item[0] for item in records.values()]
            else:
                keys += scanned[0]
                seqs += scanned[1]
        next_seq = document["__next_seq__"]
        slots: list = [None] * next_seq
        try:
            for seq, key in zip(map(int, seqs), keys, strict=True):
                if slots[seq] is not None:
                    raise IndexError("duplicate sequence number")
                slots[seq] = key
        except IndexError:  # malformed: the full parse orders it (or names the bad bucket)
            return [key for key, _stored in self.all_records(tenant_id, document)]
        return [key for key in slots if key is not None] if len(keys) != next_seq else slots

    # ------------------------------------------------------------------ writes
    def build_trees(self, tenant_id: str, records: dict[str, list], next_seq: int) -> tuple[str | None, str | None]:
        """Roots of the trees of `records` (key -> [seq, stored]): the one-time conversion of
        a seed or bucket version, and what a restore of one writes."""
        nodes = self.objects.nodes(tenant_id)
        with self.objects.tree_guard(tenant_id):
            order, _count = order_update(nodes, _EMPTY, {seq: [seq, key, stored] for key, (seq, stored) in records.items()}, next_seq)
            keys, _count = key_update(nodes, _EMPTY, {key: item[0] for key, item in records.items()})
        return order, keys

    def put(self, tenant_id: str, head_doc: dict | None, upserts: dict[str, Any],
            deletes: list[str]) -> tuple[dict, ChangeSummary] | None:
        """The record fields of the version after the changes, and what changed; None when
        a seed or bucket head is left unchanged (converted to trees only when written)."""
        if head_doc is None or is_tree_doc(head_doc):
            with gc_paused(skip_collection=True):  # parsing and building hundreds of nodes: no collection passes
                return self._tree_put(tenant_id, head_doc, upserts, deletes)
        return self._convert_put(tenant_id, head_doc, upserts, deletes)

    def _tree_put(self, tenant_id: str, head_doc: dict | None, upserts: dict[str, Any],
                  deletes: list[str]) -> tuple[dict, ChangeSummary]:
        """Only the paths to the changed leaves of both trees are read and rewritten."""
        tree = tree_of(head_doc) if head_doc is not None else _EMPTY
        nodes = self.objects.nodes(tenant_id)
        current = self.tree_items(tenant_id, tree, [*upserts, *deletes], lined=True, nodes=nodes)
        order_changes: dict[int, list | None] = {}
        key_changes: dict[str, int | None] = {}
        counts = [0, 0, 0]
        touched: list[str] = []
        next_seq = tree.next_seq
        for key, stored in upserts.items():  # in the caller's order: seq is insertion order
            item = current.get(key)
            if item is None:
                order_changes[next_seq] = [next_seq, key, stored]
                key_changes[key] = next_seq
                next_seq += 1
                counts[0] += 1
            elif not same_stored(item[1], stored):
                order_changes[item[0]] = [item[0], key, stored]
                counts[1] += 1
            else:
                continue
            touched.append(key)
        for key in deletes:
            item = current.get(key)
            if item is not None and key not in upserts:
                order_changes[item[0]] = None
                key_changes[key] = None
                counts[2] += 1
                touched.append(key)
        summary = ChangeSummary(*counts, keys=tuple(touched))
        if head_doc is not None and summary.is_empty:
            return tree_fields(tree), summary
        with self.objects.tree_guard(tenant_id):
            order, count = order_update(nodes, tree, order_changes, next_seq)
            keys, key_count = key_update(nodes, tree, key_changes)
        if count != key_count or count != tree.count + counts[0] - counts[2]:
            raise CorruptObjectError(f"record trees of {(head_doc or {}).get('__order__', '')!s:.12} disagree on "
                                     "the number of records", None)
        return tree_fields(Tree(order, keys, count, next_seq)), summary

    def _convert_put(self, tenant_id: str, head_doc: dict, upserts: dict[str, Any],
                     deletes: list[str]) -> tuple[dict, ChangeSummary] | None:
        """The first write to a seed or bucket (format 0.4) version: its records, changed, as trees."""
        records = self.record_items(tenant_id, head_doc)
        for key in records:
            check_key(key)
        next_seq = len(records) if is_seed_record_entry(head_doc) else head_doc["__next_seq__"]
        counts = [0, 0, 0]
        touched: list[str] = []
        for key, stored in upserts.items():
            item = records.get(key)
            if item is None:
                records[key] = [next_seq, stored]
                next_seq += 1
                counts[0] += 1
            elif not same_stored(item[1], stored):
                records[key] = [item[0], stored]
                counts[1] += 1
            else:
                continue
            touched.append(key)
        for key in deletes:
            if key not in upserts and records.pop(key, None) is not None:
                counts[2] += 1
                touched.append(key)
        summary = ChangeSummary(*counts, keys=tuple(touched))
        if summary.is_empty:
            return None
        order, keys = self.build_trees(tenant_id, records, next_seq)
        return tree_fields(Tree(order, keys, len(records), next_seq)), summary

    def as_tree_doc(self, tenant_id: str, document: dict, meta_keys: Iterable[str]) -> dict:
        """A record version of any layout with tree fields in place of its seed data or
        buckets (nodes written as needed; the `meta_keys` are the version's own)."""
        if is_tree_doc(document):
            return document
        records = self.record_items(tenant_id, document)
        next_seq = len(records) if is_seed_record_entry(document) else document["__next_seq__"]
        order, keys = self.build_trees(tenant_id, records, next_seq)
        converted = {k: v for k, v in document.items() if k in meta_keys}
        converted["__kind__"] = RECORDS
        converted.update(tree_fields(Tree(order, keys, len(records), next_seq)))
        return converted

    # ------------------------------------------------------------------ comparisons
    def record_changes(self, tenant_id: str, old_doc: dict | None, new_doc: dict) -> tuple[dict[str, Any], dict[str, Any]]:
        """(old, new) key -> stored maps of the records that differ between two record versions
        of any layout (read-only values). Two tree versions are diffed by subtree; any other
        pair record by record."""
        if old_doc is not None and old_doc["__kind__"] != RECORDS and not is_seed_record_entry(old_doc):
            old_doc = None
        if (old_doc is None or is_tree_doc(old_doc)) and is_tree_doc(new_doc):
            with gc_paused(), self.objects.tree_guard(tenant_id):  # hundreds of nodes parsed: no collection passes
                old_items, new_items = order_diff(self.objects.nodes(tenant_id), tree_of(old_doc) if old_doc else None,
                                                  tree_of(new_doc))
            before = {item[1]: item[2] for item in old_items}
            after = {item[1]: item[2] for item in new_items}
        else:
            old_records = self.record_items(tenant_id, old_doc)
            new_records = self.record_items(tenant_id, new_doc)
            before = {k: item[1] for k, item in old_records.items()
                      if k not in new_records or not same_stored(item[1], new_records[k][1])}
            after = {k: item[1] for k, item in new_records.items()
                     if k not in old_records or not same_stored(item[1], old_records[k][1])}
        for key in [k for k in after if k in before and same_stored(before[k], after[k])]:
            del before[key], after[key]  # same record, moved to another seq (deleted, re-added)
        return before, after

    def bucket_changes(self, tenant_id: str, old_digest: str | None, new_digest: str | None,
                       by_lines: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """(old, new) key -> stored maps (the caller's own copies) of the records that differ
        between two format-0.4 buckets: line by line when `by_lines`, else parsed."""
        if old_digest == new_digest:
            return {}, {}
        objects = self.objects
        if by_lines and old_digest is not None and new_digest is not None:
            try:
                items = changed_items(objects.bucket_data(tenant_id, old_digest), objects.bucket_data(tenant_id, new_digest))
            except ValueError:
                items = None  # malformed lines: the full parse below names the bad bucket
            if items is not None:
                old_items, new_items = items
                for key in [k for k, item in new_items.items() if k in old_items and same_stored(old_items[k][1], item[1])]:
                    del old_items[key], new_items[key]  # same record, re-added with a new seq
                return {k: item[1] for k, item in old_items.items()}, {k: item[1] for k, item in new_items.items()}
        old = objects.bucket(tenant_id, old_digest) if old_digest is not None else {}
        new = objects.bucket(tenant_id, new_digest) if new_digest is not None else {}
        differing: list[str] = []
        equal: list[str] = []  # equal by ==, not the same object: may still differ (1 vs true)
        for key, item in new.items():
            previous = old.get(key)
            if previous is None or _loosely_differ(previous[1], item[1]):
                differing.append(key)
            elif previous[1] is not item[1]:
                equal.append(key)
        if equal and not same_stored([old[k][1] for k in equal], [new[k][1] for k in equal]):
            differing.extend(key for key in equal if not same_stored(old[key][1], new[key][1]))  # 1 vs true...
        after = {key: json_copy(new[key][1]) for key in differing}
        before = {key: json_copy(old[key][1]) for key in differing if key in old}
        before.update((key, json_copy(item[1])) for key, item in old.items() if key not in new)
        return before, after


class _FreshLeaves:
    """Loads order leaves for tree_values: afresh and uncached when not in the cache, with
    `plain` telling whether the leaf last loaded is such a leaf without tagged values."""

    def __init__(self, objects: ObjectStore, tenant_id: str):
        self.objects = objects
        self.tenant_id = tenant_id
        self.plain = False

    def load(self, digest: str) -> dict:
        fresh = self.objects.fresh_node(self.tenant_id, digest)
        if fresh is None:
            self.plain = False
            return self.objects.node(self.tenant_id, digest)
        node, data = fresh
        self.plain = b"__special__" not in data and b"\\u" not in data
        return node


def _loosely_differ(a: Any, b: Any) -> bool:
    """`a != b` for two stored values; one too deep to compare counts as different."""
    try:
        return a is not b and a != b
    except RecursionError:
        return True
