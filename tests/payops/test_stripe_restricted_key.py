"""A restricted key with the permissions the README lists runs every Stripe call PayOps makes, and no more."""

from __future__ import annotations

from typing import Any

import pytest
from djstripe import models as djstripe_models

from payops.models import EventStatus, InboundEvent
from payops.stripe_gateway import StripeAuthError, StripeConfig, StripeGateway
from payops.stripe_setup import RESTRICTED_KEY_PERMISSIONS
from tests.polling import wait_until
from tests.webhook_payloads import TEST_SECRET

RESTRICTED_KEY = "rk_test_payopsrestrictedkey000000000"


def restricted_gateway(sim: Any) -> StripeGateway:
    return StripeGateway(StripeConfig(api_key=RESTRICTED_KEY, api_base=sim.url, max_attempts=1))


@pytest.mark.django_db(transaction=True)
def test_the_documented_permissions_cover_every_call_and_the_mirror(
    live_server: Any, stripe_api: Any, inbox_dispatcher: None, settings: Any
) -> None:
    stripe_api.add_restricted_key(RESTRICTED_KEY, RESTRICTED_KEY_PERMISSIONS)
    settings.STRIPE_SECRET_KEY = settings.STRIPE_TEST_SECRET_KEY = RESTRICTED_KEY  # dj-stripe's key too
    stripe_api.configure_webhook(url=f"{live_server.url}/webhooks/stripe/", secret=TEST_SECRET)
    gateway = restricted_gateway(stripe_api)

    customer = gateway.create_customer(idempotency_key="rk-cus", email="rk@example.com")
    setup = gateway.create_setup_intent(
        idempotency_key="rk-seti", customer_id=customer.id, payment_method_id="pm_card_visa", confirm=True
    )
    assert [pm.id for pm in gateway.list_payment_methods(customer_id=customer.id)] == [setup.payment_method]
    held = gateway.create_payment_intent(
        idempotency_key="rk-pi", amount_minor=15000, currency="usd", customer_id=customer.id,
        payment_method_id=setup.payment_method, confirm=True, off_session=True, manual_capture=True,
    )  # fmt: skip
    gateway.capture_payment_intent(held.id, idempotency_key="rk-cap")
    gateway.create_refund(idempotency_key="rk-re", payment_intent_id=held.id, amount_minor=1000)
    disputed = gateway.create_payment_intent(
        idempotency_key="rk-dp", amount_minor=7000, currency="usd", payment_method_id="pm_card_createDispute",
        confirm=True,
    )  # fmt: skip
    [dispute] = gateway.find_disputes(charge_id=disputed.latest_charge)
    dispute_id = dispute.id
    gateway.update_dispute(dispute_id, idempotency_key="rk-ev", evidence={"uncategorized_text": "winning_evidence"})
    product = gateway.create_product(idempotency_key="rk-prod", name="Sunset cruise")
    gateway.create_price(idempotency_key="rk-price", product_id=product.id, unit_amount_minor=5900, currency="usd")

    assert stripe_api.wait_for_webhooks(timeout=20)
    finished = {EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.FAILED}
    assert wait_until(lambda: not InboundEvent.objects.exclude(status__in=finished).exists(), timeout=20)
    assert (
        list(InboundEvent.objects.exclude(status=EventStatus.PROCESSED).values_list("event_type", "last_error")) == []
    )
    assert djstripe_models.Refund.objects.filter(charge_id=held.latest_charge).count() == 1
    assert djstripe_models.Dispute.objects.filter(id=dispute_id).exists()
    assert djstripe_models.APIKey.objects.get(secret=RESTRICTED_KEY).type == "restricted"


@pytest.mark.django_db
def test_a_missing_permission_is_an_auth_error_that_names_it(stripe_api: Any) -> None:
    stripe_api.add_restricted_key(RESTRICTED_KEY, set(RESTRICTED_KEY_PERMISSIONS) - {"rak_refund_write"})
    gateway = restricted_gateway(stripe_api)
    intent = gateway.create_payment_intent(
        idempotency_key="rk-pi-2", amount_minor=5000, currency="usd", payment_method_id="pm_card_visa", confirm=True
    )
    with pytest.raises(StripeAuthError) as caught:
        gateway.create_refund(idempotency_key="rk-re-2", payment_intent_id=intent.id)
    assert caught.value.http_status == 403
    assert "rak_refund_write" in caught.value.message
    assert gateway.retrieve_charge(intent.latest_charge).amount_refunded == 0
