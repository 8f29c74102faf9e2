"""Refund news the Checkfront booking should carry: a refund the bank sent back, a refund made outside PayOps.

Checkfront's API cannot record a refund transaction, so a note is how the
booking stays in step with Stripe. Receivers must not call Checkfront, so
each note is a small protective Decision (it moves no money and tells no
customer) whose executor writes it once, keyed by the refund.
"""

from __future__ import annotations

from typing import Any

from audit.models import Decision
from bookings.notes import note_for_decision
from payments.collection import booking_for_payment
from payops.executors import executes
from payops.policy_gate import Proposal, submit_proposal
from refunds.actions import RULES_VERSION, WORKFLOW, money

NOTE_REFUND = "refunds.note_refund"


def booking_of(refund: dict[str, Any]) -> str:
    """The booking a refund belongs to: its payment's (payments' rule), else the refund's own metadata."""
    pi = refund.get("payment_intent")
    pi_id = str(pi.get("id") if isinstance(pi, dict) else pi or "")
    return booking_for_payment(pi_id, refund.get("metadata"))


def propose_note(*, refund: dict[str, Any], kind: str, body: str, reason: str) -> Decision | None:
    """One note per (refund, kind), whatever the replays; nothing for a refund of no booking we know."""
    code = booking_of(refund)
    key = f"refund-{kind}-{refund['id']}"
    if not code or Decision.objects.filter(action=NOTE_REFUND, params__note_key=key).exists():
        return None
    return submit_proposal(
        Proposal(
            workflow=WORKFLOW,
            action=NOTE_REFUND,
            reason=reason,
            params={"note_key": key, "body": body},
            booking_id=code,
            stripe_ids=[str(refund["id"])],
            model_version=RULES_VERSION,
            moves_money=False,
            protective=True,
        )
    )


def failed_note(refund: dict[str, Any]) -> Decision | None:
    amount = money(int(refund["amount"]), str(refund["currency"]))
    why = refund.get("failure_reason") or "no reason given"
    return propose_note(
        refund=refund,
        kind="failed",
        body=f"Refund of {amount} (Stripe {refund['id']}) failed at the bank ({why}): the money is back in the "
        "Stripe balance and still owed; PayOps proposed it again for a person to decide",
        reason=f"the bank sent refund {refund['id']} back ({why})",
    )


def outside_note(refund: dict[str, Any]) -> Decision | None:
    amount = money(int(refund["amount"]), str(refund["currency"]))
    return propose_note(
        refund=refund,
        kind="outside",
        body=f"Refunded {amount} to the card in Stripe, outside PayOps (Stripe {refund['id']}, "
        f"reason {refund.get('reason') or 'none given'})",
        reason=f"refund {refund['id']} was made outside PayOps (the Stripe Dashboard or another system)",
    )


@executes(NOTE_REFUND)
def note_refund(decision: Decision) -> dict[str, Any]:
    key = str(decision.params["note_key"])
    written = note_for_decision(booking_code=decision.booking_id, key=key, body=str(decision.params["body"]))
    return {"noted": decision.booking_id, "written_now": written}
