"""The PaymentIntent state machine: confirm, declines, 3D Secure, manual capture, cancel, expiry, updates."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from payops.stripe_sim import StripeSimulator

CARD_ONLY: dict[str, Any] = {"amount": 5000, "currency": "usd", "payment_method_types": ["card"]}


def create(client: stripe.StripeClient, **params: Any) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create({**CARD_ONLY, **params})


def test_statuses_before_confirmation(stripe_client: stripe.StripeClient) -> None:
    bare = create(stripe_client)
    assert bare.status == "requires_payment_method"
    assert bare.client_secret is not None and bare.client_secret.startswith(f"{bare.id}_secret_")
    assert (bare.amount_received, bare.amount_capturable, bare.latest_charge) == (0, 0, None)
    assert bare.capture_method == "automatic_async"
    with_method = create(stripe_client, payment_method="pm_card_visa")
    assert with_method.status == "requires_confirmation"


def test_confirm_succeeds_and_links_the_charge(stripe_client: stripe.StripeClient) -> None:
    intent = create(stripe_client, payment_method="pm_card_visa", description="Kayak tour", metadata={"booking": "B1"})
    confirmed = stripe_client.v1.payment_intents.confirm(intent.id)
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 5000
    charge = stripe_client.v1.charges.retrieve(str(confirmed.latest_charge))
    assert (charge.captured, charge.amount_captured, charge.paid, charge.status) == (True, 5000, True, "succeeded")
    assert charge.payment_intent == intent.id and charge.description == "Kayak tour"
    assert charge.metadata.to_dict() == {"booking": "B1"}
    assert charge.balance_transaction is not None and charge.receipt_url


def test_confirming_again_is_refused(stripe_client: stripe.StripeClient) -> None:
    intent = create(stripe_client, payment_method="pm_card_visa", confirm=True)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_intents.confirm(intent.id)
    assert caught.value.code == "payment_intent_unexpected_state"
    assert "status of succeeded" in str(caught.value.user_message)


def test_confirm_without_a_payment_method_is_refused(stripe_client: stripe.StripeClient) -> None:
    intent = create(stripe_client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_intents.confirm(intent.id)
    assert "missing a payment method" in str(caught.value.user_message)


def test_decline_leaves_the_intent_retryable(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    with pytest.raises(stripe.CardError) as caught:
        create(
            stripe_client,
            customer=customer.id,
            payment_method="pm_card_visa_chargeDeclinedInsufficientFunds",
            confirm=True,
        )
    intent = caught.value.error.payment_intent  # type: ignore[union-attr]
    assert intent is not None
    stored = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert stored.status == "requires_payment_method"
    assert stored.payment_method is None
    error = stored.last_payment_error
    assert error is not None
    assert (error.code, error.decline_code, error.type) == ("card_declined", "insufficient_funds", "card_error")
    assert error.charge == stored.latest_charge and error.payment_method is not None
    retried = stripe_client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert retried.status == "succeeded" and retried.last_payment_error is None
    assert len(stripe_client.v1.charges.list({"payment_intent": intent.id}).data) == 2


def test_manual_capture_partial_capture(stripe_client: stripe.StripeClient) -> None:
    intent = create(stripe_client, payment_method="pm_card_visa", capture_method="manual", confirm=True)
    assert (intent.status, intent.amount_capturable, intent.amount_received) == ("requires_capture", 5000, 0)
    charge = stripe_client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.captured, charge.balance_transaction, charge.status) == (False, None, "succeeded")
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        stripe_client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 5001})
    assert too_much.value.param == "amount_to_capture"
    captured = stripe_client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 3000})
    assert (captured.status, captured.amount_received, captured.amount_capturable) == ("succeeded", 3000, 0)
    charge = stripe_client.v1.charges.retrieve(str(intent.latest_charge), {"expand": ["balance_transaction"]})
    assert (charge.captured, charge.amount_captured) == (True, 3000)
    assert charge.balance_transaction.amount == 3000  # type: ignore[union-attr]
    with pytest.raises(stripe.InvalidRequestError) as twice:
        stripe_client.v1.payment_intents.capture(intent.id)
    assert twice.value.code == "payment_intent_unexpected_state"


def test_capture_of_an_automatic_payment_is_refused(stripe_client: stripe.StripeClient) -> None:
    intent = create(stripe_client, payment_method="pm_card_visa")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_intents.capture(intent.id)
    assert caught.value.code == "payment_intent_unexpected_state"


def test_cancel_an_authorization_releases_it(stripe_client: stripe.StripeClient) -> None:
    intent = create(stripe_client, payment_method="pm_card_visa", capture_method="manual", confirm=True)
    canceled = stripe_client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "requested_by_customer"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "requested_by_customer")
    assert canceled.canceled_at is not None and canceled.amount_capturable == 0
    charge = stripe_client.v1.charges.retrieve(str(intent.latest_charge))
    assert charge.refunded is True and charge.amount_refunded == 5000


def test_cancel_after_success_is_refused(stripe_client: stripe.StripeClient) -> None:
    intent = create(stripe_client, payment_method="pm_card_visa", confirm=True)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_intents.cancel(intent.id)
    assert caught.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "bored"})  # type: ignore[typeddict-item]


def test_uncaptured_authorization_expires_after_seven_days(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    intent = create(stripe_client, payment_method="pm_card_visa", capture_method="manual", confirm=True)
    stripe_sim.advance_clock(6 * 86_400)
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "requires_capture"
    stripe_sim.advance_clock(86_400)
    expired = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert (expired.status, expired.cancellation_reason) == ("canceled", "automatic")
    types = [e.type for e in stripe_client.v1.events.list({"limit": 3}).data]
    assert types[:2] == ["payment_intent.canceled", "charge.expired"]


def test_3ds_on_session_requires_action_then_succeeds(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    intent = create(stripe_client, payment_method="pm_card_authenticationRequired", confirm=True)
    assert intent.status == "requires_action"
    assert intent.next_action is not None and intent.next_action.type == "use_stripe_sdk"
    done = stripe_sim.authenticate_payment_intent(intent.id)
    assert done["status"] == "succeeded"
    charge = stripe_client.v1.charges.retrieve(done["latest_charge"])
    assert charge.payment_method_details.card.three_d_secure.result == "authenticated"  # type: ignore[union-attr]


def test_3ds_failure_returns_to_requires_payment_method(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    intent = create(
        stripe_client,
        payment_method="pm_card_threeDSecure2Required",
        confirm=True,
        return_url="https://example.com/back",
    )
    assert intent.next_action is not None and intent.next_action.type == "redirect_to_url"
    failed = stripe_sim.authenticate_payment_intent(intent.id, success=False)
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"


def test_3ds_card_off_session_fails_authentication_required(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create({"payment_method": "pm_card_authenticationRequired"})
    method = stripe_client.v1.customers.payment_methods.list(customer.id).data[0]
    with pytest.raises(stripe.CardError) as caught:
        create(stripe_client, customer=customer.id, payment_method=method.id, off_session=True, confirm=True)
    assert caught.value.code == "authentication_required"
    assert caught.value.error is not None and caught.value.error.decline_code == "authentication_required"
    assert caught.value.error.payment_intent.status == "requires_payment_method"  # type: ignore[union-attr]


def test_off_session_needs_confirm(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create(stripe_client, payment_method="pm_card_visa", off_session=True)
    assert caught.value.param == "off_session"


def test_automatic_payment_methods_need_a_return_url_to_confirm(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create(
        {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa"}
    )
    assert intent.automatic_payment_methods is not None and intent.automatic_payment_methods.enabled is True
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_intents.confirm(intent.id)
    assert caught.value.param == "return_url"
    no_redirects = stripe_client.v1.payment_intents.create(
        {
            "amount": 5000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
    )
    assert no_redirects.status == "succeeded"


def test_one_time_payment_method_cannot_be_reused(stripe_client: stripe.StripeClient) -> None:
    first = create(stripe_client, payment_method="pm_card_visa", confirm=True)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create(stripe_client, payment_method=str(first.payment_method), confirm=True)
    assert "may not be used again" in str(caught.value.user_message)


def test_setup_future_usage_attaches_to_the_customer(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    intent = create(
        stripe_client,
        customer=customer.id,
        payment_method="pm_card_visa",
        setup_future_usage="off_session",
        confirm=True,
    )
    method = stripe_client.v1.payment_methods.retrieve(str(intent.payment_method))
    assert method.customer == customer.id
    again = create(stripe_client, customer=customer.id, payment_method=method.id, off_session=True, confirm=True)
    assert again.status == "succeeded"


def test_update_amount_only_before_payment(stripe_client: stripe.StripeClient) -> None:
    intent = create(stripe_client)
    updated = stripe_client.v1.payment_intents.update(intent.id, {"amount": 7000, "metadata": {"k": "v"}})
    assert updated.amount == 7000 and updated.metadata.to_dict() == {"k": "v"}
    paid = stripe_client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert paid.amount_received == 7000
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_intents.update(intent.id, {"amount": 100})
    assert caught.value.code == "payment_intent_unexpected_state"
    described = stripe_client.v1.payment_intents.update(intent.id, {"description": "after the fact"})
    assert described.description == "after the fact"


def test_statement_descriptor_is_refused_for_cards(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create(stripe_client, statement_descriptor="PAYOPS TOURS")
    assert caught.value.param == "statement_descriptor"
    assert create(stripe_client, statement_descriptor_suffix="KAYAK").statement_descriptor_suffix == "KAYAK"


def test_expand_latest_charge_and_customer(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create({"email": "x@example.com"})
    intent = create(stripe_client, customer=customer.id, payment_method="pm_card_visa", confirm=True)
    expanded = stripe_client.v1.payment_intents.retrieve(
        intent.id, {"expand": ["customer", "latest_charge.balance_transaction", "payment_method"]}
    )
    assert expanded.customer.email == "x@example.com"  # type: ignore[union-attr]
    assert expanded.latest_charge.balance_transaction.fee == 175  # type: ignore[union-attr]
    assert expanded.payment_method.card.last4 == "4242"  # type: ignore[union-attr]
    listed = stripe_client.v1.payment_intents.list({"customer": customer.id, "expand": ["data.latest_charge"]})
    assert listed.data[0].latest_charge.id == intent.latest_charge  # type: ignore[union-attr]


def test_unknown_customer_is_refused(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create(stripe_client, customer="cus_missing")
    assert (caught.value.http_status, caught.value.param) == (404, "customer")
