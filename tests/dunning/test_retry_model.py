"""The retry model: the cited prior, its explanations, JSON parameters and the version in use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dunning.models import RetryModelVersion
from dunning.retry_features import FEATURE_NAMES, FEATURES, RetryFeatures
from dunning.retry_model import PRIOR, LogisticRetryModel, RetryModel, current_model

FAILED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday


def features(
    *,
    code: str = "insufficient_funds",
    decline_class: str = "soft",
    hours: float = 48,
    at: datetime | None = None,
    **kwargs: object,
) -> RetryFeatures:
    at = at or FAILED + timedelta(hours=hours)
    return RetryFeatures.at_time(
        at=at,
        first_failed_at=FAILED,
        last_attempt_at=FAILED,
        decline_class=decline_class,
        decline_code=code,
        attempts_so_far=0,
        amount_minor=12_000,
        currency="eur",
        card_brand="visa",
        card_funding="debit",
        card_country="DE",
        **kwargs,  # type: ignore[arg-type]
    )


def test_every_feature_is_documented_and_vectorised_in_order() -> None:
    assert all(feature.description for feature in FEATURES)
    assert len(features().vectorise()) == len(FEATURE_NAMES) == len(set(FEATURE_NAMES))


@pytest.mark.parametrize("code", ["insufficient_funds", "processing_error", "do_not_honor", "expired_card", "xyz"])
@pytest.mark.parametrize("hours", [0.5, 4, 24, 72, 24 * 20])
def test_prior_predicts_a_probability_strictly_between_0_and_1(code: str, hours: float) -> None:
    assert 0 < PRIOR.predict(features(code=code, hours=hours)) < 1


def test_prior_puts_hard_declines_near_zero_and_soft_ones_near_public_figures() -> None:
    assert PRIOR.predict(features(code="stolen_card", decline_class="hard")) < 0.02
    assert 0.15 < PRIOR.predict(features(code="generic_decline")) < 0.35


def test_insufficient_funds_retries_in_the_first_day_are_less_likely_and_say_why() -> None:
    early = features(hours=4)
    assert PRIOR.predict(early) < PRIOR.predict(features(hours=48))
    assert any("less often in the first day" in reason for reason in PRIOR.explain(early))


def test_a_payday_raises_the_chance_and_the_explanation_says_so() -> None:
    payday = features(at=datetime(2026, 12, 1, 9, tzinfo=UTC))
    before = features(at=datetime(2026, 11, 28, 9, tzinfo=UTC) + timedelta(days=1))
    assert PRIOR.predict(payday) > PRIOR.predict(before)
    assert any("payday" in reason and "raises" in reason for reason in PRIOR.explain(payday))


def test_explanations_carry_a_direction() -> None:
    reasons = PRIOR.explain(features(code="do_not_honor", hours=4))
    assert reasons and all(r.endswith(("(raises the chance)", "(lowers the chance)")) for r in reasons)


def test_parameters_are_plain_json_and_round_trip_to_identical_predictions() -> None:
    text = json.dumps(PRIOR.to_parameters())
    loaded = LogisticRetryModel.from_parameters("prior-1", json.loads(text))
    for sample in [features(), features(code="processing_error", hours=4), features(code="other", hours=300)]:
        assert loaded.predict(sample) == PRIOR.predict(sample)
        assert loaded.explain(sample) == PRIOR.explain(sample)


def test_features_round_trip_through_json() -> None:
    sample = features(lifetime_value_minor=50_000, past_chargebacks=1)
    assert RetryFeatures.from_dict(json.loads(json.dumps(sample.as_dict()))) == sample


def test_local_calendar_is_read_in_the_display_time_zone(settings: object) -> None:
    settings.TIME_ZONE = "Pacific/Auckland"  # type: ignore[attr-defined]
    sample = features(at=datetime(2026, 11, 30, 12, tzinfo=UTC))
    assert (sample.day_of_month, sample.local_hour) == (1, 1)


@pytest.mark.django_db
def test_current_model_is_the_prior_until_a_version_is_current() -> None:
    assert current_model() is PRIOR
    assert isinstance(PRIOR, RetryModel)


@pytest.mark.django_db
def test_current_model_loads_the_current_version_and_falls_back_on_unreadable_parameters() -> None:
    row = RetryModelVersion.objects.create(
        version="retry-test", algorithm="x", parameters=PRIOR.to_parameters(), is_current=True
    )
    model = current_model()
    assert model.version == "retry-test"
    assert model.predict(features()) == PRIOR.predict(features())
    RetryModelVersion.objects.filter(pk=row.pk).update(parameters={"format": 99})
    assert current_model() is PRIOR
