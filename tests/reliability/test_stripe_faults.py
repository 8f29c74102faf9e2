"""Stripe failing one call in five: every intended charge, capture and refund still happens exactly once.

Many bookings go through the real workflows against both stand-ins (pay
links paid by card, a decline then another card, fraud holds released or
rejected by a person, cancellations refunded by policy) while the Stripe
stand-in fails a fifth of its API calls: 500, 502, 429 with and without
Retry-After, a stall past the client's timeout, and the answer lost after
the write was applied (a 502 or a stall once Stripe had acted). Faults stay
on through the whole run and its settling, since retries must work under
them; the run settles by letting time pass (every retry becomes due and the
beat sweeps send it) until nothing waits. Then our records are compared with
the stand-in's own store and the Checkfront simulator's bookings.

PAYOPS_FAULT_SEED, PAYOPS_FAULT_BOOKINGS and PAYOPS_FAULT_SCALE (2: two calls
in five fail) change the run; the seed is in every failure message.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import stripe
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from djstripe.models import PaymentIntent as MirroredPaymentIntent
from djstripe.models import Refund as MirroredRefund
from stripe._http_client import HTTPClient

from audit.models import Decision, Mode, Outcome
from bookings.checkfront_client import CheckfrontClient
from dunning.models import RecoveryCase, RecoveryStatus
from fraud.models import Assessment, FraudHold, HoldStatus
from payments.models import PaymentCollection
from payops import review, stripe_gateway
from payops.models import ReviewItem, ReviewKind, ReviewStatus, WorkflowPolicy
from refunds.models import CancellationPolicy, PolicyTier
from tests.dunning.test_recovery_end_to_end import set_dunning_policy
from tests.fraud.conftest import set_fraud_policy
from tests.payments.conftest import KAYAKS, set_payments_policy
from tests.refunds.test_refunds_end_to_end import set_refunds_policy
from tests.reliability.conftest import StandIns, settle_until_quiet

pytestmark = pytest.mark.django_db(transaction=True)

SEED = int(os.environ.get("PAYOPS_FAULT_SEED", "20261128"))
BOOKINGS = int(os.environ.get("PAYOPS_FAULT_BOOKINGS", "20"))  # and one more per returning customer (dunning)
SCALE = float(os.environ.get("PAYOPS_FAULT_SCALE", "1"))  # 2: two calls in five fail
TIMEOUT_SECONDS = 0.5  # the client's; a stall must outlast it
STALL_SECONDS = 0.8
# Share of all API calls per fault; together one call in five.
FAULT_MIX: list[tuple[float, dict[str, Any]]] = [
    (0.04, {"status": 500}),
    (0.04, {"status": 502}),
    (0.03, {"status": 429}),
    (0.02, {"status": 429, "retry_after": 1}),
    (0.02, {"stall_seconds": STALL_SECONDS}),
    (0.03, {"status": 502, "after": True}),
    (0.02, {"stall_seconds": STALL_SECONDS, "after": True}),
]
CARDS = ("pm_card_visa", "pm_card_mastercard")
# How the executors put a gateway's StripeOutcomeUnknown: its type, or the 5xx's own message.
UNKNOWN_OUTCOME = ("StripeOutcomeUnknown", "An unknown error occurred", "Stripe is temporarily unavailable")
KINDS = ("paid", "declined_then_paid", "cancelled", "fraud_released", "fraud_rejected", "dunning")


def fault_rules(seed: int) -> list[dict[str, Any]]:
    """Rules are tried in order, so each one's share is of the calls the ones before it let through."""
    rules, left = [], 1.0
    for index, (share, rule) in enumerate(FAULT_MIX):
        rules.append({**rule, "share": share * SCALE / left, "seed": seed + index})
        left -= share * SCALE
    return rules


