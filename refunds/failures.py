"""A refund Stripe could not pay out (the card is closed, the bank sent it back): recorded and proposed again, once.

The money is back in the Stripe balance and still owed to the customer. A
second try to the same card often fails the same way, so the new proposal
asks a person, who can approve it (cards are often replaced, and networks
forward refunds) or settle with the customer another way and reject it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from audit.models import Decision
from refunds import actions, records
from refunds.models import CancellationRefund, FailedRefund

logger = logging.getLogger(__name__)


def refund_failed(refund: dict[str, Any]) -> Decision | None:
    """Record a failed refund of ours and propose it again, once; nothing for a refund not made by PayOps."""
    refund_id = str(refund["id"])
    decision_id = str((refund.get("metadata") or {}).get("payops_decision_id") or "")
    original = Decision.objects.filter(pk=decision_id).first() if decision_id else None
    if original is None:
        logger.warning("refund %s failed at Stripe; not made by PayOps, left to the Dashboard", refund_id)
        return None
    proposal = original.parent or original
    amount, currency = int(refund["amount"]), str(refund["currency"])
    why = str(refund.get("failure_reason") or "no reason given")
    pi = str(refund.get("payment_intent") or "")
    try:
        # The row first: a replayed or concurrent event fails here and proposes nothing.
        with transaction.atomic():
            failed = FailedRefund.objects.create(
                refund_id=refund_id,
                payment_intent_id=pi,
                amount_minor=amount,
                currency=currency,
                failure_reason=why[:255],
                original=original,
            )
    except IntegrityError:
        return None
    row_id = proposal.params.get("cancellation_refund_id")
    retry = actions.propose_refund(
        booking_code=original.booking_id,
        payment_intent_ids=[pi] if pi else list(proposal.params.get("payment_intent_ids") or []),
        amount_minor=amount,
        currency=currency,
        reason=f"The refund of {actions.money(amount, currency)} ({refund_id}) failed at the bank ({why}): "
        "the money is back in the Stripe balance and still owed to the customer",
        stripe_reason=str(proposal.params.get("stripe_reason") or "requested_by_customer"),
        reasons=[f"Stripe: refund {refund_id} failed, {why}", f"first proposed: {proposal.reason}"],
        risk=50,
        version=proposal.model_version or actions.RULES_VERSION,
        requires_person=True,
        extra_params={"retry_of": refund_id, **({"cancellation_refund_id": row_id} if row_id else {})},
    )
    FailedRefund.objects.filter(pk=failed.pk).update(retry=retry)
    row = CancellationRefund.objects.filter(pk=row_id).first() if row_id else None
    if row is not None:
        records.refresh(row, records.mirrored_refunds(row))
    return retry
