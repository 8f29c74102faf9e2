"""A repeatable, believable history of failed booking payments and their retries, for demos, tests and backtests."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from dunning.decline_codes import SOFT, classify_decline
from dunning.models import Initiator, RecoveryCase, RecoveryStatus, RetryAttempt
from dunning.retry_features import TECHNICAL_CODES, RetryFeatures
from dunning.retry_model import PRIOR

# How often each code opens a case: insufficient funds and do-not-honor lead
# (Visa's declines analysis via churnward.com: together ~3/4 of declines).
CODE_MIX: tuple[tuple[str, float], ...] = (
    ("insufficient_funds", 0.34),
    ("generic_decline", 0.16),
    ("do_not_honor", 0.16),
    ("processing_error", 0.05),
    ("try_again_later", 0.03),
    ("card_velocity_exceeded", 0.03),
    ("expired_card", 0.08),
    ("incorrect_cvc", 0.03),
    ("authentication_required", 0.03),
    ("lost_card", 0.02),
    ("stolen_card", 0.01),
    ("do_not_try_again", 0.02),
    ("transaction_not_allowed", 0.02),
    ("call_issuer", 0.02),
)
# What the recording policy waited between tries: varied on purpose, so the
# history holds every timing a model should learn from.
GAPS_HOURS = (2, 4, 8, 12, 24, 36, 48, 72, 96, 120)
CURRENCIES = (("eur", "DE", 0.6), ("usd", "US", 0.25), ("gbp", "GB", 0.15))
BRANDS = (("visa", 0.55), ("mastercard", 0.35), ("amex", 0.10))
FUNDINGS = (("debit", 0.5), ("credit", 0.42), ("prepaid", 0.08))
MAX_RETRIES = 4
SERVICE_MARGIN = timedelta(hours=48)


@dataclass
class _Customer:
    id: str
    email: str
    fingerprint: str
    brand: str
    funding: str
    country: str
    currency: str
    lifetime_value_minor: int
    chargebacks: int
    failures: int = 0
    recoveries: int = 0


def true_success_probability(features: RetryFeatures) -> float:
    """The hidden truth the history is drawn from: the published directions, with sizes of its own.

    Deliberately not the prior: a model trained on this history should learn
    that paydays, mornings and past recoveries matter more than the prior says.
    """
    z = -1.3 + {"soft": 0.0, "customer": -2.0, "hard": -5.0}.get(features.decline_class, -2.0)
    z += {
        "insufficient_funds": 0.2,
        "processing_error": 1.5,
        "try_again_later": 1.2,
        "do_not_honor": -0.5,
    }.get(features.decline_code, 0.0)
    if features.decline_code == "insufficient_funds":
        z -= 1.2 if features.hours_since_first_failure < 24 else 0.0
        z += 1.0 if features.day_of_month in (1, 2, 15, 16) or features.day_of_month == features.days_in_month else 0.0
    if features.decline_code in TECHNICAL_CODES and features.hours_since_last_attempt > 24:
        z -= 0.6
    z -= 0.4 if features.local_weekday >= 5 else 0.0
    z += 0.4 if 8 <= features.local_hour < 12 else (-0.5 if features.local_hour < 6 else 0.0)
    z -= 0.45 * features.attempts_so_far
    z -= 0.3 * (math.log1p(features.amount_minor / 100) - math.log1p(100))
    z += {"prepaid": -0.7}.get(features.card_funding, 0.0) + {"amex": 0.3}.get(features.card_brand, 0.0)
    z += 0.6 if features.past_recoveries else 0.0
    z -= 0.9 * features.past_chargebacks
    return 1 / (1 + math.exp(-z))


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([item for item, _ in weighted], weights=[weight for _, weight in weighted])[0]


def _customers(rng: random.Random, count: int, seed: int) -> list[_Customer]:
    people = []
    for i in range(count):
        currency, country, _ = rng.choices(CURRENCIES, weights=[w for _, _, w in CURRENCIES])[0]
        people.append(
            _Customer(
                id=f"cus_synth_{seed}_{i}",
                email=f"guest{seed}-{i}@example.test",
                fingerprint=f"fp_synth_{seed}_{i}",
                brand=_pick(rng, BRANDS),
                funding=_pick(rng, FUNDINGS),
                country=country if rng.random() < 0.85 else rng.choice(["FR", "NL", "CA", "AU", "IN"]),
                currency=currency,
                lifetime_value_minor=int(rng.lognormvariate(9.5, 1.2)),
                chargebacks=1 if rng.random() < 0.04 else 0,
            )
        )
    return people


def generate_history(
    *,
    cases: int,
    seed: int,
    end: datetime,
    days: int = 180,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write `cases` RecoveryCases (first failures spread over `days` before `end`) with their attempts.

    Deterministic for a seed; cases of a seed already present are skipped, so a
    second run adds nothing. Returns how many cases were written.
    """
    rng = random.Random(seed)
    people = _customers(rng, max(1, cases // 3), seed)
    starts = sorted(end - timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(cases))
    existing = set(
        RecoveryCase.objects.filter(payment_intent_id__startswith=f"pi_synth_{seed}_").values_list(
            "payment_intent_id", flat=True
        )
    )
    new_cases: list[RecoveryCase] = []
    new_attempts: list[list[RetryAttempt]] = []
    for index, first_failed_at in enumerate(starts):
        customer = rng.choice(people)
        case, attempts = _simulate(rng, seed, index, customer, first_failed_at, end)
        if case.payment_intent_id not in existing:
            new_cases.append(case)
            new_attempts.append(attempts)
        if progress and (index + 1) % 100 == 0:
            progress(index + 1, cases)
    # One transaction: a half-written history would skew any model trained on it.
    with transaction.atomic():
        RecoveryCase.objects.bulk_create(new_cases, batch_size=500)
        for case, attempts in zip(new_cases, new_attempts, strict=True):
            for attempt in attempts:
                attempt.case = case
        RetryAttempt.objects.bulk_create([a for group in new_attempts for a in group], batch_size=1000)
    if progress:
        progress(cases, cases)
    return len(new_cases)


def _simulate(
    rng: random.Random, seed: int, index: int, customer: _Customer, first_failed_at: datetime, end: datetime
) -> tuple[RecoveryCase, list[RetryAttempt]]:
    code = _pick(rng, CODE_MIX)
    mac = ""
    if customer.brand == "mastercard" and rng.random() < 0.15:
        mac = rng.choice(["02", "24", "25", "26", "03"])
    verdict = classify_decline(
        code="card_declined",
        decline_code=code,
        network_advice_code=mac,
        card_brand=customer.brand,
        card_funding=customer.funding,
        card_country=customer.country,
    )
    amount = max(500, int(rng.lognormvariate(9.4, 0.8)) // 100 * 100)
    service_start_at = first_failed_at + timedelta(days=rng.uniform(3, 45))
    first = RetryAttempt(
        number=0,
        attempted_at=first_failed_at,
        succeeded=False,
        initiator=rng.choice([Initiator.CUSTOMER, Initiator.MERCHANT]),
        decline_code=code,
        decline_class=verdict.decline_class,
        network_advice_code=mac,
        amount_minor=amount,
        currency=customer.currency,
        card_fingerprint=customer.fingerprint,
        card_brand=customer.brand,
    )
    attempts = [first]
    status = RecoveryStatus.CANCELLED
    at = first_failed_at
    if verdict.decline_class == SOFT:
        wait = verdict.retry_not_before or timedelta(0)
        for number in range(1, MAX_RETRIES + 1):
            at = at + max(timedelta(hours=rng.choice(GAPS_HOURS)), wait) + timedelta(minutes=rng.randint(0, 180))
            wait = timedelta(0)
            if at > service_start_at - SERVICE_MARGIN or at > end:
                break
            features = RetryFeatures.at_time(
                at=at,
                first_failed_at=first_failed_at,
                last_attempt_at=attempts[-1].attempted_at,
                decline_class=verdict.decline_class,
                decline_code=verdict.code,
                attempts_so_far=number - 1,
                amount_minor=amount,
                currency=customer.currency,
                card_brand=customer.brand,
                card_funding=customer.funding,
                card_country=customer.country,
                lifetime_value_minor=customer.lifetime_value_minor,
                past_failures=customer.failures,
                past_recoveries=customer.recoveries,
                past_chargebacks=customer.chargebacks,
            )
            succeeded = rng.random() < true_success_probability(features)
            attempts.append(
                RetryAttempt(
                    number=number,
                    attempted_at=at,
                    succeeded=succeeded,
                    initiator=Initiator.MERCHANT,
                    decline_code="" if succeeded else verdict.code,
                    decline_class="" if succeeded else verdict.decline_class,
                    amount_minor=amount,
                    currency=customer.currency,
                    card_fingerprint=customer.fingerprint,
                    card_brand=customer.brand,
                    features=features.as_dict(),
                    predicted_success=PRIOR.predict(features),
                    model_version=PRIOR.version,
                )
            )
            if succeeded:
                status = RecoveryStatus.RECOVERED
                break
    if status != RecoveryStatus.RECOVERED:
        # The customer answered a card-update request (or did not).
        answered = {SOFT: 0.2, "customer": 0.45, "hard": 0.25}[verdict.decline_class]
        if verdict.suspected_fraud:
            status = RecoveryStatus.ESCALATED
        elif rng.random() < answered:
            status = RecoveryStatus.RECOVERED
    customer.failures += 1
    customer.recoveries += status == RecoveryStatus.RECOVERED
    case = RecoveryCase(
        payment_intent_id=f"pi_synth_{seed}_{index:06d}",
        booking_code=f"SYN-{seed}-{index:05d}",
        customer_id=customer.id,
        customer_email=customer.email,
        amount_minor=amount,
        currency=customer.currency,
        card_fingerprint=customer.fingerprint,
        card_brand=customer.brand,
        card_country=customer.country,
        card_funding=customer.funding,
        status=status,
        decline_class=verdict.decline_class,
        last_decline_code=verdict.code,
        first_failed_at=first_failed_at,
        last_failed_at=max(a.attempted_at for a in attempts if not a.succeeded),
        retries=len(attempts) - 1,
        service_start_at=service_start_at,
    )
    return case, attempts
