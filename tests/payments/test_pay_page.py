"""The pay page: signed links, Stripe test cards against the stand-in, Stripe.js against Stripe itself."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import signing
from django.test import Client

from audit.models import Outcome
from bookings.models import Booking
from payments import checkout, pay_links
from payments.collection import CONFIRM_BOOKING
from payments.models import CollectionStatus, PaymentCollection
from payops.stripe_gateway import StripeConfig, StripeGateway
from tests.payments.conftest import collection_of, decisions, new_booking, notes_on
from tests.stand_ins import StandIns
from tests.stripe_fixtures import TEST_API_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def path_of(collection: PaymentCollection) -> str:
    return collection.pay_url.removeprefix(collection.pay_url.split("/pay/")[0])


def pay(client: Client, collection: PaymentCollection, payment_method: str) -> Any:
    """What the customer's browser does: load the page, then post the form with its CSRF token."""
    page = client.get(path_of(collection))
    assert page.status_code == 200
    html = page.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    attempt = re.search(r'name="attempt" value="([^"]+)"', html)
    assert token and attempt, html
    return client.post(
        path_of(collection),
        {"csrfmiddlewaretoken": token[1], "attempt": attempt[1], "payment_method": payment_method},
    )


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def test_the_page_shows_the_booking_the_amount_and_the_test_cards(automate: StandIns, browser: Client) -> None:
    collection = collection_of(new_booking(automate))
    html = browser.get(path_of(collection)).content.decode()
    assert collection.booking_code in html
    assert "2 × Harbour Kayak Tour" in html
    assert "CAD 186.90" in html
    assert "Waiting for payment" in html
    assert 'value="pm_card_visa"' in html
    assert "js.stripe.com" not in html


def test_paying_with_a_good_card_marks_the_booking_paid_in_checkfront(automate: StandIns, browser: Client) -> None:
    code = new_booking(automate)
    collection = collection_of(code)
    answer = pay(browser, collection, "pm_card_visa")
    assert answer.status_code == 302 and answer["Location"] == path_of(collection)
    assert "Paid" in browser.get(path_of(collection)).content.decode()
    automate.settle()

    booking = automate.checkfront.booking(code)
    assert (booking["status_id"], booking["amount_due"]) == ("PAID", "0.00")
    assert notes_on(code)[-1] == f"Paid CAD 186.90 by card ending 4242 (Stripe {collection.payment_intent_id})"
    [decision] = decisions(CONFIRM_BOOKING, code)
    assert decision.outcome == Outcome.EXECUTED, decision.outcome_detail
    assert collection.payment_intent_id in decision.stripe_ids
    collection.refresh_from_db()
    assert (collection.status, collection.card_last4) == (CollectionStatus.SUCCEEDED, "4242")
    assert collection.checkfront_paid_at is not None
    assert Booking.objects.get(code=code).status == "PAID"  # the mirror heard it back
    assert "Nothing more is due" in browser.get(path_of(collection)).content.decode()


def test_a_declined_card_is_explained_and_another_card_can_be_tried(automate: StandIns, browser: Client) -> None:
    code = new_booking(automate)
    collection = collection_of(code)
    answer = pay(browser, collection, "pm_card_chargeDeclinedInsufficientFunds")
    html = answer.content.decode()
    assert answer.status_code == 200
    assert "Your card has insufficient funds." in html and "Please try another card." in html
    assert 'name="payment_method"' in html  # the form is there again
    automate.settle()
    assert automate.stripe.get(collection.payment_intent_id)["status"] == "requires_payment_method"
    assert automate.checkfront.booking(code)["status_id"] == "HOLD"
    assert decisions(CONFIRM_BOOKING, code) == []

    assert pay(browser, collection, "pm_card_mastercard").status_code == 302
    automate.settle()
    assert automate.checkfront.booking(code)["status_id"] == "PAID"
    assert notes_on(code)[-1].startswith("Paid CAD 186.90 by card ending 4444")


def test_an_expired_card_is_explained_in_plain_words(automate: StandIns, browser: Client) -> None:
    collection = collection_of(new_booking(automate))
    html = pay(browser, collection, "pm_card_chargeDeclinedExpiredCard").content.decode()
    assert "Your card has expired." in html


def test_a_form_without_its_csrf_token_is_refused(automate: StandIns, browser: Client) -> None:
    collection = collection_of(new_booking(automate))
    answer = browser.post(path_of(collection), {"payment_method": "pm_card_visa", "attempt": "0" * 32})
    assert answer.status_code == 403
    assert automate.stripe.get(collection.payment_intent_id)["status"] == "requires_payment_method"


