"""The disputes workflow's executors: assemble a package (reads only), and submit approved evidence to Stripe once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import Decision
from bookings.booking_refresh import refresh_booking
from bookings.checkfront_client import CheckfrontClient, CheckfrontError, CheckfrontUnavailable
from bookings.models import Booking
from bookings.notes import note_for_decision
from disputes import cases
from disputes.actions import ASSEMBLE, DECLINE, SUBMIT
from disputes.evidence import EVIDENCE_FIELDS, MAX_TOTAL_CHARS, total_chars
from disputes.facts import Note
from disputes.models import STRIPE_OPEN_STATUSES, DisputeCase
from payops.card_numbers import redact
from payops.executors import ExecutionError, executes
from payops.money import from_minor
from payops.stripe_errors import StripeGatewayError
from payops.stripe_gateway import operation_key, stripe_gateway

logger = logging.getLogger(__name__)

# Checkfront down: try again this often, then assemble without its notes (the deadline matters more).
CHECKFRONT_ATTEMPTS = 3


def read_checkfront(code: str) -> list[Note]:
    """Bring the booking's mirror up to date (Checkfront is the truth), then read its notes."""
    refresh_booking(code)
    return checkfront_notes(code)


def checkfront_notes(code: str) -> list[Note]:
    """The booking's notes as Checkfront lists them, since the booking was made (the API lists all bookings')."""
    booked = Booking.objects.filter(code=code).values_list("booked_at", flat=True).first()
    since = (booked or timezone.now()).date().isoformat()
    notes = []
    for row in CheckfrontClient().notes(date=since):
        if str(row.get("booking_id")) != code or not str(row.get("body") or "").strip():
            continue
        at = parse_datetime(str(row.get("date") or ""))
        author = "customer" if str(row.get("account_id")) == "0" else "staff"
        # Staff sometimes type a card number into a note: it must not reach our records or Stripe.
        notes.append(Note(at.astimezone(UTC) if at else None, author, redact(str(row["body"]))))
    return notes


@executes(ASSEMBLE)
def assemble(decision: Decision) -> dict[str, Any]:
    case_id = int(decision.params["case_id"])
    case = DisputeCase.objects.get(pk=case_id)
    notes: list[Note] | None = None
    gaps: list[str] = []
    if case.booking_code and case.proposal_id is None:
        try:
            notes = read_checkfront(case.booking_code)
        except CheckfrontUnavailable as exc:
            if decision.attempts < CHECKFRONT_ATTEMPTS:
                raise ExecutionError(f"Checkfront's notes are out of reach for now: {exc}", retryable=True) from exc
            gaps.append(
                f"Checkfront's notes could not be read ({exc}): only PayOps's own notes and the mirrored booking "
                "are in the package"
            )
        except CheckfrontError as exc:
            gaps.append(f"Checkfront refused to answer ({exc}): only PayOps's own notes are in the package")
    proposal = cases.assemble(case_id, checkfront_notes=notes, gaps=gaps)
    if proposal is None:
        return {"skipped": f"case {case_id} no longer waits for a package"}
    return {"case_id": case_id, "proposal": str(proposal.pk), "route": proposal.route, "gaps": gaps}


def evidence_of(decision: Decision) -> dict[str, str]:
    """The approved evidence: every known text field that says something."""
    found = {name: str(decision.params.get(name) or "").strip() for name in EVIDENCE_FIELDS}
    return {name: text for name, text in found.items() if text}


def _deadline_passed(dispute: dict[str, Any]) -> str:
    """Why Stripe will no longer take evidence, or "" while it does."""
    status = str(dispute.get("status") or "")
    due = (dispute.get("evidence_details") or {}).get("due_by")
    if status not in STRIPE_OPEN_STATUSES:
        return f"Stripe shows the dispute {status}: evidence can no longer be submitted"
    deadline = datetime.fromtimestamp(due, tz=UTC) if isinstance(due, int | float) else None
    if deadline is not None and deadline <= timezone.now():
        return f"the evidence deadline passed at {timezone.localtime(deadline):%d %b %H:%M %Z}"
    return ""


def _proposal_id(decision: Decision) -> str:
    return str(decision.parent_id or decision.pk)


@executes(SUBMIT)
def submit(decision: Decision) -> dict[str, Any]:
    case_id = int(decision.params["case_id"])
    dispute_id = str(decision.params["dispute_id"])
    sent = evidence_of(decision)
    if not sent:
        raise ExecutionError(f"decision {decision.pk} holds no evidence to submit")
    if total_chars(sent) > MAX_TOTAL_CHARS:
        raise ExecutionError(f"the evidence is {total_chars(sent)} characters; Stripe takes at most {MAX_TOTAL_CHARS}")
    gateway = stripe_gateway()
    try:
        dispute = gateway.retrieve_dispute(dispute_id).to_dict()
        ours = (dispute.get("metadata") or {}).get("payops_decision_id") == _proposal_id(decision)
        if not ours or not (dispute.get("evidence_details") or {}).get("submission_count"):
            # Not sent by an earlier run of this decision: Stripe must still take it, now.
            refused = _deadline_passed(dispute)
            if refused:
                raise ExecutionError(refused)
            dispute = gateway.update_dispute(
                dispute_id,
                idempotency_key=operation_key(decision.idempotency_key, "submit_evidence"),
                evidence=sent,
                submit=True,
                metadata={
                    "checkfront_booking_id": decision.booking_id,
                    "payops_decision_id": _proposal_id(decision),
                    "payops_case_id": str(case_id),
                },
            ).to_dict()
    except StripeGatewayError as exc:
        raise ExecutionError(str(exc), retryable=exc.retryable) from exc
    case = cases.record_submission(case_id, evidence_sent=sent, dispute=dispute)
    by = f", approved by {decision.actor.get_username()}" if decision.actor else ""
    amount = f"{case.currency.upper()} {from_minor(case.amount_minor, case.currency)}"
    if decision.booking_id:
        note_for_decision(
            booking_code=decision.booking_id,
            key=operation_key(decision.idempotency_key, "dispute_note"),
            body=f"Evidence for the {case.reason} dispute of {amount} (Stripe {dispute_id}) submitted to Stripe{by}",
            after=f"evidence submitted for {dispute_id}",
        )
    return {"dispute": dispute_id, "status": dispute.get("status"), "fields": sorted(sent)}


@executes(DECLINE)
def decline(decision: Decision) -> dict[str, Any]:
    """Nothing goes to Stripe (the answer's note on the booking says who decided and why): the case records it."""
    case = cases.record_declined(int(decision.params["case_id"]), why=decision.reason)
    return {"case_id": case.pk, "status": case.status}
