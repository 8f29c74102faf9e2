"""Domain signals for what happened to money in Stripe, sent once the mirror holds the change.

Each is sent by the inbox's Stripe handler inside the transaction that fed
dj-stripe, with:
- `event`: the payops.InboundEvent (its `event_id` is Stripe's `evt_…`),
- `stripe_object`: the event's `data.object` (the object as of the event),
- `mirrored`: the dj-stripe row as synced now (it may be newer than the event;
  an event whose object no longer exists at Stripe is not signalled),
- `stale`: True when the object's status has moved on since the event (Stripe
  does not promise order: a `payment_failed` processed after the retry
  succeeded arrives stale). Receivers act on `mirrored`, not on the event.

Receivers must not do network I/O: they record decisions, whose execution is
queued on commit. A replayed event sends its signal again, so receivers check
state first (STYLE.md, rule 6).
"""

from django.dispatch import Signal

# payment_intent.succeeded: the money is collected.
payment_succeeded = Signal()
# payment_intent.payment_failed: a confirm was declined; `stripe_object["last_payment_error"]` says why.
payment_failed = Signal()
# payment_intent.amount_capturable_updated: a manual-capture payment is authorized, waiting for capture.
payment_authorized = Signal()
# charge.captured: an authorization was captured (all of it or part).
payment_captured = Signal()
# payment_intent.canceled: the payment will never be collected; an authorization is released.
payment_canceled = Signal()
# charge.refunded: money went back (fully or partly); the charge carries amount_refunded.
payment_refunded = Signal()
# refund.created / refund.updated: one refund, with its reason and status.
refund_changed = Signal()
# charge.dispute.created / charge.dispute.closed (status won, lost or warning_closed).
dispute_opened = Signal()
dispute_closed = Signal()
# radar.early_fraud_warning.created: the issuer reported the charge as fraud.
early_fraud_warning = Signal()

SIGNAL_FOR_EVENT: dict[str, Signal] = {
    "payment_intent.succeeded": payment_succeeded,
    "payment_intent.payment_failed": payment_failed,
    "payment_intent.amount_capturable_updated": payment_authorized,
    "charge.captured": payment_captured,
    "payment_intent.canceled": payment_canceled,
    "charge.refunded": payment_refunded,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "charge.dispute.created": dispute_opened,
    "charge.dispute.closed": dispute_closed,
    "radar.early_fraud_warning.created": early_fraud_warning,
}
