"""Recovering a failed booking payment: record the attempt, classify the decline, plan the next step, propose it.

Runs from the Stripe signal receivers, inside the transaction that follows
the mirror update: database only, no network (the executors do the I/O).
Every failure of a PaymentIntent PayOps created for a booking opens or
advances its RecoveryCase; a success closes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from djstripe import models as djstripe_models

from audit.models import Decision, Outcome, Route
from bookings.models import Booking
from dunning import actions
from dunning.decline_codes import DeclineVerdict, classify_decline
from dunning.models import Initiator, MessageKind, RecoveryCase, RecoveryStatus, RetryAttempt
from dunning.network_rules import PastAttempt, RetryLimits
from dunning.planner import RecoveryContext, RecoveryPlan, plan_recovery, retry_features
from dunning.retry_model import current_model
from payops.models import ReviewItem, ReviewStatus
from payops.stripe_payloads import object_id
from payops.stripe_queries import BOOKING_METADATA_KEY

logger = logging.getLogger(__name__)

# How far back the card networks count attempts on a card (the longest window).
_NETWORK_WINDOW = timedelta(days=30)
# A hold ends this long before the activity at the latest.
_HOLD_BEFORE_START = timedelta(hours=2)
# Retries end this long before the hold does, so the last one never meets the end-of-hold check.
_RETRY_BEFORE_HOLD_END = timedelta(hours=1)
# Open decisions of a case that a new failure or its end make moot.
_MOOT = [Outcome.PENDING, Outcome.QUEUED]


@dataclass(frozen=True)
class Failure:
    """What a failed PaymentIntent says about the failure, lifted out of Stripe's JSON."""

    payment_intent_id: str
    booking_code: str
    customer_id: str
    amount_minor: int
    currency: str
    charge_id: str
    code: str
    decline_code: str
    advice_code: str
    network_advice_code: str
    payment_method_id: str
    card_brand: str
    card_funding: str
    card_country: str
    card_fingerprint: str
    # Saved on the customer (charged off-session again) or not (a pay-page card that failed is never saved).
    card_saved: bool


def failure_from(intent: dict[str, Any]) -> Failure | None:
    """The failure, or None for a PaymentIntent PayOps did not create for a booking."""
    booking_code = str((intent.get("metadata") or {}).get(BOOKING_METADATA_KEY, ""))
    error = intent.get("last_payment_error") or {}
    if not booking_code or not error:
        return None
    method = error.get("payment_method") if isinstance(error.get("payment_method"), dict) else {}
    card = (method or {}).get("card") or {}
    return Failure(
        payment_intent_id=str(intent["id"]),
        booking_code=booking_code,
        customer_id=object_id(intent.get("customer")),
        amount_minor=int(intent.get("amount") or 0),
        currency=str(intent.get("currency") or ""),
        charge_id=object_id(error.get("charge")) or object_id(intent.get("latest_charge")),
        code=str(error.get("code") or ""),
        decline_code=str(error.get("decline_code") or ""),
        advice_code=str(error.get("advice_code") or ""),
        network_advice_code=str(error.get("network_advice_code") or ""),
        payment_method_id=object_id(error.get("payment_method")) or object_id(intent.get("payment_method")),
        card_brand=str(card.get("brand") or ""),
        card_funding=str(card.get("funding") or ""),
        card_country=str(card.get("country") or ""),
        card_fingerprint=str(card.get("fingerprint") or ""),
        card_saved=bool((method or {}).get("customer")),
    )


def limits_from_settings() -> RetryLimits:
    return RetryLimits(
        max_retries=settings.DUNNING_MAX_RETRIES,
        service_margin=timedelta(hours=settings.DUNNING_SERVICE_MARGIN_HOURS),
        hold_window=timedelta(hours=settings.DUNNING_HOLD_HOURS),
        min_gap=timedelta(hours=settings.DUNNING_MIN_GAP_HOURS),
        escalate_at_minor=settings.DUNNING_HIGH_VALUE_MINOR,
    )


def _language(booking: Booking | None) -> str:
    """The booking's language: the booking-form field named by DUNNING_LANGUAGE_FIELD, else common names."""
    if booking is None:
        return ""
    keys = [settings.DUNNING_LANGUAGE_FIELD, "language", "lang", "locale", "customer_language"]
    for source in (booking.form_fields, booking.raw.get("customer") or {}, booking.raw):
        if isinstance(source, dict):
            for key in keys:
                value = source.get(key)
                if isinstance(value, dict):  # Checkfront form fields may carry {"value": ...}
                    value = value.get("value")
                if value:
                    return str(value)[:16]
    return ""


