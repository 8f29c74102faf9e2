"""Domain functions of a dispute case: open it, assemble its package, record its submission and its outcome.

Each owns its transaction and is state-idempotent: events replay, executors
re-run, and a second call finds the state already applied and returns.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import Decision, Outcome, Route
from disputes import actions, assessment, evidence
from disputes.facts import Note, gather
from disputes.models import FINAL_STATUSES, STRIPE_OPEN_STATUSES, CaseStatus, DisputeCase
from payments.collection import booking_for_payment
from payops.models import ReviewItem, ReviewStatus
from payops.stripe_payloads import object_id

logger = logging.getLogger(__name__)

_OUTCOME_STATUS = {"won": CaseStatus.WON, "lost": CaseStatus.LOST, "warning_closed": CaseStatus.INQUIRY_CLOSED}


def _at(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int | float) and value > 0 else None


def _fields(dispute: dict[str, Any]) -> dict[str, Any]:
    """The case's fields that follow the Stripe dispute as it is now."""
    details = dispute.get("evidence_details") or {}
    return {
        "stripe_status": str(dispute.get("status") or ""),
        "evidence_due_by": _at(details.get("due_by")),
        "amount_minor": int(dispute.get("amount") or 0),
        "currency": str(dispute.get("currency") or "").lower(),
    }


def open_case(dispute: dict[str, Any]) -> DisputeCase:
    """Record a new dispute and, while Stripe still takes evidence, propose assembling its package.

    `dispute` is the dispute as Stripe shows it now (the mirror's copy). A
    second call for the same dispute (a replayed event) changes nothing.
    """
    with transaction.atomic():
        existing = DisputeCase.objects.select_for_update().filter(dispute_id=dispute["id"]).first()
        if existing is not None:
            logger.info("dispute %s already has case %s; nothing to open", existing.dispute_id, existing.pk)
            return existing
        pi_id = object_id(dispute.get("payment_intent"))
        status = str(dispute.get("status") or "")
        case = DisputeCase.objects.create(
            dispute_id=str(dispute["id"]),
            charge_id=object_id(dispute.get("charge")),
            payment_intent_id=pi_id,
            booking_code=booking_for_payment(pi_id, dispute.get("metadata")),
            reason=str(dispute.get("reason") or "general"),
            inquiry=status.startswith("warning_"),
            opened_at=_at(dispute.get("created")) or timezone.now(),
            **_fields(dispute),
        )
        if status not in STRIPE_OPEN_STATUSES:
            # Heard of late (a backfill, an event processed after the close): there is nothing left to answer.
            case.status = _OUTCOME_STATUS.get(status, CaseStatus.UNANSWERED)
            case.closed_at = timezone.now() if case.status in FINAL_STATUSES else None
            case.save(update_fields=["status", "closed_at", "updated_at"])
            return case
        # The prior assessment, from the mirror alone: the assembly re-assesses with everything.
        risk = assessment.assess(gather(case))
        decision = actions.propose_assembly(case, risk)
        if decision.route == Route.LOG:
            case.status = CaseStatus.MONITORED
            case.save(update_fields=["status", "updated_at"])
    logger.info("dispute %s opened as case %s (%s)", case.dispute_id, case.pk, case.status)
    return case


def assemble(case_id: int, *, checkfront_notes: list[Note] | None, gaps: list[str]) -> Decision | None:
    """Build the package from everything known and propose submitting it; the proposal, or None if moot.

    Once per case: a second run finds the proposal and returns it.
    """
    with transaction.atomic():
        case = DisputeCase.objects.select_for_update().get(pk=case_id)
        if case.proposal_id is not None:
            return case.proposal
        if case.status not in (CaseStatus.ASSEMBLING, CaseStatus.MONITORED):
            logger.info("case %s is %s; no package to assemble", case.pk, case.status)
            return None
        facts = gather(case, checkfront_notes=checkfront_notes, gaps=gaps)
        package = evidence.build(facts)
        risk = assessment.assess(facts)
        proposal = actions.propose_submission(case, package, risk)
        case.package = package.evidence
        case.gaps = package.gaps
        case.loss_risk = risk.score
        case.confidence = risk.confidence
        case.rules_version = risk.version
        case.proposal = proposal
        case.status = CaseStatus.IN_REVIEW if proposal.route == Route.QUEUE else CaseStatus.MONITORED
        case.save()
    logger.info("case %s: package assembled, proposal %s (%s)", case.pk, proposal.pk, proposal.route)
    return proposal


