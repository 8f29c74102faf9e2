"""The executors of payment collection: the only code here that writes to Stripe and Checkfront.

Each runs after the gate decided, outside any transaction, and is safe to run
again: every Stripe write carries its own `operation_key` of the decision's
idempotency key, notes are written once each (notes.py), and each step first
looks at what an earlier run already recorded on the PaymentCollection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import Decision, Outcome
from bookings.booking_refresh import read_booking
from bookings.checkfront_client import CheckfrontClient, CheckfrontError, CheckfrontUnavailable
from bookings.checkfront_payloads import BookingData
from bookings.mirror import is_payable
from bookings.models import CLOSED_STATUSES, Booking
from bookings.notes import write_note_once
from fraud import workflow as fraud
from payments import collection as domain
from payments.collection import CANCEL_PAYMENT, COLLECT, CONFIRM_BOOKING, money
from payments.models import CollectionStatus, PaymentCollection
from payments.pay_links import pay_url
from payops.executors import ExecutionError, executes
from payops.stripe_gateway import (
    CardDeclined,
    StripeGateway,
    StripeGatewayError,
    StripeInvalidRequest,
    StripeUnavailable,
    operation_key,
    stripe_gateway,
)
from refunds import actions as refunds

logger = logging.getLogger(__name__)

# Outcomes after which a decision will never touch its collection again.
_FINAL = {Outcome.FAILED, Outcome.REJECTED, Outcome.EXPIRED, Outcome.LOGGED}


@contextmanager
def outside_calls() -> Iterator[None]:
    """Gateway and client errors as ExecutionErrors: "unavailable" is worth retrying under the same keys."""
    try:
        yield
    except (StripeUnavailable, CheckfrontUnavailable) as exc:
        raise ExecutionError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
    except (StripeGatewayError, CheckfrontError) as exc:
        # Including StripeOutcomeUnknown: Stripe may have acted, so a person looks first.
        raise ExecutionError(f"{type(exc).__name__}: {exc}") from exc


# --- payments.collect ----------------------------------------------------------------------------


@executes(COLLECT)
def collect(decision: Decision) -> dict[str, Any]:
    """Make sure the booking's open collection asks for what Checkfront says is due, and the customer has the link."""
    code = decision.booking_id
    client = CheckfrontClient()
    with outside_calls():
        data = read_booking(client, code)  # confirm before acting: the mirror may be behind
    due, currency = data.due_minor, data.currency.lower()
    if not is_payable(data.status, due):
        return {"skipped": f"booking is {data.status} with {money(due, currency)} due: nothing to collect"}
    if (due, currency) != (decision.amount_minor, decision.currency):
        return {
            "skipped": f"Checkfront now says {money(due, currency)} is due, not the "
            f"{money(decision.amount_minor or 0, decision.currency)} decided; that change is proposed on its own"
        }
    collection, created = _reserve(decision, data)
    if not created and collection.decision_id != decision.pk:
        return _change_amount(decision, collection, client, due=due, currency=currency)
    gateway = stripe_gateway()
    with outside_calls():
        if not collection.stripe_customer_id:
            domain.save_fields(collection, stripe_customer_id=_stripe_customer(gateway, decision, data))
        charged = ""
        if not collection.payment_intent_id:
            card = _card_on_file(gateway, collection.stripe_customer_id)
            try:
                intent = gateway.create_payment_intent(
                    idempotency_key=operation_key(decision.idempotency_key, "payment_intent"),
                    amount_minor=due,
                    currency=currency,
                    customer_id=collection.stripe_customer_id,
                    # A card saved from an earlier booking is charged now, as the
                    # merchant; otherwise the customer pays by link and the card is
                    # saved for later off-session charges (and recovery's retries).
                    payment_method_id=card or None,
                    confirm=bool(card),
                    off_session=bool(card),
                    setup_future_usage=None if card else "off_session",
                    # Fraud scoring asked for authorize-only: captured after its checks.
                    manual_capture=fraud.manual_capture_wanted(code),
                    description=f"Booking {code}",
                    metadata=_metadata(
                        checkfront_booking_id=code,
                        checkfront_customer_id=collection.checkfront_customer_id,
                        trace_id=decision.trace_id,
                        payops_decision_id=str(decision.pk),
                        payops_collection_id=str(collection.pk),
                    ),
                )
                intent_id, charged = intent.id, (intent.status if card else "")
            except CardDeclined as exc:
                # The card on file was declined: recovery takes it from the webhook,
                # and the pay link below lets the customer pay with another card.
                intent_id, charged = exc.payment_intent_id, f"declined ({exc.reason})"
            domain.save_fields(collection, payment_intent_id=intent_id, pay_url=pay_url(collection.pk))
        written = write_note_once(
            client=client,
            booking_code=collection.booking_code,
            key=operation_key(decision.idempotency_key, "pay_link_note"),
            body=f"Pay {money(due, currency)} for booking {code}: {collection.pay_url}",
        )
    return {
        "collection_id": collection.pk,
        "stripe_customer_id": collection.stripe_customer_id,
        "payment_intent_id": collection.payment_intent_id,
        "amount_minor": due,
        "currency": currency,
        "pay_url": collection.pay_url,
        "note_written": written,
        "card_on_file": charged,
    }


