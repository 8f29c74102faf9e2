"""The pay page's domain: what a pay link shows, and paying with a Stripe test card against the stand-in.

With Stripe itself the card is confirmed in the customer's browser by
Stripe.js (card data never reaches PayOps); only the stand-in gets the
server-side confirm with a test PaymentMethod, and only in test mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings

from bookings.models import Booking, BookingItem
from payments.collection import money
from payments.models import CollectionStatus, PaymentCollection
from payments.pay_links import PayLinkInvalid, collection_id_from
from payops.stripe_gateway import CardDeclined, StripeGatewayError, stripe_gateway

logger = logging.getLogger(__name__)

# Stripe's test PaymentMethods the stand-in page offers, with what each does.
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "Visa 4242: succeeds",
    "pm_card_mastercard": "Mastercard 4444: succeeds",
    "pm_card_riskLevelElevated": "Visa 9235: succeeds with elevated risk",
    "pm_card_chargeDeclinedInsufficientFunds": "Visa 9995: declined, insufficient funds",
    "pm_card_chargeDeclinedExpiredCard": "Visa 0069: declined, expired card",
    "pm_card_chargeDeclinedLostCard": "Visa 9987: declined, lost card",
    "pm_card_chargeDeclined": "Visa 0002: declined",
    "pm_card_createDispute": "Visa 0259: succeeds, then disputed as fraud",
    "pm_card_createIssuerFraudRecord": "Visa 5423: succeeds, then the issuer reports fraud",
}


class TestCardRefused(Exception):
    """A test-card payment outside test mode against a stand-in, or with a PaymentMethod not on the list."""


class PayPageState(StrEnum):
    OPEN = "open"
    PROCESSING = "processing"
    PAID = "paid"
    CANCELED = "canceled"
    UNAVAILABLE = "unavailable"


@dataclass
class PayPage:
    collection: PaymentCollection
    state: PayPageState
    booking: Booking | None = None
    lines: list[BookingItem] = field(default_factory=list)
    client_secret: str = ""
    error: str = ""

    @property
    def amount(self) -> str:
        return money(self.collection.amount_minor, self.collection.currency)


def test_cards_allowed() -> bool:
    """Server-side test payments only in test mode against a stand-in, never against Stripe itself."""
    return bool(settings.STRIPE_API_BASE) and not settings.STRIPE_LIVE_MODE


def stripe_js_key() -> str:
    """The publishable key for Stripe.js, when the page talks to Stripe itself."""
    return "" if settings.STRIPE_API_BASE else settings.STRIPE_PUBLISHABLE_KEY


def collection_for_link(token: str) -> PaymentCollection:
    """The collection a pay link names. Raises PayLinkInvalid (or PayLinkExpired)."""
    collection = PaymentCollection.objects.filter(pk=collection_id_from(token)).first()
    if collection is None or not collection.payment_intent_id:
        raise PayLinkInvalid("this pay link is not valid")
    return collection


def pay_page(collection: PaymentCollection) -> PayPage:
    """What the page shows. An open collection is checked with Stripe: the webhook may not have arrived yet."""
    booking = Booking.objects.filter(code=collection.booking_code).first()
    page = PayPage(
        collection=collection,
        state=PayPageState.OPEN,
        booking=booking,
        lines=list(booking.items.order_by("line_id")) if booking else [],
    )
    if collection.status == CollectionStatus.SUCCEEDED:
        page.state = PayPageState.PAID
        return page
    if collection.status == CollectionStatus.CANCELED:
        page.state = PayPageState.CANCELED
        return page
    try:
        intent = stripe_gateway().retrieve_payment_intent(collection.payment_intent_id)
    except StripeGatewayError as exc:
        logger.warning("pay page for %s: Stripe unavailable: %s", collection.booking_code, exc)
        page.state = PayPageState.UNAVAILABLE
        return page
    status = str(intent.status)
    if status == "succeeded":
        page.state = PayPageState.PAID
    elif status == "canceled":
        page.state = PayPageState.CANCELED
    elif status in ("processing", "requires_capture"):
        page.state = PayPageState.PROCESSING
    else:
        page.client_secret = str(intent.client_secret or "")
        error = intent.to_dict().get("last_payment_error") or {}
        page.error = str(error.get("message") or "") if isinstance(error, dict) else ""
    return page


@dataclass(frozen=True)
class TestPayment:
    succeeded: bool
    message: str = ""


def pay_with_test_card(collection: PaymentCollection, *, payment_method_id: str, attempt: str) -> TestPayment:
    """Confirm the collection's PaymentIntent on-session with a test PaymentMethod, as the customer's browser would.

    `attempt` comes from the form, so a double-submitted form is one
    confirm (Stripe replays the first answer for the same key).
    """
    if not test_cards_allowed() or payment_method_id not in TEST_PAYMENT_METHODS:
        raise TestCardRefused("test cards are only for test mode against a Stripe stand-in, from the list")
    try:
        intent = stripe_gateway().confirm_payment_intent(
            collection.payment_intent_id,
            idempotency_key=f"payops-pay-{collection.pk}-{attempt}",
            payment_method_id=payment_method_id,
        )
    except CardDeclined as exc:
        logger.info("pay page for %s: declined (%s)", collection.booking_code, exc.reason)
        return TestPayment(succeeded=False, message=_decline_words(exc))
    except StripeGatewayError as exc:
        logger.warning("pay page for %s: confirm failed: %s", collection.booking_code, exc)
        return TestPayment(succeeded=False, message="We could not take the payment just now. Please try again.")
    # Authorized for capture after the fraud checks is paid, as far as the customer is concerned.
    if intent.status not in ("succeeded", "requires_capture"):
        return TestPayment(succeeded=False, message=f"The payment is {str(intent.status).replace('_', ' ')}.")
    return TestPayment(succeeded=True)


def _decline_words(exc: CardDeclined) -> str:
    # Stripe's decline messages are written for cardholders; the reason is the fallback.
    return exc.message or f"Your card was declined ({exc.reason.replace('_', ' ')})."
