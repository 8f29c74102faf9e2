"""Fuzzing the customer's pay page and the login form: bad links and bad forms get a 4xx or the page, never a 500.

hypothesis properties over the real URLs (there is no OpenAPI schema for
HTML forms). The pay page runs against the Stripe stand-in: whatever the
form says, the amount charged is the one PayOps stored.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.models import Mode
from payments import pay_links
from payments.collection import propose_collection
from payments.models import PaymentCollection
from tests.fuzz.strategies import ANY_TEXT, NASTY_TEXT, NUMBERS, fuzz
from tests.payments.conftest import set_payments_policy
from tests.payments.test_collection_rules import booking
from tests.stripe_fixtures import stripe_api_base, stripe_client, stripe_sim

__all__ = ["stripe_api_base", "stripe_client", "stripe_sim"]

pytestmark = pytest.mark.django_db

AMOUNT = 18_690

# Each example is a few requests to the Stripe stand-in.
few = settings(fuzz, max_examples=40)


@pytest.fixture
def collection(stripe_api_base: str, stripe_client: Any) -> PaymentCollection:
    """An open collection for CAD 186.90 whose PaymentIntent lives in the Stripe stand-in."""
    set_payments_policy(Mode.SUGGEST)
    decision = propose_collection(booking=booking(total_minor=AMOUNT, due_minor=AMOUNT))
    assert decision is not None
    intent = stripe_client.v1.payment_intents.create(
        {"amount": AMOUNT, "currency": "cad", "payment_method_types": ["card"]}
    )
    return PaymentCollection.objects.create(
        booking_code="KMVQ-060314", amount_minor=AMOUNT, currency="cad", decision=decision, payment_intent_id=intent.id
    )


def pay_path(collection: PaymentCollection) -> str:
    return f"/pay/{pay_links.make_token(collection.pk)}/"


def assert_untouched(collection: PaymentCollection, stripe_client: Any) -> None:
    """What the customer is asked to pay is ours: neither the stand-in's intent nor our row moved."""
    intent = stripe_client.v1.payment_intents.retrieve(collection.payment_intent_id)
    assert (intent.amount, intent.currency) == (AMOUNT, "cad")
    stored = PaymentCollection.objects.get(pk=collection.pk)
    assert (stored.amount_minor, stored.currency) == (AMOUNT, "cad")


def encoded(form: dict[str, str] | list[tuple[str, str]]) -> str:
    """A form body encoded by hand: a browser can send bytes (a lone surrogate's) that are not UTF-8."""
    pairs = form.items() if isinstance(form, dict) else form
    return urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in pairs])


# ---- Links ------------------------------------------------------------------------------------------------


def _signed(value: Any, *, salt: str = pay_links.SALT) -> str:
    return signing.TimestampSigner(salt=salt).sign_object(value, compress=True)


FORGED = st.one_of(
    st.builds(lambda v: _signed({"collection": v}), st.one_of(NUMBERS, ANY_TEXT, st.none(), st.booleans())),
    st.builds(lambda v: _signed(v), st.one_of(NUMBERS, ANY_TEXT, st.lists(st.integers(), max_size=3))),
    st.builds(lambda v: _signed({"collection": v}, salt="another.salt"), st.integers()),
    st.just(_signed({"collection": 2**70})),
    st.just(_signed({"collection": -(2**63)})),
)
LINK_TEXT = st.one_of(ANY_TEXT, st.text("abcdefXYZ0123456789:._-", max_size=300), st.just("x" * 5000))


@few
@given(token=st.one_of(LINK_TEXT, FORGED), method=st.sampled_from(["get", "post"]))
def test_links_we_did_not_make_are_a_404_that_says_so(
    client: Client, collection: PaymentCollection, stripe_client: Any, token: str, method: str
) -> None:
    path = f"/pay/{quote(token.encode('utf-8', 'surrogatepass'), safe='')}/"
    answer = getattr(client, method)(path, {"payment_method": "pm_card_visa", "attempt": uuid.uuid4().hex})
    assert answer.status_code == 404, (token, answer.status_code)
    if token and "/" not in token:  # empty or with a slash in it, no pay URL matches at all
        assert "This pay link is not valid" in answer.content.decode()
    assert_untouched(collection, stripe_client)


def test_a_link_to_a_collection_id_past_the_database_range_is_a_404(
    client: Client, collection: PaymentCollection
) -> None:
    for collection_id in (2**63, 2**70, -(2**63) - 1):
        answer = client.get(f"/pay/{_signed({'collection': collection_id})}/")
        assert answer.status_code == 404
        assert "This pay link is not valid" in answer.content.decode()


class _LongAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 400 * 86_400)


def test_an_expired_link_says_it_expired_and_pays_nothing(
    client: Client, collection: PaymentCollection, stripe_client: Any
) -> None:
    old = _LongAgo(salt=pay_links.SALT).sign_object({"collection": collection.pk}, compress=True)
    answer = client.post(f"/pay/{old}/", {"payment_method": "pm_card_visa", "attempt": uuid.uuid4().hex})
    assert answer.status_code == 404
    assert "This pay link has expired" in answer.content.decode()
    assert stripe_client.v1.payment_intents.retrieve(collection.payment_intent_id).status == "requires_payment_method"


