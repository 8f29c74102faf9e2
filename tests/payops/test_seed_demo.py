"""manage.py seed_demo: users in their groups, a day of events and decisions, safe to rerun."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from audit.models import Decision
from fraud.models import Assessment
from payops.models import EventStatus, InboundEvent, ReviewItem

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
    assert Decision.objects.exists()
    assert ReviewItem.objects.exists()
    assert set(Decision.objects.values_list("workflow", flat=True)) >= {"dunning"}
    # Fraud's history is scored bookings with labels, for train_fraud_model, not made-up decisions.
    assert "seeded 500 synthetic scored bookings" in out
    assert Assessment.objects.filter(booking_code__startswith="SYN-").count() == 500

    call_command("seed_demo", "--events", "60")
    assert "already present" in capsys.readouterr().out
    assert InboundEvent.objects.count() == 60


def test_seed_demo_refuses_to_run_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=true"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_seed_demo_leaves_policies_an_admin_has_set(capsys: Any) -> None:
    from audit.models import Mode
    from payops.models import WorkflowPolicy

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
