"""The dispute case behind a review item, for its panel in the queue (one query, no outside call)."""

from __future__ import annotations

from django import template

from disputes.models import DisputeCase
from payops.models import ReviewItem

register = template.Library()


@register.simple_tag
def dispute_case(item: ReviewItem) -> DisputeCase | None:
    case_id = item.params.get("case_id")
    return DisputeCase.objects.filter(pk=case_id).first() if isinstance(case_id, int) else None
