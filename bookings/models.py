"""The Checkfront mirror: customers, items, bookings, their lines and transactions.

Rows are written only by sync and webhook processing (bookings/mirror.py);
Checkfront stays the source of truth. Money is integer minor units + currency.
"""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class BookingStatus(models.TextChoices):
    """Checkfront's default status ids; accounts may add their own, kept as they come."""

    PEND = "PEND", "Pending"
    HOLD = "HOLD", "Reserved"
    PART = "PART", "Deposit"
    PAID = "PAID", "Paid"
    WAIT = "WAIT", "Waiting"
    STOP = "STOP", "Cancelled"
    VOID = "VOID", "Void"


# Statuses that release inventory: nothing is collected for these.
CLOSED_STATUSES = frozenset({BookingStatus.STOP, BookingStatus.VOID})


class Customer(models.Model):
    checkfront_id = models.CharField(max_length=64, unique=True, help_text="Checkfront customer_id")
    code = models.CharField(max_length=64, blank=True, db_index=True, help_text="e.g. NQ2-039-421")
    name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True, db_index=True)
    phone = models.CharField(max_length=64, blank=True)
    address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=128, blank=True)
    region = models.CharField(max_length=128, blank=True)
    country = models.CharField(max_length=64, blank=True)
    postal_zip = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.name or self.email} ({self.checkfront_id})"


class Item(models.Model):
    checkfront_id = models.BigIntegerField(unique=True, help_text="Checkfront item_id")
    sku = models.CharField(max_length=128, blank=True, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=255, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["raw"])

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Booking(models.Model):
    checkfront_id = models.BigIntegerField(unique=True, help_text="Checkfront booking_id")
    code = models.CharField(max_length=64, unique=True, help_text="Checkfront booking code, e.g. KMVQ-060314")
    status = models.CharField(max_length=16, db_index=True, help_text="Checkfront status id (custom ones too)")
    status_name = models.CharField(max_length=64, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings")
    customer_name = models.CharField(max_length=255, blank=True)
    customer_email = models.CharField(max_length=255, blank=True, db_index=True)
    currency = models.CharField(max_length=3)
    total_minor = models.BigIntegerField(default=0)
    tax_total_minor = models.BigIntegerField(default=0)
    paid_minor = models.BigIntegerField(default=0)
    due_minor = models.BigIntegerField(default=0, help_text="total - paid; negative when overpaid")
    summary = models.CharField(max_length=500, blank=True)
    booked_at = models.DateTimeField(null=True, blank=True, help_text="Checkfront created_date")
    start_at = models.DateTimeField(null=True, blank=True, db_index=True)
    end_at = models.DateTimeField(null=True, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    form_fields = models.JSONField(default=dict, blank=True, help_text="custom booking-form fields")
    raw = models.JSONField(default=dict, blank=True, help_text="last payload from Checkfront (token removed)")
    checkfront_modified_at = models.DateTimeField(null=True, blank=True)
    detail_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="when the full detail was last read; empty while only the index row is known"
    )
    # What the domain signals last announced, so a change is announced once
    # however many times (webhook, sync) it is seen.
    signalled_status = models.CharField(max_length=16, blank=True)
    signalled_due_minor = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    history = HistoricalRecords(excluded_fields=["raw", "updated_at"])

    class Meta:
        indexes = [
            models.Index(fields=["status", "start_at"], name="booking_status_start"),
            models.Index(fields=["detail_synced_at"], name="booking_detail_pending"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_minor__gte=0) & models.Q(paid_minor__gte=0),
                name="booking_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.status})"


class BookingItem(models.Model):
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="items")
    line_id = models.CharField(max_length=16)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.SET_NULL, related_name="booking_lines")
    item_checkfront_id = models.BigIntegerField(null=True, blank=True)
    sku = models.CharField(max_length=128, blank=True)
    name = models.CharField(max_length=255, blank=True)
    qty = models.IntegerField(default=1)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    total_minor = models.BigIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["booking", "line_id"], name="booking_item_line_once")]

    def __str__(self) -> str:
        return f"{self.booking.code} line {self.line_id}: {self.qty} × {self.sku}"


class TransactionStatus(models.TextChoices):
    PAID = "PAID", "Payment"
    REFUND = "REFUND", "Refund"


class Transaction(models.Model):
    """A payment or refund on a booking, as Checkfront records it. No card data: last4 and brand only."""

    checkfront_id = models.CharField(max_length=128, unique=True, help_text="Checkfront transaction_id")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions")
    booking_code = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    gateway_id = models.CharField(max_length=64, blank=True)
    payment_type = models.CharField(max_length=64, blank=True, help_text="card brand or POS type")
    payment_last4 = models.CharField(max_length=16, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["raw"])

    def __str__(self) -> str:
        return f"{self.status} {self.amount_minor} {self.currency} on {self.booking_code}"


class SyncCursor(models.Model):
    """Where the incremental sync resumes. One row per synced collection."""

    name = models.CharField(max_length=32, unique=True)
    cursor_at = models.DateTimeField(null=True, blank=True, help_text="next run asks for changes since this")
    running_since = models.DateTimeField(null=True, blank=True, help_text="a run holds the cursor while set")
    last_completed_at = models.DateTimeField(null=True, blank=True)
    last_summary = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} since {self.cursor_at}"


class BookingNote(models.Model):
    """A note PayOps wrote (or is writing) on a Checkfront booking.

    Checkfront has no idempotency key, so each note has one here: an executor
    that runs again finds its note written and writes nothing.
    """

    key = models.CharField(max_length=300, unique=True, help_text="the decision's operation key for this note")
    booking_code = models.CharField(max_length=64, db_index=True)
    body = models.TextField()
    written_at = models.DateTimeField(null=True, blank=True, help_text="empty: not written, or the outcome is unknown")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"note on {self.booking_code}: {self.body[:40]}"
