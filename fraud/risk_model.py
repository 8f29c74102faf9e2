"""The fraud models: the documented rules prior for cold start, a trained model loaded from skops, and their reasons.

Both answer P(fraud) for rows of features (FEATURE_NAMES order). Reasons are
found the same way for either: each group of features is set back to its
neutral value (what a typical clean booking has) and the drop in probability
is that group's push. One batch predict of (groups + 1) rows, so it costs
about one more prediction.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from django.conf import settings

from fraud.features import FEATURE_BY_NAME, FEATURE_NAMES, FEATURES, GROUP_INDEX, GROUPS, Facts, FraudFeatures
from fraud.models import FraudModelVersion

logger = logging.getLogger(__name__)

PRIOR_VERSION = "fraud-prior-1"
PRIOR_CONFIDENCE = 0.3


class FraudModel(Protocol):
    @property
    def version(self) -> str: ...

    @property
    def confidence(self) -> float:
        """0-1: how far its probabilities may be trusted (fraud/README.md)."""
        ...

    @property
    def neutral(self) -> np.ndarray:
        """Each feature's value for a typical clean booking (the reasons' reference)."""
        ...

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """P(fraud) for each row of X (FEATURE_NAMES order, NaN = absent)."""
        ...


# --- the prior: documented points, a logistic curve --------------------------------------------------------
#
# Until the account has labels, risk comes from patterns the payments industry
# documents (Stripe Radar's and the card networks' fraud guides): last-minute
# high-value bookings, throwaway email, countries that disagree, many attempts
# from one card / IP / device, and Stripe's own risk level. Each rule adds
# log-odds to a base of about 1% fraud; an absent fact adds nothing.


class _Row:
    """A feature row read by name, for the prior's rules."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __getitem__(self, name: str) -> float:
        return float(self.values[_INDEX[name]])


_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}


PRIOR_BASE = -4.6  # sigmoid(-4.6) ≈ 1%


def _prior_points(x: _Row) -> float:
    def v(name: str) -> float:
        value = float(x[name])
        return 0.0 if math.isnan(value) else value

    def present(name: str) -> bool:
        return not math.isnan(float(x[name]))

    z = PRIOR_BASE
    lead = float(x["lead_time_hours"])
    ratio = float(x["amount_vs_item_usual"])
    big = (present("amount_vs_item_usual") and ratio >= 2.0) or v("amount_log") >= math.log1p(1000)
    if present("lead_time_hours"):
        if lead < 6:
            z += 1.4
        elif lead < 24:
            z += 0.8
        if lead < 24 and big:
            z += 1.2  # last-minute and large: the classic card-testing-then-cash-out booking
    if big:
        z += 0.6
    z += 2.0 * v("email_disposable") + 0.3 * v("email_freemail") + 0.5 * v("email_domain_new")
    z += 0.4 * v("name_email_mismatch")
    z += 1.3 * v("ip_card_country_mismatch") + 0.9 * v("card_billing_country_mismatch")
    z += 0.7 * v("ip_billing_country_mismatch")
    for key in ("email", "ip", "card", "device"):
        z += 0.6 * min(max(v(f"{key}_bookings_1h") - 1, 0), 3)
        z += 0.3 * min(max(v(f"{key}_bookings_24h") - 2, 0), 4)
        z += 0.8 * min(v(f"{key}_failures_24h"), 4) + 0.4 * min(v(f"{key}_failures_1h"), 3)
    z -= 1.0 * v("returning_customer") + 0.2 * min(v("prior_paid_bookings"), 5)
    z += 0.6 * max(v("party_size_vs_usual") - 2, 0) + 0.8 * max(v("item_mix_rarity") - 0.9, 0) * 10
    z += {0.0: -0.3, 1.0: 1.2, 2.0: 3.0}.get(v("stripe_risk_level"), 0.0) if present("stripe_risk_level") else 0.0
    z += 0.02 * max(v("stripe_risk_score") - 50, 0)
    z += 1.5 * v("stripe_outcome_flagged")
    return z


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


@dataclass(frozen=True)
class RulesPrior:
    """The cold-start model: documented rules above, no training."""

    version: str = PRIOR_VERSION
    confidence: float = PRIOR_CONFIDENCE

    @property
    def neutral(self) -> np.ndarray:
        return NEUTRAL

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        return _sigmoid(np.array([_prior_points(_Row(row)) for row in np.atleast_2d(X)]))


# A clean booking: booked a week ahead at the usual price, by a returning
# customer from a known domain, everything in one country, nothing repeated.
_NEUTRAL_VALUES: dict[str, float] = {
    "amount_log": math.log1p(100),
    "amount_vs_item_usual": 1.0,
    "lead_time_hours": 24 * 14,
    "hour_local": 14,
    "returning_customer": 0,
    "prior_paid_bookings": 0,
    "email_freemail": 0,
    "email_disposable": 0,
    "email_domain_new": 0,
    "name_email_mismatch": 0,
    "ip_billing_country_mismatch": 0,
    "card_billing_country_mismatch": 0,
    "ip_card_country_mismatch": 0,
    "party_size": 2,
    "party_size_vs_usual": 1.0,
    "item_mix_rarity": 0.5,
    "stripe_risk_score": 20,
    "stripe_risk_level": 0,
    "stripe_outcome_flagged": 0,
}
# Velocity: one booking (this one) in every window, no failures.
NEUTRAL = np.array(
    [_NEUTRAL_VALUES.get(name, 1.0 if "_bookings_" in name else 0.0) for name in FEATURE_NAMES], dtype=float
)


