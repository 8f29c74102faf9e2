"""A reviewer edits a dispute's evidence in the queue in headless Chromium and submits it; Stripe has the edit."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from disputes.models import CaseStatus
from tests.browser.conftest import browser_type_launch_args  # noqa: F401 - Debian's Chromium
from tests.browser.test_console_home import log_in
from tests.disputes.conftest import case_of, disputed_booking, item_of, stripe_dispute
from tests.stand_ins import StandIns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_reviewer_edits_the_rebuttal_in_the_panel_and_submits_it(
    disputes_on: StandIns, page: Page, reviewer: Any
) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    log_in(page, disputes_on.base_url, reviewer.username)
    page.goto(f"{disputes_on.base_url}/queue/?kind=dispute_evidence")
    page.locator(f"#queue-row-{item.pk}").get_by_role("link").first.click()
    panel = page.locator("#item-panel")
    expect(panel.locator("#dispute-case")).to_contain_text(case.dispute_id)
    rebuttal = panel.get_by_label("Rebuttal, payments, receipts and correspondence")
    expect(rebuttal).to_have_value(item.params["uncategorized_text"])
    rebuttal.fill("winning_evidence")
    panel.get_by_label("Customer name").fill("Dana J. Fox")
    panel.get_by_role("button", name="Submit evidence").click()
    expect(page.locator("#panel-message")).to_contain_text("approved with changes")
    disputes_on.settle()
    at_stripe = stripe_dispute(disputes_on, case.dispute_id)
    assert at_stripe["evidence"]["uncategorized_text"] == "winning_evidence"
    assert at_stripe["evidence"]["customer_name"] == "Dana J. Fox"
    case.refresh_from_db()
    assert case.status == CaseStatus.WON
