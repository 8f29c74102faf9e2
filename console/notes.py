"""The executor that writes a reviewer's answer, comment or assignment on the Checkfront booking, once."""

from __future__ import annotations

from typing import Any

from audit.models import Decision
from bookings.notes import note_for_decision
from payops.executors import executes
from payops.review import NOTE


@executes(NOTE)
def note_on_booking(decision: Decision) -> dict[str, Any]:
    body = str(decision.params.get("body", ""))
    # Its own id, not the shared idempotency key: an item's notes are many, each written once.
    key = f"payops-review-note-{decision.pk}"
    written = note_for_decision(booking_code=decision.booking_id, key=key, body=body)
    return {"noted": decision.booking_id, "written_now": written}
