"""manage.py seed_demo: users in their groups, the demo policies, a day of past events and no made-up proposals."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from audit.models import Decision, Mode, Outcome
from fraud.models import Assessment
from payops.models import EventStatus, InboundEvent, ReviewItem, ReviewStatus, WorkflowPolicy
from payops.policy_gate import Proposal, submit_proposal

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings: Any) -> None:
    settings.DEBUG = True


def test_seed_demo_fills_a_day_and_can_run_again(capsys: Any) -> None:
    call_command("seed_demo", "--events", "60", "--fraud-bookings", "500")
    out = capsys.readouterr().out
    assert "seeded 4 new users, 60 events" in out
    assert User.objects.get(username="admin").groups.filter(name="Admin").exists()
    assert User.objects.get(username="viewer").check_password("payops-demo")
    assert InboundEvent.objects.count() == 60
    assert not InboundEvent.objects.filter(status=EventStatus.RECEIVED).exists()
    # The past day is history for the Activity page: nothing about it waits for a person,
    # since a proposal about a payment that exists nowhere could only fail when approved.
    assert not Decision.objects.exists()
    assert not ReviewItem.objects.exists()
    # Fraud's history is scored bookings with labels, for train_fraud_model, not made-up decisions.
    assert "seeded 500 synthetic scored bookings" in out
    assert Assessment.objects.filter(booking_code__startswith="SYN-").count() == 500

    call_command("seed_demo", "--events", "60")
    assert "already present" in capsys.readouterr().out
    assert InboundEvent.objects.count() == 60


def test_seed_demo_sets_the_demo_policies_the_queue_depends_on() -> None:
    call_command("seed_demo", "--events", "0", "--fraud-bookings", "0", "--recovery-cases", "0")
    dunning = WorkflowPolicy.objects.get(workflow="dunning")
    # Retries above CAD 250 (a returning customer's group booking) wait for a person.
    assert (dunning.mode, dunning.threshold_currency, dunning.automate_max_amount_minor) == (
        Mode.AUTOMATE,
        "cad",
        25_000,
    )
    fraud = WorkflowPolicy.objects.get(workflow="fraud")
    assert (fraud.mode, fraud.threshold_currency) == (Mode.SUGGEST, "cad")


def test_seed_demo_expires_the_made_up_proposals_an_older_version_queued(capsys: Any) -> None:
    WorkflowPolicy.objects.filter(workflow="dunning").update(mode=Mode.SUGGEST)  # as the older seed_demo left it
    made_up = submit_proposal(
        Proposal(
            workflow="dunning",
            action="retry_payment",
            reason="insufficient funds is a soft decline",
            score=40.0,
            confidence=0.7,
            model_version="demo-retry-0",
            booking_id="BCDF-271142",
            stripe_ids=["pi_demoabc"],
            amount_minor=12900,
            currency="usd",
        )
    )
    assert ReviewItem.objects.get(decision=made_up).status == ReviewStatus.OPEN
    call_command("seed_demo", "--events", "0", "--fraud-bookings", "0", "--recovery-cases", "0")
    assert "expired 1 made-up review items" in capsys.readouterr().out
    made_up.refresh_from_db()
    assert made_up.outcome == Outcome.EXPIRED
    assert ReviewItem.objects.get(decision=made_up).status == ReviewStatus.EXPIRED


def test_seed_demo_refuses_to_run_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=true"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_seed_demo_leaves_policies_an_admin_has_set(capsys: Any) -> None:
    policy = WorkflowPolicy.objects.get(workflow="dunning")
    policy.mode = Mode.MONITOR
    policy.rollout_percent = 50
    policy.save()
    call_command("seed_demo", "--events", "5")
    policy.refresh_from_db()
    assert policy.mode == Mode.MONITOR
    refunds = WorkflowPolicy.objects.get(workflow="refunds")
    assert refunds.mode == Mode.SUGGEST
    assert refunds.history.count() == 1


def test_seed_demo_refuses_a_silly_event_count() -> None:
    with pytest.raises(CommandError, match="--events"):
        call_command("seed_demo", "--events", "-3")
