"""Writing the Checkfront mirror: booking details, index rows in bulk, transactions, and the domain signals."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from bookings import signals
from bookings.checkfront_payloads import BookingData, CustomerData, LineData, TransactionData
from bookings.models import CLOSED_STATUSES, Booking, BookingItem, BookingStatus, Customer, Item, Transaction

logger = logging.getLogger(__name__)

# Mirror fields compared to decide whether a booking changed.
TRACKED_FIELDS = (
    "code",
    "status",
    "status_name",
    "currency",
    "total_minor",
    "tax_total_minor",
    "paid_minor",
    "due_minor",
    "customer_name",
    "customer_email",
    "summary",
    "booked_at",
    "start_at",
    "end_at",
    "source_ip",
    "form_fields",
    "checkfront_modified_at",
)
# What an index row knows; the rest waits for the detail.
INDEX_FIELDS = ("code", "status", "status_name", "currency", "total_minor", "tax_total_minor", "paid_minor",
                "due_minor", "customer_name", "customer_email", "summary", "booked_at")  # fmt: skip
INDEX_FIELDS_KNOWN_CURRENCY = tuple(f for f in INDEX_FIELDS if f != "currency")


@dataclass
class MirrorResult:
    booking: Booking
    created: bool
    changed_fields: list[str] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)


def is_payable(status: str, due_minor: int | None) -> bool:
    """Money is owed and the booking still holds its place."""
    return bool(due_minor and due_minor > 0) and status not in CLOSED_STATUSES and status != BookingStatus.WAIT


def upsert_booking_detail(data: BookingData) -> MirrorResult:
    """Write one booking's full detail and announce what changed (see upsert_booking_details)."""
    return upsert_booking_details([data])[0]


def upsert_booking_details(batch: list[BookingData]) -> list[MirrorResult]:
    """Write full booking details in one transaction and announce what changed, once each.

    Idempotent: the same details again change nothing and write no history.
    """
    if any(not data.is_detail for data in batch):
        raise ValueError("upsert_booking_details needs booking details, not index rows")
    # The last word on each booking wins if a batch names it twice.
    unique = list({data.checkfront_id: data for data in batch}.values())
    try:
        return _upsert_details(unique)
    except IntegrityError:
        # Another process created one of these bookings, customers or lines
        # first; the second pass finds the rows and updates them.
        return _upsert_details(unique)


# Written when a booking's detail changes: the mirror fields, and what the
# signals are about to announce (so announcing needs no second write).
DETAIL_WRITE_FIELDS = [
    *TRACKED_FIELDS,
    "customer",
    "raw",
    "detail_synced_at",
    "signalled_status",
    "signalled_due_minor",
]


@transaction.atomic
def _upsert_details(batch: list[BookingData]) -> list[MirrorResult]:
    customers = sync_customers([data.customer for data in batch if data.customer])
    existing = Booking.objects.select_for_update().in_bulk([d.checkfront_id for d in batch], field_name="checkfront_id")
    now = timezone.now()
    pending: list[tuple[MirrorResult, tuple[str, int | None]]] = []
    to_create: list[Booking] = []
    to_update: list[Booking] = []
    untouched: list[int] = []
    for data in batch:
        booking = existing.get(data.checkfront_id)
        created = booking is None
        if booking is None:
            booking = Booking(checkfront_id=data.checkfront_id)
        announced_before = (booking.signalled_status, booking.signalled_due_minor)
        changed = _apply(booking, data, TRACKED_FIELDS)
        customer = customers.get(data.customer.checkfront_id) if data.customer else None
        if customer is not None and booking.customer_id != customer.pk:
            booking.customer = customer
            changed.append("customer")
        booking.detail_synced_at = now
        booking.signalled_status, booking.signalled_due_minor = booking.status, booking.due_minor
        if created:
            booking.raw = data.raw
            to_create.append(booking)
        elif changed or booking.raw != data.raw or announced_before != (booking.status, booking.due_minor):
            booking.raw = data.raw
            to_update.append(booking)
        else:
            untouched.append(booking.pk)  # nothing new: note the read, write no history
        pending.append((MirrorResult(booking=booking, created=created, changed_fields=changed), announced_before))
    if to_create:
        bulk_create_with_history(to_create, Booking, batch_size=500)
    if to_update:
        _update_with_history(to_update, DETAIL_WRITE_FIELDS)
    if untouched:
        Booking.objects.filter(pk__in=untouched).update(detail_synced_at=now)
    results = [result for result, _ in pending]
    with_new_lines = _sync_lines([(r.booking, data.lines or []) for r, data in zip(results, batch, strict=True)])
    for result, announced_before in pending:
        if result.booking.pk in with_new_lines and not result.created:
            result.changed_fields.append("items")
        result.announced = _announce(result.booking, result.changed_fields, announced_before)
        if result.created or result.changed_fields:
            logger.info(
                "mirrored booking %s: %s",
                result.booking.code,
                "created" if result.created else ", ".join(result.changed_fields),
            )
    return results


