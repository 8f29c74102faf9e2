"""Stripe events from the stand-in, end to end: signed delivery, the inbox, dj-stripe's tables, domain signals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import stripe
from djstripe import models as djstripe_models

from payops.models import EventStatus, InboundEvent
from payops.stripe_gateway import CardDeclined, StripeGateway, stripe_gateway
from payops.stripe_sim import StripeSimulator
from tests.payops.stripe_flow import Received, pay, settled
from tests.payops.test_stripe_gateway import DECLINING_CARDS
from tests.polling import wait_until
from tests.stripe_fixtures import TEST_API_KEY
from tests.webhook_payloads import TEST_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_payment_flows_into_dj_stripe_and_sends_payment_succeeded_once(
    delivering: Any, gateway: StripeGateway, received: Received
) -> None:
    customer = gateway.create_customer(idempotency_key="cus-flow", email="flow@example.com", name="Flo Wu")
    intent = pay(
        gateway,
        "pi-flow",
        amount_minor=24000,
        currency="eur",
        customer_id=customer.id,
        metadata={"checkfront_booking_id": "BKNG-FLOW"},
    )
    settled(delivering)
    mirrored = djstripe_models.PaymentIntent.objects.get(id=intent.id)
    assert mirrored.stripe_data["status"] == "succeeded"
    assert mirrored.metadata["checkfront_booking_id"] == "BKNG-FLOW"
    assert mirrored.customer_id == customer.id
    charge = djstripe_models.Charge.objects.get(id=intent.latest_charge)
    assert charge.stripe_data["outcome"]["risk_level"] == "normal"
    assert djstripe_models.Customer.objects.get(id=customer.id).stripe_data["email"] == "flow@example.com"
    assert djstripe_models.Event.objects.filter(type="payment_intent.succeeded").count() == 1
    assert [obj_id for obj_id, _ in received.of("payment_succeeded")] == [intent.id]
    assert received.of("payment_succeeded")[0][1] == mirrored
    assert received.of("payment_failed") == []


@pytest.mark.parametrize(("payment_method", "code", "decline_code"), DECLINING_CARDS)
def test_each_test_cards_decline_reaches_the_handler_and_the_mirror(
    delivering: Any, gateway: StripeGateway, received: Received, payment_method: str, code: str, decline_code: str
) -> None:
    with pytest.raises(CardDeclined) as caught:
        pay(gateway, f"pi-{payment_method}", payment_method, amount_minor=5000)
    settled(delivering)
    intent_id = caught.value.payment_intent_id
    [(failed_id, mirrored)] = received.of("payment_failed")
    assert failed_id == intent_id
    error = mirrored.stripe_data["last_payment_error"]
    assert (error["code"], error.get("decline_code", "")) == (code, decline_code)
    event = InboundEvent.objects.get(event_type="payment_intent.payment_failed")
    assert event.payload["data"]["object"]["last_payment_error"] == error
    charge = djstripe_models.Charge.objects.get(id=caught.value.charge_id)
    assert (charge.stripe_data["status"], charge.stripe_data["failure_code"]) == ("failed", code)


def test_authorize_capture_and_refunds_are_mirrored_with_their_signals(
    delivering: Any, gateway: StripeGateway, received: Received
) -> None:
    intent = pay(gateway, "pi-auth", "pm_card_mastercard", amount_minor=30000, manual_capture=True)
    gateway.capture_payment_intent(intent.id, idempotency_key="cap-auth", amount_minor=25000)
    gateway.create_refund(idempotency_key="re-a", payment_intent_id=intent.id, amount_minor=5000)
    gateway.create_refund(idempotency_key="re-b", payment_intent_id=intent.id, amount_minor=2500)
    settled(delivering)
    assert [i for i, _ in received.of("payment_authorized")] == [intent.id]
    assert [i for i, _ in received.of("payment_captured")] == [intent.latest_charge]
    assert [i for i, _ in received.of("payment_refunded")] == [intent.latest_charge] * 2
    refunds = djstripe_models.Refund.objects.filter(charge_id=intent.latest_charge)
    assert sorted(r.stripe_data["amount"] for r in refunds) == [2500, 5000]
    charge = djstripe_models.Charge.objects.get(id=intent.latest_charge)
    assert (charge.stripe_data["amount_captured"], charge.stripe_data["amount_refunded"]) == (25000, 7500)


def test_a_cancelled_authorization_sends_payment_canceled(
    delivering: Any, gateway: StripeGateway, received: Received
) -> None:
    intent = pay(gateway, "pi-void", amount_minor=9000, manual_capture=True)
    gateway.cancel_payment_intent(intent.id, idempotency_key="void-1", reason="requested_by_customer")
    settled(delivering)
    [(cancelled_id, mirrored)] = received.of("payment_canceled")
    assert cancelled_id == intent.id
    assert mirrored.stripe_data["status"] == "canceled"


def dispute_for(sim_client: Any, charge_id: str) -> Any:
    assert wait_until(lambda: sim_client.v1.disputes.list({"charge": charge_id}).data)
    return sim_client.v1.disputes.list({"charge": charge_id}).data[0]


@pytest.mark.parametrize(("evidence", "outcome"), [("winning_evidence", "won"), ("losing_evidence", "lost")])
def test_a_dispute_opens_and_closes_with_its_outcome(
    delivering: Any, gateway: StripeGateway, stripe_client: Any, received: Received, evidence: str, outcome: str
) -> None:
    intent = pay(gateway, f"pi-dispute-{outcome}", "pm_card_createDispute", amount_minor=18500)
    dispute = dispute_for(stripe_client, intent.latest_charge)
    assert (dispute.status, dispute.reason) == ("needs_response", "fraudulent")
    updated = gateway.update_dispute(
        dispute.id,
        idempotency_key=f"evidence-{outcome}",
        evidence={"uncategorized_text": evidence, "customer_email_address": "flow@example.com"},
        submit=True,
    )
    assert updated.status == outcome
    settled(delivering)
    assert [i for i, _ in received.of("dispute_opened")] == [dispute.id]
    [(closed_id, mirrored)] = received.of("dispute_closed")
    assert closed_id == dispute.id
    assert mirrored.stripe_data["status"] == outcome
    assert djstripe_models.Dispute.objects.get(id=dispute.id).stripe_data["evidence"]["uncategorized_text"] == evidence


def test_accepting_a_dispute_closes_it_as_lost(delivering: Any, gateway: StripeGateway, stripe_client: Any) -> None:
    intent = pay(gateway, "pi-accept", "pm_card_createDispute", amount_minor=7500)
    dispute = dispute_for(stripe_client, intent.latest_charge)
    assert gateway.close_dispute(dispute.id, idempotency_key="close-accept").status == "lost"
    settled(delivering)
    assert djstripe_models.Dispute.objects.get(id=dispute.id).stripe_data["status"] == "lost"


def test_customers_payment_methods_setup_intents_products_and_prices_are_mirrored(
    delivering: Any, gateway: StripeGateway
) -> None:
    customer = gateway.create_customer(idempotency_key="cus-setup", email="setup@example.com")
    setup = gateway.create_setup_intent(
        idempotency_key="seti-1", customer_id=customer.id, payment_method_id="pm_card_visa", confirm=True
    )
    assert setup.status == "succeeded"
    product = gateway.create_product(idempotency_key="prod-kayak", name="Harbour kayak tour")
    price = gateway.create_price(
        idempotency_key="price-kayak", product_id=product.id, unit_amount_minor=6500, currency="cad"
    )
    settled(delivering)
    assert djstripe_models.SetupIntent.objects.get(id=setup.id).stripe_data["status"] == "succeeded"
    method = djstripe_models.PaymentMethod.objects.get(id=setup.payment_method)
    assert method.customer_id == customer.id
    assert method.stripe_data["card"]["last4"] == "4242"
    assert djstripe_models.Product.objects.get(id=product.id).stripe_data["name"] == "Harbour kayak tour"
    mirrored_price = djstripe_models.Price.objects.get(id=price.id)
    assert (mirrored_price.stripe_data["unit_amount"], mirrored_price.product_id) == (6500, product.id)


def test_a_delivery_our_inbox_refused_is_retried_and_processed_once(
    live_server: Any,
    inbox_dispatcher: None,
    received: Received,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Retries 0.2 s, 0.4 s, 0.8 s … apart: time to put the secret back in between.
    with StripeSimulator(tmp_path / "slow.sqlite3", port=0, webhook_backoff_base=0.2, webhook_max_attempts=6) as sim:
        monkeypatch.setattr(stripe, "api_base", sim.url)
        settings.STRIPE_API_BASE = sim.url
        settings.STRIPE_SECRET_KEY = settings.STRIPE_TEST_SECRET_KEY = TEST_API_KEY
        # With no secret configured the inbox refuses every Stripe delivery (503).
        settings.STRIPE_WEBHOOK_SECRETS = []
        sim.configure_webhook(url=f"{live_server.url}/webhooks/stripe/", secret=TEST_SECRET)
        intent = stripe_gateway().create_payment_intent(
            idempotency_key="pi-retry",
            amount_minor=4900,
            currency="usd",
            payment_method_id="pm_card_visa",
            confirm=True,
        )
        # Wait for the refusal of the very event asserted on below: deliveries run in
        # parallel, so another event's 503 says nothing about this one's first attempt.
        assert wait_until(
            lambda: any(
                d["event_type"] == "payment_intent.succeeded" and d["status_code"] == 503
                for d in sim.webhook_deliveries()
            )
        )
        settings.STRIPE_WEBHOOK_SECRETS = [TEST_SECRET]
        settled(sim)
        event = InboundEvent.objects.get(event_type="payment_intent.succeeded")
        deliveries = [d for d in sim.webhook_deliveries() if d["event_id"] == event.event_id]
    assert event.status == EventStatus.PROCESSED
    assert [i for i, _ in received.of("payment_succeeded")] == [intent.id]
    statuses = [d["status_code"] for d in sorted(deliveries, key=lambda d: d["attempt"])]
    assert statuses[0] == 503
    assert statuses[-1] == 200


def test_the_payments_page_shows_the_mirror(delivering: Any, gateway: StripeGateway, client: Any, viewer: Any) -> None:
    paid = pay(gateway, "pi-page-paid", currency="cad", metadata={"checkfront_booking_id": "BKNG-PAGE"})
    with pytest.raises(CardDeclined) as caught:
        pay(gateway, "pi-page-declined", "pm_card_chargeDeclinedInsufficientFunds", amount_minor=5000)
    settled(delivering)
    client.force_login(viewer)
    page = client.get("/payments/").content.decode()
    assert paid.id in page and caught.value.payment_intent_id in page
    assert "BKNG-PAGE" in page and "129.00 CAD" in page
    assert "insufficient_funds" in page
    assert 'id="mirror-payment-intents">2<' in page
    only_failed = client.get("/payments/", {"status": "requires_payment_method"}, HTTP_HX_REQUEST="true")
    assert caught.value.payment_intent_id in only_failed.content.decode()
    assert paid.id not in only_failed.content.decode()
    assert b"<html" not in only_failed.content
    by_booking = client.get("/payments/", {"q": "bkng-page"}).content.decode()
    assert paid.id in by_booking and caught.value.payment_intent_id not in by_booking


def test_an_issuer_fraud_report_is_mirrored_and_sends_early_fraud_warning(
    delivering: Any, gateway: StripeGateway, received: Received
) -> None:
    intent = pay(gateway, "pi-efw", "pm_card_createIssuerFraudRecord", amount_minor=64000)
    settled(delivering)
    [(warning_id, mirrored)] = received.of("early_fraud_warning")
    assert mirrored == djstripe_models.EarlyFraudWarning.objects.get(id=warning_id)
    assert mirrored.stripe_data["charge"] == intent.latest_charge
    assert mirrored.stripe_data["fraud_type"]


def test_radar_risk_reaches_the_mirrored_charge(delivering: Any, gateway: StripeGateway) -> None:
    intent = pay(gateway, "pi-elevated", "pm_card_riskLevelElevated", amount_minor=9900)
    settled(delivering)
    outcome = djstripe_models.Charge.objects.get(id=intent.latest_charge).stripe_data["outcome"]
    assert outcome["risk_level"] == "elevated"
    assert 0 <= outcome["risk_score"] <= 100


def test_the_highest_risk_card_is_blocked_by_radar_and_mirrored_as_blocked(
    delivering: Any, gateway: StripeGateway, received: Received
) -> None:
    with pytest.raises(CardDeclined) as caught:
        pay(gateway, "pi-blocked", "pm_card_radarBlock", amount_minor=9900)
    assert caught.value.decline_code == "fraudulent"
    settled(delivering)
    outcome = djstripe_models.Charge.objects.get(id=caught.value.charge_id).stripe_data["outcome"]
    assert (outcome["type"], outcome["risk_level"]) == ("blocked", "highest")
    assert [i for i, _ in received.of("payment_failed")] == [caught.value.payment_intent_id]
