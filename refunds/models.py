"""Cancellation policies (editable in the admin, every change in history) and the refund owed for each cancellation."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from simple_history.models import HistoricalRecords


class CancellationPolicy(models.Model):
    """How much of what a customer paid comes back when a booking is cancelled, by time before the start.

    A policy covers one item, or one category of items, or (neither set) every
    booking no narrower policy covers. Its amounts are in its currency, so a
    policy with a fee, deposit or cap covers bookings in that currency only.
    """

    name = models.CharField(max_length=100, unique=True)
    item = models.ForeignKey(
        "bookings.Item",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cancellation_policies",
        help_text="covers bookings with this item",
    )
    category = models.CharField(max_length=255, blank=True, help_text="covers bookings with items in this category")
    currency = models.CharField(
        max_length=3, blank=True, help_text="lower case; blank covers any currency (then no fee, deposit or cap)"
    )
    fee_minor = models.BigIntegerField(default=0, help_text="kept from every refund, in minor units")
    deposit_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)], help_text="non-refundable share of the booking total"
    )
    deposit_minor = models.BigIntegerField(default=0, help_text="non-refundable fixed deposit, in minor units")
    cap_minor = models.BigIntegerField(null=True, blank=True, help_text="the most refunded per booking")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "cancellation policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(fee_minor__gte=0, deposit_minor__gte=0, deposit_percent__lte=100)
                & (models.Q(cap_minor__isnull=True) | models.Q(cap_minor__gte=0)),
                name="cancellation_policy_amounts_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(currency="") | models.Q(fee_minor=0, deposit_minor=0, cap_minor__isnull=True),
                name="cancellation_policy_amounts_need_currency",
            ),
            models.CheckConstraint(
                condition=models.Q(item__isnull=True) | models.Q(category=""),
                name="cancellation_policy_item_or_category",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.currency = self.currency.strip().lower()
        if self.currency and (len(self.currency) != 3 or not self.currency.isalpha()):
            raise ValidationError({"currency": "a three-letter currency code, or blank"})
        if not self.currency and (self.fee_minor or self.deposit_minor or self.cap_minor is not None):
            raise ValidationError({"currency": "a fee, fixed deposit or cap needs the currency it is in"})
        if self.item_id and self.category:
            raise ValidationError({"category": "a policy covers an item or a category, not both"})

    @property
    def scope(self) -> str:
        if self.item_id:
            return f"item {self.item}"
        return f"category {self.category}" if self.category else "every booking"

    def terms(self) -> dict[str, Any]:
        """The policy's terms as data: stored with each refund, so later edits never change its explanation."""
        return {
            "policy": self.name,
            "currency": self.currency,
            "tiers": [[t.min_days_before, t.refund_percent] for t in self.tiers.order_by("-min_days_before")],
            "fee_minor": self.fee_minor,
            "deposit_percent": self.deposit_percent,
            "deposit_minor": self.deposit_minor,
            "cap_minor": self.cap_minor,
        }

    def version(self) -> str:
        """Changes exactly when the terms change (a rename or a scope change does not change what is owed)."""
        terms = {k: v for k, v in self.terms().items() if k != "policy"}
        digest = hashlib.sha256(json.dumps(terms, sort_keys=True).encode()).hexdigest()[:10]
        return f"policy-{self.pk}@{digest}"

    def in_words(self) -> str:
        """The policy as a customer or a card network would read it."""
        from refunds.cancellation_quote import Terms, terms_in_words

        return terms_in_words(Terms.from_dict(self.terms()))


class PolicyTier(models.Model):
    """Cancelled at least `min_days_before` days before the start: `refund_percent` of what is refundable."""

    policy = models.ForeignKey(CancellationPolicy, on_delete=models.CASCADE, related_name="tiers")
    min_days_before = models.PositiveIntegerField()
    refund_percent = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    history = HistoricalRecords()

    class Meta:
        ordering = ["-min_days_before"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "min_days_before"], name="policy_tier_once"),
            models.CheckConstraint(condition=models.Q(refund_percent__lte=100), name="policy_tier_percent"),
        ]

    def __str__(self) -> str:
        return f"≥ {self.min_days_before} days: {self.refund_percent} %"


class CancellationRefundStatus(models.TextChoices):
    NOTHING = "nothing", "Nothing to refund"
    PROPOSED = "proposed", "Proposed"
    REFUNDED = "refunded", "Refunded"
    PARTLY_FAILED = "failed", "A refund failed"
    DECLINED = "declined", "Not refunded (rejected)"


class CancellationRefund(models.Model):
    """What one cancelled booking is owed back, how that was worked out, and what became of it.

    One per booking: a second cancellation event (a replay, a sync finding
    the same change) finds this row and proposes nothing.
    """

    booking_code = models.CharField(max_length=64, unique=True)
    policy = models.ForeignKey(
        CancellationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="refunds"
    )
    policy_version = models.CharField(max_length=64, blank=True)
    terms = models.JSONField(default=dict, blank=True, help_text="the policy's terms when the refund was worked out")
    currency = models.CharField(max_length=3)
    captured_minor = models.BigIntegerField(help_text="captured on Stripe across the booking's payments")
    refunded_before_minor = models.BigIntegerField(help_text="refunded before this cancellation")
    amount_minor = models.BigIntegerField(help_text="what the policy gives back")
    payments = models.JSONField(
        default=list, help_text="[{payment_intent_id, captured_minor, refunded_minor}] as Stripe said"
    )
    explanation = models.JSONField(default=list, help_text="the computation, one sentence per step")
    cancelled_at = models.DateTimeField()
    decision = models.ForeignKey("audit.Decision", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=CancellationRefundStatus.choices)
    refunded_minor = models.BigIntegerField(default=0)
    refund_ids = models.JSONField(default=list, blank=True)
    failure = models.CharField(max_length=255, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["status", "-created_at"], name="cancel_refund_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_minor__gte=0, refunded_minor__gte=0, captured_minor__gte=0),
                name="cancel_refund_amounts_positive",
            ),
            # Never more than was captured: the rule that does not bend, in the schema too.
            models.CheckConstraint(
                condition=models.Q(amount_minor__lte=models.F("captured_minor") - models.F("refunded_before_minor")),
                name="cancel_refund_within_captured",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booking_code}: {self.amount_minor} {self.currency} ({self.status})"

    @property
    def payment_intent_ids(self) -> list[str]:
        return [str(p["payment_intent_id"]) for p in self.payments]


class FailedRefund(models.Model):
    """A refund of ours that Stripe reported failed, and the proposal made to try again: one per refund."""

    refund_id = models.CharField(max_length=255, unique=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    failure_reason = models.CharField(max_length=255, blank=True)
    original = models.ForeignKey("audit.Decision", on_delete=models.PROTECT, related_name="+")
    retry = models.ForeignKey("audit.Decision", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.refund_id} failed: {self.failure_reason}"