def _update_with_history(bookings: list[Booking], fields: list[str]) -> None:
    """One plain UPDATE per changed booking and their history rows in bulk.

    Cheaper than bulk_update here: its CASE expressions over twenty columns
    cost more to build than the statements they save.
    """
    for booking in bookings:
        Booking.objects.filter(pk=booking.pk).update(**{f: getattr(booking, f) for f in fields})
    Booking.history.bulk_history_create(bookings, update=True)


def _apply(booking: Booking, data: BookingData, fields: Iterable[str]) -> list[str]:
    changed = []
    for name in fields:
        value = getattr(data, name)
        if getattr(booking, name) != value:
            setattr(booking, name, value)
            changed.append(name)
    return changed


def _announce(booking: Booking, changed: list[str], announced_before: tuple[str, int | None]) -> list[str]:
    """Send each domain signal once per real change, comparing with what was last announced."""
    announced: list[str] = []
    before_status, before_due = announced_before
    first = before_status == ""
    if first:
        signals.booking_created.send(sender=Booking, booking=booking)
        announced.append("created")
    elif changed:
        signals.booking_changed.send(sender=Booking, booking=booking, changed_fields=list(changed))
        announced.append("changed")
    if booking.status in CLOSED_STATUSES and not first and before_status not in CLOSED_STATUSES:
        signals.booking_cancelled.send(sender=Booking, booking=booking)
        announced.append("cancelled")
    if is_payable(booking.status, booking.due_minor) and (first or not is_payable(before_status, before_due)):
        signals.booking_became_payable.send(sender=Booking, booking=booking)
        announced.append("became_payable")
    return announced