def discard_proposal(case: DisputeCase, *, why: str) -> bool:
    """Expire the case's proposal and review item while nobody has answered it (a rebuild, or moot now).

    An approved proposal stays queued until its submission finishes, and the
    outcome can arrive first (Stripe's test mode decides at once): the
    person's answer and its result stand then, so it is left alone.
    """
    if case.proposal_id is None:
        return False
    item = ReviewItem.objects.select_for_update().filter(decision_id=case.proposal_id).first()
    if item is not None and item.status != ReviewStatus.OPEN:
        return False
    expired = Decision.objects.filter(pk=case.proposal_id, outcome=Outcome.QUEUED).update(
        outcome=Outcome.EXPIRED, outcome_detail={"expired": why}, outcome_at=timezone.now()
    )
    if item is not None:
        item.status = ReviewStatus.EXPIRED
        item.save(update_fields=["status", "updated_at"])  # through save(): the change is in its history
    if expired:
        logger.info("case %s: proposal %s expired: %s", case.pk, case.proposal_id, why)
    return bool(expired)


class CannotRebuild(ValueError):
    """The case's package may not be replaced now; the message says why."""


def reopen_for_rebuild(case_id: int) -> DisputeCase:
    """Drop the open proposal so the package is assembled again (new facts, a new policy)."""
    with transaction.atomic():
        case = DisputeCase.objects.select_for_update().get(pk=case_id)
        if case.status not in (CaseStatus.IN_REVIEW, CaseStatus.MONITORED, CaseStatus.ASSEMBLING):
            raise CannotRebuild(f"the dispute is {case.get_status_display().lower()}: there is nothing to rebuild")
        items = ReviewItem.objects.filter(decision__in=[case.proposal_id] if case.proposal_id else [])
        answered = items.exclude(status=ReviewStatus.OPEN).first()
        if answered is not None:
            # An approved package may be on its way to Stripe: a second one must not follow it.
            raise CannotRebuild(f"review item #{answered.pk} is {answered.get_status_display().lower()} already")
        discard_proposal(case, why="the evidence package was rebuilt")
        case.proposal = None
        case.status = CaseStatus.ASSEMBLING
        case.save(update_fields=["proposal", "status", "updated_at"])
        return case


def record_submission(case_id: int, *, evidence_sent: dict[str, str], dispute: dict[str, Any]) -> DisputeCase:
    """Stripe took the evidence: keep what was sent. A test-mode answer may already carry the outcome."""
    with transaction.atomic():
        case = DisputeCase.objects.select_for_update().get(pk=case_id)
        case.submitted_evidence = evidence_sent
        case.submitted_at = case.submitted_at or timezone.now()
        for name, value in _fields(dispute).items():
            setattr(case, name, value)
        if not case.is_final:
            case.status = CaseStatus.SUBMITTED
        case.save()
        return case


def record_declined(case_id: int, *, why: str) -> DisputeCase:
    """A person rejected the package: no evidence will be sent, and the case says so until the outcome comes."""
    with transaction.atomic():
        case = DisputeCase.objects.select_for_update().get(pk=case_id)
        if case.status == CaseStatus.IN_REVIEW:
            case.status = CaseStatus.DECLINED
            case.save(update_fields=["status", "updated_at"])
            logger.info("case %s not contested: %s", case.pk, why)
        return case


def record_outcome(dispute: dict[str, Any]) -> DisputeCase | None:
    """The bank decided (or the dispute was accepted, or it lapsed): the case takes the outcome, once.

    An open review item is moot now and expires, saying why.
    """
    status = str(dispute.get("status") or "")
    outcome = _OUTCOME_STATUS.get(status)
    if outcome is None:
        logger.info("dispute %s is %s, not closed; nothing to record", dispute.get("id"), status)
        return None
    with transaction.atomic():
        case = DisputeCase.objects.select_for_update().filter(dispute_id=dispute["id"]).first()
        if case is None:
            # Closed before PayOps heard it open: record it, so the outcome is not lost.
            return open_case(dispute)
        if case.status == outcome:
            logger.info("case %s already %s", case.pk, outcome)
            return case
        answered = case.submitted_at is not None
        discard_proposal(case, why=f"the dispute closed ({status}) before evidence was submitted")
        for name, value in _fields(dispute).items():
            setattr(case, name, value)
        case.status = outcome
        case.closed_at = timezone.now()
        case.save()
    logger.info("case %s closed %s (%s)", case.pk, outcome, "evidence submitted" if answered else "no evidence")
    return case
