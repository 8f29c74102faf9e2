"""The simulator's own SQLite store: its schema, what a reset empties, and counts (connection and locking: simkit).

The simulator never touches Django's database. Server threads, the webhook
thread and the activity thread share one connection behind an RLock
(simkit.store.SqliteStore).
"""

from __future__ import annotations

from pathlib import Path

from simkit.store import SqliteStore

DEFAULT_DB_PATH = Path(__file__).resolve().parents[2] / "var" / "checkfront-sim.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS categories (
    category_id INTEGER PRIMARY KEY, name TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    item_id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    category_id INTEGER NOT NULL, price_minor INTEGER NOT NULL,
    stock INTEGER NOT NULL, unlimited INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    customer_id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL COLLATE NOCASE, email TEXT NOT NULL COLLATE NOCASE,
    phone TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS customers_email ON customers (email);
CREATE INDEX IF NOT EXISTS customers_name ON customers (name);
CREATE INDEX IF NOT EXISTS customers_phone ON customers (phone);
CREATE TABLE IF NOT EXISTS bookings (
    booking_id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, status_id TEXT NOT NULL,
    customer_id INTEGER NOT NULL, customer_email TEXT NOT NULL COLLATE NOCASE,
    created_date INTEGER NOT NULL, modified_at REAL NOT NULL,
    start_date INTEGER NOT NULL, end_date INTEGER NOT NULL
);
-- The booking's JSON document, one-to-one with bookings. Kept apart so that
-- paging the index (OFFSET walks) reads narrow rows, not 1.5 kB documents.
CREATE TABLE IF NOT EXISTS booking_docs (booking_id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS bookings_status ON bookings (status_id);
CREATE INDEX IF NOT EXISTS bookings_customer ON bookings (customer_id);
CREATE INDEX IF NOT EXISTS bookings_email ON bookings (customer_email);
CREATE INDEX IF NOT EXISTS bookings_created ON bookings (created_date);
CREATE INDEX IF NOT EXISTS bookings_modified ON bookings (modified_at);
CREATE INDEX IF NOT EXISTS bookings_start ON bookings (start_date);
CREATE INDEX IF NOT EXISTS bookings_end ON bookings (end_date);
CREATE TABLE IF NOT EXISTS booking_items (
    booking_id INTEGER NOT NULL, line_id INTEGER NOT NULL, item_id INTEGER NOT NULL,
    qty INTEGER NOT NULL, start_date INTEGER NOT NULL,
    PRIMARY KEY (booking_id, line_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS booking_items_item ON booking_items (item_id, booking_id);
CREATE TABLE IF NOT EXISTS transactions (
    txn_pk INTEGER PRIMARY KEY, transaction_id TEXT NOT NULL UNIQUE, booking_id INTEGER NOT NULL,
    date INTEGER NOT NULL, status TEXT NOT NULL, amount_minor INTEGER NOT NULL,
    gateway_id TEXT NOT NULL, payment_mask TEXT NOT NULL, payment_type TEXT NOT NULL,
    payment_customer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_booking ON transactions (booking_id);
CREATE TABLE IF NOT EXISTS notes (
    note_id INTEGER PRIMARY KEY, booking_id INTEGER NOT NULL, booking_code TEXT NOT NULL,
    account_id INTEGER NOT NULL, created_at REAL NOT NULL, body TEXT NOT NULL, private INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_created ON notes (created_at);
CREATE INDEX IF NOT EXISTS notes_booking ON notes (booking_id);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    endpoint_id INTEGER PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, format TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1, consecutive_failures INTEGER NOT NULL DEFAULT 0, disabled_at REAL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id INTEGER PRIMARY KEY, attempted_at REAL NOT NULL, endpoint_id INTEGER, url TEXT NOT NULL,
    event TEXT NOT NULL, format TEXT NOT NULL, booking_code TEXT, attempt INTEGER NOT NULL,
    status_code INTEGER, error TEXT, outcome TEXT NOT NULL, duration_ms REAL, body TEXT
);
"""

# What /_sim/reset empties. The webhook configuration survives a reset so a
# running demo keeps delivering after a reseed.
DATA_TABLES = (
    "categories",
    "items",
    "customers",
    "bookings",
    "booking_docs",
    "booking_items",
    "transactions",
    "notes",
    "webhook_deliveries",
    "meta",
)


class Store(SqliteStore):
    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__(
            path if path is not None else DEFAULT_DB_PATH,
            schema=SCHEMA,
            pragmas=("PRAGMA cache_size=-65536",),  # 64 MiB: 100k bookings page fast
        )

    def reset(self) -> None:
        with self.write() as conn:
            for table in DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("UPDATE webhook_endpoints SET consecutive_failures = 0")

    def counts(self) -> dict[str, int]:
        with self.read() as conn:
            return {
                table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
                for table in ("bookings", "customers", "items", "transactions", "notes", "webhook_deliveries")
            }