@pytest.fixture
def faulty(
    stand_ins: StandIns, settings: Any, monkeypatch: pytest.MonkeyPatch, approver: User, reviewer: User
) -> StandIns:
    set_payments_policy(Mode.AUTOMATE)
    set_fraud_policy(Mode.SUGGEST)
    set_refunds_policy(Mode.AUTOMATE)
    set_dunning_policy()
    settings.DUNNING_MAX_RETRIES = 2
    WorkflowPolicy.objects.filter(workflow="refunds").update(automate_max_amount_minor=100_000)
    standard = CancellationPolicy.objects.create(name="Standard", currency="cad", fee_minor=0)
    PolicyTier.objects.create(policy=standard, min_days_before=30, refund_percent=100)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STRIPE_TIMEOUT_SECONDS = TIMEOUT_SECONDS
    # The gateway's backoff without its half-second waits (the run is long enough); the policy is unchanged.
    quick = stripe_gateway.StripeConfig.from_settings

    def from_settings() -> stripe_gateway.StripeConfig:
        config = quick()
        return stripe_gateway.StripeConfig(
            api_key=config.api_key,
            api_base=config.api_base,
            timeout_seconds=config.timeout_seconds,
            max_attempts=config.max_attempts,
            backoff_seconds=0.02,
            max_backoff_seconds=0.2,
        )

    monkeypatch.setattr(stripe_gateway.StripeConfig, "from_settings", staticmethod(from_settings))
    # dj-stripe's reads go through stripe-python's global client: the same timeout, the same short waits.
    monkeypatch.setattr(stripe, "default_http_client", stripe.RequestsClient(timeout=TIMEOUT_SECONDS))
    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.02)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.2)
    return stand_ins


# --- driving one booking as its people would -----------------------------------------------------------


def pay(sims: StandIns, code: str, payment_method: str, index: int) -> str:
    """The customer's browser on the pay page; a page that says Stripe failed is submitted again, as people do."""
    # Each customer on a machine of their own: shared ones would (rightly) look like fraud.
    browser = Client(
        enforce_csrf_checks=True,
        HTTP_USER_AGENT=f"Mozilla/5.0 customer-{index}",
        HTTP_ACCEPT_LANGUAGE="en-CA",
        REMOTE_ADDR=f"203.0.113.{index % 250 + 1}",
    )
    collection = PaymentCollection.objects.filter(booking_code=code).first()
    if collection is None or "/pay/" not in collection.pay_url:
        return "no link"  # collecting stopped (checked at the end: only an unknown outcome may stop it)
    path = "/pay/" + collection.pay_url.split("/pay/")[1]
    for _ in range(8):
        page = browser.get(path)
        assert page.status_code in (200, 503), (SEED, code, page.status_code)
        if page.status_code == 503:  # "Stripe is unavailable, try again": the customer does
            assert "try again" in page.content.decode().lower(), (SEED, code)
            continue
        html = page.content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        attempt = re.search(r'name="attempt" value="([^"]+)"', html)
        if token is None or attempt is None:
            return "no form"  # paid (an earlier try went through after all), or no longer payable
        answer = browser.post(
            path, {"csrfmiddlewaretoken": token[1], "attempt": attempt[1], "payment_method": payment_method}
        )
        assert answer.status_code in (200, 302, 503), (SEED, code, answer.status_code)
        settle_until_quiet(sims, context=f"seed {SEED}, paying {code}")
        if answer.status_code == 302:
            return "paid"
        if "declined" in answer.content.decode() or "insufficient funds" in answer.content.decode():
            return "declined"
    raise AssertionError(f"seed {SEED}: the pay page for {code} never took the payment")


def book(sims: StandIns, index: int, kind: str) -> str:
    if kind.startswith("fraud"):
        # The classic pattern: a throwaway address, a dozen seats, the tour starts in a few hours.
        start = int((timezone.now() + timedelta(hours=3, minutes=index)).timestamp())
        booking = sims.checkfront.create_booking(
            customer={"name": "John Smith", "email": f"qx{index}@mailinator.com", "country": "CA"},
            items=[{"sku": "harbourkayaktour", "qty": 12}],
            status_id="PEND",
            start_date=start,
            source_ip="81.2.69.160",
        )
    else:
        start = int((timezone.now() + timedelta(days=45)).timestamp())
        booking = sims.checkfront.create_booking(
            customer={"name": f"Ann Lee {index}", "email": f"ann.{index}@harbourco.ca", "country": "CA"},
            items=KAYAKS,
            status_id="HOLD",
            start_date=start,
        )
    code = str(booking["code"])
    settle_until_quiet(sims, context=f"seed {SEED}, booking {code} ({kind})")
    return code


def release_holds(sims: StandIns, code: str, approver: User) -> None:
    """The model may hold a careful booking too (the same test card on many bookings in an hour): a person who
    looks releases it."""
    for item in ReviewItem.objects.filter(booking_id=code, kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN):
        review.approve(item.pk, approver)
        settle_until_quiet(sims, context=f"seed {SEED}, releasing {code}")


