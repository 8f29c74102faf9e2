"""Every page answers with a Content-Security-Policy that allows no inline code and no eval.

Through Django's test client; the browser test (test_csp_in_browser.py) shows
the pages keep working under it, and test_production_settings.py the headers
of a production configuration.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from payments import checkout
from payops.stripe_gateway import StripeConfig, StripeGateway
from tests.payments.conftest import automate, collection_of, new_booking  # noqa: F401 - fixture
from tests.payments.test_pay_page import path_of
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401
from tests.stripe_fixtures import TEST_API_KEY

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_PAGES = ["/", "/queue/", "/dashboard/", "/bookings/", "/payments/", "/fraud/", "/audit/", "/settings/"]
ADMIN_PAGES = ["/admin/", "/admin/payops/inboundevent/", "/admin/auth/user/"]
STRIPE_ORIGINS = {
    "https://js.stripe.com",
    "https://*.js.stripe.com",
    "https://hooks.stripe.com",
    "https://api.stripe.com",
}


def policy_of(response: Any) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict(policy: dict[str, list[str]], *, inline_styles: bool = False) -> None:
    every_source = {source for sources in policy.values() for source in sources}
    assert "'unsafe-eval'" not in every_source
    assert "'unsafe-hashes'" not in every_source
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["default-src"]
    assert ("'unsafe-inline'" in policy["style-src"]) is inline_styles
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_console_pages_allow_only_our_own_scripts_and_styles(
    client: Client, admin_user_in_group: User, path: str
) -> None:
    client.force_login(admin_user_in_group)
    response = client.get(path)
    assert response.status_code == 200
    policy = policy_of(response)
    assert_strict(policy)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert not STRIPE_ORIGINS & {source for sources in policy.values() for source in sources}


@pytest.mark.django_db
def test_htmx_partials_and_refusals_carry_the_policy_too(client: Client, admin_user_in_group: User) -> None:
    client.force_login(admin_user_in_group)
    partial = client.get("/", headers={"HX-Request": "true"})
    refusal = client.get("/audit/", {"actor": "bad\x00name"}, headers={"HX-Request": "true"})
    assert (partial.status_code, refusal.status_code) == (200, 400)
    assert_strict(policy_of(partial))
    assert_strict(policy_of(refusal))


@pytest.mark.django_db
def test_the_login_page_and_a_bad_pay_link_have_the_strict_policy(client: Client) -> None:
    login = client.get("/accounts/login/")
    bad_link = client.get("/pay/not-a-token/")
    assert (login.status_code, bad_link.status_code) == (200, 404)
    assert_strict(policy_of(login))
    assert_strict(policy_of(bad_link))


@pytest.mark.django_db
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_the_admin_may_use_inline_styles_but_never_inline_scripts(
    client: Client, admin_user_in_group: User, path: str
) -> None:
    admin_user_in_group.is_superuser = True
    admin_user_in_group.save()
    client.force_login(admin_user_in_group)
    response = client.get(path)
    assert response.status_code == 200
    policy = policy_of(response)
    assert_strict(policy, inline_styles=True)
    assert policy["script-src"] == ["'self'"]


def test_the_pay_page_with_the_stand_in_loads_nothing_from_outside(automate: StandIns, client: Client) -> None:  # noqa: F811
    response = client.get(path_of(collection_of(new_booking(automate))))
    assert response.status_code == 200 and "js.stripe.com" not in response.content.decode()
    policy = policy_of(response)
    assert_strict(policy)
    assert policy["script-src"] == ["'self'"]


def test_the_pay_page_with_stripe_itself_allows_exactly_stripe_js(
    automate: StandIns,  # noqa: F811
    client: Client,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collection = collection_of(new_booking(automate))
    # Stripe itself cannot be reached from here: the stand-in answers in its place (as in test_pay_page).
    sim = StripeGateway(StripeConfig(api_key=TEST_API_KEY, api_base=automate.stripe.url))
    monkeypatch.setattr(checkout, "stripe_gateway", lambda: sim)
    settings.STRIPE_API_BASE = ""
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_payops"
    response = client.get(path_of(collection))
    assert '<script src="https://js.stripe.com/v3/"></script>' in response.content.decode()
    policy = policy_of(response)
    assert_strict(policy)
    assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert policy["frame-src"] == ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert policy["style-src"] == ["'self'"]


# Inline code in our own templates and static files: what the policy would block.
INLINE = {
    "an inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "an inline <style>": re.compile(r"<style\b", re.IGNORECASE),
    "a style attribute": re.compile(r"""\sstyle\s*=\s*["']""", re.IGNORECASE),
    "an on* handler": re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE),
    "an hx-on attribute": re.compile(r"\s(hx|data-hx)-on[:-]", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def test_no_template_or_static_file_of_ours_carries_inline_code() -> None:
    files = [*ROOT.joinpath("templates").rglob("*.html"), *ROOT.joinpath("static").rglob("*.html")]
    files += [*ROOT.joinpath("static").rglob("*.svg")]
    assert len(files) > 20  # the scan reaches the templates
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in files
        for what, pattern in INLINE.items()
        if pattern.search(path.read_text())
    ]
    assert found == []


def test_the_scan_finds_each_kind_of_inline_code() -> None:
    samples = {
        "an inline <script>": "<script>alert(1)</script>",
        "an inline <style>": "<style>p{}</style>",
        "a style attribute": '<p style="color:red">',
        "an on* handler": '<a onclick="x()">',
        "an hx-on attribute": '<div hx-on::before-swap="x">',
        "a javascript: URL": '<a href="javascript:x()">',
    }
    for what, sample in samples.items():
        assert INLINE[what].search(sample), what
    assert not INLINE["an inline <script>"].search('<script src="/static/js/queue.js" defer></script>')
