"""Inbox handlers for Checkfront events: each refreshes the booking from the API."""

from __future__ import annotations

from bookings.booking_refresh import record_transaction, refresh_booking
from bookings.checkfront_webhooks import booking_code, booking_source_ip
from payops.event_handlers import handles
from payops.models import InboundEvent


@handles("checkfront", "booking.modified")
def on_booking_modified(event: InboundEvent) -> None:
    refresh_booking(booking_code(event.payload), hint_ip=booking_source_ip(event.payload))


@handles("checkfront", "transaction.insert", "transaction.update")
def on_transaction(event: InboundEvent) -> None:
    transaction = event.payload.get("transaction")
    if isinstance(transaction, dict):
        record_transaction(transaction)
