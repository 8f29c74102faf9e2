"""One record per Stripe dispute: what was disputed, the evidence drafted for it, what was sent, how it ended."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class CaseStatus(models.TextChoices):
    ASSEMBLING = "assembling", "Assembling the evidence package"
    MONITORED = "monitored", "Recorded only (disputes workflow in monitor mode)"
    IN_REVIEW = "in_review", "Evidence waiting for a person"
    SUBMITTED = "submitted", "Evidence submitted, the bank decides"
    DECLINED = "declined", "Not contested: a person chose to send no evidence"
    UNANSWERED = "unanswered", "Closed to evidence: not submitted by PayOps"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    INQUIRY_CLOSED = "inquiry_closed", "Inquiry closed without a chargeback"


# A case in one of these has its outcome; nothing more happens to it.
FINAL_STATUSES = frozenset({CaseStatus.WON, CaseStatus.LOST, CaseStatus.INQUIRY_CLOSED})
# Stripe's statuses in which evidence may still be staged and submitted.
STRIPE_OPEN_STATUSES = frozenset({"needs_response", "warning_needs_response"})


class DisputeCase(models.Model):
    """A dispute of a payment, from `charge.dispute.created` to its outcome.

    The evidence package is drafted here (`package`, one text per Stripe
    evidence field); what a person approved and PayOps sent is kept apart
    (`submitted_evidence`), so the record shows both the draft and the edit.
    """

    dispute_id = models.CharField(max_length=255, unique=True, help_text="Stripe dispute id (dp_… / du_…)")
    charge_id = models.CharField(max_length=255, db_index=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    booking_code = models.CharField(max_length=64, blank=True, db_index=True, help_text="Checkfront booking code")
    amount_minor = models.BigIntegerField(help_text="disputed amount, minor units")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=64, help_text="Stripe's dispute reason (fraudulent, product_not_received…)")
    inquiry = models.BooleanField(default=False, help_text="an inquiry (warning_*) rather than a chargeback")
    stripe_status = models.CharField(max_length=32, help_text="Stripe's status, as last heard")
    evidence_due_by = models.DateTimeField(null=True, blank=True, help_text="Stripe's deadline for evidence")
    opened_at = models.DateTimeField(help_text="when the dispute was created at Stripe")
    status = models.CharField(max_length=32, choices=CaseStatus.choices, default=CaseStatus.ASSEMBLING)
    package = models.JSONField(default=dict, blank=True, help_text="the drafted evidence: Stripe field → text")
    gaps = models.JSONField(default=list, blank=True, help_text="what the package could not say, and why")
    loss_risk = models.FloatField(null=True, blank=True, help_text="0-100: how likely the dispute is lost as drafted")
    confidence = models.FloatField(null=True, blank=True)
    rules_version = models.CharField(max_length=64, blank=True)
    proposal = models.ForeignKey(
        "audit.Decision",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the proposal to submit the package (its review item is the reviewer's copy)",
    )
    submitted_evidence = models.JSONField(default=dict, blank=True, help_text="what was sent to Stripe")
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["evidence_due_by", "pk"]
        indexes = [models.Index(fields=["status", "evidence_due_by"], name="dispute_case_status_due")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gte=0), name="dispute_case_amount_not_negative"),
            models.CheckConstraint(
                condition=models.Q(loss_risk__isnull=True)
                | (models.Q(loss_risk__gte=0) & models.Q(loss_risk__lte=100)),
                name="dispute_case_loss_risk_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id} ({self.reason}, {self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES
