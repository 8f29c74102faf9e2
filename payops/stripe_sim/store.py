"""The simulator's SQLite store: every Stripe object as a JSON document, plus idempotency, tasks and logs.

One connection shared by the server threads, the webhook thread and the
scheduler behind an RLock (simkit.store.SqliteStore); it also makes each API
write one transaction, as Stripe's are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simkit.store import SqliteStore

DEFAULT_DB_PATH = Path(__file__).resolve().parents[2] / "var" / "stripe-sim.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- One row per Stripe object. `doc` is what the API returns; `private` holds what
-- Stripe keeps but never shows (a card's behaviour key, a webhook secret).
-- `seq` orders lists newest first, as Stripe does, within one second too.
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    object TEXT NOT NULL,
    created INTEGER NOT NULL,
    doc TEXT NOT NULL,
    private TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS objects_type ON objects (object, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, method TEXT NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, request_id TEXT NOT NULL, created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created);
-- Work Stripe does later: authorizations expiring, async refunds settling, due dates passing.
CREATE TABLE IF NOT EXISTS scheduled (
    task_id INTEGER PRIMARY KEY, due INTEGER NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scheduled_due ON scheduled (due);
-- Scripted outcomes for the next charges: declines by payment method or fingerprint, risk.
CREATE TABLE IF NOT EXISTS scripts (target TEXT PRIMARY KEY, outcomes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id INTEGER PRIMARY KEY, attempted_at REAL NOT NULL, endpoint_id TEXT NOT NULL, url TEXT NOT NULL,
    event_id TEXT NOT NULL, event_type TEXT NOT NULL, attempt INTEGER NOT NULL, status_code INTEGER,
    error TEXT, outcome TEXT NOT NULL, duration_ms REAL, next_attempt_in REAL, response TEXT
);
"""

# What reset empties: everything but the account and the clock, which a restart keeps too.
DATA_TABLES = ("objects", "idempotency", "scheduled", "scripts", "webhook_deliveries")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


class Store(SqliteStore):
    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__(path if path is not None else DEFAULT_DB_PATH, schema=SCHEMA)

    # --- meta --------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        with self.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        with self.write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, dumps(value)))

    # --- housekeeping ---------------------------------------------------------------------

    def reset(self) -> None:
        with self.write() as conn:
            for table in DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def counts(self) -> dict[str, int]:
        with self.read() as conn:
            rows = conn.execute("SELECT object, COUNT(*) FROM objects GROUP BY object").fetchall()
        return {str(kind): int(n) for kind, n in rows}
