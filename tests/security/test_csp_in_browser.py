"""Under the Content-Security-Policy, headless Chromium reports no violation on any page, and the pages still work.

Every `securitypolicyviolation` event and every console message about the
policy is collected across navigations, while a staff member walks the
console (opening a queue item, a refused audit search swapped in place, the
live polls), the admin, the login page and a customer's pay page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import ConsoleMessage, Page, expect

from payops.models import ReviewItem
from tests.browser.conftest import browser_type_launch_args  # noqa: F401 - Debian's Chromium
from tests.browser.test_console_home import log_in
from tests.console.queue_fixtures import queue_item
from tests.payments.conftest import automate, collection_of, new_booking  # noqa: F401 - fixture
from tests.payments.test_pay_page import path_of
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def violations(page: Page) -> Iterator[list[str]]:
    """What the policy blocked on this page, from the DOM events and from the console."""
    seen: list[str] = []
    page.expose_function("cspViolation", lambda text: seen.append(f"{page.url}: {text}"))
    page.add_init_script(REPORT_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(f"{page.url}: console: {message.text}")

    page.on("console", on_console)
    yield seen


def test_the_console_and_the_admin_run_without_a_policy_violation(
    live_server: Any, page: Page, violations: list[str], admin_user_in_group: User
) -> None:
    admin_user_in_group.is_superuser = True
    admin_user_in_group.save()
    item = queue_item("BKCSP1")
    base = live_server.url

    # The login page itself, then the console.
    log_in(page, base, admin_user_in_group.username)

    page.get_by_role("link", name="Queue", exact=True).click()
    page.locator(f"#queue-row-{item.pk}").get_by_role("link").first.click()
    expect(page.locator("#item-panel")).to_contain_text(f"#{item.pk}")

    for name, heading in [
        ("Dashboard", "Dashboard"),
        ("Bookings", "Bookings"),
        ("Payments", "Stripe payments"),
        ("Fraud", "Fraud scoring"),
        ("Settings", "Settings"),
    ]:
        page.locator("header nav").get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()

    # A refused search: htmx swaps the 400's reason in place (no hx-on handler, no eval).
    page.locator("header nav").get_by_role("link", name="Audit", exact=True).click()
    page.get_by_label("From (day)").fill("2024-05-02")
    page.get_by_label("To (day, included)").fill("2024-05-01")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#audit-error")).to_contain_text("before it starts")
    expect(page.get_by_role("heading", name="Audit")).to_be_visible()  # the page is still there around it

    # The admin: index, a list and a change form with the admin's own scripts.
    page.locator("header nav").get_by_role("link", name="Admin", exact=True).click()
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"{base}/admin/payops/reviewitem/")
    expect(page.locator("#result_list")).to_be_visible()
    page.goto(f"{base}/admin/auth/user/{admin_user_in_group.pk}/change/")
    expect(page.locator("#user_form")).to_be_visible()
    # django-celery-beat's form, its crontab helper moved to a static file by our template.
    crontab = CrontabSchedule.objects.create(minute="0", hour="4")
    page.goto(f"{base}/admin/django_celery_beat/periodictask/add/")
    page.locator("#id_crontab").select_option(str(crontab.pk))
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: At 04:00")

    # Back on the console home, one htmx poll (every 5 s) swaps the activity in place.
    page.goto(f"{base}/")
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true", timeout=12_000):
        pass
    assert ReviewItem.objects.filter(pk=item.pk).exists()
    assert violations == []


def test_the_pay_page_runs_without_a_policy_violation(
    automate: StandIns,  # noqa: F811
    page: Page,
    violations: list[str],
) -> None:
    collection = collection_of(new_booking(automate))
    page.goto(f"{automate.base_url}{path_of(collection)}")
    expect(page.get_by_text("Waiting for payment")).to_be_visible()
    page.get_by_label("Visa 4242").check()
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_text("Paid", exact=True)).to_be_visible()
    assert violations == []


def test_a_violation_would_be_seen(live_server: Any, page: Page, violations: list[str]) -> None:
    """The collector itself: an inline script on one of our pages is blocked and reported."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = 1'; document.body.append(s); }"
    )
    for _ in range(50):  # the report comes asynchronously: poll, with a deadline
        if violations:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("() => window.ran") is None
    assert any("script-src" in v for v in violations), violations
