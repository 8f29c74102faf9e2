"""Writing the Checkfront mirror: booking details, index rows in bulk, transactions, and the domain signals."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

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
    """Write a booking's full detail and announce what changed. Idempotent: the same data twice changes nothing."""
    if not data.is_detail:
        raise ValueError("upsert_booking_detail needs the booking detail, not an index row")
    try:
        return _upsert_detail(data)
    except IntegrityError:
        # Another process created the same booking or customer first; the
        # second pass finds its row and updates it.
        return _upsert_detail(data)


@transaction.atomic
def _upsert_detail(data: BookingData) -> MirrorResult:
    customer = upsert_customer(data.customer) if data.customer else None
    booking = Booking.objects.select_for_update().filter(checkfront_id=data.checkfront_id).first()
    created = booking is None
    if booking is None:
        booking = Booking(checkfront_id=data.checkfront_id)
    changed = _apply(booking, data, TRACKED_FIELDS)
    if customer is not None and booking.customer_id != customer.pk:
        booking.customer = customer
        changed.append("customer")
    booking.detail_synced_at = timezone.now()
    if created or changed or booking.raw != data.raw:
        booking.raw = data.raw
        booking.save()
    else:
        # Nothing new: note the read without a history row.
        Booking.objects.filter(pk=booking.pk).update(detail_synced_at=booking.detail_synced_at)
    if _replace_lines(booking, data.lines or []):
        changed.append("items")
    result = MirrorResult(booking=booking, created=created, changed_fields=changed)
    result.announced = _announce(booking, changed)
    if created or changed:
        logger.info("mirrored booking %s: %s", booking.code, "created" if created else ", ".join(changed))
    return result


def _apply(booking: Booking, data: BookingData, fields: Iterable[str]) -> list[str]:
    changed = []
    for name in fields:
        value = getattr(data, name)
        if getattr(booking, name) != value:
            setattr(booking, name, value)
            changed.append(name)
    return changed


def _announce(booking: Booking, changed: list[str]) -> list[str]:
    """Send each domain signal once per real change, comparing with what was last announced."""
    announced: list[str] = []
    first = booking.signalled_status == ""
    before_status, before_due = booking.signalled_status, booking.signalled_due_minor
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
    if (before_status, before_due) != (booking.status, booking.due_minor):
        booking.signalled_status, booking.signalled_due_minor = booking.status, booking.due_minor
        # Bookkeeping, not a change of the booking: no history row.
        Booking.objects.filter(pk=booking.pk).update(
            signalled_status=booking.status, signalled_due_minor=booking.due_minor
        )
    return announced


def _replace_lines(booking: Booking, lines: list[LineData]) -> bool:
    """Make the booking's lines match; returns whether anything changed."""
    existing = {line.line_id: line for line in booking.items.all()}
    items = {i.checkfront_id: i for i in Item.objects.filter(checkfront_id__in=[ln.item_checkfront_id for ln in lines])}
    changed = False
    wanted = set()
    for data in lines:
        wanted.add(data.line_id)
        line = existing.get(data.line_id) or BookingItem(booking=booking, line_id=data.line_id)
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
        if line.pk is None or any(getattr(line, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(line, k, v)
            line.save()
            changed = True
    for line_id, line in existing.items():
        if line_id not in wanted:
            line.delete()
            changed = True
    return changed


def upsert_customer(data: CustomerData) -> Customer:
    values = {
        "code": data.code,
        "name": data.name,
        "email": data.email,
        "phone": data.phone,
        "address": data.address,
        "city": data.city,
        "region": data.region,
        "country": data.country,
        "postal_zip": data.postal_zip,
    }
    customer = Customer.objects.filter(checkfront_id=data.checkfront_id).first()
    if customer is None:
        return Customer.objects.create(checkfront_id=data.checkfront_id, **values)
    # Index rows and some payloads carry only a few customer fields: never blank out what we know.
    updates = {k: v for k, v in values.items() if v and getattr(customer, k) != v}
    if updates:
        for k, v in updates.items():
            setattr(customer, k, v)
        customer.save()
    return customer


@dataclass
class IndexBatchResult:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    needs_detail: list[str] = field(default_factory=list)


@transaction.atomic
def upsert_index_rows(rows: list[BookingData], *, modified_since_last_run: bool = False) -> IndexBatchResult:
    """Bring a page of index rows into the mirror in bulk.

    New and changed bookings are written from the index fields and marked as
    needing their detail. When the rows come from a `last_modified` query
    every one of them changed somewhere, perhaps only in fields the index
    does not show (dates, lines, form fields), so all need their detail.
    No domain signals here: they are sent once the detail is in.
    """
    result = IndexBatchResult()
    if not rows:
        return result
    existing = Booking.objects.in_bulk([r.checkfront_id for r in rows], field_name="checkfront_id")
    customers = _bulk_customers([r.customer for r in rows if r.customer])
    to_create: list[Booking] = []
    to_update: list[Booking] = []
    for row in rows:
        booking = existing.get(row.checkfront_id)
        customer = customers.get(row.customer.checkfront_id) if row.customer else None
        if booking is None:
            booking = Booking(checkfront_id=row.checkfront_id, raw=row.raw, customer=customer)
            _apply(booking, row, INDEX_FIELDS)
            to_create.append(booking)
            result.new += 1
            result.needs_detail.append(row.code)
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


def _bulk_customers(rows: list[CustomerData]) -> dict[str, Customer]:
    ids = {c.checkfront_id for c in rows}
    known = Customer.objects.in_bulk(list(ids), field_name="checkfront_id")
    new: dict[str, Customer] = {}
    for data in rows:
        if data.checkfront_id not in known and data.checkfront_id not in new:
            new[data.checkfront_id] = Customer(
                checkfront_id=data.checkfront_id, code=data.code, name=data.name, email=data.email
            )
    if new:
        bulk_create_with_history(list(new.values()), Customer, batch_size=500)
        known.update(Customer.objects.in_bulk(list(new), field_name="checkfront_id"))
    return known


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