def _open_case(failure: Failure, booking: Booking | None, now: datetime, limits: RetryLimits) -> RecoveryCase:
    case = RecoveryCase.objects.select_for_update().filter(payment_intent_id=failure.payment_intent_id).first()
    if case is not None:
        return case
    service_start = booking.start_at if booking else None
    # The place is held for the window, but never past a little before the
    # activity: a last-minute booking still gets a short hold to pay by link.
    hold_until = now + limits.hold_window
    if service_start is not None:
        hold_until = max(now, min(hold_until, service_start - _HOLD_BEFORE_START))
    case = RecoveryCase.objects.create(
        payment_intent_id=failure.payment_intent_id,
        booking_code=failure.booking_code,
        customer_id=failure.customer_id,
        customer_email=booking.customer_email if booking else "",
        customer_name=booking.customer_name if booking else "",
        language=_language(booking),
        amount_minor=failure.amount_minor,
        currency=failure.currency,
        payment_method_id=failure.payment_method_id,
        card_fingerprint=failure.card_fingerprint,
        card_brand=failure.card_brand,
        card_country=failure.card_country,
        card_funding=failure.card_funding,
        first_failed_at=now,
        last_failed_at=now,
        hold_until=hold_until,
        service_start_at=service_start,
    )
    return case


def _retry_decision_params(case: RecoveryCase, number: int) -> tuple[dict[str, Any], float | None, str]:
    """What the planner saw when it chose retry `number` (for the training data)."""
    decision = (
        Decision.objects.filter(workflow=actions.WORKFLOW, action=actions.RETRY, booking_id=case.booking_code)
        .filter(params__case_id=case.pk, params__attempt=number)
        .order_by("-created_at")
        .first()
    )
    if decision is None:
        return {}, None, ""
    features = decision.params.get("features") or {}
    return (features if isinstance(features, dict) else {}), decision.params.get("probability"), decision.model_version


def _record_attempt(
    case: RecoveryCase,
    *,
    charge_id: str,
    succeeded: bool,
    verdict: DeclineVerdict | None,
    failure: Failure | None,
    now: datetime,
) -> RetryAttempt | None:
    if charge_id and case.attempts.filter(charge_id=charge_id).exists():
        return None  # a replayed or re-delivered event: already recorded
    number = case.attempts.count()
    features, predicted, version = _retry_decision_params(case, number) if number else ({}, None, "")
    # Only a retry PayOps made is merchant-initiated (and training data);
    # the customer trying again on the pay page is not.
    by_us = bool(features or predicted is not None)
    return RetryAttempt.objects.create(
        case=case,
        number=number,
        attempted_at=now,
        succeeded=succeeded,
        initiator=Initiator.MERCHANT if by_us else Initiator.CUSTOMER,
        decline_code=verdict.code if verdict else "",
        decline_class=verdict.decline_class if verdict else "",
        advice_code=failure.advice_code if failure else "",
        network_advice_code=failure.network_advice_code if failure else "",
        amount_minor=case.amount_minor,
        currency=case.currency,
        card_fingerprint=failure.card_fingerprint if failure and failure.card_fingerprint else case.card_fingerprint,
        card_brand=failure.card_brand if failure and failure.card_brand else case.card_brand,
        charge_id=charge_id,
        features=features if by_us else {},
        predicted_success=predicted if by_us else None,
        model_version=version if by_us else "",
    )


def expire_open_decisions(case: RecoveryCase, *, why: str) -> int:
    """Pending retries and notices of the case, and their review items, no longer apply."""
    moot = Decision.objects.filter(workflow=actions.WORKFLOW, booking_id=case.booking_code, outcome__in=_MOOT).filter(
        params__case_id=case.pk
    )
    ids = list(moot.values_list("pk", flat=True))
    if not ids:
        return 0
    expired = Decision.objects.filter(pk__in=ids, outcome__in=_MOOT).update(
        outcome=Outcome.EXPIRED, outcome_detail={"expired": why}, outcome_at=timezone.now()
    )
    # An approved retry still waiting for its time is moot too: its item must not stay "approved" for ever.
    waiting = [ReviewStatus.OPEN, ReviewStatus.APPROVED, ReviewStatus.CHANGED]
    for item in ReviewItem.objects.filter(decision_id__in=ids, status__in=waiting):
        item.status = ReviewStatus.EXPIRED
        item.save(update_fields=["status", "updated_at"])  # through save(): the change is in its history
    logger.info("expired %s open dunning decisions of %s: %s", expired, case.booking_code, why)
    return expired


