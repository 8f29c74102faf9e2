"""Fraud scoring's records: the thresholds, the admins' lists, every assessment, holds, labels and model versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class FraudPolicy(models.Model):
    """The score bands that decide each action, set by admins. One row; every change is kept in its history."""

    authorize_from = models.PositiveSmallIntegerField(
        default=15,
        help_text="before payment, from this score (the rules prior's, on the booking alone): authorize only, "
        "so the payment stage's score decides before any money is captured",
    )
    elevated_from = models.PositiveSmallIntegerField(
        default=40, help_text="from this score: authorize only, capture when the review window closes clean"
    )
    high_from = models.PositiveSmallIntegerField(
        default=70, help_text="from this score: hold the booking in Checkfront, a person releases or rejects it"
    )
    block_from = models.PositiveSmallIntegerField(
        default=90, help_text="from this score, in automate mode only: cancel the payment and the booking"
    )
    review_window_hours = models.PositiveSmallIntegerField(
        default=24, help_text="an elevated authorization is captured this long after it, if nothing new came up"
    )
    capture_margin_hours = models.PositiveSmallIntegerField(
        default=12, help_text="capture at least this long before Stripe's capture_before (the authorization's end)"
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "fraud policy"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(authorize_from__gt=0)
                & models.Q(authorize_from__lte=100)
                & models.Q(elevated_from__gt=0)
                & models.Q(elevated_from__lt=models.F("high_from"))
                & models.Q(high_from__lte=models.F("block_from"))
                & models.Q(block_from__lte=100),
                name="fraud_policy_bands_ordered",
            ),
            models.CheckConstraint(condition=models.Q(review_window_hours__gte=1), name="fraud_policy_window_set"),
        ]

    def __str__(self) -> str:
        return f"elevated {self.elevated_from}, high {self.high_from}, block {self.block_from}"


class ListKind(models.TextChoices):
    EMAIL = "email", "Email address"
    DOMAIN = "domain", "Email domain"
    IP = "ip", "IP address"
    CARD = "card_fingerprint", "Card fingerprint"


class ListAction(models.TextChoices):
    BLOCK = "block", "Blocklist"
    ALLOW = "allow", "Allowlist"


class FraudListEntry(models.Model):
    """An admin's rule: always treat this email, domain, IP or card as risky (block) or trusted (allow)."""

    kind = models.CharField(max_length=24, choices=ListKind.choices)
    value = models.CharField(max_length=255, help_text="stored normalised: lower case, trimmed")
    action = models.CharField(max_length=8, choices=ListAction.choices)
    note = models.CharField(max_length=255, blank=True, help_text="why it is on the list")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "fraud list entries"
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="fraud_list_once")]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.value}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.value = normalised(self.value)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self) -> None:
        # Before the uniqueness check, so "Foo@X.com" and "foo@x.com" are one entry, not a database error.
        self.value = normalised(self.value)


def normalised(value: str) -> str:
    return (value or "").strip().lower().rstrip(".")


class Stage(models.TextChoices):
    BOOKING = "booking", "Booking payable (before payment)"
    PAYMENT = "payment", "Payment authorized or taken"


class Band(models.TextChoices):
    LOW = "low", "Low"
    ELEVATED = "elevated", "Elevated"
    HIGH = "high", "High"
    BLOCK = "block", "Very high"


class Assessment(models.Model):
    """One score of one booking: what the model saw (the documented features only), said and why.

    The features are the training set's rows: labels join them later.
    """

    booking_code = models.CharField(max_length=64, db_index=True)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True)
    score = models.FloatField(help_text="0-100")
    probability = models.FloatField(help_text="the model's calibrated P(fraud), before the lists")
    band = models.CharField(max_length=16, choices=Band.choices)
    confidence = models.FloatField()
    model_version = models.CharField(max_length=64)
    reasons = models.JSONField(default=list)
    features = models.JSONField(help_text="feature name → value (null: absent); nothing else")
    list_hits = models.JSONField(default=list, blank=True, help_text="blocklist/allowlist entries that matched")
    decision = models.ForeignKey(
        "audit.Decision", null=True, blank=True, on_delete=models.PROTECT, related_name="fraud_assessments"
    )
    scored_at = models.DateTimeField(db_index=True, help_text="when the booking was scored (the time-split key)")

    class Meta:
        ordering = ["-scored_at"]
        indexes = [models.Index(fields=["booking_code", "-scored_at"], name="assessment_booking_recent")]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=0) & models.Q(score__lte=100), name="assessment_0_100")
        ]

    def __str__(self) -> str:
        return f"{self.booking_code} {self.stage}: {self.score:.0f} ({self.band})"


