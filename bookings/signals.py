"""Domain signals the mirror sends when a booking changes in ways workflows care about.

Each is sent once per real change, inside the transaction that recorded it,
with `booking` (a bookings.Booking). Receivers must not do network I/O:
they record decisions, whose execution is queued on commit.
"""

from django.dispatch import Signal

booking_created = Signal()
booking_became_payable = Signal()
booking_cancelled = Signal()
# Also sends `changed_fields`: the names of the mirror fields that changed.
booking_changed = Signal()
