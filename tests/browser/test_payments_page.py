"""The Payments page in headless Chromium: a payment made in the Stripe stand-in appears without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from payops.stripe_gateway import CardDeclined, stripe_gateway
from tests.browser.test_console_home import log_in
from tests.stripe_fixtures import stripe_api_base, stripe_sim
from tests.webhook_payloads import TEST_SECRET

__all__ = ["stripe_api_base", "stripe_sim"]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_new_payment_and_its_decline_appear_live_and_filter_by_status(
    live_server: Any, page: Page, viewer: Any, stripe_sim: Any, stripe_api_base: str, inbox_dispatcher: None
) -> None:
    stripe_sim.configure_webhook(url=f"{live_server.url}/webhooks/stripe/", secret=TEST_SECRET)
    log_in(page, live_server.url, viewer.username)
    page.get_by_role("link", name="Payments").click()
    expect(page.locator("#payment-rows")).to_contain_text("No Stripe payments mirrored yet")

    gateway = stripe_gateway()
    paid = gateway.create_payment_intent(
        idempotency_key="pi-browser-paid",
        amount_minor=8900,
        currency="usd",
        payment_method_id="pm_card_visa",
        confirm=True,
        metadata={"checkfront_booking_id": "BKNG-LIVE"},
    )
    with pytest.raises(CardDeclined) as declined:
        gateway.create_payment_intent(
            idempotency_key="pi-browser-declined",
            amount_minor=4500,
            currency="usd",
            payment_method_id="pm_card_chargeDeclinedStolenCard",
            confirm=True,
        )
    # Webhook → inbox → dj-stripe, then htmx's 5 s poll swaps the rows in.
    rows = page.locator("#payment-rows")
    expect(rows).to_contain_text(paid.id, timeout=15_000)
    expect(rows).to_contain_text(declined.value.payment_intent_id, timeout=15_000)
    expect(rows).to_contain_text("stolen_card")
    expect(page.locator("#mirror-payment-intents")).to_have_text("2")

    page.get_by_label("Status").select_option("succeeded")
    expect(rows).not_to_contain_text(declined.value.payment_intent_id)
    expect(rows).to_contain_text("BKNG-LIVE")
