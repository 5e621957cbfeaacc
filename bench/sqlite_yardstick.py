"""The yardstick: the same operations done with plain sqlite3, one transaction per write.

Schema: one table of versions (`versions`: entry, parent, user, date, JSON data) and,
for record entries, one table of current records (`records`: upserted in the same
transaction as the version row that logs the change). sqlite keeps no history of
records, so it does less work than the engine on puts; it is the floor to compare with.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from dbengine import Version

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY,
    entry TEXT NOT NULL,
    parent INTEGER,
    user_id TEXT NOT NULL,
    date TEXT NOT NULL,
    data TEXT
);
CREATE INDEX IF NOT EXISTS versions_entry ON versions (entry, id);
CREATE TABLE IF NOT EXISTS records (
    entry TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (entry, key)
);
CREATE INDEX IF NOT EXISTS records_seq ON records (entry, seq);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SqliteStore:
    """A versioned store in one sqlite file; `durable` picks synchronous=FULL or OFF."""

    def __init__(self, path: str, durable: bool, journal: str = "delete"):
        self.path = path
        self.durable = durable
        self.journal = journal
        self.conn = self._connect()
        self.conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path)
        conn.execute(f"PRAGMA journal_mode={self.journal}")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'OFF'}")
        return conn

    def set_durable(self, durable: bool) -> None:
        self.durable = durable
        self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")

    def reopen(self) -> None:
        """A new connection (the 'cold' case: no statement or page cache of ours)."""
        self.conn.close()
        self.conn = self._connect()

    def close(self) -> None:
        self.conn.close()

    def _head(self, entry: str) -> tuple[int, str] | None:
        return self.conn.execute(
            "SELECT id, data FROM versions WHERE entry = ? ORDER BY id DESC LIMIT 1", (entry,)
        ).fetchone()

    # ------------------------------------------------------------------ snapshots
    def save(self, user: str, entry: str, value: Any, date: str) -> int:
        """Insert a version unless the data equals the head's (like the engine)."""
        data = _dumps(value)
        with self.conn:
            head = self._head(entry)
            if head is not None and head[1] == data:
                return head[0]
            cursor = self.conn.execute(
                "INSERT INTO versions (entry, parent, user_id, date, data) VALUES (?, ?, ?, ?, ?)",
                (entry, head[0] if head else None, user, date, data),
            )
            return cursor.lastrowid

    def save_bulk(self, user: str, entry: str, values: Iterable[Any], date: str) -> None:
        """Setup only: many versions in one transaction."""
        with self.conn:
            head = self._head(entry)
            parent = head[0] if head else None
            for value in values:
                parent = self.conn.execute(
                    "INSERT INTO versions (entry, parent, user_id, date, data) VALUES (?, ?, ?, ?, ?)",
                    (entry, parent, user, date, _dumps(value)),
                ).lastrowid

    def load(self, entry: str, version: int | None = None) -> Any:
        if version is None:
            row = self._head(entry)
            return json.loads(row[1])
        row = self.conn.execute("SELECT data FROM versions WHERE id = ?", (version,)).fetchone()
        return json.loads(row[0])

    def log(self, entry: str, max_items: int) -> list[tuple]:
        return self.conn.execute(
            "SELECT id, parent, user_id, date FROM versions WHERE entry = ? ORDER BY id DESC LIMIT ?",
            (entry, max_items),
        ).fetchall()

    def log_versions(self, entry: str, max_items: int) -> list[Version]:
        """`log` as the engine's API returns it: the rows as Version objects with datetimes."""
        return [
            Version(str(vid), [None if parent is None else str(parent)], user,
                    _dt.datetime.fromisoformat(f"{date[:8]}T{date[9:17]}{date[18:]}"))
            for vid, parent, user, date in self.log(entry, max_items)
        ]

    def version_ids(self, entry: str) -> list[int]:
        return [row[0] for row in self.conn.execute(
            "SELECT id FROM versions WHERE entry = ? ORDER BY id", (entry,))]

    # ------------------------------------------------------------------ records
    def put_many(self, user: str, entry: str, items: dict[str, Any], date: str) -> None:
        """Upsert records and log one version, in one transaction."""
        with self.conn:
            head = self._head(entry)
            next_seq = self.conn.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM records WHERE entry = ?", (entry,)
            ).fetchone()[0]
            rows = [(entry, key, next_seq + i, _dumps(value)) for i, (key, value) in enumerate(items.items())]
            self.conn.executemany(
                "INSERT INTO records (entry, key, seq, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (entry, key) DO UPDATE SET value = excluded.value",
                rows,
            )
            self.conn.execute(
                "INSERT INTO versions (entry, parent, user_id, date, data) VALUES (?, ?, ?, ?, NULL)",
                (entry, head[0] if head else None, user, date),
            )

    def get(self, entry: str, key: str) -> Any:
        row = self.conn.execute(
            "SELECT value FROM records WHERE entry = ? AND key = ?", (entry, key)
        ).fetchone()
        return json.loads(row[0])

    def get_all(self, entry: str) -> list[Any]:
        return [json.loads(row[0]) for row in self.conn.execute(
            "SELECT value FROM records WHERE entry = ? ORDER BY seq", (entry,))]
