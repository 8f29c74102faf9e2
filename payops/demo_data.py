"""The embedded demo's users, workflow policies and a day of past Stripe events (manage.py seed_demo).

The day is history for the Activity page only: it proposes nothing. The
review queue fills with real work once `bin/demo` runs, from the demo
customers (payops/demo_customers.py) paying and failing against the stand-ins.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from audit.models import Decision, Mode, Outcome
from payops.inbox import store_event
from payops.models import EventStatus, InboundEvent, ReviewItem, ReviewStatus, WorkflowPolicy
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


# What seed_demo used to invent: proposals about payments that exist nowhere, for
# actions no executor carries out ("retry_payment", "refund"), so approving one failed.
_MADE_UP = {"action__in": ["retry_payment", "refund"], "model_version__in": ["demo-retry-0", "policy-v1"]}


@dataclass(frozen=True)
class SeedSummary:
    users: int
    events: int
    retired: int


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


def _untouched(policy: WorkflowPolicy) -> bool:
    """Nobody has changed the policy since it was made (by the data migration, or again after a flush)."""
    return not policy.history.exclude(history_type="+").exists()


def demo_policies() -> None:
    """Demo modes, unless an Admin has set them: collection and recovery automate within limits, the rest suggest."""
    for policy in WorkflowPolicy.objects.filter(workflow="dunning", mode=Mode.MONITOR):
        if _untouched(policy):
            # Holds and emails (risk 0) run on their own, and so do retries of up
            # to CAD 250 the demo's trained model is fairly sure of (its confidence
            # runs near 0.4); larger retries (a returning customer's group booking),
            # escalations and high-value cancellations wait for a person.
            policy.mode = Mode.AUTOMATE
            policy.automate_max_risk = 85
            policy.automate_min_confidence = 0.25
            policy.threshold_currency = "cad"
            policy.automate_max_amount_minor = 25_000
            policy.save()
    for policy in WorkflowPolicy.objects.filter(workflow="fraud", mode=Mode.MONITOR):
        if _untouched(policy):
            # Holds run on their own (they only withhold); clean authorizations are
            # captured when their window closes; blocks and releases wait for a person.
            policy.mode = Mode.SUGGEST
            policy.threshold_currency = "cad"
            policy.save()
    for policy in WorkflowPolicy.objects.filter(workflow__in=["refunds", "disputes"], mode=Mode.MONITOR):
        if _untouched(policy):
            policy.mode = Mode.SUGGEST
            policy.save()  # through save(), so the change is in the policy's history
    for policy in WorkflowPolicy.objects.filter(workflow="payments", mode=Mode.MONITOR):
        if _untouched(policy):
            # A pay link moves no money: automate up to CAD 5,000 (the simulator's account currency).
            policy.mode = Mode.AUTOMATE
            policy.threshold_currency = "cad"
            policy.automate_max_amount_minor = policy.approver_threshold_minor = 500_000
            policy.second_approval_threshold_minor = max(policy.second_approval_threshold_minor, 500_000)
            policy.save()


def seed_day(*, rng: random.Random, now: datetime, events: int, progress: Callable[[int], None]) -> int:
    """Store a day of past Stripe events for the Activity page; returns how many were new."""
    stored = 0
    for n in range(events):
        when = now - timedelta(minutes=rng.randint(1, 24 * 60))
        booking = _booking_code(rng, when)
        currency = rng.choice(CURRENCIES)
        amount = rng.choice([4900, 7500, 12900, 18500, 24000, 38000, 64000, 89000])
        verified = _stripe_event(rng, when, booking, amount, currency)
        event, created = store_event(source="stripe", verified=verified, processed_here=True)
        if created:
            # Yesterday's synthetic history has no objects behind it in the Stripe
            # stand-in: it is recorded as ignored, never mirrored or signalled, and
            # no workflow proposes anything for it (approving a proposal about a
            # payment that exists nowhere could only fail). Live events from the
            # stand-ins go through the real handlers and fill the review queue.
            InboundEvent.objects.filter(pk=event.pk).update(
                received_at=when, status=EventStatus.IGNORED, processed_at=when + timedelta(seconds=1)
            )
            stored += 1
        progress(n + 1)
    return stored


def retire_made_up_proposals() -> int:
    """Expire the made-up proposals an older seed_demo queued, so the queue holds only work that can be done."""
    with transaction.atomic():
        ids = list(Decision.objects.filter(outcome=Outcome.QUEUED, **_MADE_UP).values_list("pk", flat=True))
        expired = Decision.objects.filter(pk__in=ids, outcome=Outcome.QUEUED).update(
            outcome=Outcome.EXPIRED,
            outcome_detail={"expired": "made-up demo proposal: no payment behind it and no executor for it"},
            outcome_at=timezone.now(),
        )
        ReviewItem.objects.filter(decision_id__in=ids, status=ReviewStatus.OPEN).update(status=ReviewStatus.EXPIRED)
    return expired


def demo_cancellation_policy() -> None:
    """A cancellation policy the demo's cancellations are refunded by, unless the account has its own."""
    from refunds.models import CancellationPolicy, PolicyTier

    if CancellationPolicy.objects.exists():
        return
    standard = CancellationPolicy.objects.create(name="Standard (demo)", currency="cad", fee_minor=500)
    for days, percent in ((30, 100), (7, 50), (2, 25)):
        PolicyTier.objects.create(policy=standard, min_days_before=days, refund_percent=percent)


def seed_demo(*, password: str, events: int, seed: int, progress: Callable[[int], None]) -> SeedSummary:
    with transaction.atomic():
        users = seed_users(password)
        demo_policies()
        demo_cancellation_policy()
    retired = retire_made_up_proposals()
    stored = seed_day(rng=random.Random(seed), now=timezone.now(), events=events, progress=progress)
    return SeedSummary(users=users, events=stored, retired=retired)
