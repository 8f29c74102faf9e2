"""Builders for the decision-core tests: a card, a decline, a recovery context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dunning.decline_codes import classify_decline
from dunning.network_rules import PastAttempt
from dunning.planner import RecoveryContext

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # a Friday
CARD = "fp_visa_debit"


def make_context(
    *,
    code: str = "insufficient_funds",
    advice_code: str = "",
    network_advice_code: str = "",
    amount_minor: int = 12_000,
    brand: str = "visa",
    now: datetime = NOW,
    retries_so_far: int = 0,
    service_start_at: datetime | None = NOW + timedelta(days=10),
    attempts: list[PastAttempt] | None = None,
    **overrides: Any,
) -> RecoveryContext:
    verdict = classify_decline(
        code="card_declined", decline_code=code, advice_code=advice_code, network_advice_code=network_advice_code
    )
    if attempts is None:
        attempts = [PastAttempt(now, CARD, amount_minor, "eur", "merchant", False, network_advice_code)]
    fields: dict[str, Any] = {
        "amount_minor": amount_minor,
        "currency": "eur",
        "verdict": verdict,
        "card_brand": brand,
        "card_funding": "debit",
        "card_country": "DE",
        "card_fingerprint": CARD,
        "first_failed_at": min(a.at for a in attempts) if attempts else now,
        "last_attempt_at": max(a.at for a in attempts) if attempts else now,
        "retries_so_far": retries_so_far,
        "attempts": attempts,
        "service_start_at": service_start_at,
    }
    fields.update(overrides)
    return RecoveryContext(**fields)


def store_weak_current_model(version: str = "retry-weak") -> None:
    """A current model that knows nothing (always 50 % at any hour): a trained one can beat it, and the
    planner's choice between retrying and asking for another card stops depending on the clock."""
    from dunning.models import RetryModelVersion
    from dunning.retry_features import FEATURE_NAMES
    from dunning.retry_model import LogisticRetryModel

    zero = tuple(0.0 for _ in FEATURE_NAMES)
    weak = LogisticRetryModel(version, FEATURE_NAMES, zero, 0.0, zero, tuple(1.0 for _ in FEATURE_NAMES))
    RetryModelVersion.objects.create(
        version=version, algorithm="test", parameters=weak.to_parameters(), is_current=True
    )
