"""Reading and writing the store's records: bookings, customers, items, categories, transactions, notes.

A booking is one JSON document (in booking_docs; see booking_actions.py for
its keys) plus the columns the index filters on (in bookings), which are
always derived from the document when it is saved so the two cannot disagree. Every function takes an open
connection from Store.read() / Store.write().
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bookings.checkfront_sim.api_dates import DateFilter

Doc = dict[str, Any]

_BOOKING_INSERT = (
    "INSERT OR REPLACE INTO bookings (booking_id, code, status_id, customer_id, customer_email,"
    " created_date, modified_at, start_date, end_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DOC_INSERT = "INSERT OR REPLACE INTO booking_docs (booking_id, doc) VALUES (?, ?)"
_LINE_INSERT = "INSERT INTO booking_items (booking_id, line_id, item_id, qty, start_date) VALUES (?, ?, ?, ?, ?)"
_CUSTOMER_COLUMNS = ("customer_id", "code", "name", "email", "phone", "created_at")
_ITEM_COLUMNS = ("item_id", "sku", "name", "category_id", "price_minor", "stock", "unlimited")
_TXN_COLUMNS = (
    "transaction_id",
    "booking_id",
    "date",
    "status",
    "amount_minor",
    "gateway_id",
    "payment_mask",
    "payment_type",
    "payment_customer",
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- bookings ----------------------------------------------------------------


def booking_row(doc: Doc) -> tuple[Any, ...]:
    return (
        doc["booking_id"],
        doc["code"],
        doc["status_id"],
        doc["customer"]["customer_id"],
        doc["customer"]["email"],
        doc["created_date"],
        doc["modified_at"],
        doc["start_date"],
        doc["end_date"],
    )


def booking_line_rows(doc: Doc) -> list[tuple[int, int, int, int, int]]:
    return [(doc["booking_id"], ln["line_id"], ln["item_id"], ln["qty"], ln["start_date"]) for ln in doc["lines"]]


def insert_bookings(conn: sqlite3.Connection, docs: Sequence[Doc]) -> None:
    conn.executemany(_BOOKING_INSERT, [booking_row(doc) for doc in docs])
    conn.executemany(_DOC_INSERT, [(doc["booking_id"], _dumps(doc)) for doc in docs])
    conn.executemany(_LINE_INSERT, [row for doc in docs for row in booking_line_rows(doc)])


def save_booking(conn: sqlite3.Connection, doc: Doc) -> None:
    conn.execute("DELETE FROM booking_items WHERE booking_id = ?", (doc["booking_id"],))
    insert_bookings(conn, [doc])


def next_booking_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(booking_id), 0) + 1 FROM bookings").fetchone()[0])


def code_exists(conn: sqlite3.Connection, code: str) -> bool:
    return conn.execute("SELECT 1 FROM bookings WHERE code = ?", (code,)).fetchone() is not None


def load_booking(conn: sqlite3.Connection, code: str) -> Doc | None:
    row = conn.execute(
        "SELECT d.doc FROM bookings b JOIN booking_docs d ON d.booking_id = b.booking_id WHERE b.code = ?", (code,)
    ).fetchone()
    return json.loads(row[0]) if row else None


def random_booking_code(conn: sqlite3.Connection, pick: float) -> str | None:
    """The code of the booking at position `pick` (0..1) in id order; None when there are none."""
    total = conn.execute("SELECT COUNT(*) FROM bookings").fetchone()[0]
    if not total:
        return None
    row = conn.execute(
        "SELECT code FROM bookings ORDER BY booking_id LIMIT 1 OFFSET ?", (min(int(pick * total), total - 1),)
    ).fetchone()
    return str(row[0])


@dataclass
class BookingQuery:
    """The booking index's filters, already validated."""

    status_id: str | None = None
    customer_id: int | None = None
    customer_email: str | None = None
    item_id: int | None = None
    dates: dict[str, DateFilter] = field(default_factory=dict)

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.status_id is not None:
            clauses.append("status_id = ?")
            params.append(self.status_id)
        if self.customer_id is not None:
            clauses.append("customer_id = ?")
            params.append(self.customer_id)
        if self.customer_email is not None:
            clauses.append("customer_email = ?")
            params.append(self.customer_email)
        if self.item_id is not None:
            clauses.append("booking_id IN (SELECT booking_id FROM booking_items WHERE item_id = ?)")
            params.append(self.item_id)
        for column, date_filter in self.dates.items():
            clause, values = date_filter.sql(column)
            clauses.append(clause)
            params.extend(values)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def query_bookings(conn: sqlite3.Connection, query: BookingQuery, *, limit: int, offset: int) -> tuple[int, list[Doc]]:
    """(total matching, one page of documents in booking_id order)."""
    where, params = query.where()
    total = conn.execute(f"SELECT COUNT(*) FROM bookings{where}", params).fetchone()[0]  # noqa: S608 - built from fixed clauses
    # Page the narrow table first, then fetch the wide documents by key: the
    # OFFSET walk then touches only small rows, not every document.
    rows = conn.execute(
        f"SELECT doc FROM booking_docs WHERE booking_id IN (SELECT booking_id FROM bookings{where}"  # noqa: S608
        " ORDER BY booking_id LIMIT ? OFFSET ?) ORDER BY booking_id",
        [*params, limit, offset],
    ).fetchall()
    return int(total), [json.loads(row[0]) for row in rows]


