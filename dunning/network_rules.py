"""The card networks' retry limits, as data with their sources, and PayOps's own limits: what a retry would break."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dunning.decline_codes import CUSTOMER, DO_NOT_RETRY_NETWORK_ADVICE, HARD, NETWORK_ADVICE_CODES, DeclineVerdict
from dunning.models import Initiator

REFERENCE = "shared/reference/card-network-retry-rules.md"


@dataclass(frozen=True)
class RetryLimits:
    """PayOps's own limits. Amount thresholds are in the case's own minor units."""

    max_retries: int = 4
    # The money must be in this long before the activity starts.
    service_margin: timedelta = timedelta(hours=48)
    # How long the booking is held while the customer updates the card.
    hold_window: timedelta = timedelta(hours=48)
    min_gap: timedelta = timedelta(hours=4)
    # What one retry costs us (processing fee, network fees, the issuer's
    # patience): about 0.30 in a two-decimal currency.
    attempt_cost_minor: int = 30
    # At or above this amount a person decides instead of give-up/cancel.
    escalate_at_minor: int = 50_000


@dataclass(frozen=True)
class PastAttempt:
    at: datetime
    card_fingerprint: str
    amount_minor: int
    currency: str
    initiator: str
    succeeded: bool
    network_advice_code: str = ""


@dataclass(frozen=True)
class NetworkCap:
    """At most `max_attempts` attempts in any rolling `window`, counted over `scope`."""

    brand: str
    window: timedelta
    max_attempts: int
    # "card": every attempt on the card; "transaction": same card, amount and currency.
    scope: str
    # Counted separately for merchant- and customer-initiated attempts.
    per_initiator: bool
    effective_from: date | None
    effective_until: date | None
    source: str
    checked: date


_CHECKED = date(2026, 11, 27)
VISA_SOURCE = (
    f"Visa Excessive Reattempts: payway.com, Evolve developers, checkout.com support, TabaPay developers ({REFERENCE})"
)
MC_SOURCE = f"Mastercard Transaction Processing Excellence: checkout.com support, TabaPay developers ({REFERENCE})"

# Networks count reattempts after a decline; we count every attempt in the
# window, the original decline included, so we stay one under the published cap.
NETWORK_CAPS: tuple[NetworkCap, ...] = (
    NetworkCap("visa", timedelta(days=30), 15, "transaction", False, None, date(2025, 5, 18), VISA_SOURCE, _CHECKED),
    NetworkCap("visa", timedelta(days=30), 20, "transaction", True, date(2025, 5, 19), None, VISA_SOURCE, _CHECKED),
    # TabaPay counts the 30-day cap per amount; counting per card is stricter.
    NetworkCap("mastercard", timedelta(hours=24), 10, "card", False, None, None, MC_SOURCE, _CHECKED),
    NetworkCap("mastercard", timedelta(days=30), 35, "card", False, None, None, MC_SOURCE, _CHECKED),
    # Amex, Discover, JCB, UnionPay, unknown: no published cap we rely on, so the
    # strictest of the above, per card.
    NetworkCap("other", timedelta(hours=24), 10, "card", False, None, None, "PayOps conservative default", _CHECKED),
    NetworkCap("other", timedelta(days=30), 15, "card", False, None, None, "PayOps conservative default", _CHECKED),
)

# Stripe codes that carry a Visa category-1 response code: never retried on
# Visa, fined from the first reattempt (04/07, 12, 14/15, 41, 43, 46, 57, R0/R1/R3).
VISA_CATEGORY_1_CODES: frozenset[str] = frozenset(
    {
        "pickup_card",
        "incorrect_number",
        "invalid_number",
        "invalid_account",
        "lost_card",
        "stolen_card",
        "transaction_not_allowed",
        "not_permitted",
        "service_not_allowed",
        "stop_payment_order",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
    }
)
DO_NOT_RETRY_WINDOW = timedelta(days=30)  # Mastercard fines a retry within 30 days of MAC 03/21.


def brand_key(card_brand: str) -> str:
    brand = card_brand.strip().lower().replace(" ", "")
    if brand in {"visa", "mastercard"}:
        return brand
    return "mastercard" if brand in {"mc", "master_card"} else "other"


def caps_in_force(card_brand: str, at: datetime) -> list[NetworkCap]:
    key = brand_key(card_brand)
    day = at.astimezone(UTC).date()
    return [
        cap
        for cap in NETWORK_CAPS
        if cap.brand == key
        and (cap.effective_from is None or day >= cap.effective_from)
        and (cap.effective_until is None or day <= cap.effective_until)
    ]


def count_for_cap(
    cap: NetworkCap,
    *,
    at: datetime,
    attempts: Sequence[PastAttempt],
    card_fingerprint: str,
    amount_minor: int,
    currency: str,
    initiator: str = Initiator.MERCHANT,
) -> int:
    """Past attempts that count against `cap` for an attempt at `at` (window: (at - window, at])."""
    start = at - cap.window
    count = 0
    for attempt in attempts:
        if attempt.card_fingerprint != card_fingerprint or not start < attempt.at <= at:
            continue
        if cap.scope == "transaction" and (
            attempt.amount_minor != amount_minor or attempt.currency.lower() != currency.lower()
        ):
            continue
        if cap.per_initiator and attempt.initiator != initiator:
            continue
        count += 1
    return count


def retry_blockers(
    *,
    at: datetime,
    verdict: DeclineVerdict,
    card_brand: str,
    card_fingerprint: str,
    amount_minor: int,
    currency: str,
    attempts: Sequence[PastAttempt],
    retries_so_far: int,
    service_start_at: datetime | None,
    limits: RetryLimits,
) -> list[str]:
    """The rules a merchant-initiated retry at `at` would break, in plain words; empty means allowed.

    `attempts` is every attempt on this card fingerprint, across bookings, the
    decline that produced `verdict` included.
    """
    blockers: list[str] = []
    if verdict.decline_class == HARD:
        blockers.append(f"hard decline ({verdict.code}): never retried")
    elif verdict.decline_class == CUSTOMER:
        blockers.append(f"needs the customer ({verdict.code}): not retried until the card is updated")
    if brand_key(card_brand) == "visa" and verdict.code in VISA_CATEGORY_1_CODES:
        blockers.append(f"Visa category 1 ({verdict.code}): the issuer will never approve, any reattempt is fined")
    if retries_so_far >= limits.max_retries:
        blockers.append(f"{retries_so_far} retries made: PayOps allows at most {limits.max_retries}")
    if service_start_at is not None:
        deadline = service_start_at - limits.service_margin
        if at > deadline:
            hours = limits.service_margin.total_seconds() / 3600
            blockers.append(f"past {deadline:%Y-%m-%d %H:%M} UTC: money must be in {hours:g} h before the activity")

    on_card = [a for a in attempts if a.card_fingerprint == card_fingerprint and a.at <= at]
    if on_card:
        last = max(on_card, key=lambda a: a.at)
        if at - last.at < limits.min_gap:
            blockers.append(f"last attempt {last.at:%Y-%m-%d %H:%M} UTC: PayOps waits at least {limits.min_gap}")
        if verdict.retry_not_before is not None and at < last.at + verdict.retry_not_before:
            blockers.append(f"network advice: not before {last.at + verdict.retry_not_before:%Y-%m-%d %H:%M} UTC")
    for attempt in on_card:
        mac = attempt.network_advice_code.strip().zfill(2) if attempt.network_advice_code else ""
        if mac in DO_NOT_RETRY_NETWORK_ADVICE and at - attempt.at < DO_NOT_RETRY_WINDOW:
            blockers.append(f"Mastercard advice {mac} on {attempt.at:%Y-%m-%d}: no retry of this card for 30 days")
        advice = NETWORK_ADVICE_CODES.get(mac)
        if advice is not None and advice.retry_not_before is not None and at < attempt.at + advice.retry_not_before:
            blockers.append(
                f"Mastercard advice {mac}: not before {attempt.at + advice.retry_not_before:%Y-%m-%d %H:%M} UTC"
            )

    for cap in caps_in_force(card_brand, at):
        used = count_for_cap(
            cap,
            at=at,
            attempts=attempts,
            card_fingerprint=card_fingerprint,
            amount_minor=amount_minor,
            currency=currency,
        )
        if used >= cap.max_attempts:
            scope = "this card, amount and currency" if cap.scope == "transaction" else "this card"
            initiator = " (merchant-initiated)" if cap.per_initiator else ""
            blockers.append(
                f"{cap.brand.capitalize()} cap: {used} attempts on {scope}{initiator} in "
                f"{_window_words(cap.window)}, at most {cap.max_attempts}"
            )
    return list(dict.fromkeys(blockers))


def _window_words(window: timedelta) -> str:
    return f"{window.days} days" if window >= timedelta(days=2) else f"{window.total_seconds() / 3600:g} h"