def _reserve(decision: Decision, data: BookingData) -> tuple[PaymentCollection, bool]:
    def reserve() -> tuple[PaymentCollection, bool]:
        return domain.reserve_collection(
            decision=decision,
            booking_code=data.code,
            checkfront_customer_id=data.customer.checkfront_id if data.customer else "",
            amount_minor=data.due_minor,
            currency=data.currency.lower(),
        )

    collection, created = reserve()
    if not created and not collection.payment_intent_id and collection.decision.outcome in _FINAL:
        # An earlier decision failed before creating its PaymentIntent: its
        # reservation holds nothing a customer could pay, so release it.
        domain.mark_canceled(collection)
        collection, created = reserve()
    return collection, created


def _change_amount(
    decision: Decision, collection: PaymentCollection, client: CheckfrontClient, *, due: int, currency: str
) -> dict[str, Any]:
    """The open collection asks for another amount: change its PaymentIntent, so the same link asks for the new one.

    Updating rather than cancelling and recreating keeps the link the
    customer may already have; Stripe refuses it once the payment is under
    way, and then the payment's own outcome decides.
    """
    if not collection.payment_intent_id:
        raise ExecutionError(f"collection {collection.pk} is still being set up; trying again later", retryable=True)
    if (collection.amount_minor, collection.currency) == (due, currency):
        return {"already_open": collection.pk, "payment_intent_id": collection.payment_intent_id}
    was = money(collection.amount_minor, collection.currency)
    with outside_calls():
        try:
            stripe_gateway().update_payment_intent(
                collection.payment_intent_id,
                idempotency_key=operation_key(decision.idempotency_key, "amount"),
                amount=due,
                currency=currency,
            )
        except StripeInvalidRequest as exc:
            return {"not_updated": f"Stripe refused to change {collection.payment_intent_id}: {exc}"}
        domain.save_fields(collection, amount_minor=due, currency=currency)
        written = write_note_once(
            client=client,
            booking_code=collection.booking_code,
            key=operation_key(decision.idempotency_key, "amount_note"),
            body=f"Amount due on booking {collection.booking_code} is now {money(due, currency)} (was {was}); "
            f"the same link asks for it: {collection.pay_url}",
        )
    return {
        "collection_id": collection.pk,
        "payment_intent_id": collection.payment_intent_id,
        "amount_changed_from": was,
        "amount_minor": due,
        "currency": currency,
        "note_written": written,
    }


def _stripe_customer(gateway: StripeGateway, decision: Decision, data: BookingData) -> str:
    """The Checkfront customer's Stripe customer: one we used before, else found by email, else a new one."""
    checkfront_id = data.customer.checkfront_id if data.customer else ""
    known = domain.known_stripe_customer(checkfront_id)
    if known:
        return known
    if data.customer_email:
        found = [c.to_dict() for c in gateway.find_customers(email=data.customer_email)]
        owners = {str(c["id"]): (c.get("metadata") or {}).get("checkfront_customer_id", "") for c in found}
        tagged = [cid for cid, owner in owners.items() if checkfront_id and owner == checkfront_id]
        # A customer with this email but another Checkfront id is someone else sharing the address.
        untagged = [cid for cid, owner in owners.items() if not owner]
        if tagged or untagged:
            return (tagged or untagged)[0]
    customer = gateway.create_customer(
        idempotency_key=operation_key(decision.idempotency_key, "customer"),
        email=data.customer_email,
        name=data.customer_name,
        metadata=_metadata(checkfront_customer_id=checkfront_id),
    )
    return str(customer.id)