@pytest.mark.parametrize(
    ("payment_method", "attempt"),
    [("pm_card_amex", "0" * 32), ("pm_card_authenticationRequired", "0" * 32), ("pm_card_visa", "not-a-uuid")],
)
def test_only_the_listed_test_cards_are_accepted(
    automate: StandIns, client: Client, payment_method: str, attempt: str
) -> None:
    collection = collection_of(new_booking(automate))
    answer = client.post(path_of(collection), {"payment_method": payment_method, "attempt": attempt})
    assert answer.status_code == 400
    assert automate.stripe.get(collection.payment_intent_id)["status"] == "requires_payment_method"


def test_test_cards_are_refused_against_stripe_itself_or_in_live_mode(
    automate: StandIns, client: Client, settings: Any
) -> None:
    collection = collection_of(new_booking(automate))
    form = {"payment_method": "pm_card_visa", "attempt": "0" * 32}
    settings.STRIPE_LIVE_MODE = True
    assert client.post(path_of(collection), form).status_code == 403
    settings.STRIPE_LIVE_MODE = False
    settings.STRIPE_API_BASE = ""
    assert client.post(path_of(collection), form).status_code == 403
    assert automate.stripe.get(collection.payment_intent_id)["status"] == "requires_payment_method"


def test_with_stripe_itself_the_page_confirms_in_the_browser_with_stripe_js(
    automate: StandIns, client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = collection_of(new_booking(automate))
    # Stripe itself cannot be reached from here: the stand-in answers in its place.
    sim = StripeGateway(StripeConfig(api_key=TEST_API_KEY, api_base=automate.stripe.url))
    monkeypatch.setattr(checkout, "stripe_gateway", lambda: sim)
    settings.STRIPE_API_BASE = ""
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_payops"
    html = client.get(path_of(collection)).content.decode()
    assert '<script src="https://js.stripe.com/v3/"></script>' in html
    assert '"pk_test_payops"' in html
    assert automate.stripe.get(collection.payment_intent_id)["client_secret"] in html
    assert 'name="payment_method"' not in html


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        signing.TimestampSigner(salt="another.salt").sign_object({"collection": 1}),
        pay_links.signer().sign_object({"collection": "1"}),
        pay_links.signer().sign_object({"collection": 999}),
    ],
)
def test_a_link_that_is_not_ours_is_a_404(automate: StandIns, client: Client, token: str) -> None:
    collection_of(new_booking(automate))
    answer = client.get(f"/pay/{token}/")
    assert answer.status_code == 404
    assert "This pay link is not valid" in answer.content.decode()


def test_a_tampered_link_is_a_404(automate: StandIns, client: Client) -> None:
    collection = collection_of(new_booking(automate))
    token = path_of(collection).split("/")[2]
    _, timestamp, signature = token.split(":")
    another = signing.b64_encode(f'{{"collection":{collection.pk + 1}}}'.encode()).decode()
    assert client.get(f"/pay/{another}:{timestamp}:{signature}/").status_code == 404
    assert client.get(f"/pay/{token}/").status_code == 200


class _MonthsAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(signing.time.time()) - 31 * 86_400)


def test_an_expired_link_is_a_404_that_says_so(automate: StandIns, client: Client, settings: Any) -> None:
    collection = collection_of(new_booking(automate))
    old = _MonthsAgo(salt=pay_links.SALT).sign_object({"collection": collection.pk})
    settings.PAY_LINK_MAX_AGE_DAYS = 30
    answer = client.get(f"/pay/{old}/")
    assert answer.status_code == 404
    assert "This pay link has expired" in answer.content.decode()
    settings.PAY_LINK_MAX_AGE_DAYS = 32
    assert client.get(f"/pay/{old}/").status_code == 200


def test_a_withdrawn_payment_request_is_no_longer_payable(automate: StandIns, client: Client) -> None:
    code = new_booking(automate)
    automate.checkfront.modify_booking(code, status_id="STOP")
    automate.settle()
    collection = collection_of(code)
    html = client.get(path_of(collection)).content.decode()
    assert "No longer payable" in html
    answer = client.post(path_of(collection), {"payment_method": "pm_card_visa", "attempt": "0" * 32})
    assert "No longer payable" in answer.content.decode()
    assert automate.stripe.get(collection.payment_intent_id)["status"] == "canceled"
