"""The console home in headless Chromium: log in, read the activity, watch it refresh."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from audit.models import Decision, Mode, Outcome, Route
from payops.models import InboundEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(f"{base_url}/accounts/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Activity")).to_be_visible()


def test_viewer_logs_in_and_new_activity_appears_without_reload(live_server: Any, page: Page, viewer: Any) -> None:
    InboundEvent.objects.create(
        source="stripe", event_id="evt_first", event_type="charge.succeeded", payload={}, trace_id="t"
    )
    log_in(page, live_server.url, viewer.username)
    expect(page.locator("#recent-events")).to_contain_text("evt_first")
    expect(page.locator("#recent-decisions")).to_contain_text("No decisions yet.")

    Decision.objects.create(
        trace_id="t2",
        workflow="dunning",
        booking_id="BKLIVE",
        action="retry_payment",
        reason="insufficient funds; payday retry",
        mode=Mode.SUGGEST,
        route=Route.QUEUE,
        outcome=Outcome.QUEUED,
        confidence=0.66,
    )
    InboundEvent.objects.create(
        source="stripe", event_id="evt_second", event_type="payment_intent.payment_failed", payload={}, trace_id="t2"
    )
    # htmx polls every 5 s and swaps the activity panel in place.
    expect(page.locator("#recent-events")).to_contain_text("evt_second", timeout=12_000)
    expect(page.locator("#recent-decisions")).to_contain_text("BKLIVE")
    assert page.url == f"{live_server.url}/"


def test_wrong_password_is_refused(live_server: Any, page: Page, viewer: Any) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(viewer.username)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("did not match")).to_be_visible()