def on_payment_failed(sender: Any, *, event: Any, mirrored: Any, stale: bool, **_: Any) -> None:
    if stale:
        logger.info(
            "payment_failed for %s is stale (now %s); nothing to plan", mirrored.id, mirrored.stripe_data.get("status")
        )
        return
    record_failure_and_plan(mirrored.stripe_data, now=timezone.now(), event_id=event.event_id)


def on_payment_succeeded(sender: Any, *, mirrored: Any, **_: Any) -> None:
    record_recovery(mirrored.stripe_data, now=timezone.now())


def on_payment_canceled(sender: Any, *, mirrored: Any, **_: Any) -> None:
    close_cancelled(payment_intent_id=str(mirrored.id))


def close_cancelled(*, payment_intent_id: str) -> RecoveryCase | None:
    """The payment was cancelled elsewhere (the booking cancelled, the Dashboard): recovery has nothing left to do."""
    with transaction.atomic():
        case = RecoveryCase.objects.select_for_update().filter(payment_intent_id=payment_intent_id).first()
        if case is None or case.status not in (RecoveryStatus.ACTIVE, RecoveryStatus.ESCALATED):
            return case
        RecoveryCase.objects.filter(pk=case.pk).update(status=RecoveryStatus.CLOSED, next_retry_at=None)
        expire_open_decisions(case, why="the payment was cancelled")
    logger.info("recovery of %s closed: its payment was cancelled", case.booking_code)
    return case


def record_failure_and_plan(intent: dict[str, Any], *, now: datetime, event_id: str = "") -> RecoveryCase | None:
    """Open or advance the case for this failure and propose the next step. Safe to run twice for one failure."""
    failure = failure_from(intent)
    if failure is None:
        return None
    booking = Booking.objects.filter(code=failure.booking_code).first()
    limits = limits_from_settings()
    with transaction.atomic():
        case = _open_case(failure, booking, now, limits)
        if case.status != RecoveryStatus.ACTIVE:
            logger.info("recovery of %s is %s: no automatic step", case.booking_code, case.status)
            return case
        verdict = classify_decline(
            code=failure.code,
            decline_code=failure.decline_code,
            advice_code=failure.advice_code,
            network_advice_code=failure.network_advice_code,
            card_brand=case.card_brand,
            card_funding=case.card_funding,
            card_country=case.card_country,
        )
        # A failure without a new charge (3-D Secure refused) is told apart by its event.
        seen = case.attempts.filter(charge_id=failure.charge_id).exists() if failure.charge_id else False
        key = f"event:{event_id}" if (seen or not failure.charge_id) and event_id else failure.charge_id
        attempt = _record_attempt(case, charge_id=key, succeeded=False, verdict=verdict, failure=failure, now=now)
        if attempt is None:
            return case
        expire_open_decisions(case, why=f"attempt {attempt.number} failed: planned again")
        card = {}
        if failure.payment_method_id:
            # The customer may have paid with another card: the next step is about that one.
            card = {
                "payment_method_id": failure.payment_method_id,
                "card_fingerprint": failure.card_fingerprint,
                "card_brand": failure.card_brand,
                "card_country": failure.card_country,
                "card_funding": failure.card_funding,
            }
        RecoveryCase.objects.filter(pk=case.pk).update(
            retries=case.attempts.filter(initiator=Initiator.MERCHANT).count(),
            last_failed_at=now,
            decline_class=verdict.decline_class,
            last_decline_code=verdict.code,
            next_retry_at=None,
            **card,
        )
        case.refresh_from_db()
        context = _context(case, verdict, now, card_saved=failure.card_saved)
        plan = plan_recovery(context, now=now, model=current_model(), limits=limits)
        _propose(case, plan, context, failure, attempt_number=case.attempts.count() - 1)
    return case


