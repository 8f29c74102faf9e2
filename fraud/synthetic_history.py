"""A generated fraud history for the demo and the tests: assessed bookings with labels, as an account would collect.

Not booking data from anywhere: a documented story. About 3% of bookings are
fraud. Fraud tends to book late, big and from new throwaway or free-mail
addresses, with countries that disagree, bursts from one card, IP or device
and a higher Stripe risk; but each pattern also shows up in some good
bookings and is missing from some fraud, and 15% of fraud looks like any
good booking, so no single feature decides and nothing scores perfectly.
Rows are stored as Assessments (booking codes SYN-…) and FraudLabels, the
same tables real scoring and labelling fill, so training reads one source.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction

from fraud.features import FEATURE_NAMES, NAN, FraudFeatures
from fraud.models import Assessment, Band, FraudLabel, LabelSource, Stage

PREFIX = "SYN-"
FRAUD_RATE = 0.03
MODEL_VERSION = "synthetic-history"


def _row(rng: random.Random, fraud: bool) -> dict[str, float]:
    def chance(p_fraud: float, p_good: float) -> float:
        return float(rng.random() < (p_fraud if fraud else p_good))

    lead = rng.lognormvariate(math.log(36 if fraud else 240), 1.5)
    ratio = rng.lognormvariate(math.log(1.5 if fraud else 1.0), 0.5)
    amount = 120 * ratio * rng.uniform(0.7, 1.3)
    geo_known = rng.random() < 0.8
    burst = rng.random() < (0.25 if fraud else 0.05)
    row: dict[str, float] = {
        "amount_log": math.log1p(amount),
        "amount_vs_item_usual": ratio,
        "lead_time_hours": lead,
        # Good customers book at night too (other time zones, night owls), only less often.
        "hour_local": float(rng.randint(0, 6) if rng.random() < (0.4 if fraud else 0.08) else rng.randint(7, 22)),
        "returning_customer": chance(0.05, 0.35),
        "email_freemail": chance(0.6, 0.45),
        "email_disposable": chance(0.12, 0.01),
        "email_domain_new": chance(0.5, 0.25),
        "name_email_mismatch": chance(0.4, 0.25),
        "ip_billing_country_mismatch": chance(0.3, 0.08) if geo_known else NAN,
        "card_billing_country_mismatch": chance(0.35, 0.15),  # tourists pay with foreign cards
        "ip_card_country_mismatch": chance(0.3, 0.1) if geo_known else NAN,
        # Groups and unusual mixes are a fraud pattern, and also what school trips and families book.
        "party_size": float(rng.randint(4, 12) if rng.random() < (0.5 if fraud else 0.1) else rng.randint(1, 5)),
        "item_mix_rarity": rng.uniform(0.8, 1.0) if rng.random() < (0.4 if fraud else 0.15) else rng.uniform(0.3, 0.9),
        "stripe_risk_score": float(min(99, max(0, rng.gauss(45 if fraud else 25, 18)))),
    }
    row["prior_paid_bookings"] = float(rng.randint(1, 6)) if row["returning_customer"] else 0.0
    row["party_size_vs_usual"] = row["party_size"] / 2.5
    level = 2.0 if row["stripe_risk_score"] >= 75 else 1.0 if row["stripe_risk_score"] >= 65 else 0.0
    row["stripe_risk_level"] = level
    row["stripe_outcome_flagged"] = float(level == 2.0)
    for key in ("email", "ip", "card", "device"):
        n = rng.randint(2, 6) if burst and rng.random() < 0.7 else 1
        if key == "card" and not fraud and rng.random() < 0.1:
            n = rng.randint(2, 4)  # one card paying for several bookings: a family's, a company's
        row[f"{key}_bookings_1h"] = float(n)
        row[f"{key}_bookings_24h"] = float(n + (rng.randint(0, 2) if burst else 0))
        row[f"{key}_bookings_7d"] = row[f"{key}_bookings_24h"] + (rng.randint(0, 2) if rng.random() < 0.2 else 0)
        failures = rng.randint(1, 4) if burst and rng.random() < 0.6 else 0
        row[f"{key}_failures_1h"] = float(rng.randint(0, failures))
        row[f"{key}_failures_24h"] = float(failures)
        row[f"{key}_failures_7d"] = float(failures + (rng.randint(0, 2) if rng.random() < 0.1 else 0))
    return row


def generate(
    *, bookings: int, end: datetime, days: int = 365, seed: int = 7, progress: Callable[[int], None] | None = None
) -> int:
    """Store `bookings` assessed and labelled bookings spread over `days` before `end`; returns how many are fraud."""
    rng = random.Random(seed)
    step = timedelta(days=days) / max(bookings, 1)
    assessments: list[Assessment] = []
    labels: list[FraudLabel] = []
    for i in range(bookings):
        fraud = rng.random() < FRAUD_RATE
        # A share of fraud looks like any good booking (a stolen card used carefully): no model catches it.
        values = _row(rng, fraud and rng.random() > 0.15)
        features = FraudFeatures(np.array([values.get(name, NAN) for name in FEATURE_NAMES], dtype=float))
        code = f"{PREFIX}{seed}-{i:06d}"
        assessments.append(
            Assessment(
                booking_code=code,
                stage=Stage.PAYMENT,
                score=0.0,
                probability=0.0,
                band=Band.LOW,
                confidence=0.0,
                model_version=MODEL_VERSION,
                reasons=["generated history"],
                features=features.as_dict(),
                scored_at=end - timedelta(days=days) + step * i,
            )
        )
        # Good bookings get a label too: a reviewer released some; the rest mature unlabelled.
        if fraud or rng.random() < 0.1:
            labels.append(
                FraudLabel(booking_code=code, is_fraud=fraud, source=LabelSource.REVIEW, source_id=f"synthetic:{code}")
            )
        if progress and (i + 1) % 1000 == 0:
            progress(i + 1)
    with transaction.atomic():
        Assessment.objects.bulk_create(assessments, batch_size=1000)
        FraudLabel.objects.bulk_create(labels, batch_size=1000)
    return sum(1 for label in labels if label.is_fraud)


def clear() -> None:
    Assessment.objects.filter(booking_code__startswith=PREFIX).delete()
    FraudLabel.objects.filter(booking_code__startswith=PREFIX).delete()
