"""Template filters of the Fraud page."""

from django import template

from payments.collection import money
from payops.models import ReviewItem

register = template.Library()


@register.filter
def review_amount(item: ReviewItem) -> str:
    """'CAD 1121.40' as staff read it; a dash when the item moves no money."""
    if item.amount_minor is None or not item.currency:
        return "–"
    return money(item.amount_minor, item.currency)