# ---- The pay form ------------------------------------------------------------------------------------------

PAYMENT_METHODS = st.one_of(
    st.sampled_from(["pm_card_visa", "pm_card_chargeDeclined", "pm_card_amex", "", "PM_CARD_VISA", "pm_card_visa\x00"]),
    ANY_TEXT,
    st.just("pm_" + "x" * 100_000),
)
ATTEMPTS = st.one_of(st.uuids().map(lambda u: u.hex), st.uuids().map(str), ANY_TEXT, st.just("0" * 100_000))
TAMPERING = st.dictionaries(
    st.sampled_from(["amount", "amount_minor", "currency", "collection", "payment_intent", "booking_code"]),
    st.one_of(NUMBERS.map(str), ANY_TEXT, st.sampled_from(["1", "-1", "0", "1e309", "usd", "xxx"])),
)


@few
@given(payment_method=PAYMENT_METHODS, attempt=ATTEMPTS, tampering=TAMPERING, repeat=st.booleans())
def test_whatever_the_pay_form_says_the_amount_is_ours_and_the_answer_is_not_a_500(
    client: Client,
    collection: PaymentCollection,
    stripe_client: Any,
    payment_method: str,
    attempt: str,
    tampering: dict[str, str],
    repeat: bool,
) -> None:
    form = list({**tampering, "payment_method": payment_method, "attempt": attempt}.items())
    if repeat:
        form += form
    body = encoded(form)
    answer = client.post(pay_path(collection), body, content_type="application/x-www-form-urlencoded")
    assert answer.status_code in (200, 302, 400), answer.status_code
    if answer.status_code == 400:
        assert "Choose one of the listed test cards." in answer.content.decode()
    assert_untouched(collection, stripe_client)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payment_method=%ZZ&attempt=%", "application/x-www-form-urlencoded"),
        (b"payment_method=pm_card_visa&attempt=" + b"%00" * 10, "application/x-www-form-urlencoded"),
        (b'{"payment_method": "pm_card_visa", "amount": 1}', "application/json"),
        (b"--x\r\nContent-Disposition: form-data; name=\r\n\r\n", "multipart/form-data; boundary=x"),
        (b"garbage", "multipart/form-data"),
        (b"garbage", "multipart/form-data; boundary=" + "b" * 300),
        ("&".join(f"f{n}=1" for n in range(2000)).encode(), "application/x-www-form-urlencoded"),
        (b"payment_method=pm_card_visa&pad=" + b"x" * (3 * 1024 * 1024), "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00", "application/x-www-form-urlencoded; charset=utf-8"),
        (b"payment_method=pm_card_visa", "application/x-www-form-urlencoded; charset=no-such-charset"),
    ],
)
def test_malformed_pay_form_bodies_get_a_4xx(
    client: Client, collection: PaymentCollection, stripe_client: Any, body: bytes, content_type: str
) -> None:
    answer = client.generic("POST", pay_path(collection), body, content_type=content_type)
    assert 400 <= answer.status_code < 500, answer.status_code
    assert answer.content.strip()
    assert_untouched(collection, stripe_client)
    assert stripe_client.v1.payment_intents.retrieve(collection.payment_intent_id).status == "requires_payment_method"


def test_tampered_amount_fields_are_ignored_when_the_payment_goes_through(
    client: Client, collection: PaymentCollection, stripe_client: Any
) -> None:
    form = {"payment_method": "pm_card_visa", "attempt": uuid.uuid4().hex, "amount": "1", "currency": "usd"}
    answer = client.post(pay_path(collection), form)
    assert answer.status_code == 302
    intent = stripe_client.v1.payment_intents.retrieve(collection.payment_intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", AMOUNT, "cad")


# ---- Login -------------------------------------------------------------------------------------------------

CREDENTIALS = st.one_of(ANY_TEXT, NASTY_TEXT, st.just("x" * 10_000), st.just("\x00" * 200), st.just("é" * 151))


# Each example hashes a password on purpose (as slow as a real login), so fewer of them.
@settings(fuzz, max_examples=20)
@given(
    username=st.one_of(CREDENTIALS, st.just("vera")),
    password=CREDENTIALS,
    address=st.ip_addresses(v=4).map(str),
    agent=st.one_of(
        st.just("Mozilla/5.0"),
        st.just("A" * 5000),
        ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass").decode("latin-1")),
    ),
)
def test_login_with_any_username_and_password_is_the_form_again_or_a_4xx(
    client: Client, viewer: User, username: str, password: str, address: str, agent: str
) -> None:
    body = encoded({"username": username, "password": password})
    answer = client.post(
        "/accounts/login/",
        body,
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR=address,
        HTTP_USER_AGENT=agent,
    )
    assert answer.status_code in (200, 400, 403, 429), answer.status_code
    if answer.status_code == 200:
        assert "did not match" in answer.content.decode() or "Too many failed logins" in answer.content.decode()
    assert "_auth_user_id" not in client.session
