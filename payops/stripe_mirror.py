"""Feeding dj-stripe, our mirror of Stripe, from verified events the inbox stored.

dj-stripe provides the models and the sync from Stripe data; the fetching is
ours. For each event the object is re-read from the API (events arrive late
or out of order; the API has the current state) and synced. Three rules:

- No transaction is open during a network call: on SQLite a transaction
  holds the whole database's write lock, on PostgreSQL a connection. Related
  objects the mirror lacks are synced before the guarded write (dj-stripe
  would fetch them inside it); only dj-stripe's one-time lookup of the API
  key's own account still runs inside its own transaction.
- The latest fetch wins: a copy fetched earlier than the one already stored
  is dropped (StripeMirrorFetch), whatever order two workers finish in.
- Nothing here writes to Stripe. dj-stripe's own handler for
  customer.deleted would DELETE the customer again; a deleted customer is
  marked purged from the event instead.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from django.db import transaction
from django.utils import timezone
from djstripe import models as djstripe_models
from djstripe.models.base import StripeModel

from payops.models import StripeMirrorFetch
from payops.stripe_payloads import event_object

logger = logging.getLogger(__name__)

# The dj-stripe model for each Stripe object type PayOps mirrors.
MODEL_FOR_OBJECT: dict[str, type[StripeModel]] = {
    "charge": djstripe_models.Charge,
    "customer": djstripe_models.Customer,
    "dispute": djstripe_models.Dispute,
    "payment_intent": djstripe_models.PaymentIntent,
    "payment_method": djstripe_models.PaymentMethod,
    "price": djstripe_models.Price,
    "product": djstripe_models.Product,
    "refund": djstripe_models.Refund,
    "radar.early_fraud_warning": djstripe_models.EarlyFraudWarning,
    "setup_intent": djstripe_models.SetupIntent,
}


def mirror_event(payload: dict[str, Any]) -> StripeModel | None:
    """Record the event in dj-stripe and bring its object up to date. Returns the mirrored row, if any.

    Safe to run again for the same event (a replay, a retry): the Event row is
    updated and the object fetched again.
    """
    event = djstripe_models.Event.sync_from_stripe_data(payload)
    obj = event_object(payload)
    model = MODEL_FOR_OBJECT.get(str(obj.get("object", "")))
    object_id = str(obj.get("id", ""))
    if model is None or not object_id:
        return None
    if payload.get("type") == "customer.deleted":
        djstripe_models.Customer.objects.filter(id=object_id, date_purged__isnull=True).update(
            date_purged=timezone.now()
        )
        return djstripe_models.Customer.objects.filter(id=object_id).first()
    return fetch_and_sync(model, object_id, api_key=event.default_api_key)


def fetch_and_sync(model: type[StripeModel], object_id: str, *, api_key: str) -> StripeModel | None:
    """Read the object from the API and store it, unless a later read is already stored."""
    started = timezone.now()
    try:
        fresh = model(id=object_id).api_retrieve(api_key=api_key)
    except stripe.InvalidRequestError as exc:
        if exc.code != "resource_missing":
            raise
        # Deleted on Stripe's side since the event: keep what we have.
        logger.warning("Stripe %s %s no longer exists; mirror left as it was", model.__name__, object_id)
        return model.objects.filter(id=object_id).first()
    # dj-stripe fetches a related object it lacks while it syncs, and that
    # sync runs in the transaction below: bring those in first, outside it.
    _sync_missing_related(fresh, api_key=api_key)
    with transaction.atomic():
        fetch, created = StripeMirrorFetch.objects.select_for_update().get_or_create(
            object_id=object_id, defaults={"fetched_at": started}
        )
        if not created and fetch.fetched_at > started:
            logger.info("Stripe %s %s: a later copy is already mirrored", model.__name__, object_id)
            return model.objects.filter(id=object_id).first()
        fetch.fetched_at = started
        fetch.save(update_fields=["fetched_at"])
        return model.sync_from_stripe_data(fresh, api_key=api_key)


# Fields that name another object dj-stripe would fetch during the sync if the mirror lacks it.
_RELATED: dict[str, type[StripeModel]] = {
    "customer": djstripe_models.Customer,
    "payment_method": djstripe_models.PaymentMethod,
    "payment_intent": djstripe_models.PaymentIntent,
    "charge": djstripe_models.Charge,
    "balance_transaction": djstripe_models.BalanceTransaction,
}


def _sync_missing_related(fresh: Any, *, api_key: str) -> None:
    for field, model in _RELATED.items():
        value = fresh.get(field)
        related_id = value if isinstance(value, str) else (value.get("id") if hasattr(value, "get") else None)
        if not related_id or model.objects.filter(id=related_id).exists():
            continue
        data = model(id=related_id).api_retrieve(api_key=api_key) if isinstance(value, str) else value
        model.sync_from_stripe_data(data, api_key=api_key)
