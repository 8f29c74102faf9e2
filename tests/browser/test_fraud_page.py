"""The Fraud page in headless Chromium: a reviewer rejects a held booking with a reason, an approver releases one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from fraud.models import FraudHold, HoldStatus
from tests.browser.test_console_home import log_in
from tests.fraud.conftest import RISKY, book, fraud_on, pay_by_link  # noqa: F401
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_holds_are_decided_from_the_fraud_page(fraud_on: StandIns, page: Page, approver: Any) -> None:  # noqa: F811
    first = book(fraud_on, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(fraud_on, first, "pm_card_riskLevelElevated")
    second = book(fraud_on, {**RISKY, "email": "zz9@mailinator.com"}, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(fraud_on, second, "pm_card_riskLevelElevated")

    log_in(page, fraud_on.base_url, approver.username)
    page.get_by_role("link", name="Fraud").click()
    holds = page.locator("#fraud-holds")
    expect(holds).to_contain_text(first)
    expect(holds).to_contain_text("disposable email address")
    expect(page.locator("#score-chart")).to_be_visible()

    row = holds.locator("tr", has_text=first)
    row.get_by_label("Reason").fill("card issued abroad, throwaway email")
    row.get_by_role("button", name="Reject").click()
    expect(row).to_contain_text("rejected: cancelling")

    other = holds.locator("tr", has_text=second)
    other.get_by_role("button", name="Release").click()
    expect(other).to_contain_text("released")
    fraud_on.settle()
    assert FraudHold.objects.get(booking_code=first).status == HoldStatus.CANCELLED
    assert FraudHold.objects.get(booking_code=second).status == HoldStatus.RELEASED
