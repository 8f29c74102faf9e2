"""A cancelled booking's refund: what Stripe captured across its payments, what the policy gives back, proposed once.

Runs in a task (it reads Stripe), started when the mirror sees a booking
cancelled (Checkfront's webhook or the sync) and by
`manage.py propose_cancellation_refunds` for any it missed. The
CancellationRefund row is unique per booking and written with the proposal
in one transaction, so duplicate or concurrent cancellation events propose
one refund.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from djstripe.models import PaymentIntent as MirroredIntent

from audit.models import Decision
from bookings.models import Booking, BookingStatus, Transaction
from payments.models import PaymentCollection
from payops.stripe_gateway import stripe_gateway
from refunds import actions
from refunds.cancellation_quote import Quote, Terms, quote
from refunds.models import CancellationPolicy, CancellationRefund, CancellationRefundStatus
from refunds.policies import policies_for

logger = logging.getLogger(__name__)

NO_POLICY_VERSION = "no-policy"
# A refund the policy fully explains risks little; one a person must work out (no policy, mixed
# policies, a voided booking) is above any automation limit.
STANDARD_RISK = 10.0
UNCLEAR_RISK = 60.0


@dataclass(frozen=True)
class PaymentTaken:
    payment_intent_id: str
    captured_minor: int
    refunded_minor: int
    currency: str
    created: int  # Stripe's unix time of the charge: the newest payment is refunded first


def payment_intent_ids(booking: Booking) -> list[str]:
    """Every PaymentIntent we know for the booking: our collections, the mirror, Checkfront's transactions."""
    ids = set(
        PaymentCollection.objects.filter(booking_code=booking.code)
        .exclude(payment_intent_id="")
        .values_list("payment_intent_id", flat=True)
    )
    ids |= set(MirroredIntent.objects.filter(metadata__checkfront_booking_id=booking.code).values_list("id", flat=True))
    gateway_ids = Transaction.objects.filter(booking_code=booking.code).values_list("gateway_id", flat=True)
    ids |= {g for g in gateway_ids if g.startswith("pi_")}
    charges = {g for g in gateway_ids if g.startswith("ch_")}
    for charge_id in sorted(charges):
        intent = stripe_gateway().retrieve_charge(charge_id).to_dict().get("payment_intent")
        if intent:
            ids.add(str(intent))
    return sorted(ids)


def payments_taken(booking: Booking) -> tuple[list[PaymentTaken], list[str]]:
    """What Stripe captured and refunded on each of the booking's payments, asked now (the mirror may be behind);
    and the payments taken in another currency than the booking's, which no policy can price."""
    taken = []
    foreign = []
    for pi_id in payment_intent_ids(booking):
        if actions.proposed_for(pi_id, booking.code):
            # Another rule already gives all of it back (paid after the request was withdrawn, or paid twice).
            continue
        intent = stripe_gateway().retrieve_payment_intent(pi_id, expand=["latest_charge"]).to_dict()
        if intent.get("status") != "succeeded":
            continue
        if str(intent.get("currency")) != booking.currency:
            foreign.append(
                f"{pi_id} ({actions.money(int(intent.get('amount_received') or 0), str(intent['currency']))})"
            )
            continue
        charge = intent.get("latest_charge") if isinstance(intent.get("latest_charge"), dict) else {}
        taken.append(
            PaymentTaken(
                payment_intent_id=pi_id,
                captured_minor=int(intent.get("amount_received") or 0),
                refunded_minor=int((charge or {}).get("amount_refunded") or 0),
                currency=booking.currency,
                # When the money was taken (a pay link's intent is made long before it is paid).
                created=int((charge or {}).get("created") or intent.get("created") or 0),
            )
        )
    return sorted(taken, key=lambda p: (-p.created, p.payment_intent_id)), foreign


def _quote_for(
    booking: Booking, captured: int, refunded: int, cancelled_at: datetime
) -> tuple[Quote, CancellationPolicy | None, list[str]]:
    """The quote, the policy used, and why a person must decide (empty when the policy settles it)."""
    covering = policies_for(booking)
    policy = covering[0][0]
    unclear: list[str] = []
    if booking.status == BookingStatus.VOID:
        unclear.append("the booking was voided, not cancelled: no cancellation policy applies to a void booking")
    elif policy is None:
        unclear.append("no cancellation policy covers this booking")
    elif len(covering) > 1:
        names = ", ".join(p.name if p else "none" for p, _ in covering)
        unclear.append(f"its lines fall under different policies ({names}); {policy.name} covers the most value")
    if unclear and (policy is None or booking.status == BookingStatus.VOID):
        left = captured - refunded
        steps = [
            f"Captured on Stripe: {actions.money(captured, booking.currency)}.",
            *([f"Already refunded: {actions.money(refunded, booking.currency)}."] if refunded else []),
            f"Proposed: all that is left, {actions.money(left, booking.currency)}, for a person to decide.",
        ]
        return Quote(left, None, None, steps), None, unclear
    assert policy is not None
    terms = Terms.from_dict(policy.terms())
    result = quote(
        terms,
        currency=booking.currency,
        booking_total_minor=booking.total_minor,
        captured_minor=captured,
        refunded_before_minor=refunded,
        start_at=booking.start_at,
        cancelled_at=cancelled_at,
    )
    return result, policy, unclear


