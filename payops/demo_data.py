"""A believable day of PayOps activity for the embedded demo (manage.py seed_demo)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from audit.models import Mode
from payops.inbox import store_event
from payops.models import EventStatus, InboundEvent, ReviewKind, WorkflowPolicy
from payops.policy_gate import Proposal, submit_proposal
from payops.trace import bound_trace
from payops.webhook_verifiers import VerifiedEvent

DEMO_USERS = {
    # username: (group, is_staff)
    "admin": ("Admin", True),
    "approver": ("Approver", False),
    "reviewer": ("Reviewer", False),
    "viewer": ("Viewer", False),
}

CURRENCIES = ["usd", "usd", "usd", "cad", "eur"]
ITEMS = ["Sunset kayak tour", "Glacier hike", "Whale watching", "Wine country day trip", "Zipline canopy"]


@dataclass(frozen=True)
class SeedSummary:
    users: int
    events: int
    decisions: int


def seed_users(password: str) -> int:
    created = 0
    for username, (group_name, is_staff) in DEMO_USERS.items():
        user, was_created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@payops.example", "is_staff": is_staff}
        )
        if was_created:
            user.set_password(password)
            user.is_superuser = username == "admin"
            user.save()
            created += 1
        user.groups.add(Group.objects.get(name=group_name))
    return created


def _booking_code(rng: random.Random, day: datetime) -> str:
    return f"{''.join(rng.choices('BCDFGHJKLMNPQRSTVWXZ', k=4))}-{day:%d%m}{rng.randint(10, 99)}"


def _stripe_event(rng: random.Random, when: datetime, booking: str, amount: int, currency: str) -> VerifiedEvent:
    kind = rng.choices(
        ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded", "charge.dispute.created"],
        weights=[70, 18, 9, 3],
    )[0]
    suffix = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=14))
    obj = {
        "id": f"pi_demo{suffix}",
        "object": "payment_intent",
        "amount": amount,
        "currency": currency,
        "metadata": {"checkfront_booking_id": booking},
    }
    if kind == "payment_intent.payment_failed":
        obj["last_payment_error"] = {
            "code": "card_declined",
            "decline_code": rng.choice(["insufficient_funds", "do_not_honor", "expired_card", "processing_error"]),
        }
    event_id = f"evt_demo{suffix}"
    payload = {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(when.timestamp()),
        "livemode": False,
        "data": {"object": obj},
    }
    return VerifiedEvent(event_id=event_id, event_type=kind, payload=payload)


def _demo_policies() -> None:
    """Demo modes, unless an Admin has set them: collection and recovery automate within limits, the rest suggest."""
    for policy in WorkflowPolicy.objects.filter(workflow="dunning", mode=Mode.MONITOR):
        if not policy.history.exists():
            # Holds and emails (risk 0) run on their own, and so do retries the
            # demo's trained model is fairly sure of (its confidence runs near 0.4);
            # the rest, escalations and high-value cancellations wait for a person.
            policy.mode = Mode.AUTOMATE
            policy.automate_max_risk = 85
            policy.automate_min_confidence = 0.25
            policy.threshold_currency = "cad"
            policy.save()
    for policy in WorkflowPolicy.objects.filter(workflow="fraud", mode=Mode.MONITOR):
        if not policy.history.exists():
            # Holds run on their own (they only withhold); clean authorizations are
            # captured when their window closes; blocks and releases wait for a person.
            policy.mode = Mode.SUGGEST
            policy.threshold_currency = "cad"
            policy.save()
    for policy in WorkflowPolicy.objects.filter(workflow__in=["refunds", "disputes"], mode=Mode.MONITOR):
        if not policy.history.exists():  # rows made by the data migration have no history yet
            policy.mode = Mode.SUGGEST
            policy.save()  # through save(), so the change is in the policy's history
    for policy in WorkflowPolicy.objects.filter(workflow="payments", mode=Mode.MONITOR):
        if not policy.history.exists():
            # A pay link moves no money: automate up to CAD 5,000 (the simulator's account currency).
            policy.mode = Mode.AUTOMATE
            policy.threshold_currency = "cad"
            policy.automate_max_amount_minor = policy.approver_threshold_minor = 500_000
            policy.second_approval_threshold_minor = max(policy.second_approval_threshold_minor, 500_000)
            policy.save()


def seed_day(*, rng: random.Random, now: datetime, events: int, progress: Callable[[int], None]) -> tuple[int, int]:
    """Store and process a day of Stripe events, and the decisions they led to."""
    _demo_policies()
    stored = decided = 0
    for n in range(events):
        when = now - timedelta(minutes=rng.randint(1, 24 * 60))
        booking = _booking_code(rng, when)
        currency = rng.choice(CURRENCIES)
        amount = rng.choice([4900, 7500, 12900, 18500, 24000, 38000, 64000, 89000])
        verified = _stripe_event(rng, when, booking, amount, currency)
        event, created = store_event(source="stripe", verified=verified, processed_here=True)
        if created:
            # Yesterday's synthetic history has no objects behind it in the Stripe
            # stand-in: it is recorded as ignored, never mirrored or signalled
            # (a replay would find nothing). Live events from `run_stripe_sim`
            # go through the real handler.
            InboundEvent.objects.filter(pk=event.pk).update(
                received_at=when, status=EventStatus.IGNORED, processed_at=when + timedelta(seconds=1)
            )
            stored += 1
            with bound_trace(event.trace_id):
                decided += _decide(rng, verified, booking, amount, currency, when)
        progress(n + 1)
    return stored, decided


def _decide(
    rng: random.Random, verified: VerifiedEvent, booking: str, amount: int, currency: str, when: datetime
) -> int:
    """The proposal each workflow would have made for this event."""
    pi_id = verified.payload["data"]["object"]["id"]
    proposal: Proposal | None = None
    if verified.event_type == "payment_intent.payment_failed":
        decline = verified.payload["data"]["object"]["last_payment_error"]["decline_code"]
        chance = rng.uniform(0.25, 0.7)
        proposal = Proposal(
            workflow="dunning",
            action="retry_payment",
            review_kind=ReviewKind.RETRY,
            reason=f"{decline.replace('_', ' ')} is a soft decline; a retry in {rng.choice([6, 24, 48])} h "
            f"succeeds {chance:.0%} of the time for similar cards",
            reasons=[f"decline code {decline}", "first failure for this customer", f"amount {amount / 100:.2f}"],
            score=round(chance * 100, 1),
            confidence=round(rng.uniform(0.55, 0.9), 2),
            model_version="demo-retry-0",
            booking_id=booking,
            stripe_ids=[pi_id],
            amount_minor=amount,
            currency=currency,
            due_by=when + timedelta(hours=24),
        )
    elif verified.event_type == "charge.refunded":
        proposal = Proposal(
            workflow="refunds",
            action="refund",
            review_kind=ReviewKind.REFUND,
            reason="cancelled 12 days before the start: the 7–30 day tier refunds 50%",
            reasons=["policy v1, tier 7–30 days: 50%"],
            confidence=1.0,
            model_version="policy-v1",
            booking_id=booking,
            stripe_ids=[pi_id],
            amount_minor=amount // 2,
            currency=currency,
            due_by=when + timedelta(days=2),
        )
    if proposal is None:
        return 0
    submit_proposal(proposal)
    return 1


def seed_demo(*, password: str, events: int, seed: int, progress: Callable[[int], None]) -> SeedSummary:
    with transaction.atomic():
        users = seed_users(password)
    stored, decided = seed_day(rng=random.Random(seed), now=timezone.now(), events=events, progress=progress)
    return SeedSummary(users=users, events=stored, decisions=decided)
