"""What a cancellation gives back under a policy's terms, worked out in integers and explained step by step.

Pure: no database, no Stripe. The order of the steps is the policy's
meaning: the deposit is kept first, the tier's share applies to the rest,
the fee comes off that share, the cap limits it, and earlier refunds count
against it. The share refunded is rounded down to the minor unit and the
deposit kept is rounded up, so a rounding never gives back a cent more than
the policy says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payops.money import from_minor


@dataclass(frozen=True)
class Terms:
    tiers: tuple[tuple[int, int], ...]  # (at least this many days before the start, refund percent), any order
    currency: str = ""
    fee_minor: int = 0
    deposit_percent: int = 0
    deposit_minor: int = 0
    cap_minor: int | None = None
    policy: str = ""

    @classmethod
    def from_dict(cls, terms: dict[str, Any]) -> Terms:
        return cls(
            tiers=tuple((int(days), int(pct)) for days, pct in terms.get("tiers") or ()),
            currency=str(terms.get("currency") or ""),
            fee_minor=int(terms.get("fee_minor") or 0),
            deposit_percent=int(terms.get("deposit_percent") or 0),
            deposit_minor=int(terms.get("deposit_minor") or 0),
            cap_minor=None if terms.get("cap_minor") is None else int(terms["cap_minor"]),
            policy=str(terms.get("policy") or ""),
        )


@dataclass(frozen=True)
class Quote:
    amount_minor: int
    tier_percent: int | None  # None: no tier applies (or no start date)
    days_before: int | None
    steps: list[str] = field(default_factory=list)


def _money(amount_minor: int, currency: str) -> str:
    return f"{from_minor(amount_minor, currency)} {currency.upper()}"


def _share(amount_minor: int, percent: int) -> int:
    return amount_minor * percent // 100


def _share_up(amount_minor: int, percent: int) -> int:
    return -(-amount_minor * percent // 100)


def tier_for(terms: Terms, days_before: int) -> tuple[int, int] | None:
    """The tier with the largest minimum the cancellation reached."""
    reached = [tier for tier in terms.tiers if days_before >= tier[0]]
    return max(reached) if reached else None


def quote(
    terms: Terms,
    *,
    currency: str,
    booking_total_minor: int,
    captured_minor: int,
    refunded_before_minor: int,
    start_at: datetime | None,
    cancelled_at: datetime,
) -> Quote:
    """The refund owed, never more than what is captured and not yet refunded."""
    if terms.currency and terms.currency != currency:
        raise ValueError(f"a {terms.currency.upper()} policy cannot price a {currency.upper()} booking")
    steps = [f"Captured on Stripe: {_money(captured_minor, currency)}."]
    if start_at is None:
        steps.append("The booking has no start date, so no tier applies: nothing is refunded by the policy.")
        return Quote(0, None, None, steps)
    days = (start_at - cancelled_at).days  # whole days, rounded down: 29 days 23 hours is 29 days
    tier = tier_for(terms, days)
    when = f"{days} days before the start" if days >= 0 else f"{-days} days after the start"
    if tier is None:
        steps.append(f"Cancelled {when}: no tier of the policy reaches that, so nothing is refundable.")
        return Quote(0, None, days, steps)
    deposit = min(captured_minor, terms.deposit_minor + _share_up(booking_total_minor, terms.deposit_percent))
    base = captured_minor - deposit
    if deposit:
        kept = []
        if terms.deposit_percent:
            kept.append(f"{terms.deposit_percent} % of the booking total {_money(booking_total_minor, currency)}")
        if terms.deposit_minor:
            kept.append(f"a fixed {_money(terms.deposit_minor, currency)}")
        steps.append(
            f"Non-refundable deposit ({' plus '.join(kept)}): {_money(deposit, currency)} is kept, "
            f"leaving {_money(base, currency)}."
        )
    owed = _share(base, tier[1])
    steps.append(
        f"Cancelled {when}: the tier for {tier[0]} days or more refunds {tier[1]} %, which is {_money(owed, currency)}."
    )
    if terms.fee_minor and owed:
        fee = min(owed, terms.fee_minor)
        owed -= fee
        steps.append(f"Cancellation fee: {_money(fee, currency)} kept, leaving {_money(owed, currency)}.")
    if terms.cap_minor is not None and owed > terms.cap_minor:
        owed = terms.cap_minor
        steps.append(f"The policy refunds at most {_money(terms.cap_minor, currency)}.")
    if refunded_before_minor:
        steps.append(f"Already refunded before: {_money(refunded_before_minor, currency)}, counted against it.")
    amount = max(0, min(owed - refunded_before_minor, captured_minor - refunded_before_minor))
    steps.append(f"To refund: {_money(amount, currency)}.")
    return Quote(amount, tier[1], days, steps)


def terms_in_words(terms: Terms) -> str:
    """The terms as a sentence list a customer (or a card network) reads."""
    currency = terms.currency
    lines = []
    tiers = sorted(terms.tiers, reverse=True)
    for n, (days, pct) in enumerate(tiers):
        upper = f" and fewer than {tiers[n - 1][0]}" if n else ""
        lines.append(f"Cancelled {days} days or more{upper} before the start: {pct} % refunded.")
    if tiers and tiers[-1][0] > 0:
        lines.append(f"Cancelled fewer than {tiers[-1][0]} days before the start: no refund.")
    if not tiers:
        lines.append("No refund on cancellation.")
    if terms.deposit_percent:
        lines.append(f"A deposit of {terms.deposit_percent} % of the booking total is non-refundable.")
    if terms.deposit_minor:
        lines.append(f"A deposit of {_money(terms.deposit_minor, currency)} is non-refundable.")
    if terms.fee_minor:
        lines.append(f"A cancellation fee of {_money(terms.fee_minor, currency)} is kept from any refund.")
    if terms.cap_minor is not None:
        lines.append(f"Refunds are at most {_money(terms.cap_minor, currency)} per booking.")
    return " ".join(lines)