class PaymentsChanged(Exception):
    """A payment of the booking was proposed for a refund elsewhere while this one was worked out."""


def propose_for_cancellation(booking_code: str, *, cancelled_at: datetime | None = None) -> CancellationRefund | None:
    """Work out and propose the refund a cancelled booking is owed, once. None when there is nothing to do now.

    `cancelled_at` is when the mirror saw the cancellation; without it (the
    sweep command), Checkfront's last change to the booking stands in.
    """
    for _ in range(3):
        try:
            return _work_out(booking_code, cancelled_at)
        except PaymentsChanged:
            continue  # ask Stripe again: the other refund is now left out
    raise PaymentsChanged(f"the payments of {booking_code} kept changing; the sweep will try again")


def _work_out(booking_code: str, cancelled_at: datetime | None) -> CancellationRefund | None:
    if CancellationRefund.objects.filter(booking_code=booking_code).exists():
        return None
    booking = Booking.objects.filter(code=booking_code).first()
    if booking is None or booking.status not in (BookingStatus.STOP, BookingStatus.VOID):
        return None
    payments, foreign = payments_taken(booking)
    captured = sum(p.captured_minor for p in payments)
    refunded = sum(p.refunded_minor for p in payments)
    cancelled_at = cancelled_at or booking.checkfront_modified_at or timezone.now()
    result, policy, unclear = _quote_for(booking, captured, refunded, cancelled_at)
    if foreign:
        unclear.append(f"payments in another currency are not counted, refund them by hand: {', '.join(foreign)}")
    version = policy.version() if policy else NO_POLICY_VERSION
    row = CancellationRefund(
        booking_code=booking.code,
        policy=policy,
        policy_version=version,
        terms=policy.terms() if policy else {},
        currency=booking.currency,
        captured_minor=captured,
        refunded_before_minor=refunded,
        amount_minor=result.amount_minor,
        payments=[asdict(p) for p in payments],
        explanation=result.steps + ([unclear[-1]] if foreign else []),
        cancelled_at=cancelled_at,
        status=CancellationRefundStatus.PROPOSED if result.amount_minor else CancellationRefundStatus.NOTHING,
    )
    try:
        with transaction.atomic():
            # The payments workflow proposes whole-payment refunds under the same lock
            # (payments/executors.py): whichever comes second sees the other's proposal.
            Booking.objects.select_for_update().filter(pk=booking.pk).first()
            if any(actions.proposed_for(p.payment_intent_id, booking.code) for p in payments):
                raise PaymentsChanged(booking_code)
            row.save()
            if result.amount_minor:
                row.decision = _propose(booking, row, result, unclear)
                row.save(update_fields=["decision"])
    except IntegrityError:
        if not CancellationRefund.objects.filter(booking_code=booking_code).exists():
            raise  # a broken rule, not a duplicate
        # Another worker took the same cancellation a moment ago: its proposal is the one.
        logger.info("cancellation refund of %s already worked out", booking_code)
        return None
    logger.info("cancellation of %s: %s", booking_code, " ".join(result.steps))
    return row


def _propose(booking: Booking, row: CancellationRefund, result: Quote, unclear: list[str]) -> Decision:
    amount = actions.money(result.amount_minor, booking.currency)
    why = f"Booking {booking.code} was cancelled; {amount} is owed back under "
    why += f"{row.policy.name} ({row.policy_version})" if row.policy else "no policy"
    if unclear:
        why += f", but {'; '.join(unclear)}"
    return actions.propose_refund(
        booking_code=booking.code,
        payment_intent_ids=row.payment_intent_ids,
        amount_minor=result.amount_minor,
        currency=booking.currency,
        reason=why,
        stripe_reason="requested_by_customer",
        reasons=result.steps + unclear,
        risk=UNCLEAR_RISK if unclear else STANDARD_RISK,
        version=row.policy_version,
        requires_person=bool(unclear),
        extra_params={"cancellation_refund_id": row.pk},
    )
