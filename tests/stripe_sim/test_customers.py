"""Customers: the fields Stripe returns, updates with events, deletion, list filters, search, payment methods."""

from __future__ import annotations

import pytest
import stripe

from payops.stripe_sim import StripeSimulator


def test_create_returns_stripes_shape(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create(
        {"email": "ann@example.com", "name": "Ann Lee", "phone": "+15555550100", "metadata": {"booking": "B1"}}
    )
    assert customer.id.startswith("cus_")
    assert customer.livemode is False
    assert (customer.email, customer.name, customer.phone) == ("ann@example.com", "Ann Lee", "+15555550100")
    assert customer.metadata.to_dict() == {"booking": "B1"}
    assert customer.invoice_settings.default_payment_method is None
    assert customer.balance == 0 and customer.delinquent is False


def test_invalid_email_is_refused(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.customers.create({"email": "nope"})
    assert (caught.value.code, caught.value.param) == ("email_invalid", "email")


def test_update_emits_customer_updated_with_previous_attributes(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create({"email": "old@example.com"})
    stripe_client.v1.customers.update(customer.id, {"email": "new@example.com"})
    event = stripe_client.v1.events.list({"type": "customer.updated"}).data[0]
    assert event.data.object["email"] == "new@example.com"
    assert event.data.previous_attributes.to_dict() == {"email": "old@example.com"}  # type: ignore[union-attr]


def test_default_payment_method_must_be_attached(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    loose = stripe_client.v1.payment_methods.retrieve("pm_card_visa")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": loose.id}})
    assert caught.value.param == "invoice_settings[default_payment_method]"
    stripe_client.v1.payment_methods.attach(loose.id, {"customer": customer.id})
    updated = stripe_client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": loose.id}})
    assert updated.invoice_settings.default_payment_method == loose.id
    expanded = stripe_client.v1.customers.retrieve(customer.id, {"expand": ["invoice_settings.default_payment_method"]})
    assert expanded.invoice_settings.default_payment_method.card.last4 == "4242"  # type: ignore[union-attr]


def test_create_with_payment_method_attaches_it(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create({"payment_method": "pm_card_mastercard"})
    methods = stripe_client.v1.customers.payment_methods.list(customer.id).data
    assert [m.card.brand for m in methods] == ["mastercard"]  # type: ignore[union-attr]


def test_delete_leaves_a_deleted_stub(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    deleted = stripe_client.v1.customers.delete(customer.id)
    assert deleted.deleted is True
    assert stripe_client.v1.customers.retrieve(customer.id).to_dict() == {
        "id": customer.id,
        "object": "customer",
        "deleted": True,
    }
    assert customer.id not in [c.id for c in stripe_client.v1.customers.list().data]
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.customers.update(customer.id, {"name": "Ghost"})


def test_list_by_email_newest_first_with_cursor(stripe_client: stripe.StripeClient) -> None:
    ids = [stripe_client.v1.customers.create({"email": "same@example.com"}).id for _ in range(3)]
    stripe_client.v1.customers.create({"email": "other@example.com"})
    first = stripe_client.v1.customers.list({"email": "same@example.com", "limit": 2})
    assert [c.id for c in first.data] == [ids[2], ids[1]]
    assert first.has_more is True
    rest = stripe_client.v1.customers.list({"email": "same@example.com", "limit": 2, "starting_after": ids[1]})
    assert [c.id for c in rest.data] == [ids[0]] and rest.has_more is False
    before = stripe_client.v1.customers.list({"email": "same@example.com", "ending_before": ids[0], "limit": 1})
    assert [c.id for c in before.data] == [ids[1]]


def test_created_range_filter(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    old = stripe_client.v1.customers.create()
    stripe_sim.advance_clock(3600)
    new = stripe_client.v1.customers.create()
    found = stripe_client.v1.customers.list({"created": {"gte": new.created}}).data
    assert [c.id for c in found] == [new.id]
    assert old.id in [c.id for c in stripe_client.v1.customers.list({"created": {"lt": new.created}}).data]


def test_search_by_email_and_metadata(stripe_client: stripe.StripeClient) -> None:
    wanted = stripe_client.v1.customers.create({"email": "s@example.com", "metadata": {"booking": "B7"}})
    stripe_client.v1.customers.create({"email": "s@example.com", "metadata": {"booking": "B8"}})
    by_email = stripe_client.v1.customers.search({"query": "email:'s@example.com'"})
    assert len(by_email.data) == 2 and by_email.object == "search_result"
    both = stripe_client.v1.customers.search({"query": "email:'s@example.com' AND metadata['booking']:'B7'"})
    assert [c.id for c in both.data] == [wanted.id]
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.customers.search({"query": "bogus query"})


def test_create_with_payment_method_as_default(stripe_client: stripe.StripeClient) -> None:
    method = stripe_client.v1.payment_methods.retrieve("pm_card_visa")
    customer = stripe_client.v1.customers.create(
        {"payment_method": method.id, "invoice_settings": {"default_payment_method": method.id}}
    )
    assert customer.invoice_settings.default_payment_method == method.id
    created = stripe_client.v1.events.list({"type": "customer.created"}).data[0]
    assert created.data.object["invoice_settings"]["default_payment_method"] == method.id
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.customers.create({"invoice_settings": {"default_payment_method": method.id}})
