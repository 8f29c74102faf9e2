"""The Decision log: every proposed action, why, how sure, and what became of it."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """A write tried to change or delete what the audit log already holds."""


class Workflow(models.TextChoices):
    DUNNING = "dunning", "Failed-payment recovery"
    FRAUD = "fraud", "Fraud scoring"
    REFUNDS = "refunds", "Refunds"
    DISPUTES = "disputes", "Disputes"
    PAYMENTS = "payments", "Payment collection"
    CONSOLE = "console", "Console action"
    OPERATIONS = "operations", "Operations"


class Mode(models.TextChoices):
    MONITOR = "monitor", "Monitor (log only)"
    SUGGEST = "suggest", "Suggest (queue for review)"
    AUTOMATE = "automate", "Automate (execute within thresholds)"
    MANUAL = "manual", "Manual (a person or an operator acted)"


class Route(models.TextChoices):
    LOG = "log", "Logged only"
    QUEUE = "queue", "Queued for review"
    EXECUTE = "execute", "Executed automatically"


class ActorType(models.TextChoices):
    SYSTEM = "system", "System"
    USER = "user", "User"


class Outcome(models.TextChoices):
    PENDING = "pending", "Pending execution"
    LOGGED = "logged", "Logged only"
    QUEUED = "queued", "Waiting for review"
    EXECUTING = "executing", "Executing"
    EXECUTED = "executed", "Executed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


# The only fields a later write may fill in; everything else is fixed at insert.
OUTCOME_FIELDS = frozenset(
    {"outcome", "outcome_detail", "outcome_at", "attempts", "claimed_at", "next_attempt_at", "queued_at"}
)


class DecisionQuerySet(models.QuerySet["Decision"]):
    def update(self, **kwargs: Any) -> int:
        forbidden = set(kwargs) - OUTCOME_FIELDS
        if forbidden:
            raise AppendOnlyError(f"Decision fields are fixed once written: {sorted(forbidden)}")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Decisions are never deleted")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        forbidden = set(fields) - OUTCOME_FIELDS
        if forbidden:
            raise AppendOnlyError(f"Decision fields are fixed once written: {sorted(forbidden)}")
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def bulk_create(
        self,
        objs: Any,
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Any = None,
        unique_fields: Any = None,
    ) -> Any:
        # An upsert (INSERT ... ON CONFLICT DO UPDATE) is an update by another name.
        forbidden = set(update_fields or []) - OUTCOME_FIELDS
        if update_conflicts and forbidden:
            raise AppendOnlyError(f"Decision fields are fixed once written: {sorted(forbidden)}")
        return super().bulk_create(
            objs,
            batch_size=batch_size,
            ignore_conflicts=ignore_conflicts,
            update_conflicts=update_conflicts,
            update_fields=update_fields,
            unique_fields=unique_fields,
        )


class Decision(models.Model):
    """One proposal and its fate. Append-only: later writes only fill the outcome."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    trace_id = models.CharField(max_length=64, db_index=True)
    workflow = models.CharField(max_length=32, choices=Workflow.choices)
    booking_id = models.CharField(max_length=64, blank=True, db_index=True, help_text="Checkfront booking id or code")
    stripe_ids = models.JSONField(default=list, blank=True, help_text="Stripe object ids involved")
    action = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    reason = models.TextField(help_text="Why, in plain words")
    reasons = models.JSONField(default=list, blank=True, help_text="The model's top reasons")
    score = models.FloatField(null=True, blank=True, help_text="Risk or success score, 0-100")
    confidence = models.FloatField(null=True, blank=True, help_text="0-1")
    model_version = models.CharField(max_length=64, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    route = models.CharField(max_length=16, choices=Route.choices)
    route_reason = models.TextField(blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices, default=ActorType.SYSTEM)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="follow_ups",
        help_text="The decision this one acts on (an approval, a change, a rejection)",
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    outcome_detail = models.JSONField(default=dict, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects: ClassVar[DecisionQuerySet] = DecisionQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at"]
        # Related lookups and other internals go through the guarded manager too.
        base_manager_name = "objects"
        indexes = [
            models.Index(fields=["workflow", "-created_at"], name="decision_workflow_recent"),
            models.Index(fields=["outcome", "claimed_at"], name="decision_outcome_claim"),
            # The sealer's routine run finds outcomes made final lately through it.
            models.Index(fields=["outcome_at"], name="decision_outcome_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True)
                | (models.Q(confidence__gte=0) & models.Q(confidence__lte=1)),
                name="decision_confidence_0_1",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_minor__isnull=True) | models.Q(amount_minor__gte=0),
                name="decision_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(actor_type="system", actor__isnull=True)
                | models.Q(actor_type="user", actor__isnull=False),
                name="decision_actor_matches_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow}:{self.action} ({self.outcome})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("force_update") or not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or set(update_fields) - OUTCOME_FIELDS:
                raise AppendOnlyError(
                    "A saved Decision only takes outcome updates: save(update_fields=[...outcome fields])"
                )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Decisions are never deleted")

    @property
    def idempotency_key(self) -> str:
        """The key every outside write for this decision carries.

        An approval runs as a child of the proposal it approves and shares
        the proposal's key, so two approvals racing cannot both move money.
        """
        return f"payops-decision-{self.parent_id or self.id}"


# Once an outcome is one of these, nothing on the row changes again.
FINAL_OUTCOMES = frozenset({Outcome.EXECUTED, Outcome.FAILED, Outcome.REJECTED, Outcome.EXPIRED, Outcome.LOGGED})


class SealPart(models.TextChoices):
    DECIDED = "decided", "What was decided"
    SETTLED = "settled", "Its final outcome"


class AuditSealQuerySet(models.QuerySet["AuditSeal"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("Audit seals are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit seals are never deleted")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError("Audit seals are never changed")


class AuditSeal(models.Model):
    """One link of the hash chain over the Decision log (see audit/sealing.py). Append-only too.

    A link seals one part of one decision: what was decided (at insert), or its
    final outcome (once it has one). Its digest covers the previous link's
    digest, so changing, removing or reordering any link breaks every later one.
    """

    seq = models.PositiveBigIntegerField(primary_key=True, help_text="Position in the chain, from 1, no gaps")
    # The (decision, part) unique index serves lookups by decision.
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="seals", db_index=False)
    part = models.CharField(max_length=8, choices=SealPart.choices)
    payload = models.TextField(help_text="The sealed fields as canonical JSON")
    # Unique: two links after the same one would be a fork.
    previous_digest = models.CharField(max_length=64, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    sealed_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[AuditSealQuerySet] = AuditSealQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["seq"]
        base_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["decision", "part"], name="audit_seal_one_link_per_part"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.part} {self.decision_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("force_update") or not self._state.adding:
            raise AppendOnlyError("Audit seals are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit seals are never deleted")