# --- a trained model -----------------------------------------------------------------------------------


class ArtefactError(RuntimeError):
    """A stored model that is missing, altered or not loadable."""


def model_dir() -> Path:
    return Path(settings.FRAUD_MODEL_DIR)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Beyond what skops trusts by default (numpy, plain scikit-learn estimators), a fraud model may hold
# exactly these: the calibration wrapper and the booster's trees, nothing that can carry code.
TRUSTED_TYPES = frozenset(
    {
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.isotonic.IsotonicRegression",
        "sklearn.frozen._frozen.FrozenEstimator",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


def load_estimator(path: Path, *, sha256: str) -> Any:
    """Load a skops file after checking its digest, trusting only the types a fraud model is made of."""
    import skops.io as sio

    if not path.exists():
        raise ArtefactError(f"model file {path} is missing")
    data = path.read_bytes()  # read once: the bytes checked are the bytes loaded
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArtefactError(f"model file {path} does not match its recorded digest")
    needed = sio.get_untrusted_types(data=data)
    unexpected = sorted(set(needed) - TRUSTED_TYPES)
    if unexpected:
        raise ArtefactError(f"model file {path} holds types a fraud model does not use: {unexpected}")
    return sio.loads(data, trusted=needed)


@dataclass(frozen=True)
class TrainedModel:
    """A calibrated scikit-learn classifier trained on a subset of the features (its feature_names)."""

    version: str
    confidence: float
    estimator: Any
    feature_names: tuple[str, ...]
    neutral: np.ndarray

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        from fraud.estimator import fraud_probability

        columns = [_INDEX[name] for name in self.feature_names]
        return np.asarray(fraud_probability(self.estimator, np.atleast_2d(X)[:, columns]), dtype=float)


_cache: dict[str, TrainedModel] = {}
_refused: set[str] = set()


def current_model() -> FraudModel:
    """The promoted model, or the prior when none is (or its file cannot be trusted)."""
    row = FraudModelVersion.objects.filter(is_current=True).first()
    if row is None:
        return RulesPrior()
    cached = _cache.get(row.version)
    if cached is not None:
        return cached
    if row.version in _refused:
        return RulesPrior()
    try:
        estimator = load_estimator(model_dir() / row.artefact, sha256=row.sha256)
    except ArtefactError:
        # Said once per process, not on every booking; retrain or promote another version to recover.
        logger.exception("fraud model %s cannot be loaded; scoring with the prior", row.version)
        _refused.add(row.version)
        return RulesPrior()
    metrics = row.metrics or {}
    neutral = np.array(metrics.get("neutral") or NEUTRAL.tolist(), dtype=float)
    model = TrainedModel(
        version=row.version,
        confidence=float(metrics.get("confidence", PRIOR_CONFIDENCE)),
        estimator=estimator,
        feature_names=tuple(row.feature_names),
        neutral=neutral,
    )
    _cache[row.version] = model
    return model


# --- reasons --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    probability: float
    reasons: list[str]


def score_with_reasons(model: FraudModel, features: FraudFeatures, facts: Facts, *, top: int = 3) -> Scored:
    """P(fraud) and the strongest reasons, in words, each saying which way it pushes."""
    x = features.values
    rows = np.tile(x, (len(GROUPS) + 1, 1))
    for i, group in enumerate(GROUPS, start=1):
        idx = GROUP_INDEX[group]
        rows[i, idx] = model.neutral[idx]
    p = model.probabilities(rows)
    base = float(p[0])
    pushes = [(base - float(p[i]), group) for i, group in enumerate(GROUPS, start=1)]
    pushes.sort(key=lambda item: -abs(item[0]))
    reasons: list[str] = []
    for push, group in pushes:
        if abs(push) < 0.005:
            continue
        text = _group_words(group, x, facts)
        if text:
            reasons.append(f"{text} ({'raises' if push > 0 else 'lowers'} the risk)")
        if len(reasons) == top:
            break
    return Scored(probability=base, reasons=reasons)


def _group_words(group: str, x: np.ndarray, facts: Facts) -> str:
    """The group's most telling feature, in words."""
    features = [FEATURES[i] for i in GROUP_INDEX[group]]
    values = [float(x[_INDEX[f.name]]) for f in features]
    present = [(f, v) for f, v in zip(features, values, strict=True) if not math.isnan(v)]
    if not present:
        return ""
    if group == "geo":
        return FEATURE_BY_NAME["ip_card_country_mismatch"].words(0.0, facts)
    if group.startswith("velocity_"):
        # The busiest window or the failures, whichever says more.
        feature, value = max(present, key=lambda fv: fv[1] if "failures" not in fv[0].name else fv[1] * 3)
        return feature.words(value, facts)
    if group == "email":
        flagged = [(f, v) for f, v in present if v]
        feature, value = flagged[0] if flagged else present[0]
        return feature.words(value, facts) if flagged else f"email at {facts.email_domain or 'an unknown domain'}"
    feature, value = present[0]
    return feature.words(value, facts)
