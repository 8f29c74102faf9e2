"""Failed-payment recovery: one case per failed PaymentIntent, every charge attempt, the retry model's versions."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class DeclineClass(models.TextChoices):
    SOFT = "soft", "Soft: a retry may work"
    CUSTOMER = "customer", "Needs the customer"
    HARD = "hard", "Hard: never retry"


class RecoveryStatus(models.TextChoices):
    ACTIVE = "active", "Recovering"
    RECOVERED = "recovered", "Recovered"
    ESCALATED = "escalated", "With a person"
    CANCELLED = "cancelled", "Cancelled: booking released"
    CLOSED = "closed", "Closed elsewhere"


class Initiator(models.TextChoices):
    """Who started a charge: the networks count retries separately for each."""

    CUSTOMER = "customer", "Customer-initiated"
    MERCHANT = "merchant", "Merchant-initiated (off-session)"


class RecoveryCase(models.Model):
    """A booking payment that failed, from the first decline to money collected or the booking released."""

    payment_intent_id = models.CharField(max_length=255, unique=True)
    booking_code = models.CharField(max_length=64, db_index=True)
    customer_id = models.CharField(max_length=255, blank=True, help_text="Stripe customer")
    customer_email = models.CharField(max_length=255, blank=True)
    customer_name = models.CharField(max_length=255, blank=True)
    language = models.CharField(max_length=16, blank=True, help_text="the booking's language, where known")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    payment_method_id = models.CharField(max_length=255, blank=True)
    card_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    card_brand = models.CharField(max_length=32, blank=True)
    card_country = models.CharField(max_length=2, blank=True)
    card_funding = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, choices=RecoveryStatus.choices, default=RecoveryStatus.ACTIVE)
    decline_class = models.CharField(max_length=16, choices=DeclineClass.choices, blank=True)
    last_decline_code = models.CharField(max_length=64, blank=True)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    retries = models.PositiveIntegerField(default=0, help_text="retries made after the first failure")
    next_retry_at = models.DateTimeField(null=True, blank=True, help_text="when the planned retry is due")
    hold_until = models.DateTimeField(null=True, blank=True, help_text="the booking is held in Checkfront until then")
    service_start_at = models.DateTimeField(null=True, blank=True, help_text="the activity's start")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["status", "next_retry_at"], name="recovery_due")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="recovery_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.booking_code} {self.payment_intent_id} ({self.status})"


class RetryAttempt(models.Model):
    """One charge of a case's payment: the first failure (number 0) and each retry. The model learns from these."""

    case = models.ForeignKey(RecoveryCase, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField(help_text="0 for the failure that opened the case")
    attempted_at = models.DateTimeField(db_index=True)
    succeeded = models.BooleanField()
    initiator = models.CharField(max_length=16, choices=Initiator.choices, default=Initiator.MERCHANT)
    decline_code = models.CharField(max_length=64, blank=True)
    decline_class = models.CharField(max_length=16, choices=DeclineClass.choices, blank=True)
    advice_code = models.CharField(max_length=64, blank=True)
    network_advice_code = models.CharField(max_length=8, blank=True)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    card_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    card_brand = models.CharField(max_length=32, blank=True)
    charge_id = models.CharField(max_length=255, blank=True)
    # What the planner saw when it chose this retry (empty for number 0).
    features = models.JSONField(default=dict, blank=True)
    predicted_success = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["case", "number"]
        constraints = [models.UniqueConstraint(fields=["case", "number"], name="retry_attempt_once")]

    def __str__(self) -> str:
        outcome = "succeeded" if self.succeeded else f"declined {self.decline_code}"
        return f"{self.case.booking_code} attempt {self.number} {outcome}"


class RetryModelVersion(models.Model):
    """A trained retry model: its parameters as plain JSON (never a pickle), how it scored, whether it is in use."""

    version = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    algorithm = models.CharField(max_length=64)
    parameters = models.JSONField(help_text="everything needed to predict: feature names, coefficients, scaling")
    metrics = models.JSONField(default=dict, help_text="scores on the held-out later slice, and the baseline's")
    training_rows = models.PositiveIntegerField(default=0)
    trained_until = models.DateTimeField(null=True, blank=True, help_text="the latest attempt in the training slice")
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=models.Q(is_current=True), name="one_current_retry_model"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (current)' if self.is_current else ''}"


class MessageKind(models.TextChoices):
    RETRY_SCHEDULED = "retry_scheduled", "Payment failed, retrying"
    CARD_UPDATE = "card_update", "Please update your card"
    RECOVERED = "recovered", "Payment received"
    LAST_CHANCE = "last_chance", "Last chance"
    CANCELLED = "cancelled", "Booking cancelled"


class CustomerMessage(models.Model):
    """A dunning email sent to a customer, also written as a note on the Checkfront booking.

    One per (decision, kind): an executor that runs again finds it and sends nothing twice.
    """

    case = models.ForeignKey(RecoveryCase, on_delete=models.CASCADE, related_name="messages")
    decision_id = models.UUIDField()
    kind = models.CharField(max_length=32, choices=MessageKind.choices)
    language = models.CharField(max_length=16)
    to = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    sent_at = models.DateTimeField(null=True, blank=True)
    noted_at = models.DateTimeField(null=True, blank=True, help_text="when the note reached Checkfront")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["decision_id", "kind"], name="customer_message_once")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} for {self.case.booking_code}"
