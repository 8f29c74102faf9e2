"""Scoring a booking: facts → features → model → admins' lists → a 0-100 score, a band and reasons, stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from bookings.models import Booking
from fraud import facts as booking_facts
from fraud.email_domains import email_domain
from fraud.features import compute_features
from fraud.models import Assessment, Band, FraudListEntry, FraudPolicy, ListAction, ListKind, Stage, normalised
from fraud.risk_model import FraudModel, RulesPrior, current_model, score_with_reasons

logger = logging.getLogger(__name__)


def fraud_policy() -> FraudPolicy:
    """The one policy row, made with the documented defaults the first time it is asked for."""
    policy = FraudPolicy.objects.order_by("pk").first()
    return policy or FraudPolicy.objects.create()


def band_for(score: float, policy: FraudPolicy) -> str:
    if score >= policy.block_from:
        return Band.BLOCK
    if score >= policy.high_from:
        return Band.HIGH
    if score >= policy.elevated_from:
        return Band.ELEVATED
    return Band.LOW


@dataclass(frozen=True)
class ListHit:
    action: str
    kind: str
    value: str
    note: str

    def words(self) -> str:
        label = dict(ListKind.choices)[self.kind].lower()
        where = "blocklist" if self.action == ListAction.BLOCK else "allowlist"
        return f"{label} on the {where}" + (f" ({self.note})" if self.note else "")


def list_hits(who: booking_facts.Identity) -> list[ListHit]:
    """The admins' entries this booking matches: its email, the email's domain, IP or card."""
    domain = email_domain(who.email)
    # A listed domain covers its subdomains: mail.example.com matches example.com.
    parts = domain.split(".") if domain else []
    domains = [".".join(parts[i:]) for i in range(len(parts) - 1)]
    query = Q(kind=ListKind.DOMAIN, value__in=domains)
    for kind, value in ((ListKind.EMAIL, who.email), (ListKind.IP, who.ip), (ListKind.CARD, who.card)):
        if value:
            query |= Q(kind=kind, value=normalised(value))
    return [
        ListHit(action=e.action, kind=e.kind, value=e.value, note=e.note)
        for e in FraudListEntry.objects.filter(query).order_by("action", "kind")
    ]


def apply_lists(score: float, hits: list[ListHit], policy: FraudPolicy) -> tuple[float, list[str]]:
    """A blocklist match lifts the score to the block band; an allowlist match (and no block) caps it below elevated."""
    blocks = [h for h in hits if h.action == ListAction.BLOCK]
    if blocks:
        return max(score, float(policy.block_from)), [h.words() for h in blocks]
    allows = [h for h in hits if h.action == ListAction.ALLOW]
    if allows:
        return min(score, float(policy.elevated_from) - 1), [h.words() for h in allows]
    return score, []


def model_for(stage: str) -> FraudModel:
    """Before payment the rules prior scores: a trained model learns from payments (card, Stripe's risk and
    device present) and would read their absence as a sign of a good booking."""
    return RulesPrior() if stage == Stage.BOOKING else current_model()


def assess(
    booking: Booking, *, stage: str, at: datetime, payment: booking_facts.PaymentFacts | None = None
) -> Assessment:
    """Score the booking as known at `at` and store the result (features, not identities)."""
    policy = fraud_policy()
    who = booking_facts.identity(booking, payment)
    facts = booking_facts.gather(booking, at=at, payment=payment, who=who)
    features = compute_features(facts)
    model = model_for(stage)
    scored = score_with_reasons(model, features, facts)
    hits = list_hits(who)
    score, list_reasons = apply_lists(round(100 * scored.probability, 1), hits, policy)
    assessment = Assessment.objects.create(
        booking_code=booking.code,
        stage=stage,
        payment_intent_id=payment.payment_intent_id if payment else "",
        charge_id=payment.charge_id if payment else "",
        score=score,
        probability=scored.probability,
        band=band_for(score, policy),
        confidence=model.confidence,
        model_version=model.version,
        reasons=(list_reasons + scored.reasons)[:4] or ["nothing unusual about this booking"],
        features=features.as_dict(),
        list_hits=[h.words() for h in hits],
        scored_at=at,
    )
    logger.info(
        "booking %s scored %.0f (%s) at the %s stage by %s",
        booking.code,
        score,
        assessment.band,
        stage,
        model.version,
    )
    return assessment


__all__ = ["Stage", "assess", "band_for", "fraud_policy"]