def run_booking(sims: StandIns, index: int, kind: str, approver: User, reviewer: User) -> dict[str, str]:
    """Drive one booking (two for "dunning") as its people would; the codes and what each should end as."""
    code = book(sims, index, kind)
    if kind == "declined_then_paid":
        assert pay(sims, code, "pm_card_chargeDeclinedInsufficientFunds", index) in ("declined", "no link"), code
    if kind.startswith("fraud"):
        pay(sims, code, "pm_card_riskLevelElevated", index)
        open_items = ReviewItem.objects.filter(booking_id=code, kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN)
        for item in open_items:
            if kind == "fraud_released":
                review.approve(item.pk, approver)
            else:
                review.reject(item.pk, reviewer, reason="throwaway email, booked hours before")
    else:
        assert pay(sims, code, CARDS[index % len(CARDS)], index) in ("paid", "no form", "no link"), (SEED, code)
        release_holds(sims, code, approver)
    if kind == "cancelled":
        sims.checkfront.modify_booking(code, status_id="STOP")
    settle_until_quiet(sims, context=f"seed {SEED}, booking {code} ({kind})")
    if kind != "dunning":
        return {code: kind}
    # The same customer books again: the card saved by the first payment is charged at once, and declined;
    # recovery plans a retry, which runs when its time comes (the settle loop lets time pass).
    collection = PaymentCollection.objects.filter(booking_code=code).exclude(payment_intent_id="").first()
    intent = sims.stripe.get(collection.payment_intent_id) if collection else {}
    if not intent.get("payment_method"):
        return {code: "paid"}  # the first payment stopped on an unknown outcome: nothing saved to decline
    sims.stripe.script_declines(str(intent["payment_method"]), ["insufficient_funds"])
    again = book(sims, index, kind)
    release_holds(sims, again, approver)
    settle_until_quiet(sims, context=f"seed {SEED}, booking {again} (dunning)")
    return {code: "paid", again: "dunning"}


# --- what the stand-ins hold ---------------------------------------------------------------------------


def stripe_objects(sims: StandIns, kind: str) -> list[dict[str, Any]]:
    """Every object of a type in the Stripe stand-in's own store (not through its API: no fault there)."""
    with sims.stripe.store.read() as conn:
        rows = conn.execute("SELECT id FROM objects WHERE object = ?", (kind,)).fetchall()
    return [sims.stripe.get(row["id"]) for row in rows]


