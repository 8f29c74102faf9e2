"""{{ amount_minor|money:currency }} → "48.30 CAD"."""

from __future__ import annotations

from django import template

from payops.money import from_minor

register = template.Library()


@register.filter
def money(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None or not currency:
        return "–"
    return f"{from_minor(amount_minor, currency)} {currency.upper()}"