def booking_status_counts(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT status_id, COUNT(*) FROM bookings GROUP BY status_id ORDER BY status_id")
    return {str(status): int(n) for status, n in rows}


# --- customers ---------------------------------------------------------------


def customer_row(customer: Doc) -> tuple[Any, ...]:
    rest = {k: v for k, v in customer.items() if k not in _CUSTOMER_COLUMNS}
    return (*(customer[c] for c in _CUSTOMER_COLUMNS), _dumps(rest))


def insert_customers(conn: sqlite3.Connection, customers: Iterable[Doc]) -> None:
    conn.executemany(
        f"INSERT INTO customers ({', '.join(_CUSTOMER_COLUMNS)}, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        [customer_row(c) for c in customers],
    )


def _customer(row: sqlite3.Row) -> Doc:
    return {**{c: row[c] for c in _CUSTOMER_COLUMNS}, **json.loads(row["doc"])}


def next_customer_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(customer_id), 0) + 1 FROM customers").fetchone()[0])


def customer_code_exists(conn: sqlite3.Connection, code: str) -> bool:
    return conn.execute("SELECT 1 FROM customers WHERE code = ?", (code,)).fetchone() is not None


def load_customer(conn: sqlite3.Connection, key: int | str) -> Doc | None:
    """By customer_id, or by customer code ("NQ2-039-421")."""
    column = "customer_id" if isinstance(key, int) else "code"
    row = conn.execute(f"SELECT * FROM customers WHERE {column} = ?", (key,)).fetchone()  # noqa: S608
    return _customer(row) if row else None


def find_customer_by_email(conn: sqlite3.Connection, email: str) -> Doc | None:
    row = conn.execute("SELECT * FROM customers WHERE email = ? ORDER BY customer_id LIMIT 1", (email,)).fetchone()
    return _customer(row) if row else None


def search_customers(
    conn: sqlite3.Connection, criteria: dict[str, Any], *, limit: int, offset: int
) -> tuple[int, list[Doc]]:
    """Exact match on any of customer_id, email, name (both case-insensitive) and phone."""
    where = " AND ".join(f"{column} = ?" for column in criteria) or "1"
    params = list(criteria.values())
    total = conn.execute(f"SELECT COUNT(*) FROM customers WHERE {where}", params).fetchone()[0]  # noqa: S608
    rows = conn.execute(
        f"SELECT * FROM customers WHERE {where} ORDER BY customer_id LIMIT ? OFFSET ?",  # noqa: S608
        [*params, limit, offset],
    ).fetchall()
    return int(total), [_customer(row) for row in rows]


