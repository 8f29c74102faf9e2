"""Payment collection: one PaymentIntent per payable booking, from pay link to money collected."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class CollectionStatus(models.TextChoices):
    OPEN = "open", "Open: waiting for the customer"
    SUCCEEDED = "succeeded", "Paid"
    CANCELED = "canceled", "Canceled"


class PaymentCollection(models.Model):
    """What PayOps asked a customer to pay for one booking, and what became of it.

    The row is written before the PaymentIntent is created (so a booking has
    at most one collection in flight) and filled in as each outside write
    succeeds, so a re-run executor continues where the last one stopped.
    """

    booking_code = models.CharField(max_length=64, help_text="Checkfront booking code")
    checkfront_customer_id = models.CharField(max_length=64, blank=True, db_index=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    amount_minor = models.BigIntegerField(help_text="what Checkfront said was due, in minor units")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=CollectionStatus.choices, default=CollectionStatus.OPEN)
    pay_url = models.URLField(max_length=500, blank=True)
    decision = models.ForeignKey(
        "audit.Decision",
        on_delete=models.PROTECT,
        related_name="payment_collections",
        help_text="the payments.collect decision that opened it",
    )
    card_last4 = models.CharField(max_length=4, blank=True)
    needs_refund = models.BooleanField(
        default=False, help_text="paid although the booking was cancelled or already paid: refund by hand"
    )
    flag_reason = models.TextField(blank=True, help_text="why a person must look at this collection")
    paid_at = models.DateTimeField(null=True, blank=True)
    checkfront_update_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="when PayOps asked Checkfront to mark the booking paid"
    )
    checkfront_paid_at = models.DateTimeField(
        null=True, blank=True, help_text="when the payment was recorded on the Checkfront booking"
    )
    canceled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        indexes = [
            models.Index(fields=["booking_code", "status"], name="collection_booking_status"),
            models.Index(fields=["status", "-created_at"], name="collection_status_recent"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["booking_code"],
                condition=models.Q(status="open"),
                name="collection_one_open_per_booking",
            ),
            models.UniqueConstraint(
                fields=["payment_intent_id"],
                condition=~models.Q(payment_intent_id=""),
                name="collection_payment_intent_once",
            ),
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="collection_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.booking_code} {self.amount_minor} {self.currency} ({self.status})"
