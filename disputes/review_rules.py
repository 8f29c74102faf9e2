"""What a reviewer may change on a dispute's evidence, and when an approval comes too late."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from disputes.evidence import EVIDENCE_FIELDS, MAX_FIELD_CHARS, MAX_TOTAL_CHARS
from disputes.models import CaseStatus, DisputeCase
from payops.card_numbers import contains_card_number
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


def package_fits(evidence: Mapping[str, Any]) -> None:
    """What Stripe would refuse, refused before the approval: nothing to send, too much, or a card number."""
    texts = {name: str(evidence.get(name) or "").strip() for name in EVIDENCE_FIELDS}
    if not any(texts.values()):
        raise ValueError("the package holds no evidence: keep at least one text")
    total = sum(len(text) for text in texts.values())
    if total > MAX_TOTAL_CHARS:
        raise ValueError(f"Stripe takes at most {MAX_TOTAL_CHARS:,} characters of evidence in all (this is {total:,})")
    if any(contains_card_number(text) for text in texts.values()):
        raise ValueError("the package holds what looks like a card number: PayOps never sends one; remove it")


def changed_package_fits(item: ReviewItem, changes: Mapping[str, Any]) -> None:
    """The package as this answer would send it (the texts left alone were checked when it was built)."""
    package_fits({**item.params, **changes})


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
