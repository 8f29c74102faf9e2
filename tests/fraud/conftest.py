"""Fraud scoring over both stand-ins: bookings in the Checkfront simulator, payments through the pay page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import Mode
from payments.models import PaymentCollection
from payops.models import WorkflowPolicy
from tests.payments.conftest import set_payments_policy
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

# A careful customer: a week ahead, two seats, a company address that matches the name.
CAREFUL = {"name": "Ann Lee", "email": "ann.lee@harbourco.ca", "country": "CA"}
# The classic pattern: a throwaway address, a dozen seats, the tour starts in three hours.
RISKY = {"name": "John Smith", "email": "qx81@mailinator.com", "country": "CA"}


def set_fraud_policy(mode: str, **overrides: Any) -> WorkflowPolicy:
    """Capturing a clean payment is within every limit; blocking is weighed by its own risk (100 - score)."""
    policy, _ = WorkflowPolicy.objects.update_or_create(
        workflow="fraud",
        defaults={
            "mode": mode,
            "rollout_percent": 100,
            "automate_max_risk": 60,
            "automate_min_confidence": 0.2,
            "threshold_currency": "cad",
            "automate_max_amount_minor": 500_000,
            "approver_threshold_minor": 1_000_000,
            "second_approval_threshold_minor": 5_000_000,
            **overrides,
        },
    )
    return policy


@pytest.fixture
def fraud_on(stand_ins: StandIns) -> StandIns:  # noqa: F811 - the fixture imported above
    set_payments_policy(Mode.AUTOMATE)
    set_fraud_policy(Mode.SUGGEST)
    return stand_ins


def book(sims: StandIns, customer: dict[str, Any], *, seats: int, starts_in: timedelta) -> str:
    start = int((timezone.now() + starts_in).timestamp())
    booking = sims.checkfront.create_booking(
        customer=customer,
        items=[{"sku": "harbourkayaktour", "qty": seats}],
        # Pending, not reserved: only a fraud hold puts it on HOLD.
        status_id="PEND",
        start_date=start,
        source_ip="81.2.69.160",
    )
    sims.settle()
    return str(booking["code"])


def pay_by_link(sims: StandIns, code: str, payment_method: str) -> Any:
    """What the customer's browser does on the pay page."""
    browser = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Mozilla/5.0 test", HTTP_ACCEPT_LANGUAGE="en-CA")
    collection = PaymentCollection.objects.get(booking_code=code)
    path = "/pay/" + collection.pay_url.split("/pay/")[1]
    html = browser.get(path).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    attempt = re.search(r'name="attempt" value="([^"]+)"', html)
    assert token and attempt, html
    response = browser.post(
        path, {"csrfmiddlewaretoken": token[1], "attempt": attempt[1], "payment_method": payment_method}
    )
    sims.settle()
    return response
