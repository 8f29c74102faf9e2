"""A reviewer works through the queue in headless Chromium, against both stand-ins.

Real proposals only: a card on file declined (recovery proposes a retry) and
a risky booking held by fraud scoring. The reviewer filters, opens each,
approves the retry and releases the hold; the effects land in the Stripe
stand-in and the Checkfront simulator, and the timeline says who did it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from audit.models import Mode
from dunning import actions as dunning
from fraud.models import FraudHold, HoldStatus
from payments.models import PaymentCollection
from payops.models import ReviewItem, ReviewKind, ReviewStatus, WorkflowPolicy
from payops.stripe_gateway import stripe_gateway
from tests.browser.test_console_home import log_in
from tests.dunning.test_recovery_end_to_end import book as book_paid_later
from tests.dunning.test_recovery_end_to_end import card_on_file
from tests.fraud.conftest import RISKY, book, pay_by_link, set_fraud_policy
from tests.payments.conftest import notes_on, set_payments_policy
from tests.refunds.test_refunds_end_to_end import paid_after_cancellation, refunds_of, set_refunds_policy
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def queue_fills(stand_ins: StandIns, settings: Any) -> StandIns:  # noqa: F811 - the imported fixture
    """Collection runs on its own; recovery and fraud suggest, so their proposals wait for a person."""
    set_payments_policy(Mode.AUTOMATE)
    set_fraud_policy(Mode.SUGGEST)
    WorkflowPolicy.objects.update_or_create(
        workflow="dunning",
        defaults={
            "mode": Mode.SUGGEST,
            "threshold_currency": "cad",
            "automate_max_amount_minor": 0,
            "approver_threshold_minor": 1_000_000,
            "second_approval_threshold_minor": 5_000_000,
        },
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return stand_ins


def test_a_reviewer_approves_a_retry_and_releases_a_fraud_hold_from_the_queue(
    queue_fills: StandIns, page: Page, reviewer: Any
) -> None:
    card_on_file(queue_fills, "insufficient_funds")
    declined = book_paid_later(queue_fills)
    retry = ReviewItem.objects.get(kind=ReviewKind.RETRY, booking_id=declined, status=ReviewStatus.OPEN)
    held = book(queue_fills, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(queue_fills, held, "pm_card_riskLevelElevated")
    hold = ReviewItem.objects.get(kind=ReviewKind.FRAUD_HOLD, booking_id=held, status=ReviewStatus.OPEN)

    log_in(page, queue_fills.base_url, reviewer.username)
    page.get_by_role("link", name="Queue", exact=True).click()
    table = page.locator("#queue-table")
    expect(table).to_contain_text(declined)
    expect(table).to_contain_text(held)

    # Filter to the retries: the tab shows only them, and the URL keeps the filter.
    page.locator(".tabs").get_by_role("link", name="Payment retry").click()
    expect(table).not_to_contain_text(held)
    expect(page).to_have_url(f"{queue_fills.base_url}/queue/?kind=retry")
    page.locator(f"#queue-row-{retry.pk}").get_by_role("link").first.click()
    panel = page.locator("#item-panel")
    expect(panel).to_contain_text(f"Payment retry #{retry.pk}")
    expect(panel).to_contain_text("insufficient_funds")  # the decline, from the recovery case and Stripe
    expect(panel).to_contain_text(retry.decision.model_version)
    # The model planned the retry for later; the customer says the money is there now.
    planned = panel.get_by_label("Retry at")
    expect(planned).not_to_have_value("")
    planned.fill(timezone.now().strftime("%Y-%m-%dT%H:%M"))
    panel.get_by_role("button", name="Approve retry").click()
    expect(page.locator("#panel-message")).to_contain_text("approved with changes")
    queue_fills.settle()
    # The retry charged the card in the Stripe stand-in and the booking is paid in Checkfront.
    intent_id = PaymentCollection.objects.get(booking_code=declined).payment_intent_id
    assert stripe_gateway().retrieve_payment_intent(intent_id).status == "succeeded"

    assert queue_fills.checkfront.booking(declined)["status_id"] == "PAID"
    assert any(
        f"review #{retry.pk}" in n and "approved with changes (retry time" in n and n.endswith("by rita")
        for n in notes_on(declined)
    )
    retry.refresh_from_db()
    assert retry.status == ReviewStatus.EXECUTED and retry.decision.action == dunning.RETRY
    # It has left the open queue; its own page's timeline names the reviewer and what followed.
    expect(page.locator(f"#queue-row-{retry.pk}")).to_have_count(0)
    page.goto(f"{queue_fills.base_url}/queue/{retry.pk}/")
    expect(page.locator("#timeline")).to_contain_text("approved with changes: dunning.retry_payment by rita")
    expect(page.locator("#timeline")).to_contain_text("dunning.retry_payment: executed")

    # Search by the held booking's code and release it.
    page.goto(f"{queue_fills.base_url}/queue/")
    page.get_by_label("Search").fill(held)
    page.get_by_label("Search").press("Enter")
    expect(page.locator(f"#queue-row-{hold.pk}")).to_be_visible()
    expect(table).not_to_contain_text(declined)
    page.locator(f"#queue-row-{hold.pk}").get_by_role("link").first.click()
    expect(panel).to_contain_text("disposable email address")
    panel.get_by_role("button", name="Release").click()
    expect(page.locator("#panel-message")).to_contain_text("approved")
    queue_fills.settle()
    assert FraudHold.objects.get(booking_code=held).status == HoldStatus.RELEASED
    held_intent = PaymentCollection.objects.get(booking_code=held).payment_intent_id
    assert stripe_gateway().retrieve_payment_intent(held_intent).status == "succeeded"
    assert any(f"review #{hold.pk}" in n for n in notes_on(held))


def test_a_viewer_sees_the_queue_but_no_answer_buttons_and_a_refusal_says_why(
    queue_fills: StandIns, page: Page, viewer: Any, reviewer: Any
) -> None:
    held = book(queue_fills, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(queue_fills, held, "pm_card_riskLevelElevated")
    hold = ReviewItem.objects.get(kind=ReviewKind.FRAUD_HOLD, booking_id=held)
    log_in(page, queue_fills.base_url, viewer.username)
    page.goto(f"{queue_fills.base_url}/queue/")
    page.locator(f"#queue-row-{hold.pk}").get_by_role("link").first.click()
    expect(page.locator("#item-panel")).to_contain_text(held)
    expect(page.locator("#item-panel").get_by_role("button", name="Release")).to_have_count(0)
    # Even a hand-made request is refused on the server, and the page shows why.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(f"{queue_fills.base_url}/queue/{hold.pk}/approve/", headers={"X-CSRFToken": token})
    assert answer.status == 403
    hold.refresh_from_db()
    assert hold.status == ReviewStatus.OPEN


def test_a_reviewer_refunds_part_of_a_payment_from_the_queue(
    queue_fills: StandIns, page: Page, reviewer: Any, client: Any
) -> None:
    set_refunds_policy(Mode.SUGGEST)
    code = paid_after_cancellation(queue_fills, client)
    item = ReviewItem.objects.get(kind=ReviewKind.REFUND, booking_id=code)
    log_in(page, queue_fills.base_url, reviewer.username)
    page.goto(f"{queue_fills.base_url}/queue/?kind=refund")
    page.locator(f"#queue-row-{item.pk}").get_by_role("link").first.click()
    panel = page.locator("#item-panel")
    expect(panel).to_contain_text("refund it")
    amount = panel.get_by_label("Refund amount")
    expect(amount).to_have_value("186.90")
    amount.fill("100.00")
    panel.get_by_role("button", name="Refund").click()
    expect(page.locator("#panel-message")).to_contain_text("approved with changes")
    queue_fills.settle()
    [refund] = refunds_of(queue_fills, code)
    assert (refund["amount"], refund["status"]) == (10000, "succeeded")
    assert any(n.startswith("Refunded 100.00 CAD") for n in notes_on(code))
