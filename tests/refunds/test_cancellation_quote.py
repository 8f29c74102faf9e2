"""The policy's arithmetic and its words: tiers, deposit, fee, cap, earlier refunds, rounding; no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from refunds.cancellation_quote import Terms, quote, terms_in_words

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
# The example: 30 days or more 100 %, 7 to 30 days 50 %, under 7 days nothing.
STANDARD = Terms(tiers=((30, 100), (7, 50)), currency="cad")


def owed(
    terms: Terms = STANDARD, *, days: float, captured: int = 20_000, refunded: int = 0, total: int = 20_000
) -> int:
    return quote(
        terms,
        currency="cad",
        booking_total_minor=total,
        captured_minor=captured,
        refunded_before_minor=refunded,
        start_at=START,
        cancelled_at=START - timedelta(days=days),
    ).amount_minor


@pytest.mark.parametrize(
    ("days", "expected"),
    [(45, 20_000), (30, 20_000), (29.99, 10_000), (7, 10_000), (6.5, 0), (0, 0), (-2, 0)],
)
def test_each_tier_refunds_its_share_counting_whole_days_before_the_start(days: float, expected: int) -> None:
    assert owed(days=days) == expected


def test_the_deposit_is_kept_first_then_the_tier_then_the_fee_then_the_cap() -> None:
    terms = Terms(
        tiers=((7, 50),), currency="cad", deposit_percent=10, deposit_minor=500, fee_minor=1_000, cap_minor=6_000
    )
    # 20,000 captured; deposit 10 % of 20,000 + 5.00 = 2,500 kept; 50 % of 17,500 = 8,750; fee: 7,750; cap 6,000.
    result = quote(
        terms,
        currency="cad",
        booking_total_minor=20_000,
        captured_minor=20_000,
        refunded_before_minor=0,
        start_at=START,
        cancelled_at=START - timedelta(days=10),
    )
    assert result.amount_minor == 6_000 and (result.tier_percent, result.days_before) == (50, 10)
    text = " ".join(result.steps)
    for words in [
        "Captured on Stripe: 200.00 CAD",
        "25.00 CAD is kept",
        "refunds 50 %, which is 87.50 CAD",
        "Cancellation fee: 10.00 CAD kept, leaving 77.50 CAD",
        "at most 60.00 CAD",
        "To refund: 60.00 CAD",
    ]:
        assert words in text, (words, text)


def test_earlier_refunds_count_against_what_the_policy_gives() -> None:
    assert owed(days=40, refunded=5_000) == 15_000
    assert owed(days=10, refunded=12_000) == 0, "already refunded more than the 50 % tier gives"


def test_never_more_than_was_captured_even_when_the_booking_is_worth_more() -> None:
    # A deposit-only payment: 5,000 of a 20,000 booking captured, cancelled early.
    assert owed(days=40, captured=5_000) == 5_000
    big_deposit = Terms(tiers=((0, 100),), currency="cad", deposit_percent=50)
    assert owed(big_deposit, days=40, captured=5_000) == 0, "the deposit (10,000) swallows all that was paid"


def test_rounding_never_gives_back_more_than_the_policy_says() -> None:
    assert owed(Terms(tiers=((0, 33),)), days=1, captured=1_001) == 330, "the share refunded rounds down"
    assert owed(Terms(tiers=((0, 50),)), days=1, captured=999) == 499
    # A 10 % deposit of 1,005 is 100.5: 101 is kept, so 904 (not 905) comes back.
    assert owed(Terms(tiers=((0, 100),), deposit_percent=10), days=1, captured=1_005, total=1_005) == 904


def test_a_fee_never_makes_a_refund_negative_and_zero_percent_charges_no_fee() -> None:
    terms = Terms(tiers=((0, 10),), currency="cad", fee_minor=5_000)
    assert owed(terms, days=1) == 0
    assert owed(Terms(tiers=((30, 100),), currency="cad", fee_minor=500), days=1) == 0


def test_no_start_date_or_no_tier_refunds_nothing_and_says_why() -> None:
    none = quote(
        STANDARD,
        currency="cad",
        booking_total_minor=1,
        captured_minor=1,
        refunded_before_minor=0,
        start_at=None,
        cancelled_at=START,
    )
    assert none.amount_minor == 0 and "no start date" in none.steps[-1]
    late = quote(
        STANDARD,
        currency="cad",
        booking_total_minor=1,
        captured_minor=1,
        refunded_before_minor=0,
        start_at=START,
        cancelled_at=START - timedelta(days=2),
    )
    assert late.amount_minor == 0 and "2 days before the start: no tier" in late.steps[-1]


def test_a_policy_in_one_currency_cannot_price_another() -> None:
    with pytest.raises(ValueError, match="CAD policy cannot price a USD booking"):
        quote(
            STANDARD,
            currency="usd",
            booking_total_minor=1,
            captured_minor=1,
            refunded_before_minor=0,
            start_at=START,
            cancelled_at=START,
        )


def test_the_terms_read_as_sentences() -> None:
    terms = Terms(tiers=((7, 50), (30, 100)), currency="cad", fee_minor=1_000, deposit_percent=10, cap_minor=50_000)
    assert terms_in_words(terms) == (
        "Cancelled 30 days or more before the start: 100 % refunded. "
        "Cancelled 7 days or more and fewer than 30 before the start: 50 % refunded. "
        "Cancelled fewer than 7 days before the start: no refund. "
        "A deposit of 10 % of the booking total is non-refundable. "
        "A cancellation fee of 10.00 CAD is kept from any refund. "
        "Refunds are at most 500.00 CAD per booking."
    )
