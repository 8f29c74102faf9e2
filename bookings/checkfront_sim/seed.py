"""Deterministic seeding: a catalogue, customers, bookings in every status, payments, refunds and notes.

The same (seed, anchor) always gives the same store. `anchor` is "now" for the
seeded history (default: the start of today, UTC): bookings are created over
the two years before it, start from two years ago to about seven months after
it, and every payment, note and modification happens before it. Rows go in
with executemany in batches, so 100,000 bookings take seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bookings.checkfront_sim import identifiers, records
from bookings.checkfront_sim.account import STATUSES
from bookings.checkfront_sim.api_dates import DAY, day_start
from bookings.checkfront_sim.errors import InvalidInput
from bookings.checkfront_sim.pricing import apply_totals, price_line
from bookings.checkfront_sim.seed_data import (
    CATEGORIES,
    COUNTRIES,
    CUSTOMER_NOTES,
    DIETARY,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    HOTELS,
    LAST_NAMES,
    STAFF_NOTES,
    STREETS,
    TRACKING_IDS,
    catalogue_items,
)
from bookings.checkfront_sim.store import Store

Doc = dict[str, Any]
Progress = Callable[[int, int], None]

BATCH = 5000
HISTORY_DAYS = 730

_PAST_STATUSES = (
    (["PAID"] * 70) + ["STOP"] * 10 + ["VOID"] * 5 + ["PART"] * 5 + ["HOLD"] * 4 + ["PEND"] * 3 + ["CONF"] * 3
)
_FUTURE_STATUSES = (
    ["PEND"] * 15
    + ["HOLD"] * 20
    + ["PART"] * 25
    + ["PAID"] * 25
    + ["WAIT"] * 5
    + ["CONF"] * 5
    + ["STOP"] * 4
    + ["VOID"]
)
_CURRENCIES = ["CAD"] * 70 + ["USD"] * 20 + ["EUR"] * 10
_CARDS = ["Visa"] * 55 + ["MasterCard"] * 30 + ["American Express"] * 15
_POS_TYPES = ["Cash", "Debit", "E-Transfer"]


@dataclass(frozen=True)
class SeedSummary:
    bookings: int
    customers: int
    items: int
    transactions: int
    notes: int
    seconds: float


def seed_catalogue(store: Store) -> None:
    with store.write() as conn:
        records.insert_categories(conn, CATEGORIES)
        records.insert_items(conn, catalogue_items())


def seed_store(
    store: Store, *, bookings: int, seed: int, anchor: float | None = None, progress: Progress | None = None
) -> SeedSummary:
    """Fill an empty store; InvalidInput if it already has bookings or the count is out of range."""
    if not 0 <= bookings <= 1_000_000:
        raise InvalidInput("bookings must be between 0 and 1000000")
    started = time.monotonic()
    with store.read() as conn:
        if records.next_booking_id(conn) != 1:
            raise InvalidInput("the store already has bookings: reset it first")
        has_items = bool(records.list_items(conn))
    if not has_items:
        seed_catalogue(store)
    with store.read() as conn:
        items = records.list_items(conn)
    seeder = _Seeder(random.Random(seed), items, day_start(time.time()) if anchor is None else int(anchor))
    done = 0
    while done < bookings:
        size = min(BATCH, bookings - done)
        batch = seeder.bookings(start_index=done, count=size, total=bookings)
        with store.write() as conn:
            records.insert_customers(conn, batch.customers)
            records.insert_bookings(conn, batch.bookings)
            records.insert_transactions(conn, batch.transactions)
            records.insert_notes(conn, batch.notes)
        done += size
        if progress:
            progress(done, bookings)
    with store.write() as conn:
        records.set_meta(conn, "seed", str(seed))
        records.set_meta(conn, "anchor", str(seeder.anchor))
    return SeedSummary(
        bookings=bookings,
        customers=seeder.customer_count,
        items=len(items),
        transactions=seeder.transaction_count,
        notes=seeder.note_count,
        seconds=round(time.monotonic() - started, 2),
    )


@dataclass
class _Batch:
    customers: list[Doc]
    bookings: list[Doc]
    transactions: list[Doc]
    notes: list[Doc]


class _Seeder:
    """Draws everything from one Random, in one fixed order, so a seed always gives the same data."""

    def __init__(self, rng: random.Random, items: list[Doc], anchor: int) -> None:
        self.rng = rng
        self.items = items
        self.anchor = anchor
        self.first_created = anchor - HISTORY_DAYS * DAY
        self.customers: list[Doc] = []
        self.emails: set[str] = set()
        self.customer_codes: set[str] = set()
        self.booking_codes: set[str] = set()
        self.transaction_ids: set[str] = set()
        self.transaction_count = 0
        self.note_count = 0
        self._domains = [d for d, _ in EMAIL_DOMAINS]
        self._domain_weights = [w for _, w in EMAIL_DOMAINS]
        self._countries = list(COUNTRIES)
        self._country_weights = [COUNTRIES[c][0] for c in self._countries]

    @property
    def customer_count(self) -> int:
        return len(self.customers)

    def bookings(self, *, start_index: int, count: int, total: int) -> _Batch:
        batch = _Batch([], [], [], [])
        span = self.anchor - 3600 - self.first_created
        forced = list(STATUSES) if total >= len(STATUSES) else []
        for index in range(start_index, start_index + count):
            # Creation times rise with booking_id, as Checkfront's do.
            created = self.first_created + int(span * (index + self.rng.random()) / total)
            customer, is_new = self._customer(created)
            if is_new:
                batch.customers.append(customer)
            status = forced[index] if index < len(forced) else None
            doc = self._booking(index + 1, created, customer, status)
            transactions = self._transactions(doc)
            notes = self._notes(doc)
            last_change = max([created] + [t["date"] for t in transactions] + [n["created_at"] for n in notes])
            doc["modified_at"] = min(last_change + self.rng.uniform(1, 900), self.anchor - self.rng.uniform(1, 60))
            batch.bookings.append(doc)
            batch.transactions.extend(transactions)
            batch.notes.extend(notes)
        return batch

    # --- customers -------------------------------------------------------------

    def _customer(self, created: int) -> tuple[Doc, bool]:
        rng = self.rng
        if self.customers and rng.random() < 0.45:
            # Skewed towards early customers: regulars come back many times.
            return self.customers[int(len(self.customers) * rng.random() ** 3)], False
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country = rng.choices(self._countries, self._country_weights)[0]
        _, dial, places = COUNTRIES[country]
        region, city, postal = rng.choice(places)
        code = identifiers.customer_code(rng)
        while code in self.customer_codes:
            code = identifiers.customer_code(rng)
        self.customer_codes.add(code)
        customer = {
            "customer_id": len(self.customers) + 1,
            "code": code,
            "name": f"{first} {last}",
            "email": self._email(first, last),
            "phone": f"{dial} {rng.randint(200, 989)} {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
            "created_at": float(created),
            "address": f"{rng.randint(1, 2999)} {rng.choice(STREETS)}",
            "city": city,
            "region": region,
            "country": country,
            "postal_zip": "".join(
                rng.choice("0123456789") if ch == "#" else rng.choice("ABCEGHJKLMNPRSTVXY") if ch == "@" else ch
                for ch in postal
            ),
            "email_optin": rng.random() < 0.4,
        }
        self.customers.append(customer)
        return customer, True

    def _email(self, first: str, last: str) -> str:
        rng = self.rng
        local = rng.choice(
            [f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}"]
        )
        local = "".join(ch for ch in local.lower() if ch.isascii() and (ch.isalnum() or ch in "._"))
        domain = rng.choices(self._domains, self._domain_weights)[0]
        email, n = f"{local}@{domain}", 1
        while email in self.emails:
            n += 1
            email = f"{local}{n}@{domain}"
        self.emails.add(email)
        return email

    # --- bookings --------------------------------------------------------------

    def _booking(self, booking_id: int, created: int, customer: Doc, status: str | None) -> Doc:
        rng = self.rng
        code = identifiers.booking_code(rng, created)
        while code in self.booking_codes:
            code = identifiers.booking_code(rng, created)
        self.booking_codes.add(code)
        lead_days = rng.choice([rng.randint(0, 6), rng.randint(7, 60), rng.randint(7, 60), rng.randint(61, 200)])
        start = day_start(created) + lead_days * DAY + rng.choice([9, 10, 13, 15]) * 3600
        if start <= created:
            start += DAY
        currency = rng.choice(_CURRENCIES)
        chosen = rng.sample(self.items, rng.choices([1, 2, 3], [70, 25, 5])[0])
        lines = []
        for line_id, item in enumerate(chosen, start=1):
            line_start = start if line_id == 1 else day_start(start) + rng.randint(0, 2) * DAY + 13 * 3600
            param = self._param(item)
            qty = sum(p["qty"] for p in param.values())
            lines.append(price_line(item, line_id=line_id, qty=qty, currency=currency, start=line_start, param=param))
        if status is None:
            status = rng.choice(_FUTURE_STATUSES if start >= self.anchor else _PAST_STATUSES)
        online = rng.random() < 0.7
        fields: dict[str, str] = {"party_size": str(lines[0]["qty"])}
        if rng.random() < 0.5:
            fields["hotel_pickup"] = rng.choice(HOTELS)
        if rng.random() < 0.3:
            fields["dietary"] = rng.choice(DIETARY)
        doc: Doc = {
            "booking_id": booking_id,
            "code": code,
            "status_id": status,
            "created_date": created,
            "modified_at": float(created),
            "currency_id": currency,
            "token": identifiers.booking_token(rng),
            "source_ip": self._ip() if online else "203.0.113.7",
            "tid": rng.choice(TRACKING_IDS) if rng.random() < 0.1 else "",
            "staff_id": 0 if online else rng.choice([1, 2]),
            "customer": {k: customer[k] for k in _BOOKING_CUSTOMER_KEYS},
            "fields": fields,
            "note": rng.choice(CUSTOMER_NOTES) if rng.random() < 0.15 else "",
            "lines": lines,
            "paid_total": 0,
        }
        return apply_totals(doc)

    def _param(self, item: Doc) -> dict[str, dict[str, Any]]:
        rng = self.rng
        params = item["params"]
        first_id, first_label = params[0]
        chosen = {first_id: {"qty": rng.choices([1, 2, 3, 4, 6], [20, 40, 15, 20, 5])[0], "name": first_label}}
        if len(params) > 1 and rng.random() < 0.3:
            second_id, second_label = params[1]
            chosen[second_id] = {"qty": rng.randint(1, 3), "name": second_label}
        return chosen

    def _ip(self) -> str:
        rng = self.rng
        if rng.random() < 0.05:
            return f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
        first = rng.choice([24, 50, 66, 70, 81, 99, 142, 154, 173, 184, 207, 213])
        return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"

    # --- money and notes ---------------------------------------------------------

    def _payment_time(self, doc: Doc, earliest: float) -> int:
        latest = min(doc["start_date"], self.anchor - 120)
        return int(earliest + (max(latest, earliest + 60) - earliest) * self.rng.random() ** 2)

    def _transaction(self, doc: Doc, *, status: str, amount: int, when: int) -> Doc:
        rng = self.rng
        stripe = rng.random() < 0.85
        while True:
            if stripe:
                prefix = "re" if status == "REFUND" else ("ch" if when < self.anchor - 365 * DAY else "pi")
                transaction_id = identifiers.stripe_id(rng, prefix)
            else:
                transaction_id = identifiers.pos_transaction_id(rng)
            if transaction_id not in self.transaction_ids:
                break
        self.transaction_ids.add(transaction_id)
        return {
            "transaction_id": transaction_id,
            "booking_id": doc["booking_id"],
            "date": when,
            "status": status,
            "amount_minor": amount,
            "gateway_id": "Stripe" if stripe else "POS",
            "payment_mask": f"{rng.randint(0, 9999):04d}" if stripe else "(POS)",
            "payment_type": rng.choice(_CARDS) if stripe else rng.choice(_POS_TYPES),
            "payment_customer": doc["customer"]["name"],
        }

    def _transactions(self, doc: Doc) -> list[Doc]:
        rng = self.rng
        status, total, created = doc["status_id"], doc["total"], doc["created_date"]
        paid_at = created + rng.randint(30, 1800)
        out: list[Doc] = []
        if status == "PAID":
            if rng.random() < 0.8:
                out.append(self._transaction(doc, status="PAID", amount=total, when=paid_at))
            else:
                deposit = total * rng.randint(20, 50) // 100
                out.append(self._transaction(doc, status="PAID", amount=deposit, when=paid_at))
                balance_at = self._payment_time(doc, paid_at + 60)
                out.append(self._transaction(doc, status="PAID", amount=total - deposit, when=balance_at))
        elif status == "PART":
            deposit = max(100, total * rng.randint(20, 50) // 100)
            out.append(self._transaction(doc, status="PAID", amount=min(deposit, total - 1), when=paid_at))
        elif status == "STOP" and rng.random() < 0.5:
            out.append(self._transaction(doc, status="PAID", amount=total, when=paid_at))
            refund_at = self._payment_time(doc, paid_at + 60)
            out.append(self._transaction(doc, status="REFUND", amount=total, when=refund_at))
        doc["paid_total"] = sum(t["amount_minor"] if t["status"] == "PAID" else -t["amount_minor"] for t in out)
        self.transaction_count += len(out)
        return out

    def _notes(self, doc: Doc) -> list[Doc]:
        rng = self.rng
        if rng.random() >= 0.12:
            return []
        notes = []
        for _ in range(rng.choice([1, 1, 2])):
            from_customer = rng.random() < 0.3
            notes.append(
                {
                    "booking_id": doc["booking_id"],
                    "booking_code": doc["code"],
                    "account_id": 0 if from_customer else rng.choice([1, 2]),
                    "created_at": float(self._payment_time(doc, doc["created_date"] + 60)) + rng.random(),
                    "body": rng.choice(CUSTOMER_NOTES if from_customer else STAFF_NOTES),
                    "private": 0 if from_customer else int(rng.random() < 0.7),
                }
            )
        self.note_count += len(notes)
        return notes


_BOOKING_CUSTOMER_KEYS = (
    "customer_id",
    "code",
    "name",
    "email",
    "phone",
    "address",
    "city",
    "region",
    "country",
    "postal_zip",
)
