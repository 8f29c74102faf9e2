"""Network caps and PayOps limits: each rule refuses the retry that would break it, and only that one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dunning.decline_codes import DeclineVerdict, classify_decline
from dunning.models import Initiator
from dunning.network_rules import PastAttempt, RetryLimits, retry_blockers

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CARD = "fp_card_1"
LIMITS = RetryLimits(max_retries=100, min_gap=timedelta(minutes=1))
SOFT = classify_decline(code="card_declined", decline_code="insufficient_funds")


def attempt(
    hours_ago: float,
    *,
    card: str = CARD,
    amount: int = 10_000,
    currency: str = "eur",
    initiator: str = Initiator.MERCHANT,
    mac: str = "",
) -> PastAttempt:
    return PastAttempt(
        at=NOW - timedelta(hours=hours_ago),
        card_fingerprint=card,
        amount_minor=amount,
        currency=currency,
        initiator=initiator,
        succeeded=False,
        network_advice_code=mac,
    )


def blockers(
    attempts: list[PastAttempt],
    *,
    brand: str = "visa",
    verdict: DeclineVerdict = SOFT,
    at: datetime = NOW,
    retries: int = 0,
    service_start: datetime | None = None,
    limits: RetryLimits = LIMITS,
) -> list[str]:
    return retry_blockers(
        at=at,
        verdict=verdict,
        card_brand=brand,
        card_fingerprint=CARD,
        amount_minor=10_000,
        currency="eur",
        attempts=attempts,
        retries_so_far=retries,
        service_start_at=service_start,
        limits=limits,
    )


def test_a_soft_decline_with_room_everywhere_may_be_retried() -> None:
    assert blockers([attempt(30)]) == []


def test_hard_decline_is_never_retried() -> None:
    verdict = classify_decline(code="card_declined", decline_code="do_not_try_again")
    assert any("hard decline" in b for b in blockers([attempt(30)], verdict=verdict))


def test_customer_class_is_not_retried() -> None:
    verdict = classify_decline(code="expired_card")
    assert any("needs the customer" in b for b in blockers([attempt(30)], verdict=verdict))


def test_visa_category_1_code_is_refused_on_visa() -> None:
    verdict = classify_decline(code="card_declined", decline_code="stolen_card")
    assert any("Visa category 1" in b for b in blockers([attempt(30)], verdict=verdict, brand="visa"))


def test_visa_allows_19_merchant_attempts_in_30_days_and_refuses_the_20th_after_may_2025() -> None:
    history = [attempt(24 * day + 1) for day in range(19)]
    assert blockers(history) == []
    history.append(attempt(24 * 20))
    assert any("Visa cap: 20 attempts" in b for b in blockers(history))


def test_visa_cap_counts_per_initiator_since_may_2025() -> None:
    history = [attempt(24 * day + 1) for day in range(19)] + [attempt(24 * 25, initiator=Initiator.CUSTOMER)] * 5
    assert blockers(history) == []


def test_visa_cap_was_15_across_initiators_before_19_may_2025() -> None:
    at = datetime(2025, 5, 1, 12, tzinfo=UTC)
    history = [
        PastAttempt(
            at=at - timedelta(days=day + 1),
            card_fingerprint=CARD,
            amount_minor=10_000,
            currency="eur",
            initiator=Initiator.CUSTOMER if day % 2 else Initiator.MERCHANT,
            succeeded=False,
        )
        for day in range(15)
    ]
    assert any("at most 15" in b for b in blockers(history, at=at))
    assert blockers(history[:14], at=at) == []


def test_visa_cap_is_per_amount_and_currency_and_rolls_after_30_days() -> None:
    other_amount = [attempt(24 * day + 1, amount=9_999) for day in range(25)]
    assert blockers(other_amount) == []
    old = [attempt(24 * 31 + day) for day in range(25)]
    assert blockers(old) == []


def test_visa_cap_counts_the_card_across_bookings_not_other_cards() -> None:
    history = [attempt(24 * day + 1) for day in range(10)] + [attempt(24 * day + 2) for day in range(10)]
    assert blockers(history)  # 20 attempts on this card, from two bookings
    other_card = [attempt(24 * day + 1, card="fp_other") for day in range(25)]
    assert blockers(other_card) == []


def test_mastercard_allows_9_in_24_hours_and_refuses_the_10th() -> None:
    history = [attempt(2 * i + 1) for i in range(9)]
    assert blockers(history, brand="mastercard") == []
    history.append(attempt(23.5))
    assert any("in 24 h, at most 10" in b for b in blockers(history, brand="mastercard"))


def test_mastercard_35_in_30_days_counts_every_amount() -> None:
    history = [attempt(20 * i + 1, amount=1_000 + i) for i in range(35)]
    assert any("in 30 days, at most 35" in b for b in blockers(history, brand="mastercard"))
    assert blockers(history[:34], brand="mastercard") == []


def test_other_brands_use_the_conservative_default() -> None:
    history = [attempt(30 * i + 1) for i in range(15)]
    assert any("Other cap" in b for b in blockers(history, brand="amex"))
    assert blockers(history[:14], brand="amex") == []


def test_mastercard_advice_03_on_any_booking_blocks_the_card_for_30_days() -> None:
    assert any("advice 03" in b for b in blockers([attempt(24 * 29, mac="03")], brand="mastercard"))
    assert blockers([attempt(24 * 31, mac="03")], brand="mastercard") == []
    assert any("advice 21" in b for b in blockers([attempt(48, mac="21")], brand="mastercard"))


def test_mastercard_timing_advice_waits_from_the_attempt_that_carried_it() -> None:
    assert any("advice 27" in b for b in blockers([attempt(24 * 3, mac="27")], brand="mastercard"))
    assert blockers([attempt(24 * 4 + 1, mac="27")], brand="mastercard") == []


def test_verdict_retry_not_before_counts_from_the_last_attempt() -> None:
    verdict = classify_decline(code="card_declined", decline_code="insufficient_funds", network_advice_code="25")
    assert any("not before" in b for b in blockers([attempt(20)], verdict=verdict))
    assert blockers([attempt(25)], verdict=verdict) == []


def test_no_retry_after_the_service_margin() -> None:
    start = NOW + timedelta(hours=47)
    assert any("before the activity" in b for b in blockers([attempt(30)], service_start=start))
    assert blockers([attempt(30)], service_start=NOW + timedelta(hours=48)) == []


def test_max_retries() -> None:
    limits = RetryLimits(max_retries=4, min_gap=timedelta(minutes=1))
    assert blockers([attempt(30)], retries=3, limits=limits) == []
    assert any("at most 4" in b for b in blockers([attempt(30)], retries=4, limits=limits))


def test_min_gap_since_the_last_attempt_on_the_card() -> None:
    limits = RetryLimits(min_gap=timedelta(hours=4))
    assert any("waits at least" in b for b in blockers([attempt(3)], limits=limits))
    assert blockers([attempt(5)], limits=limits) == []
