"""Which cancellation policy covers a booking: the item's own, else its category's, else the default."""

from __future__ import annotations

from django.db.models import Q

from bookings.models import Booking, BookingItem
from refunds.models import CancellationPolicy


def _for_line(line: BookingItem, currency: str, active: list[CancellationPolicy]) -> CancellationPolicy | None:
    item = line.item
    category = item.category if item is not None else ""
    fits = [p for p in active if p.currency in ("", currency)]
    for narrower in (
        [p for p in fits if item is not None and p.item_id == item.pk],
        [p for p in fits if category and not p.item_id and p.category == category],
        [p for p in fits if not p.item_id and not p.category],
    ):
        if narrower:
            # One in the booking's own currency before one for any currency; then the oldest.
            return min(narrower, key=lambda p: (p.currency == "", p.pk))
    return None


def policies_for(booking: Booking) -> list[tuple[CancellationPolicy | None, int]]:
    """Each distinct policy over the booking's lines with the total of the lines it covers, largest first."""
    active = list(CancellationPolicy.objects.filter(active=True).filter(Q(currency="") | Q(currency=booking.currency)))
    lines = list(booking.items.select_related("item"))
    if not lines:
        default = _for_line(BookingItem(), booking.currency, active)
        return [(default, booking.total_minor)]
    totals: dict[int | None, tuple[CancellationPolicy | None, int]] = {}
    for line in lines:
        policy = _for_line(line, booking.currency, active)
        key = policy.pk if policy else None
        totals[key] = (policy, totals.get(key, (policy, 0))[1] + line.total_minor)
    return sorted(totals.values(), key=lambda pair: -pair[1])


def policy_in_force(booking: Booking) -> CancellationPolicy | None:
    """The policy covering most of the booking's value (all of it, unless its lines fall under different ones)."""
    return policies_for(booking)[0][0]
