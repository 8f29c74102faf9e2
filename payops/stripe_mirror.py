"""Feeding dj-stripe, our mirror of Stripe, from verified events the inbox stored.

dj-stripe's own webhook view is not used: the inbox verifies and stores, and
this hands the stored event to dj-stripe as its view would. dj-stripe then
re-retrieves the object from the API (events can arrive late or out of
order; the API has the current state) and syncs it. The few object types
dj-stripe records events for but never syncs (refunds, early fraud
warnings) are synced here the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from djstripe import models as djstripe_models
from djstripe.models.base import StripeModel

logger = logging.getLogger(__name__)

# Objects whose events dj-stripe stores without syncing the object.
_SYNCED_HERE: dict[str, type[StripeModel]] = {
    "refund": djstripe_models.Refund,
    "radar.early_fraud_warning": djstripe_models.EarlyFraudWarning,
}
# The object type dj-stripe syncs for each event category it handles.
_MODEL_FOR_OBJECT: dict[str, type[StripeModel]] = {
    "charge": djstripe_models.Charge,
    "customer": djstripe_models.Customer,
    "dispute": djstripe_models.Dispute,
    "payment_intent": djstripe_models.PaymentIntent,
    "payment_method": djstripe_models.PaymentMethod,
    "price": djstripe_models.Price,
    "product": djstripe_models.Product,
    "setup_intent": djstripe_models.SetupIntent,
    **_SYNCED_HERE,
}


def mirror_event(payload: dict[str, Any]) -> StripeModel | None:
    """Store the event in dj-stripe and sync its object. Returns the synced row, if the object is one we mirror.

    Safe to run again for the same event (a replay): the Event row is updated
    and the object re-synced from the API.
    """
    event = djstripe_models.Event.sync_from_stripe_data(payload)
    # dj-stripe's handlers (receivers of its per-type signals) re-retrieve and sync.
    event.invoke_webhook_handlers()
    obj = payload.get("data", {}).get("object", {})
    object_type, object_id = obj.get("object", ""), obj.get("id", "")
    model = _MODEL_FOR_OBJECT.get(object_type)
    if model is None or not object_id:
        return None
    if object_type in _SYNCED_HERE:
        fresh = model(id=object_id).api_retrieve(api_key=event.default_api_key)
        return model.sync_from_stripe_data(fresh, api_key=event.default_api_key)
    return model.objects.filter(id=object_id).first()
