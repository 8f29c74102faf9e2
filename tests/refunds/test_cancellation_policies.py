"""Cancellation policies: which one covers a booking, the rules the database keeps, and editing them in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from bookings.models import Booking, BookingItem, Item
from refunds.models import CancellationPolicy, PolicyTier
from refunds.policies import policies_for, policy_in_force

pytestmark = pytest.mark.django_db


def booking(*lines: tuple[Item, int], currency: str = "cad") -> Booking:
    made = Booking.objects.create(
        checkfront_id=Booking.objects.count() + 1,
        code=f"B{Booking.objects.count() + 1}",
        status="STOP",
        currency=currency,
        total_minor=sum(t for _, t in lines),
    )
    for n, (item, total) in enumerate(lines):
        BookingItem.objects.create(booking=made, line_id=str(n), item=item, total_minor=total)
    return made


def item(name: str, category: str) -> Item:
    return Item.objects.create(checkfront_id=Item.objects.count() + 1, name=name, category=category)


def test_the_items_own_policy_wins_over_its_category_and_the_default() -> None:
    kayak, bike = item("Kayak tour", "Tours"), item("Bike rental", "Rentals")
    default = CancellationPolicy.objects.create(name="Default")
    tours = CancellationPolicy.objects.create(name="Tours", category="Tours")
    kayaks = CancellationPolicy.objects.create(name="Kayaks", item=kayak, currency="cad")
    assert policy_in_force(booking((kayak, 100))) == kayaks
    assert policy_in_force(booking((item("Walk", "Tours"), 100))) == tours
    assert policy_in_force(booking((bike, 100))) == default
    assert policy_in_force(booking((kayak, 100), currency="usd")) == tours, "a CAD policy does not cover USD"
    CancellationPolicy.objects.filter(pk=tours.pk).update(active=False)
    assert policy_in_force(booking((item("Walk 2", "Tours"), 100))) == default, "an inactive policy covers nothing"


def test_lines_under_different_policies_are_all_named_largest_first() -> None:
    kayak, bike = item("Kayak tour", "Tours"), item("Bike rental", "Rentals")
    tours = CancellationPolicy.objects.create(name="Tours", category="Tours")
    rentals = CancellationPolicy.objects.create(name="Rentals", category="Rentals")
    assert policies_for(booking((bike, 3_000), (kayak, 9_000))) == [(tours, 9_000), (rentals, 3_000)]
    assert policies_for(booking((item("Other", "Events"), 500))) == [(None, 500)]


def test_the_version_changes_with_the_terms_and_only_with_them() -> None:
    policy = CancellationPolicy.objects.create(name="Standard", currency="cad")
    PolicyTier.objects.create(policy=policy, min_days_before=30, refund_percent=100)
    first = policy.version()
    policy.name = "Standard terms"
    policy.save()
    assert policy.version() == first
    PolicyTier.objects.create(policy=policy, min_days_before=7, refund_percent=50)
    assert policy.version() != first and policy.version().startswith(f"policy-{policy.pk}@")


def test_amounts_need_a_currency_and_a_policy_covers_an_item_or_a_category() -> None:
    with pytest.raises(ValidationError, match="needs the currency"):
        CancellationPolicy(name="x", fee_minor=500).full_clean()
    with pytest.raises(ValidationError, match="three-letter"):
        CancellationPolicy(name="x", currency="dollars"[:3] + "1").full_clean()
    with transaction.atomic(), pytest.raises(IntegrityError):
        CancellationPolicy.objects.create(name="y", cap_minor=1_000)  # the database says the same
    with transaction.atomic(), pytest.raises(IntegrityError):
        PolicyTier.objects.create(
            policy=CancellationPolicy.objects.create(name="z"), min_days_before=1, refund_percent=101
        )


def test_an_admin_edits_a_policy_with_its_tiers_and_history_keeps_who(
    client: Client, admin_user_in_group: User
) -> None:
    client.force_login(admin_user_in_group)
    form = {
        "name": "Tours",
        "item": "",
        "category": "Tours",
        "currency": "cad",
        "fee_minor": "1000",
        "deposit_percent": "10",
        "deposit_minor": "0",
        "cap_minor": "",
        "active": "on",
        "tiers-TOTAL_FORMS": "2",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
        "tiers-0-min_days_before": "30",
        "tiers-0-refund_percent": "100",
        "tiers-1-min_days_before": "7",
        "tiers-1-refund_percent": "50",
    }
    response = client.post("/admin/refunds/cancellationpolicy/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = CancellationPolicy.objects.get(name="Tours")
    assert policy.terms()["tiers"] == [[30, 100], [7, 50]]
    assert policy.history.get().history_user == admin_user_in_group
    assert "Cancelled 30 days or more before the start: 100 % refunded." in policy.in_words()
    bad = client.post(
        "/admin/refunds/cancellationpolicy/add/", {**form, "name": "Bad", "currency": "", "cap_minor": "5"}
    )
    assert bad.status_code == 200 and "needs the currency" in bad.content.decode()
    assert not CancellationPolicy.objects.filter(name="Bad").exists()


def test_reviewers_read_policies_but_cannot_change_them(client: Client, reviewer: User) -> None:
    reviewer.is_staff = True
    reviewer.save()
    client.force_login(reviewer)
    assert client.get("/admin/refunds/cancellationpolicy/").status_code == 200
    assert client.get("/admin/refunds/cancellationpolicy/add/").status_code == 403