def record_recovery(intent: dict[str, Any], *, now: datetime) -> RecoveryCase | None:
    """The payment went through: close the case and thank the customer. Safe to run twice."""
    with transaction.atomic():
        case = RecoveryCase.objects.select_for_update().filter(payment_intent_id=intent.get("id")).first()
        if case is None or case.status in (RecoveryStatus.RECOVERED, RecoveryStatus.CANCELLED):
            return case
        _record_attempt(
            case, charge_id=object_id(intent.get("latest_charge")), succeeded=True, verdict=None, failure=None, now=now
        )
        RecoveryCase.objects.filter(pk=case.pk).update(status=RecoveryStatus.RECOVERED, next_retry_at=None)
        case.refresh_from_db()
        expire_open_decisions(case, why="the payment went through")
        actions.propose_notify(
            case,
            kind=MessageKind.RECOVERED,
            reason=f"payment for {case.booking_code} recovered after {case.retries} retries",
            reasons=["the payment went through"],
        )
    logger.info("recovery of %s succeeded", case.booking_code)
    return case


def _history(case: RecoveryCase) -> dict[str, Any]:
    """The customer's past with us: what the model and the escalation rule weigh."""
    others = RecoveryCase.objects.exclude(pk=case.pk)
    by_customer = others.filter(customer_email=case.customer_email) if case.customer_email else others.none()
    paid = (
        Booking.objects.filter(customer_email=case.customer_email, currency=case.currency)
        if case.customer_email
        else Booking.objects.none()
    )
    chargebacks = (
        djstripe_models.Dispute.objects.filter(charge__customer_id=case.customer_id).count() if case.customer_id else 0
    )
    return {
        "lifetime_value_minor": int(paid.aggregate(total=Sum("paid_minor"))["total"] or 0),
        "past_failures": RetryAttempt.objects.filter(case__in=by_customer, succeeded=False).count(),
        "past_recoveries": by_customer.filter(status=RecoveryStatus.RECOVERED).count(),
        "past_chargebacks": chargebacks,
    }


def _context(case: RecoveryCase, verdict: DeclineVerdict, now: datetime, *, card_saved: bool) -> RecoveryContext:
    attempts = (
        [
            PastAttempt(
                at=a.attempted_at,
                card_fingerprint=a.card_fingerprint,
                amount_minor=a.amount_minor,
                currency=a.currency,
                initiator=a.initiator,
                succeeded=a.succeeded,
                network_advice_code=a.network_advice_code,
            )
            # The networks count attempts per card across bookings.
            for a in RetryAttempt.objects.filter(
                card_fingerprint=case.card_fingerprint, attempted_at__gte=now - _NETWORK_WINDOW
            ).order_by("attempted_at")
        ]
        if case.card_fingerprint
        else []
    )
    history = _history(case)
    return RecoveryContext(
        amount_minor=case.amount_minor,
        currency=case.currency,
        verdict=verdict,
        card_brand=case.card_brand,
        card_funding=case.card_funding,
        card_country=case.card_country,
        card_fingerprint=case.card_fingerprint,
        first_failed_at=case.first_failed_at,
        last_attempt_at=case.last_failed_at,
        retries_so_far=case.retries,
        attempts=attempts,
        service_start_at=case.service_start_at,
        hold_until=(case.hold_until - _RETRY_BEFORE_HOLD_END) if case.hold_until else None,
        card_saved=card_saved,
        has_past_chargeback=history["past_chargebacks"] > 0,
        **history,
    )


