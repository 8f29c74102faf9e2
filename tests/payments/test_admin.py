"""Collections are visible in the admin and cannot be changed there."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import Mode
from payments.collection import propose_collection
from payments.models import PaymentCollection
from tests.payments.conftest import set_payments_policy
from tests.payments.test_collection_rules import booking

pytestmark = pytest.mark.django_db


def test_collections_are_read_only_in_the_admin(admin_client: Client) -> None:
    set_payments_policy(Mode.SUGGEST)
    decision = propose_collection(booking=booking())
    assert decision is not None
    collection = PaymentCollection.objects.create(
        booking_code="KMVQ-060314", amount_minor=4830, currency="cad", decision=decision, payment_intent_id="pi_1"
    )
    listing = admin_client.get("/admin/payments/paymentcollection/")
    assert listing.status_code == 200 and "KMVQ-060314" in listing.content.decode()
    assert admin_client.get("/admin/payments/paymentcollection/add/").status_code == 403
    detail = admin_client.get(f"/admin/payments/paymentcollection/{collection.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
