"""What happens when nobody answers a fraud review in time.

An authorization lasts about seven days. Left alone it lapses: the customer's
money is released, the booking stays on HOLD in Checkfront and keeps its
places. So each open review has a documented default, carried out by the
system (a child Decision, no person) when its time comes:

- a capture (elevated, or low in suggest mode): when its review window has
  closed with nothing new, capture it: "capture automatically when the
  window closes clean";
- a held booking whose payment is still only authorized: by the review's
  due time (`capture_before` − `capture_margin_hours`), cancel it (release the
  authorization, cancel the booking, free its places). The safe side of a
  high score; no fraud label, since no person judged it.

A held booking whose money was already taken has no deadline: it waits.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from fraud import workflow
from payops import review
from payops.models import ReviewItem, ReviewKind, ReviewStatus

logger = logging.getLogger(__name__)


def settle_unanswered(*, now: datetime | None = None) -> int:
    """Carry out the default of every fraud review whose time has come; returns how many."""
    now = now or timezone.now()
    open_items = ReviewItem.objects.filter(kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN)
    window_closed = open_items.filter(action=workflow.CAPTURE).filter(
        Q(decision__next_attempt_at__isnull=True) | Q(decision__next_attempt_at__lte=now)
    )
    lapsing = open_items.filter(action=workflow.RELEASE, due_by__lte=now)
    done = 0
    for item_id in window_closed.values_list("pk", flat=True):
        reason = "the review window closed with nothing new: captured as the fraud policy says"
        done += review.act_when_unanswered(item_id, action=workflow.CAPTURE, reason=reason) is not None
    for item_id in lapsing.values_list("pk", flat=True):
        reason = "nobody decided before the authorization would lapse: released it and cancelled the booking"
        done += review.act_when_unanswered(item_id, action=workflow.CANCEL, reason=reason) is not None
    if done:
        logger.info("settled %s unanswered fraud reviews", done)
    return done