def _card_on_file(gateway: StripeGateway, customer_id: str) -> str:
    """The customer's most recently saved card, if charging cards on file is on."""
    if not settings.PAYMENTS_CHARGE_CARD_ON_FILE or not customer_id:
        return ""
    cards = gateway.list_payment_methods(customer_id=customer_id)
    return str(cards[0].id) if cards else ""


def _metadata(**values: str) -> dict[str, str]:
    # Stripe reads an empty metadata value as "delete this key".
    return {key: value for key, value in values.items() if value}


# --- payments.confirm_booking ----------------------------------------------------------------------


@executes(CONFIRM_BOOKING)
def confirm_booking(decision: Decision) -> dict[str, Any]:
    """Record a collected payment on the Checkfront booking: status PAID with the payment, and a note."""
    collection = PaymentCollection.objects.get(pk=decision.params["collection_id"])
    if collection.checkfront_paid_at is not None or collection.flag_reason:
        return {"already_recorded": collection.pk, "flag": collection.flag_reason}
    if fraud.is_held(collection.booking_code):
        # Released, the hold proposes this again; rejected, the booking is cancelled.
        return {"skipped": f"booking {collection.booking_code} is held for fraud review"}
    client = CheckfrontClient()
    with outside_calls():
        intent = stripe_gateway().retrieve_payment_intent(collection.payment_intent_id, expand=["latest_charge"])
        pi = intent.to_dict()
        if pi["status"] != "succeeded":
            return {"skipped": f"Stripe says {collection.payment_intent_id} is {pi['status']}, not succeeded"}
        received, currency = int(pi["amount_received"]), str(pi["currency"])
        charge = pi.get("latest_charge") if isinstance(pi.get("latest_charge"), dict) else {}
        last4 = str(((charge or {}).get("payment_method_details") or {}).get("card", {}).get("last4") or "")
        data = read_booking(client, collection.booking_code)  # confirm before acting
        paid = money(received, currency)
        flag = _payment_problem(collection, data, received)
        if flag:
            # Proposed before the flag is saved: a re-run stops at the flag, so it must find the proposal made.
            if flag[0]:
                _propose_refund(collection, received, currency, why=flag[1], duplicate="already shows" in flag[1])
            domain.mark_succeeded(collection, card_last4=last4, needs_refund=flag[0], flag_reason=flag[1])
            write_note_once(
                client=client,
                booking_code=collection.booking_code,
                key=operation_key(decision.idempotency_key, "flag_note"),
                body=f"Paid {paid} by card ending {last4} (Stripe {collection.payment_intent_id}), but {flag[1]}",
            )
            return {"flagged": flag[1], "refund_case": flag[0], "payment_intent_id": collection.payment_intent_id}
        if data.due_minor > 0:
            # Recorded before it is sent: a re-run that finds the booking paid knows the payment was ours.
            domain.save_fields(collection, checkfront_update_sent_at=timezone.now())
            client.update_booking_status(collection.booking_code, status_id="PAID", set_paid=True)
        write_note_once(
            client=client,
            booking_code=collection.booking_code,
            key=operation_key(decision.idempotency_key, "paid_note"),
            body=f"Paid {paid} by card ending {last4} (Stripe {collection.payment_intent_id})",
        )
    domain.mark_succeeded(collection, card_last4=last4, checkfront_paid_at=timezone.now())
    return {"booking": collection.booking_code, "status": "PAID", "amount_minor": received, "currency": currency}


