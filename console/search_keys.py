"""What the queue's search finds an item by: its booking code, its customer's email, its Stripe ids."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from bookings.models import Booking
from dunning.models import RecoveryCase
from payops.models import ReviewItem, ReviewSearchKey

MAX_KEY = 255


def keys_for(item: ReviewItem) -> set[str]:
    values = {item.booking_id, *(str(i) for i in item.decision.stripe_ids or [])}
    if item.booking_id:
        email = Booking.objects.filter(code=item.booking_id).values_list("customer_email", flat=True).first()
        # A booking not mirrored yet: a recovery case knows the customer from Stripe.
        email = (
            email
            or RecoveryCase.objects.filter(booking_code=item.booking_id)
            .values_list("customer_email", flat=True)
            .first()
        )
        values.add(email or "")
    return {v.strip().lower() for v in values if v and v.strip() and len(v.strip()) <= MAX_KEY}


def index_item(item: ReviewItem) -> None:
    ReviewSearchKey.objects.bulk_create(
        [ReviewSearchKey(item=item, value=v) for v in sorted(keys_for(item))], ignore_conflicts=True
    )


def on_review_item_saved(sender: Any, instance: ReviewItem, created: bool, raw: bool = False, **kwargs: Any) -> None:
    # Keys are written with the item, in its transaction: a queued item is always findable.
    if created and not raw:
        index_item(instance)


def connect() -> None:
    post_save.connect(on_review_item_saved, sender=ReviewItem, dispatch_uid="console.search_keys")
