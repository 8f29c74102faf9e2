"""Watching Stripe events flow from the stand-in through the inbox: what the signals said, and waiting for quiet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from payops.models import EventStatus, InboundEvent
from payops.stripe_gateway import StripeGateway
from tests.polling import wait_until

SIGNALS = (
    "payment_succeeded",
    "payment_failed",
    "payment_authorized",
    "payment_captured",
    "payment_canceled",
    "payment_refunded",
    "dispute_opened",
    "dispute_closed",
    "early_fraud_warning",
)


@dataclass(frozen=True)
class Sent:
    signal: str
    object_id: str
    mirrored: Any
    stale: bool


@dataclass
class Received:
    """Every send of the domain signals, in order."""

    calls: list[Sent] = field(default_factory=list)

    def of(self, name: str) -> list[tuple[str, Any]]:
        return [(sent.object_id, sent.mirrored) for sent in self.calls if sent.signal == name]


def settled(sim: Any) -> None:
    """Every delivery made and every stored event finished processing, none failed."""
    assert sim.wait_for_webhooks(timeout=20)
    finished = {EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.FAILED}
    assert wait_until(lambda: not InboundEvent.objects.exclude(status__in=finished).exists(), timeout=20)
    failed = list(InboundEvent.objects.filter(status=EventStatus.FAILED).values_list("event_type", "last_error"))
    assert failed == []


def pay(
    gateway: StripeGateway,
    key: str,
    pm: str = "pm_card_visa",
    *,
    amount_minor: int = 12900,
    currency: str = "usd",
    **extra: Any,
) -> Any:
    """A card payment confirmed at once, as a customer on the pay page makes it."""
    return gateway.create_payment_intent(
        idempotency_key=key, amount_minor=amount_minor, currency=currency, payment_method_id=pm, confirm=True, **extra
    )
