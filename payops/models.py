"""The core's models: the webhook inbox, workflow policies and the review queue."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from audit.models import Mode


class EventSource(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    CHECKFRONT = "checkfront", "Checkfront"


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    RETRYING = "retrying", "Waiting to retry"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class InboundEvent(models.Model):
    """One verified webhook delivery, stored raw exactly once.

    Its state changes are recorded in its own fields (attempts, errors,
    timestamps) rather than in simple-history: the inbox is the hot path and
    a history row per transition would double its writes.
    """

    source = models.CharField(max_length=16, choices=EventSource.choices)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=128, db_index=True)
    payload = models.JSONField()
    trace_id = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="not processed before this")
    queued_at = models.DateTimeField(null=True, blank=True, help_text="when the last queued message was due to run")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        permissions = [
            ("replay_inboundevent", "Can replay inbound events"),
            # dj-stripe's own view permissions cannot be granted by our
            # migrations (its tables are built without migrations in tests).
            ("view_stripe_mirror", "Can view the Stripe mirror"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="inbound_event_once_per_source"),
        ]
        indexes = [
            # What the dispatcher looks for many times a second: stored, not yet sent.
            models.Index(
                fields=["id"],
                condition=models.Q(status="received", queued_at__isnull=True),
                name="inbound_waiting_dispatch",
            ),
            models.Index(fields=["status", "received_at"], name="inbound_status_received"),
            models.Index(fields=["-received_at"], name="inbound_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_id} {self.event_type} ({self.status})"


# A policy picks one of these; "manual" only describes a person's own action.
POLICY_MODES = [(m.value, m.label) for m in (Mode.MONITOR, Mode.SUGGEST, Mode.AUTOMATE)]


class StripeMirrorFetch(models.Model):
    """When the copy of a Stripe object now in the mirror was fetched.

    Two workers handling events for one object each fetch it; whichever
    fetched later must win, whatever order their writes land in.
    """

    object_id = models.CharField(max_length=255, primary_key=True)
    fetched_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.object_id} fetched {self.fetched_at:%Y-%m-%d %H:%M:%S}"


class WorkflowPolicy(models.Model):
    """How far one workflow may act on its own. Edited by Admins, with history."""

    workflow = models.CharField(max_length=32, unique=True)
    mode = models.CharField(max_length=16, choices=POLICY_MODES, default=Mode.MONITOR)
    rollout_percent = models.PositiveSmallIntegerField(
        default=100, help_text="Share of bookings (0-100) the mode applies to; the rest are only logged"
    )
    automate_max_risk = models.FloatField(
        default=30, help_text="Automate only proposals with a risk score at or below this (0-100)"
    )
    automate_min_confidence = models.FloatField(
        default=0.8, help_text="Automate only proposals at least this confident (0-1)"
    )
    threshold_currency = models.CharField(
        max_length=3, default="usd", help_text="Currency of the amount thresholds below"
    )
    automate_max_amount_minor = models.BigIntegerField(
        default=10_000, help_text="Automate only amounts up to this (minor units)"
    )
    approver_threshold_minor = models.BigIntegerField(
        default=50_000, help_text="Above this an Approver, not a Reviewer, must approve"
    )
    second_approval_threshold_minor = models.BigIntegerField(
        default=250_000, help_text="Above this two different people must approve"
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "workflow policies"
        constraints = [
            models.CheckConstraint(condition=models.Q(rollout_percent__lte=100), name="policy_rollout_0_100"),
            models.CheckConstraint(
                condition=models.Q(automate_max_risk__gte=0) & models.Q(automate_max_risk__lte=100),
                name="policy_max_risk_0_100",
            ),
            models.CheckConstraint(
                condition=models.Q(automate_min_confidence__gte=0) & models.Q(automate_min_confidence__lte=1),
                name="policy_min_confidence_0_1",
            ),
            # Automation never reaches amounts a person would have to approve.
            models.CheckConstraint(
                condition=models.Q(automate_max_amount_minor__gte=0)
                & models.Q(automate_max_amount_minor__lte=models.F("approver_threshold_minor"))
                & models.Q(second_approval_threshold_minor__gte=models.F("approver_threshold_minor")),
                name="policy_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow}: {self.mode} at {self.rollout_percent}%"


class ReviewKind(models.TextChoices):
    RETRY = "retry", "Payment retry"
    CARD_UPDATE = "card_update", "Card update request"
    ESCALATION = "escalation", "Escalation"
    REFUND = "refund", "Refund"
    FRAUD_HOLD = "fraud_hold", "Fraud hold"
    CANCELLATION = "cancellation", "Cancellation"
    DISPUTE_EVIDENCE = "dispute_evidence", "Dispute evidence"
    OTHER = "other", "Other"


class ReviewStatus(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    CHANGED = "changed", "Changed and approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    EXECUTED = "executed", "Executed"
    FAILED = "failed", "Failed"


class ApproverRole(models.TextChoices):
    REVIEWER = "Reviewer", "Reviewer"
    APPROVER = "Approver", "Approver"


class ReviewItem(models.Model):
    """A proposal a person must approve, change or reject."""

    kind = models.CharField(max_length=32, choices=ReviewKind.choices)
    status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    decision = models.OneToOneField("audit.Decision", on_delete=models.PROTECT, related_name="review_item")
    action = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    booking_id = models.CharField(max_length=64, blank=True, db_index=True)
    risk_score = models.FloatField(null=True, blank=True)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    due_by = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_review_items",
    )
    required_role = models.CharField(max_length=16, choices=ApproverRole.choices, default=ApproverRole.REVIEWER)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_by", "created_at"]
        permissions = [
            ("act_on_reviewitem", "Can approve, change or reject review items"),
            ("approve_large_reviewitem", "Can approve review items above the approver threshold"),
        ]
        # The queue pages by keyset on (sort column, id) within a status, and
        # within a kind on its tab: one index per sort, with and without kind.
        indexes = [
            models.Index(fields=["status", "kind", "due_by", "id"], name="review_kind_due"),
            models.Index(fields=["status", "due_by", "id"], name="review_due"),
            models.Index(fields=["status", "kind", "risk_score", "id"], name="review_kind_risk"),
            models.Index(fields=["status", "risk_score", "id"], name="review_risk"),
            models.Index(fields=["status", "kind", "amount_minor", "id"], name="review_kind_amount"),
            models.Index(fields=["status", "amount_minor", "id"], name="review_amount"),
            models.Index(fields=["assignee", "status"], name="review_by_assignee"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approvals_required__gte=1) & models.Q(approvals_required__lte=2),
                name="review_one_or_two_approvals",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_minor__isnull=True) | models.Q(amount_minor__gte=0),
                name="review_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"


class ReviewSearchKey(models.Model):
    """One value the queue's search finds an item by: its booking code, customer email or a Stripe id.

    Stored lower-case; the search matches whole values, so it is one indexed
    lookup however many items there are.
    """

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="search_keys")
    value = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["value", "item"], name="review_search_key_once")]

    def __str__(self) -> str:
        return f"{self.value} → {self.item_id}"


class ReviewApproval(models.Model):
    """One person's approval of a review item; one each, so two means two people."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_approvals")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], name="review_approval_once_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} approved {self.item}"