class HoldStatus(models.TextChoices):
    HELD = "held", "Held for review"
    RELEASED = "released", "Released"
    CANCELLED = "cancelled", "Rejected: cancelled"


class FraudHold(models.Model):
    """A booking kept from confirmation until a person (or, in automate mode, the block rule) decides.

    Written in the transaction that decides the hold, so payment collection
    never confirms a held booking, whichever runs first.
    """

    booking_code = models.CharField(max_length=64, db_index=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="holds")
    status = models.CharField(max_length=16, choices=HoldStatus.choices, default=HoldStatus.HELD)
    decision = models.ForeignKey("audit.Decision", on_delete=models.PROTECT, related_name="fraud_holds")
    checkfront_held_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["booking_code"], condition=models.Q(status="held"), name="fraud_one_hold_per_booking"
            )
        ]

    def __str__(self) -> str:
        return f"hold on {self.booking_code} ({self.status})"


class LabelSource(models.TextChoices):
    REVIEW = "review", "Reviewer's decision on a hold"
    DISPUTE = "dispute", "Dispute with reason fraudulent"
    EARLY_FRAUD_WARNING = "early_fraud_warning", "Stripe early fraud warning"
    REFUND = "refund", "Refund marked as fraud"


class FraudLabel(models.Model):
    """What became known about a booking's payment: fraud or not, from where. Training joins these to assessments."""

    booking_code = models.CharField(max_length=64, db_index=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    charge_id = models.CharField(max_length=255, blank=True)
    is_fraud = models.BooleanField()
    source = models.CharField(max_length=24, choices=LabelSource.choices)
    source_id = models.CharField(max_length=255, help_text="the dispute, warning, refund or decision it came from")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "source_id"], name="fraud_label_once_per_source")]

    def __str__(self) -> str:
        return f"{self.booking_code}: {'fraud' if self.is_fraud else 'legitimate'} ({self.source})"


class SignalKind(models.TextChoices):
    BOOKING = "booking", "Booking made"
    CHECKOUT = "checkout", "Pay page opened"
    SUCCEEDED = "succeeded", "Payment succeeded"
    FAILED = "failed", "Payment failed"


class PaymentSignal(models.Model):
    """One thing that happened for velocity counting: who booked or tried to pay, from where, with what card.

    Keeps only what the velocity features count by; the card is Stripe's
    fingerprint (never a number), the device a hash.
    """

    kind = models.CharField(max_length=16, choices=SignalKind.choices)
    at = models.DateTimeField()
    booking_code = models.CharField(max_length=64)
    email = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    device = models.CharField(max_length=64, blank=True)
    card_fingerprint = models.CharField(max_length=64, blank=True)
    source_id = models.CharField(max_length=255, blank=True, help_text="the charge or event it came from")

    class Meta:
        indexes = [
            models.Index(fields=["email", "at"], name="signal_email_at"),
            models.Index(fields=["ip", "at"], name="signal_ip_at"),
            models.Index(fields=["device", "at"], name="signal_device_at"),
            models.Index(fields=["card_fingerprint", "at"], name="signal_card_at"),
            models.Index(fields=["booking_code", "kind"], name="signal_booking_kind"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "source_id"], condition=~models.Q(source_id=""), name="signal_once_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.booking_code} at {self.at:%Y-%m-%d %H:%M}"


class FraudModelVersion(models.Model):
    """A trained fraud model: the skops file it is stored in, how it scored on the later slice, whether it is in use."""

    version = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    algorithm = models.CharField(max_length=128)
    feature_names = models.JSONField()
    artefact = models.CharField(max_length=255, help_text="file name under FRAUD_MODEL_DIR (skops format)")
    sha256 = models.CharField(max_length=64, help_text="the artefact's digest, checked before loading")
    metrics = models.JSONField(default=dict, help_text="scores on the held-out later slice, and the baseline's")
    training_rows = models.PositiveIntegerField(default=0)
    trained_until = models.DateTimeField(null=True, blank=True)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=models.Q(is_current=True), name="one_current_fraud_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (current)' if self.is_current else ''}"