def last_booking_dates(conn: sqlite3.Connection, customer_ids: Sequence[int]) -> dict[int, int]:
    marks = ", ".join("?" for _ in customer_ids)
    rows = conn.execute(
        f"SELECT customer_id, MAX(created_date) FROM bookings WHERE customer_id IN ({marks}) GROUP BY customer_id",  # noqa: S608
        list(customer_ids),
    )
    return {int(customer_id): int(created) for customer_id, created in rows}


def customer_bookings(conn: sqlite3.Connection, customer_id: int) -> list[tuple[str, int]]:
    rows = conn.execute(
        "SELECT code, created_date FROM bookings WHERE customer_id = ? ORDER BY booking_id", (customer_id,)
    )
    return [(str(code), int(created)) for code, created in rows]


# --- items and categories ------------------------------------------------------


def insert_categories(conn: sqlite3.Connection, categories: Iterable[Doc]) -> None:
    conn.executemany(
        "INSERT INTO categories (category_id, name, doc) VALUES (?, ?, ?)",
        [(c["category_id"], c["name"], _dumps(c)) for c in categories],
    )


def list_categories(conn: sqlite3.Connection) -> list[Doc]:
    return [json.loads(row[0]) for row in conn.execute("SELECT doc FROM categories ORDER BY category_id")]


def insert_items(conn: sqlite3.Connection, items: Iterable[Doc]) -> None:
    conn.executemany(
        f"INSERT INTO items ({', '.join(_ITEM_COLUMNS)}, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        [(*(item[c] for c in _ITEM_COLUMNS), _dumps(item)) for item in items],
    )


def list_items(conn: sqlite3.Connection) -> list[Doc]:
    return [json.loads(row[0]) for row in conn.execute("SELECT doc FROM items ORDER BY item_id")]


def load_item(conn: sqlite3.Connection, *, item_id: int | None = None, sku: str | None = None) -> Doc | None:
    if item_id is not None:
        row = conn.execute("SELECT doc FROM items WHERE item_id = ?", (item_id,)).fetchone()
    else:
        row = conn.execute("SELECT doc FROM items WHERE sku = ?", (sku,)).fetchone()
    return json.loads(row[0]) if row else None


# --- transactions and notes ------------------------------------------------------


def insert_transactions(conn: sqlite3.Connection, transactions: Iterable[Doc]) -> None:
    conn.executemany(
        f"INSERT INTO transactions ({', '.join(_TXN_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        [tuple(t[c] for c in _TXN_COLUMNS) for t in transactions],
    )


def transaction_id_exists(conn: sqlite3.Connection, transaction_id: str) -> bool:
    return conn.execute("SELECT 1 FROM transactions WHERE transaction_id = ?", (transaction_id,)).fetchone() is not None


def booking_transactions(conn: sqlite3.Connection, booking_id: int) -> list[Doc]:
    rows = conn.execute(
        f"SELECT {', '.join(_TXN_COLUMNS)} FROM transactions WHERE booking_id = ? ORDER BY date, txn_pk",  # noqa: S608
        (booking_id,),
    )
    return [dict(row) for row in rows]


def insert_notes(conn: sqlite3.Connection, notes: Iterable[Doc]) -> None:
    conn.executemany(
        "INSERT INTO notes (booking_id, booking_code, account_id, created_at, body, private) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (n["booking_id"], n["booking_code"], n["account_id"], n["created_at"], n["body"], n["private"])
            for n in notes
        ],
    )


def insert_note(conn: sqlite3.Connection, note: Doc) -> int:
    insert_notes(conn, [note])
    return int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])


def list_notes(conn: sqlite3.Connection, *, since: float, until: float) -> list[Doc]:
    rows = conn.execute(
        "SELECT note_id, booking_code, account_id, created_at, body, private FROM notes"
        " WHERE created_at >= ? AND created_at < ? ORDER BY created_at DESC, note_id DESC",
        (since, until),
    )
    return [dict(row) for row in rows]


def load_note(conn: sqlite3.Connection, note_id: int) -> Doc:
    row = conn.execute(
        "SELECT note_id, booking_code, account_id, created_at, body, private FROM notes WHERE note_id = ?", (note_id,)
    ).fetchone()
    return dict(row)


# --- meta ----------------------------------------------------------------------


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else None


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
