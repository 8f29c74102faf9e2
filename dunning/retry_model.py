"""The retry-success model: a logistic model kept as plain JSON, the cited prior, and the version in use."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dunning.models import RetryModelVersion
from dunning.retry_features import FEATURE_BY_NAME, FEATURE_NAMES, FEATURES, RetryFeatures

__all__ = ["FEATURES", "PRIOR", "LogisticRetryModel", "RetryFeatures", "RetryModel", "current_model"]

logger = logging.getLogger(__name__)

ALGORITHM = "logistic-regression/standardised/platt-1"
PARAMETERS_FORMAT = 1


class ModelFormatError(ValueError):
    """Stored parameters that this code cannot read."""


@runtime_checkable
class RetryModel(Protocol):
    @property
    def version(self) -> str: ...

    @property
    def confidence(self) -> float:
        """0-1: how far the planner may trust this model's probabilities (dunning/README.md)."""
        ...

    def predict(self, features: RetryFeatures) -> float:
        """The probability that a retry with these features succeeds."""
        ...

    def explain(self, features: RetryFeatures, *, top: int = 3) -> list[str]:
        """The strongest reasons behind predict(), each with its direction."""
        ...


def _sigmoid(z: float) -> float:
    # Split so neither branch overflows.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


@dataclass(frozen=True)
class LogisticRetryModel:
    """p = sigmoid(a * (w . (x - mean) / scale + b) + c). Pure numpy: no scikit-learn object is ever loaded."""

    version: str
    feature_names: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    means: tuple[float, ...]
    scales: tuple[float, ...]
    calibration_slope: float = 1.0
    calibration_intercept: float = 0.0
    confidence: float = 0.3
    _index: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes = {len(self.feature_names), len(self.coefficients), len(self.means), len(self.scales)}
        if len(sizes) != 1:
            raise ModelFormatError("feature names, coefficients, means and scales differ in length")
        unknown = [name for name in self.feature_names if name not in FEATURE_BY_NAME]
        if unknown:
            raise ModelFormatError(f"features this code does not compute: {unknown}")
        if any(scale <= 0 for scale in self.scales):
            raise ModelFormatError("scales must be positive")
        object.__setattr__(self, "_index", np.array([FEATURE_NAMES.index(n) for n in self.feature_names], dtype=int))

    def _standardised(self, features: RetryFeatures) -> np.ndarray:
        x = features.vectorise()[self._index]
        return (x - np.asarray(self.means)) / np.asarray(self.scales)

    def contributions(self, features: RetryFeatures) -> np.ndarray:
        """Each feature's push on the calibrated log-odds."""
        return self.calibration_slope * np.asarray(self.coefficients) * self._standardised(features)

    def predict(self, features: RetryFeatures) -> float:
        z = float(np.dot(self.coefficients, self._standardised(features))) + self.intercept
        return _sigmoid(self.calibration_slope * z + self.calibration_intercept)

    def explain(self, features: RetryFeatures, *, top: int = 3) -> list[str]:
        raw = features.vectorise()[self._index]
        pushes = self.contributions(features)
        order = np.argsort(-np.abs(pushes))
        reasons: list[str] = []
        for i in order:
            feature = FEATURE_BY_NAME[self.feature_names[i]]
            push = float(pushes[i])
            # A one-hot column that is off says nothing a reader can use.
            if abs(push) < 0.05 or (feature.binary and raw[i] == 0):
                continue
            text = feature.raises if push > 0 else feature.lowers
            text = text or feature.description
            reasons.append(f"{text} ({'raises' if push > 0 else 'lowers'} the chance)")
            if len(reasons) == top:
                break
        return reasons

    def to_parameters(self) -> dict[str, Any]:
        """Everything predict() needs, as JSON: never a pickle."""
        return {
            "format": PARAMETERS_FORMAT,
            "algorithm": ALGORITHM,
            "feature_names": list(self.feature_names),
            "coefficients": [float(c) for c in self.coefficients],
            "intercept": float(self.intercept),
            "means": [float(m) for m in self.means],
            "scales": [float(s) for s in self.scales],
            "calibration": {"slope": float(self.calibration_slope), "intercept": float(self.calibration_intercept)},
            "confidence": float(self.confidence),
        }

    @classmethod
    def from_parameters(cls, version: str, parameters: dict[str, Any]) -> LogisticRetryModel:
        try:
            if parameters["format"] != PARAMETERS_FORMAT:
                raise ModelFormatError(f"parameters format {parameters['format']!r}, expected {PARAMETERS_FORMAT}")
            return cls(
                version=version,
                feature_names=tuple(parameters["feature_names"]),
                coefficients=tuple(float(c) for c in parameters["coefficients"]),
                intercept=float(parameters["intercept"]),
                means=tuple(float(m) for m in parameters["means"]),
                scales=tuple(float(s) for s in parameters["scales"]),
                calibration_slope=float(parameters["calibration"]["slope"]),
                calibration_intercept=float(parameters["calibration"]["intercept"]),
                confidence=float(parameters["confidence"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"unreadable retry model parameters: {exc}") from exc


# The cold-start prior: log-odds weights set by hand on the raw features
# (scale 1, centred on a reference retry below), from public figures. Vendor figures are marketing
# material measured on subscriptions, not bookings; they set directions and
# rough sizes only. Each weight names its source; "assumption" marks ours.
_PRIOR_WEIGHTS: dict[str, float] = {
    # Hard declines ~never pay on retry; customer-class declines need new data
    # (Stripe Smart Retries does not retry hard codes; Recurly: hard declines not retried).
    "class_soft": 0.6,
    "class_customer": -1.5,
    "class_hard": -4.0,
    # Recovery by decline type, savemrr.co "Payment recovery rate by decline type" (2026):
    # insufficient funds 60-70 %, processing error 55-65 % (in 1-2 days), generic 40-50 %,
    # do not honor 30-40 %; expired / incorrect data need a card update. Technical codes are
    # sized for ~50 % on a retry 4 h later, with technical_wait below.
    "code_insufficient_funds": 0.2,
    "code_processing_error": 2.4,
    "code_try_again_later": 2.0,
    "code_card_velocity_exceeded": 0.1,
    "code_do_not_honor": -0.3,
    "code_expired_card": -1.0,
    "code_incorrect_cvc": -1.0,
    "code_authentication_required": -1.0,
    # Insufficient funds: first retry best after ~48 h, not same or next day
    # (dunningcompare.com retry statistics citing Recurly/Stripe 2024; rekko.io retry timing guide).
    "nsf_first_day": -0.8,
    # Waiting helps: Stripe, "How we built it: Smart Retries" (the right wait depends on the cause).
    "log_hours_since_first_failure": 0.15,
    "log_hours_since_last_attempt": 0.10,
    # Weekend ~80 % and 08-10 h ~114 % of the average success rate (rezoki.com retry timing study):
    # ln 0.8 = -0.22, ln 1.14 = +0.13.
    # Technical failures: retry within hours (Stripe, "How we built it: Smart Retries");
    # cancels the waiting terms above for these codes.
    "technical_wait": -0.45,
    "weekend": -0.2,
    "business_hours": 0.13,
    "night": -0.15,
    # Paydays: up to 2.4x success on the 1st / 15th / month end (slickerhq.com, insufficient funds);
    # we take a cautious 1.5x odds, ln 1.5 = 0.4.
    "payday_window": 0.4,
    "pre_payday": -0.1,
    # Diminishing returns: 24 % recovered by the first retry, 35 % after 3, 50 % after 5
    # (dunningcompare.com citing Recurly and Chargebee 2024).
    "attempts_so_far": -0.35,
    # Assumptions: larger amounts and prepaid cards decline more; domestic cards are approved
    # more (PSE Consulting via blindpay.com: 94 % domestic vs 74 % cross-border in Germany).
    "log_amount": -0.1,
    "funding_prepaid": -0.4,
    "card_domestic": 0.2,
    # Assumptions: a customer's own history.
    "log_lifetime_value": 0.05,
    "log_past_failures": -0.1,
    "log_past_recoveries": 0.2,
    "log_past_chargebacks": -0.5,
}
# The reference retry: soft, generic, first retry 48 h after the failure, in banking
# hours on a weekday, 100.00 on a domestic card. Weights act on the difference from
# it, so explain() says what differs from a typical retry; at the reference itself
# P = sigmoid(-1.06) = 0.26, close to Recurly's 24 % first-retry figure above.
_REFERENCE: dict[str, float] = {
    "class_soft": 1.0,
    "code_generic_decline": 1.0,
    "log_hours_since_first_failure": math.log1p(48),
    "log_hours_since_last_attempt": math.log1p(48),
    "business_hours": 1.0,
    "log_amount": math.log1p(100),
    "card_domestic": 1.0,
}
_PRIOR_INTERCEPT = -2.5 + sum(_PRIOR_WEIGHTS.get(name, 0.0) * value for name, value in _REFERENCE.items())

PRIOR = LogisticRetryModel(
    version="prior-1",
    feature_names=FEATURE_NAMES,
    coefficients=tuple(_PRIOR_WEIGHTS.get(name, 0.0) for name in FEATURE_NAMES),
    intercept=_PRIOR_INTERCEPT,
    means=tuple(_REFERENCE.get(name, 0.0) for name in FEATURE_NAMES),
    scales=tuple(1.0 for _ in FEATURE_NAMES),
    confidence=0.3,
)


def current_model() -> RetryModel:
    """The RetryModelVersion marked current, else the prior (also when the stored one cannot be read)."""
    row = RetryModelVersion.objects.filter(is_current=True).first()
    if row is None:
        return PRIOR
    try:
        return LogisticRetryModel.from_parameters(row.version, row.parameters)
    except ModelFormatError:
        logger.exception("retry model %s is unreadable; using the prior", row.version, extra={"version": row.version})
        return PRIOR
