"""The disputes workflow's two proposals: assemble a dispute's evidence package, and submit it once a person approves.

Assembling only reads (the mirrors, Checkfront's notes) and writes our own
records, so it runs on its own in suggest and automate mode (a protective
proposal); monitor mode only records the dispute. Submitting is final at
Stripe, so it always waits for a person, whatever the policy says.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from audit.models import Decision
from disputes.assessment import LossRisk
from disputes.evidence import Package
from disputes.models import DisputeCase
from payops.models import ReviewKind
from payops.money import from_minor
from payops.policy_gate import Proposal, submit_proposal

WORKFLOW = "disputes"
ASSEMBLE = "disputes.assemble_evidence"
SUBMIT = "disputes.submit_evidence"
# A rejected package: nothing goes to Stripe; the case records that a person chose not to contest.
DECLINE = "disputes.decline"
# The review is due this long before Stripe's deadline, so a late answer still
# reaches Stripe in time; with less time left, halfway to the deadline.
REVIEW_MARGIN = timedelta(hours=72)


def review_due_by(deadline: datetime | None, *, now: datetime | None = None) -> datetime | None:
    if deadline is None:
        return None
    now = now or timezone.now()
    return max(deadline - REVIEW_MARGIN, now + (deadline - now) / 2) if deadline > now else deadline


def _what(case: DisputeCase) -> str:
    kind = "inquiry" if case.inquiry else "dispute"
    amount = f"{case.currency.upper()} {from_minor(case.amount_minor, case.currency)}"
    return f"{case.reason} {kind} {case.dispute_id} of {amount}"


def _deadline(case: DisputeCase) -> str:
    if case.evidence_due_by is None:
        return "Stripe gave no deadline"
    return f"Stripe's deadline {timezone.localtime(case.evidence_due_by):%d %b %H:%M %Z}"


def _stripe_ids(case: DisputeCase) -> list[str]:
    return [i for i in (case.dispute_id, case.charge_id, case.payment_intent_id) if i]


def propose_assembly(case: DisputeCase, risk: LossRisk) -> Decision:
    """Assemble the package (the executor reads Checkfront's notes, then proposes the submission)."""
    return submit_proposal(
        Proposal(
            workflow=WORKFLOW,
            action=ASSEMBLE,
            review_kind=ReviewKind.DISPUTE_EVIDENCE,
            reason=f"{_what(case)} opened: assemble the evidence package for a person to review ({_deadline(case)})",
            reasons=risk.reasons,
            params={"case_id": case.pk, "dispute_id": case.dispute_id},
            score=risk.score,
            confidence=risk.confidence,
            model_version=risk.version,
            booking_id=case.booking_code,
            stripe_ids=_stripe_ids(case),
            amount_minor=case.amount_minor,
            currency=case.currency,
            moves_money=False,
            protective=True,
        )
    )


def propose_submission(case: DisputeCase, package: Package, risk: LossRisk) -> Decision:
    """Ask a person to check, edit and approve the package; approved, it is submitted to Stripe."""
    gaps = f" To add or check: {'; '.join(package.gaps)}." if package.gaps else ""
    return submit_proposal(
        Proposal(
            workflow=WORKFLOW,
            action=SUBMIT,
            review_kind=ReviewKind.DISPUTE_EVIDENCE,
            reason=f"{_what(case)}: submit the drafted evidence before {_deadline(case)}.{gaps}",
            reasons=risk.reasons,
            params={"case_id": case.pk, "dispute_id": case.dispute_id, **package.evidence},
            score=risk.score,
            confidence=risk.confidence,
            model_version=risk.version,
            booking_id=case.booking_code,
            stripe_ids=_stripe_ids(case),
            amount_minor=case.amount_minor,
            currency=case.currency,
            due_by=review_due_by(case.evidence_due_by),
            # The evidence decides whether the disputed amount comes back, so
            # the amount sets who must approve (an Approver, two people above
            # the policy's thresholds), as for any money.
            moves_money=True,
            requires_person=True,
        )
    )
