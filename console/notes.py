"""The executor that writes a reviewer's answer, comment or assignment on the Checkfront booking, once."""

from __future__ import annotations

from typing import Any

from audit.models import Decision
from bookings.checkfront_client import CheckfrontClient, CheckfrontError, CheckfrontUnavailable
from bookings.notes import write_note_once
from payops.executors import ExecutionError, executes
from payops.review import NOTE


@executes(NOTE)
def note_on_booking(decision: Decision) -> dict[str, Any]:
    body = str(decision.params.get("body", ""))
    # Its own id, not the shared idempotency key: an item's notes are many, each written once.
    key = f"payops-review-note-{decision.pk}"
    try:
        written = write_note_once(client=CheckfrontClient(), booking_code=decision.booking_id, key=key, body=body)
    except CheckfrontUnavailable as exc:
        raise ExecutionError(f"Checkfront unavailable: {exc}", retryable=True) from exc
    except CheckfrontError as exc:
        raise ExecutionError(f"Checkfront refused the note: {exc}") from exc
    return {"noted": decision.booking_id, "written_now": written}
