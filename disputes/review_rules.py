"""What a reviewer may change on a dispute's evidence, and when an approval comes too late."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from disputes.card_numbers import contains_card_number
from disputes.evidence import MAX_FIELD_CHARS
from disputes.models import CaseStatus, DisputeCase
from payops.models import ReviewItem


def evidence_text(value: Any) -> str:
    """A reviewer's text for one evidence field: any text up to Stripe's limit; empty clears the field."""
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if contains_card_number(text):
        raise ValueError("holds what looks like a card number: PayOps never stores or sends one; remove it")
    if len(text) > MAX_FIELD_CHARS:
        raise ValueError(f"at most {MAX_FIELD_CHARS:,} characters (this is {len(text):,})")
    return text


def still_answerable(item: ReviewItem) -> None:
    """Refuse an approval Stripe would refuse: the deadline has passed, or the dispute is no longer open."""
    case = DisputeCase.objects.filter(pk=item.params.get("case_id")).first()
    if case is None:
        raise ValueError("this item's dispute case no longer exists")
    if case.status != CaseStatus.IN_REVIEW:
        raise ValueError(f"the dispute is {case.get_status_display().lower()}: evidence can no longer be submitted")
    if case.evidence_due_by is not None and case.evidence_due_by <= timezone.now():
        when = timezone.localtime(case.evidence_due_by)
        raise ValueError(f"Stripe's evidence deadline passed at {when:%d %b %H:%M %Z}: it no longer takes evidence")