def _sync_lines(bookings: list[tuple[Booking, list[LineData]]]) -> set[int]:
    """Make each booking's lines match its detail, in bulk. Returns the ids of bookings whose lines changed."""
    by_booking: dict[int, dict[str, BookingItem]] = {}
    for existing_line in BookingItem.objects.filter(booking__in=[b for b, _ in bookings]):
        by_booking.setdefault(existing_line.booking_id, {})[existing_line.line_id] = existing_line
    item_ids = {ln.item_checkfront_id for _, lines in bookings for ln in lines if ln.item_checkfront_id}
    items = Item.objects.in_bulk(list(item_ids), field_name="checkfront_id")
    to_create: list[BookingItem] = []
    to_update: list[BookingItem] = []
    to_delete: list[int] = []
    changed: set[int] = set()
    for booking, lines in bookings:
        existing = by_booking.get(booking.pk, {})
        for data in lines:
            values = {
                "item": items.get(data.item_checkfront_id) if data.item_checkfront_id else None,
                "item_checkfront_id": data.item_checkfront_id,
                "sku": data.sku,
                "name": data.name,
                "qty": data.qty,
                "start_at": data.start_at,
                "end_at": data.end_at,
                "total_minor": data.total_minor,
                "params": data.params,
            }
            line = existing.pop(data.line_id) if data.line_id in existing else None
            if line is None:
                to_create.append(BookingItem(booking=booking, line_id=data.line_id, **values))
            elif any(getattr(line, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(line, k, v)
                to_update.append(line)
            else:
                continue
            changed.add(booking.pk)
        if existing:
            to_delete.extend(line.pk for line in existing.values())
            changed.add(booking.pk)
    if to_create:
        bulk_create_with_history(to_create, BookingItem, batch_size=500)
    if to_update:
        bulk_update_with_history(to_update, BookingItem, LINE_FIELDS, batch_size=500)
    if to_delete:
        BookingItem.objects.filter(pk__in=to_delete).delete()  # one history row per line, via post_delete
    return changed


LINE_FIELDS = ["item", "item_checkfront_id", "sku", "name", "qty", "start_at", "end_at", "total_minor", "params"]
CUSTOMER_FIELDS = ["code", "name", "email", "phone", "address", "city", "region", "country", "postal_zip"]


def sync_customers(rows: list[CustomerData]) -> dict[str, Customer]:
    """Create missing customers and fill in what we learn, in bulk; never blank out what we know.

    Index rows carry only a few customer fields, details carry more.
    """
    latest = {data.checkfront_id: data for data in rows}
    known = Customer.objects.in_bulk(list(latest), field_name="checkfront_id")
    to_create: list[Customer] = []
    to_update: list[Customer] = []
    for checkfront_id, data in latest.items():
        customer = known.get(checkfront_id)
        if customer is None:
            to_create.append(Customer(checkfront_id=checkfront_id, **{f: getattr(data, f) for f in CUSTOMER_FIELDS}))
            continue
        updates = {
            f: getattr(data, f)
            for f in CUSTOMER_FIELDS
            if getattr(data, f) and getattr(customer, f) != getattr(data, f)
        }
        if updates:
            for field_name, value in updates.items():
                setattr(customer, field_name, value)
            to_update.append(customer)
    if to_create:
        bulk_create_with_history(to_create, Customer, batch_size=500)
        known.update(Customer.objects.in_bulk([c.checkfront_id for c in to_create], field_name="checkfront_id"))
    if to_update:
        bulk_update_with_history(to_update, Customer, CUSTOMER_FIELDS, batch_size=500)
    return known


@dataclass
class IndexBatchResult:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    needs_detail: list[str] = field(default_factory=list)


@transaction.atomic
def upsert_index_rows(
    rows: list[BookingData], *, modified_since_last_run: bool = False, create_new: bool = True
) -> IndexBatchResult:
    """Bring a page of index rows into the mirror in bulk.

    New and changed bookings are written from the index fields and marked as
    needing their detail. When the rows come from a `last_modified` query
    every one of them changed somewhere, perhaps only in fields the index
    does not show (dates, lines, form fields), so all need their detail.
    With create_new=False new bookings are only listed: the detail pass that
    follows creates them whole. No domain signals here: they are sent once
    the detail is in.
    """
    result = IndexBatchResult()
    if not rows:
        return result
    existing = Booking.objects.in_bulk([r.checkfront_id for r in rows], field_name="checkfront_id")
    customers = sync_customers([r.customer for r in rows if r.customer])
    to_create: list[Booking] = []
    to_update: list[Booking] = []
    for row in rows:
        booking = existing.get(row.checkfront_id)
        customer = customers.get(row.customer.checkfront_id) if row.customer else None
        if booking is None:
            result.new += 1
            result.needs_detail.append(row.code)
            if create_new:
                booking = Booking(checkfront_id=row.checkfront_id, raw=row.raw, customer=customer)
                _apply(booking, row, INDEX_FIELDS)
                to_create.append(booking)
            continue
        # An index row has no currency of its own (the account's is assumed);
        # once the detail has said which currency a booking is in, keep it.
        fields = INDEX_FIELDS if booking.detail_synced_at is None else INDEX_FIELDS_KNOWN_CURRENCY
        changed = _apply(booking, row, fields)
        if changed:
            booking.detail_synced_at = None
            to_update.append(booking)
            result.changed += 1
            result.needs_detail.append(row.code)
        else:
            result.unchanged += 1
            if booking.detail_synced_at is None or modified_since_last_run:
                result.needs_detail.append(row.code)
    if to_create:
        bulk_create_with_history(to_create, Booking, batch_size=500)
    if to_update:
        bulk_update_with_history(to_update, Booking, [*INDEX_FIELDS, "detail_synced_at"], batch_size=500)
    return result


def upsert_transaction(data: TransactionData) -> tuple[Transaction, bool]:
    """Record a payment or refund once (unique on Checkfront's transaction id)."""
    booking = Booking.objects.filter(code=data.booking_code).first()
    values = {
        "booking": booking,
        "booking_code": data.booking_code,
        "status": data.status,
        "amount_minor": data.amount_minor,
        "currency": data.currency,
        "gateway_id": data.gateway_id,
        "payment_type": data.payment_type,
        "payment_last4": data.payment_last4,
        "occurred_at": data.occurred_at,
        "raw": data.raw,
    }
    try:
        with transaction.atomic():
            existing = Transaction.objects.select_for_update().filter(checkfront_id=data.checkfront_id).first()
            if existing is None:
                return Transaction.objects.create(checkfront_id=data.checkfront_id, **values), True
            if any(getattr(existing, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(existing, k, v)
                existing.save()
            return existing, False
    except IntegrityError:
        return Transaction.objects.get(checkfront_id=data.checkfront_id), False


def sync_items(rows: list[dict[str, Any]]) -> int:
    """Mirror the item catalogue (small: one call, one transaction). Returns how many items changed."""
    changed = 0
    with transaction.atomic():
        known = Item.objects.in_bulk(field_name="checkfront_id")
        for row in rows:
            item_id = int(row["item_id"])
            values = {
                "sku": str(row.get("sku") or "")[:128],
                "name": str(row.get("name") or "")[:255],
                "category": str(row.get("category") or "")[:255],
                "raw": row,
            }
            item = known.get(item_id)
            if item is None:
                Item.objects.create(checkfront_id=item_id, **values)
                changed += 1
            elif any(getattr(item, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(item, k, v)
                item.save()
                changed += 1
    return changed
