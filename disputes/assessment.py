"""How likely the dispute is lost with the evidence PayOps has: documented rules, not a trained model.

Each rule that applies moves the loss risk from a prior of 50 and says why
in words; the reasons go on the Decision and the review item. The confidence
is the share of this reason's checks the facts could answer, scaled down to
at most 0.6: rules of thumb, not a model fitted to this account's outcomes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from disputes.facts import DisputeFacts

RULES_VERSION = "dispute-rules-1"
PRIOR = 50.0
MAX_CONFIDENCE = 0.6

# A check: None when the facts cannot answer it, else (points, reason in words).
Check = Callable[[DisputeFacts], tuple[float, str] | None]


@dataclass(frozen=True)
class LossRisk:
    score: float  # 0-100: high means weak evidence, a dispute likely lost as drafted
    confidence: float
    reasons: list[str]
    version: str = RULES_VERSION


def _service_passed(f: DisputeFacts) -> tuple[float, str] | None:
    b = f.booking
    if b is None or b.start_at is None:
        return None
    if b.status in ("STOP", "VOID"):
        return 25, f"the booking was cancelled in Checkfront ({b.status_name or b.status})"
    if b.start_at <= timezone.now():
        return -15, "the service date has passed and the booking was not cancelled"
    return 10, "the service date is still to come"


def _card_checks(f: DisputeFacts) -> tuple[float, str] | None:
    pay = f.disputed_payment
    if pay is None or not pay.checks:
        return None
    failed = sorted(k for k, v in pay.checks.items() if v == "fail")
    if failed:
        return 15, f"card check failed: {', '.join(failed)}"
    if pay.checks.get("cvc_check") == "pass":
        return -10, "the card's CVC check passed"
    return 0, "the card checks were not run"


def _three_d_secure(f: DisputeFacts) -> tuple[float, str] | None:
    pay = f.disputed_payment
    if pay is None:
        return None
    if pay.three_d_secure in ("authenticated", "attempt_acknowledged"):
        return -25, "the cardholder completed 3D Secure (the liability shifts to the issuer)"
    return 0, "no 3D Secure authentication"


def _ip(f: DisputeFacts) -> tuple[float, str] | None:
    if f.booking is None:
        return None
    if f.booking.source_ip:
        return -5, "the customer's IP address when booking is known"
    return 5, "no IP address was recorded for the booking"


def _history(f: DisputeFacts) -> tuple[float, str] | None:
    if f.booking is None or not f.booking.customer_email:
        return None
    if f.earlier_disputes:
        return 15, f"the customer disputed {f.earlier_disputes} other payment(s)"
    if f.earlier_paid_bookings:
        return -10, f"the customer has {f.earlier_paid_bookings} earlier paid booking(s) and no disputes"
    return 0, "a first-time customer"


def _radar(f: DisputeFacts) -> tuple[float, str] | None:
    pay = f.disputed_payment
    if pay is None or not pay.risk_level:
        return None
    if pay.risk_level in ("elevated", "highest"):
        return 15, f"Stripe Radar rated the payment {pay.risk_level} risk"
    return 0, f"Stripe Radar rated the payment {pay.risk_level} risk"


def _policy(f: DisputeFacts) -> tuple[float, str] | None:
    if f.booking is None:
        return None
    if f.policy is None:
        return 10, "no cancellation policy covers the booking"
    return -10, "a written cancellation policy covers the booking"


def _refunded_as_owed(f: DisputeFacts) -> tuple[float, str] | None:
    if f.booking is None:
        return None
    refunded = sum(r.amount_minor for r in f.refunds if r.status in ("succeeded", "pending"))
    if f.booking.status in ("STOP", "VOID") and not refunded:
        return 15, "the booking was cancelled and nothing was refunded"
    if refunded:
        return -5, "a refund was made for the booking"
    return 0, "no refund was asked for through PayOps"


def _duplicate(f: DisputeFacts) -> tuple[float, str] | None:
    if f.booking is None:
        return None
    paid = [p for p in f.payments if p.status == "succeeded"]
    kept = sum(p.amount_minor - p.refunded_minor for p in paid)
    if len(paid) > 1 and kept > f.booking.total_minor:
        return 35, "the payments kept exceed the booking's total: it may really be a duplicate (consider a refund)"
    if len(paid) > 1:
        return -10, "each payment paid a different part of the booking's total"
    return -20, "this is the only payment for the booking"


_FRAUD: list[Check] = [_card_checks, _three_d_secure, _ip, _history, _radar, _service_passed]
CHECKS_BY_REASON: dict[str, list[Check]] = {
    "fraudulent": _FRAUD,
    "unrecognized": _FRAUD,
    "product_not_received": [_service_passed, _policy, _history],
    "product_unacceptable": [_service_passed, _policy, _history],
    "credit_not_processed": [_policy, _refunded_as_owed, _service_passed],
    "subscription_canceled": [_policy, _refunded_as_owed, _service_passed],
    "duplicate": [_duplicate, _service_passed],
}
GENERAL: list[Check] = [_service_passed, _policy, _history, _card_checks]


def assess(facts: DisputeFacts) -> LossRisk:
    checks = CHECKS_BY_REASON.get(facts.case.reason, GENERAL)
    score = PRIOR
    reasons: list[str] = []
    answered = 0
    for check in checks:
        found = check(facts)
        if found is None:
            continue
        answered += 1
        points, why = found
        score += points
        if points:
            reasons.append(f"{why} ({'+' if points > 0 else '−'}{abs(points):.0f})")
        else:
            reasons.append(why)
    if facts.case.inquiry:
        reasons.append("an inquiry, not yet a chargeback: an answer may stop it escalating")
    unanswered = len(checks) - answered
    if unanswered:
        reasons.append(f"{unanswered} of {len(checks)} checks for a {facts.case.reason} dispute had nothing to go on")
    return LossRisk(
        score=round(min(95.0, max(5.0, score)), 1),
        confidence=round(MAX_CONFIDENCE * answered / len(checks), 2),
        reasons=reasons,
    )