def _payment_problem(collection: PaymentCollection, data: BookingData, received: int) -> tuple[bool, str] | None:
    """(refund?, why) when recording this payment in Checkfront would be wrong; None when it is right."""
    if data.status in CLOSED_STATUSES:
        return True, f"the booking is {data.status} (cancelled): refund the payment"
    if data.due_minor <= 0 and collection.checkfront_update_sent_at is None:
        return True, "Checkfront already shows the booking paid: one of the two payments should be refunded"
    if data.due_minor > 0 and data.due_minor != received:
        return False, (
            f"Checkfront shows {money(data.due_minor, data.currency)} due: record this payment in Checkfront by hand"
        )
    return None


# --- payments.cancel_payment -------------------------------------------------------------------------


@executes(CANCEL_PAYMENT)
def cancel_payment(decision: Decision) -> dict[str, Any]:
    """Withdraw a payment request no longer wanted; a payment that already went through is flagged for a refund."""
    collection = PaymentCollection.objects.get(pk=decision.params["collection_id"])
    if collection.status != CollectionStatus.OPEN:
        return {"already": collection.status, "collection_id": collection.pk}
    client = CheckfrontClient()
    asked = money(collection.amount_minor, collection.currency)
    pi_id = collection.payment_intent_id
    gateway = stripe_gateway()
    with outside_calls():
        if pi_id:
            try:
                gateway.cancel_payment_intent(
                    pi_id, idempotency_key=operation_key(decision.idempotency_key, "cancel"), reason="abandoned"
                )
            except StripeInvalidRequest:
                status = gateway.retrieve_payment_intent(pi_id).status
                if status == "succeeded":
                    return _paid_before_cancel(decision, collection, client, asked)
                if status != "canceled":
                    raise
        domain.mark_canceled(collection)
        written = write_note_once(
            client=client,
            booking_code=collection.booking_code,
            key=operation_key(decision.idempotency_key, "cancel_note"),
            body=f"Payment request for {asked} withdrawn: {decision.params.get('why') or 'booking cancelled'}"
            + (f" (Stripe {pi_id} canceled)" if pi_id else ""),
        )
    return {"canceled": pi_id, "collection_id": collection.pk, "note_written": written}


def _paid_before_cancel(
    decision: Decision, collection: PaymentCollection, client: CheckfrontClient, asked: str
) -> dict[str, Any]:
    why = f"the payment request was withdrawn ({decision.params.get('why')}) after the customer paid: refund it"
    _propose_refund(collection, collection.amount_minor, collection.currency, why=why, duplicate=False)
    domain.mark_succeeded(collection, needs_refund=True, flag_reason=why)
    write_note_once(
        client=client,
        booking_code=collection.booking_code,
        key=operation_key(decision.idempotency_key, "refund_note"),
        body=f"Payment request withdrawn ({decision.params.get('why')}), but the customer had already paid {asked} "
        f"(Stripe {collection.payment_intent_id}): refund it",
    )
    return {
        "not_canceled": collection.payment_intent_id,
        "refund_case": True,
        "why": f"Stripe says the payment already succeeded; {why} (a refund is proposed)",
    }


def _propose_refund(collection: PaymentCollection, amount: int, currency: str, *, why: str, duplicate: bool) -> None:
    """A payment we should not keep: propose giving it back, once; the "refunds" policy says who decides."""
    with transaction.atomic():
        # The cancellation's refund is worked out under the same lock (refunds/cancellations.py):
        # whichever comes second sees the other's proposal, so a payment is neither given back twice nor lost.
        Booking.objects.select_for_update().filter(code=collection.booking_code).first()
        if refunds.proposed_for(collection.payment_intent_id, collection.booking_code):
            return
        _propose_whole_refund(collection, amount, currency, why=why, duplicate=duplicate)


def _propose_whole_refund(
    collection: PaymentCollection, amount: int, currency: str, *, why: str, duplicate: bool
) -> None:
    refunds.propose_refund(
        booking_code=collection.booking_code,
        payment_intent_ids=[collection.payment_intent_id],
        amount_minor=amount,
        currency=currency,
        reason=f"Paid {money(amount, currency)} (Stripe {collection.payment_intent_id}), but {why}",
        stripe_reason="duplicate" if duplicate else "requested_by_customer",
        reasons=[why, "the whole payment goes back to the card it came from"],
        # Returning money the booking does not need risks little; the policy's amount limits still apply.
        risk=10,
    )