def _propose(
    case: RecoveryCase, plan: RecoveryPlan, context: RecoveryContext, failure: Failure, *, attempt_number: int
) -> None:
    verdict = context.verdict
    # The Decision says what was declined and how it was read, beside the plan.
    params = {
        **plan.as_params(),
        "decline_class": verdict.decline_class,
        "decline_code": verdict.code,
        "advice_code": failure.advice_code,
        "network_advice_code": failure.network_advice_code,
        "card_saved": failure.card_saved,
    }
    reason = f"{verdict.staff_text} — plan: {plan.action.replace('_', ' ')}"
    reasons = list(plan.reasons)
    notice: dict[str, Any] = {
        "plan_params": params,
        "reasons": reasons,
        "customer_text": verdict.customer_text,
        "with_link": True,
        "hold": True,
        "model_version": plan.model_version,
    }
    if plan.action == "retry" and plan.retry_at is not None:
        retry = actions.propose_retry(
            case,
            plan_params={**params, "features": retry_features(context, plan.retry_at).as_dict()},
            attempt=attempt_number + 1,
            retry_at=plan.retry_at,
            score=plan.score,
            confidence=plan.confidence,
            model_version=plan.model_version,
            reason=reason,
            reasons=reasons,
        )
        if retry.route == Route.EXECUTE:
            RecoveryCase.objects.filter(pk=case.pk).update(next_retry_at=plan.retry_at)
            actions.propose_notify(
                case,
                kind=MessageKind.RETRY_SCHEDULED,
                reason=f"tell the customer and hold {case.booking_code} until the retry",
                next_attempt_at=plan.retry_at,
                **notice,
            )
        else:
            # The retry waits for a person: promise no time, ask the customer to pay meanwhile.
            actions.propose_notify(
                case, kind=MessageKind.CARD_UPDATE, reason=f"retry of {case.booking_code} awaits review", **notice
            )
    elif plan.action == "request_card_update":
        actions.propose_notify(
            case,
            kind=MessageKind.CARD_UPDATE,
            reason=f"ask the customer for another card for {case.booking_code}",
            **notice,
        )
    elif plan.action == "escalate":
        actions.propose_escalation(
            case, reason=reason, reasons=reasons, plan_params=params, model_version=plan.model_version
        )
        # A person has the case from now: no automatic step (nor the end-of-hold
        # cancellation) overtakes them. The place stays held meanwhile; the
        # customer hears from them, not from a template.
        RecoveryCase.objects.filter(pk=case.pk).update(status=RecoveryStatus.ESCALATED, next_retry_at=None)
        actions.propose_notify(case, kind="", reason=f"hold {case.booking_code} while a person decides", **notice)
    elif not _cancellation_decided(case):
        actions.propose_cancellation(
            case,
            reason=f"{reason}: nothing left to try",
            has_past_chargeback=context.has_past_chargeback,
        )
    if plan.action in ("retry", "request_card_update"):
        _propose_last_chance(case, **notice)


def _propose_last_chance(case: RecoveryCase, **notice: Any) -> None:
    """An optional reminder DUNNING_LAST_CHANCE_HOURS before the hold ends (off at 0), once per case."""
    hours = settings.DUNNING_LAST_CHANCE_HOURS
    if not hours or case.hold_until is None:
        return
    at = case.hold_until - timedelta(hours=hours)
    already = Decision.objects.filter(
        action=actions.NOTIFY, params__case_id=case.pk, params__kind=MessageKind.LAST_CHANCE
    ).exclude(outcome=Outcome.EXPIRED)
    if at <= timezone.now() or already.exists():
        return
    actions.propose_notify(
        case,
        kind=MessageKind.LAST_CHANCE,
        reason=f"last chance before the hold on {case.booking_code} ends",
        not_before=at,
        **notice,
    )


def end_expired_holds(*, now: datetime | None = None) -> int:
    """Cases whose hold is over without payment: propose the cancellation (a person first for high-value
    bookings and past chargebacks). Run by beat; each case gets one cancellation proposal."""
    now = now or timezone.now()
    proposed = 0
    for pk in RecoveryCase.objects.filter(status=RecoveryStatus.ACTIVE, hold_until__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            case = RecoveryCase.objects.select_for_update().get(pk=pk)
            if case.status != RecoveryStatus.ACTIVE or _cancellation_decided(case):
                continue
            actions.propose_cancellation(
                case,
                reason=f"the hold on {case.booking_code} ended at {case.hold_until:%Y-%m-%d %H:%M} UTC without payment",
                has_past_chargeback=_history(case)["past_chargebacks"] > 0,
            )
            proposed += 1
    if proposed:
        logger.info("proposed cancelling %s bookings whose hold ended", proposed)
    return proposed


def _cancellation_decided(case: RecoveryCase) -> bool:
    """A cancellation is already under way or waiting for a person (a rejected one leaves the case to staff)."""
    return (
        Decision.objects.filter(action=actions.CANCEL, params__case_id=case.pk)
        .exclude(outcome__in=[Outcome.FAILED, Outcome.EXPIRED, Outcome.LOGGED])
        .exists()
    )
