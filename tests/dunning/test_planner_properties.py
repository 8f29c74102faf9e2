"""Properties of every plan, for arbitrary contexts: the hard limits hold whatever the model says.

The network caps are recounted here from the published numbers, not by calling retry_blockers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.decline_codes import DECLINE_TABLE, NETWORK_ADVICE_CODES, STRIPE_ADVICE_CODES, classify_decline
from dunning.network_rules import PastAttempt, RetryLimits
from dunning.planner import RETRY, RecoveryContext, plan_recovery
from dunning.retry_model import PRIOR

CARD = "fp_prop"
VISA_RULE_CHANGE = date(2025, 5, 19)

attempt_st = st.builds(
    lambda hours_ago, other_card, other_amount, initiator, mac, succeeded: (
        hours_ago,
        "fp_other" if other_card else CARD,
        other_amount,
        initiator,
        mac,
        succeeded,
    ),
    st.floats(min_value=0.01, max_value=24 * 45),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["merchant", "customer"]),
    st.sampled_from(["", "", "", "01", "02", "03", "21", "24", "25", "27", "30"]),
    st.booleans(),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[RecoveryContext, datetime, RetryLimits]:
    now = draw(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)))
    amount = draw(st.integers(min_value=1, max_value=5_000_000))
    brand = draw(st.sampled_from(["visa", "mastercard", "amex", "discover", ""]))
    verdict = classify_decline(
        code="card_declined",
        decline_code=draw(st.sampled_from([*DECLINE_TABLE, "brand_new_code"])),
        advice_code=draw(st.sampled_from(["", "", *STRIPE_ADVICE_CODES])),
        network_advice_code=draw(st.sampled_from(["", "", *NETWORK_ADVICE_CODES])),
    )
    raw = draw(st.lists(attempt_st, min_size=1, max_size=60))
    # Many attempts near each other make the caps bite.
    dense = draw(st.booleans())
    attempts = [
        PastAttempt(
            at=now - timedelta(hours=hours_ago / (30 if dense else 1)),
            card_fingerprint=card,
            amount_minor=amount + 1 if other_amount else amount,
            currency="eur",
            initiator=initiator,
            succeeded=succeeded,
            network_advice_code=mac,
        )
        for hours_ago, card, other_amount, initiator, mac, succeeded in raw
    ]
    start_offset = draw(st.one_of(st.none(), st.floats(min_value=-24 * 5, max_value=24 * 40)))
    limits = RetryLimits(
        max_retries=draw(st.integers(min_value=0, max_value=6)),
        min_gap=timedelta(hours=draw(st.integers(min_value=0, max_value=12))),
    )
    on_card = [a for a in attempts if a.card_fingerprint == CARD] or attempts
    context = RecoveryContext(
        amount_minor=amount,
        currency="eur",
        verdict=verdict,
        card_brand=brand,
        card_funding=draw(st.sampled_from(["credit", "debit", "prepaid", ""])),
        card_country=draw(st.sampled_from(["DE", "US", "IN", ""])),
        card_fingerprint=CARD,
        first_failed_at=min(a.at for a in on_card),
        last_attempt_at=max(a.at for a in on_card),
        retries_so_far=draw(st.integers(min_value=0, max_value=8)),
        attempts=attempts,
        service_start_at=None if start_offset is None else now + timedelta(hours=start_offset),
        has_past_chargeback=draw(st.booleans()),
    )
    return context, now, limits


def _count(
    attempts: list[PastAttempt],
    *,
    at: datetime,
    window: timedelta,
    same_amount: int | None = None,
    initiator: str | None = None,
) -> int:
    return sum(
        1
        for a in attempts
        if a.card_fingerprint == CARD
        and at - window < a.at <= at
        and (same_amount is None or a.amount_minor == same_amount)
        and (initiator is None or a.initiator == initiator)
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_a_plan_never_breaks_a_hard_limit(scenario: tuple[RecoveryContext, datetime, RetryLimits]) -> None:
    context, now, limits = scenario
    plan = plan_recovery(context, now=now, model=PRIOR, limits=limits)
    assert plan.action in {"retry", "request_card_update", "escalate", "give_up"}
    assert 0 <= plan.score <= 100 and 0 <= plan.confidence <= 1
    if plan.action != RETRY:
        assert plan.retry_at is None
        return
    at = plan.retry_at
    assert at is not None and at > now
    assert context.verdict.decline_class == "soft"
    assert context.retries_so_far < limits.max_retries
    if context.service_start_at is not None:
        assert at <= context.service_start_at - limits.service_margin
    attempts = list(context.attempts)
    mine = [a for a in attempts if a.card_fingerprint == CARD]
    assert at - max(a.at for a in mine) >= limits.min_gap if mine else True
    # Mastercard advice 03 / 21 anywhere on the card: nothing for 30 days.
    assert not any(a.network_advice_code in {"03", "21"} and at - a.at < timedelta(days=30) for a in mine)
    brand = context.card_brand
    if brand == "visa":
        if at.date() >= VISA_RULE_CHANGE:
            assert (
                _count(
                    attempts, at=at, window=timedelta(days=30), same_amount=context.amount_minor, initiator="merchant"
                )
                < 20
            )
        else:
            assert _count(attempts, at=at, window=timedelta(days=30), same_amount=context.amount_minor) < 15
    else:
        assert _count(attempts, at=at, window=timedelta(hours=24)) < 10
        assert _count(attempts, at=at, window=timedelta(days=30)) < (35 if brand == "mastercard" else 15)
