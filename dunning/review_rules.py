"""What a reviewer may change on a dunning proposal before approving it, and what an approval waits for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

# A retry moved further than this is a new plan, not a change: reject it and let recovery plan again.
LATEST_RETRY = timedelta(days=30)


def retry_time(value: object) -> str:
    """A reviewer's new retry time: an ISO 8601 time with its zone, from now to 30 days ahead."""
    at = parse_datetime(str(value)) if isinstance(value, str) else None
    if at is None or at.tzinfo is None:
        raise ValueError(f"{value!r} is not a date and time with a time zone")
    now = timezone.now()
    if at < now - timedelta(minutes=5):  # a few minutes back is "now", typed a moment ago
        raise ValueError("the retry time has passed: choose a time from now on")
    if at > now + LATEST_RETRY:
        raise ValueError("a retry more than 30 days ahead is a new plan: reject this one instead")
    return at.isoformat()


def retry_fits_the_case(item: Any, changes: Mapping[str, Any]) -> None:
    """A moved retry stays where the planner keeps retries: before the hold ends and before the activity starts."""
    from dunning.models import RecoveryCase

    at = parse_datetime(str(changes.get("retry_at") or ""))
    case = RecoveryCase.objects.filter(pk=item.params.get("case_id")).first()
    if at is None or case is None:
        return
    for limit, what in ((case.hold_until, "the booking's hold ends"), (case.service_start_at, "the activity starts")):
        if limit is not None and at >= limit:
            raise ValueError(f"the retry must come before {what} ({timezone.localtime(limit):%d %b %H:%M %Z})")
