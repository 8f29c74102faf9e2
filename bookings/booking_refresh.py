"""Re-reading one booking from Checkfront into the mirror (the API is the truth, webhooks are hints)."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging

from bookings.checkfront_client import CheckfrontClient, CheckfrontNotFound
from bookings.checkfront_payloads import BookingData, booking_from_detail, transaction_from_payload
from bookings.mirror import MirrorResult, upsert_booking_detail, upsert_transaction
from bookings.models import Transaction

logger = logging.getLogger(__name__)


def read_booking(client: CheckfrontClient, code: str) -> BookingData:
    """`GET booking/{code}` as a BookingData; the account currency stands in where the detail has none."""
    return booking_from_detail(client.booking(code), account_currency=client.locale_currency or "usd")


def refresh_booking(code: str, *, client: CheckfrontClient | None = None, hint_ip: str = "") -> MirrorResult | None:
    """Fetch the booking's detail and mirror it. None if Checkfront no longer has it.

    Network I/O happens before the mirror's transaction opens. Checkfront
    being down raises CheckfrontUnavailable, and the caller retries later.
    """
    client = client or CheckfrontClient()
    try:
        data = read_booking(client, code)
    except CheckfrontNotFound:
        logger.warning("Checkfront has no booking %s; mirror left as it is", code)
        return None
    if data.source_ip is None and hint_ip:
        # The detail may lack the IP the booking webhook carried.
        try:
            data = dataclasses.replace(data, source_ip=str(ipaddress.ip_address(hint_ip)))
        except ValueError:
            pass
    return upsert_booking_detail(data)


def record_transaction(payload: dict[str, object], *, client: CheckfrontClient | None = None) -> Transaction | None:
    """Mirror a payment or refund and the booking it changed."""
    code = str(payload.get("booking_id") or "")
    result = refresh_booking(code, client=client)
    if result is None:
        return None
    transaction, _ = upsert_transaction(transaction_from_payload(payload, currency=result.booking.currency))
    return transaction