def test_a_fifth_of_stripe_calls_failing_changes_nothing_that_happens(
    faulty: StandIns, approver: User, reviewer: User
) -> None:
    rng = random.Random(SEED)
    kinds = [KINDS[i % len(KINDS)] for i in range(BOOKINGS)]
    rng.shuffle(kinds)
    faulty.stripe.set_faults(*fault_rules(SEED))
    codes: dict[str, str] = {}
    for index, kind in enumerate(kinds):
        codes.update(run_booking(faulty, index, kind, approver, reviewer))
    settle_until_quiet(faulty, context=f"seed {SEED}, the end of the run")
    injected = faulty.stripe.stats()["faults_injected"]
    faulty.stripe.clear_faults()
    why = f"seed {SEED} ({BOOKINGS} bookings, fault scale {SCALE}, faults injected: {injected})"

    # No decision ran twice, none is stuck, and every failure says why.
    decisions = Decision.objects.filter(booking_id__in=codes)
    assert not decisions.filter(outcome__in=[Outcome.PENDING, Outcome.EXECUTING]).exists(), why
    # The one failure allowed: a write whose every attempt ended in a 5xx. Stripe may have acted, so the
    # gateway calls the outcome unknown and the decision stops for a person (payops/stripe_errors.py). Such a
    # booking is still checked for duplicates, not for its end state.
    failed = list(decisions.filter(outcome=Outcome.FAILED).values_list("action", "booking_id", "outcome_detail"))
    unexplained = [f for f in failed if not any(words in str(f[2]) for words in UNKNOWN_OUTCOME)]
    assert unexplained == [], f"{why}: failed decisions {unexplained}"
    stopped = {booking for _, booking, _ in failed}
    if failed:
        print(f"{why}: stopped on an unknown outcome: {failed}")

    intents = stripe_objects(faulty, "payment_intent")
    refunds = stripe_objects(faulty, "refund")
    charges = stripe_objects(faulty, "charge")
    intents_by_booking: dict[str, list[dict[str, Any]]] = {}
    for intent in intents:
        intents_by_booking.setdefault(intent["metadata"].get("checkfront_booking_id", ""), []).append(intent)
    # Each refund decision made one refund, and each was for a decision.
    refund_decisions = Counter(r["metadata"].get("payops_decision_id") for r in refunds)
    assert all(n == 1 for n in refund_decisions.values()), f"{why}: refunds per decision {refund_decisions}"

    notes = CheckfrontClient().notes()
    for code, kind in codes.items():
        context = f"{why}: booking {code} ({kind})"
        holds: list[Any] = list(FraudHold.objects.filter(booking_code=code).values_list("status", flat=True))
        holds += list(Assessment.objects.filter(booking_code=code).values_list("stage", "band", "reasons"))
        mine = intents_by_booking.get(code, [])
        if code in stopped:
            assert len(mine) <= 1, f"{context}: {len(mine)} PaymentIntents {[i['id'] for i in mine]}"
            for intent in mine:
                succeeded = [c for c in charges if c["payment_intent"] == intent["id"] and c["status"] == "succeeded"]
                assert len(succeeded) <= 1, f"{context}: charged {len(succeeded)} times"
            continue
        assert len(mine) == 1, f"{context}: {len(mine)} PaymentIntents {[i['id'] for i in mine]}"
        [intent] = mine
        collection = PaymentCollection.objects.get(booking_code=code)
        assert collection.payment_intent_id == intent["id"], context
        paid_charges = [c for c in charges if c["payment_intent"] == intent["id"] and c["status"] == "succeeded"]
        captured = sum(c["amount_captured"] for c in paid_charges)
        its_refunds = [r for r in refunds if r["payment_intent"] == intent["id"] and r["status"] == "succeeded"]
        refunded = sum(r["amount"] for r in its_refunds)
        mirrored = MirroredPaymentIntent.objects.get(id=intent["id"]).stripe_data
        assert (mirrored["status"], mirrored["amount_received"]) == (intent["status"], intent["amount_received"]), (
            f"{context}: the mirror says {mirrored['status']}, the stand-in {intent['status']}"
        )
        for refund in its_refunds:
            assert MirroredRefund.objects.get(id=refund["id"]).stripe_data["status"] == refund["status"], context

        booking = faulty.checkfront.booking(code)
        its_notes = [str(n["body"]) for n in notes if n.get("booking_id") == code]
        paid_notes = [n for n in its_notes if n.startswith("Paid ")]
        total_minor = round(float(booking["total"]) * 100)
        if kind in ("paid", "declined_then_paid", "fraud_released", "dunning"):
            assert len(paid_charges) == 1 and captured == intent["amount"] == total_minor, (
                f"{context}: {intent['status']}, {intent['capture_method']}, holds {holds}"
            )
            assert refunded == 0, context
            assert booking["status_id"] == "PAID" and booking["amount_due"] == "0.00", f"{context}: {booking}"
            assert len(paid_notes) == 1, f"{context}: {its_notes}"
        elif kind == "cancelled":
            assert len(paid_charges) == 1 and captured == total_minor, context
            assert len(its_refunds) == 1 and refunded == captured, f"{context}: {its_refunds}"
            assert booking["status_id"] == "STOP", f"{context}: {booking}"
            refund_notes = [n for n in its_notes if n.startswith("Refunded ")]
            assert len(refund_notes) == 1, f"{context}: {its_notes}"
        else:  # fraud_rejected: the authorization is cancelled, nothing was taken
            assert intent["status"] == "canceled" and captured == 0 and refunded == 0, context
            assert booking["status_id"] == "STOP", f"{context}: {booking}"
            assert FraudHold.objects.get(booking_code=code).status == HoldStatus.CANCELLED, context
        if kind == "fraud_released":
            assert FraudHold.objects.get(booking_code=code).status == HoldStatus.RELEASED, context
        if kind == "dunning":
            declined = [c for c in charges if c["payment_intent"] == intent["id"] and c["status"] == "failed"]
            assert len(declined) == 1, f"{context}: declines {declined}"
            case = RecoveryCase.objects.get(booking_code=code)
            assert case.status == RecoveryStatus.RECOVERED, f"{context}: {case.status}"
    print(json.dumps({"seed": SEED, "bookings": BOOKINGS, "faults_injected": injected}))
