"""One review item's panel: the booking, the customer's history, the Stripe objects, the model's output, the timeline.

Everything is read from our mirrors (Checkfront's bookings, dj-stripe's
Stripe objects) and our own records, in a fixed number of queries: the panel
never calls Checkfront or Stripe while a reviewer waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from django.db.models import Count, Q, Sum
from djstripe import models as stripe

from audit.models import Decision
from bookings.models import Booking, BookingNote
from dunning.models import RecoveryCase
from fraud.models import Assessment
from payops import review
from payops.models import InboundEvent, ReviewItem, ReviewStatus
from payops.stripe_queries import BOOKING_METADATA_KEY

HISTORY_LIMIT = 10
TIMELINE_LIMIT = 200


@dataclass(frozen=True)
class StripeObject:
    id: str
    kind: str
    created: datetime | None
    amount_minor: int
    currency: str
    status: str
    detail: str


@dataclass(frozen=True)
class CustomerHistory:
    email: str
    bookings: list[Booking]
    booking_count: int
    lifetime_paid: dict[str, int]  # currency → minor units paid over all their bookings
    payments_succeeded: int
    payments_failed: int
    refunds: int
    disputes: int


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # event, decision, answer, note, review, assessment
    title: str
    detail: str = ""
    actor: str = ""


@dataclass(frozen=True)
class ItemDetail:
    item: ReviewItem
    booking: Booking | None
    history: CustomerHistory | None
    stripe_objects: list[StripeObject]
    timeline: list[TimelineEntry]
    approvers: list[str]
    recovery: RecoveryCase | None
    assessment: Assessment | None


def _money_of(data: dict[str, Any]) -> tuple[int, str]:
    return int(data.get("amount") or 0), str(data.get("currency") or "")


def stripe_objects(stripe_ids: list[str]) -> list[StripeObject]:
    """The PaymentIntents named by the decision, with their charges, refunds and disputes, from the mirror."""
    intent_ids = [i for i in stripe_ids if i.startswith("pi_")]
    intents = list(stripe.PaymentIntent.objects.filter(id__in=intent_ids))
    charges = list(stripe.Charge.objects.filter(Q(id__in=stripe_ids) | Q(stripe_data__payment_intent__in=intent_ids)))
    charge_ids = [c.id for c in charges]
    refunds = list(stripe.Refund.objects.filter(stripe_data__charge__in=charge_ids)) if charge_ids else []
    disputes = list(stripe.Dispute.objects.filter(stripe_data__charge__in=charge_ids)) if charge_ids else []
    rows: list[StripeObject] = []
    for pi in intents:
        data = pi.stripe_data
        error = data.get("last_payment_error") or {}
        amount, currency = _money_of(data)
        detail = str(error.get("decline_code") or error.get("code") or "")
        rows.append(StripeObject(pi.id, "PaymentIntent", pi.created, amount, currency, str(data.get("status")), detail))
    for ch in charges:
        data = ch.stripe_data
        outcome = data.get("outcome") or {}
        amount, currency = _money_of(data)
        words = [str(outcome.get("seller_message") or data.get("failure_message") or "")]
        if outcome.get("risk_level"):
            words.append(f"Radar {outcome.get('risk_level')} ({outcome.get('risk_score', '?')})")
        if data.get("amount_refunded"):
            words.append(f"refunded {data.get('amount_refunded')}")
        status = str(data.get("status") or "") + (" · disputed" if data.get("disputed") else "")
        rows.append(
            StripeObject(ch.id, "Charge", ch.created, amount, currency, status, "; ".join(w for w in words if w))
        )
    for obj, kind in [*((r, "Refund") for r in refunds), *((d, "Dispute") for d in disputes)]:
        data = obj.stripe_data
        amount, currency = _money_of(data)
        rows.append(
            StripeObject(
                obj.id, kind, obj.created, amount, currency, str(data.get("status")), str(data.get("reason") or "")
            )
        )
    return rows


def customer_history(email: str, *, exclude_code: str = "") -> CustomerHistory | None:
    if not email:
        return None
    theirs = Booking.objects.filter(customer_email__iexact=email)
    paid = theirs.order_by().values("currency").annotate(total=Sum("paid_minor"))
    codes = list(theirs.order_by("-booked_at").values_list("code", flat=True)[:500])
    intents = stripe.PaymentIntent.objects.filter(**{f"metadata__{BOOKING_METADATA_KEY}__in": codes})
    charges = stripe.Charge.objects.filter(payment_intent__in=intents)
    outcomes = charges.aggregate(
        ok=Count("pk", filter=Q(stripe_data__status="succeeded")),
        failed=Count("pk", filter=Q(stripe_data__status="failed")),
    )
    # A list, not a subquery: PostgreSQL will not compare the JSON charge id with a column of text.
    charge_ids = list(charges.values_list("id", flat=True))
    return CustomerHistory(
        email=email,
        bookings=list(theirs.exclude(code=exclude_code).order_by("-booked_at", "-pk")[:HISTORY_LIMIT]),
        booking_count=theirs.count(),
        lifetime_paid={row["currency"]: int(row["total"] or 0) for row in paid if row["total"]},
        payments_succeeded=outcomes["ok"],
        payments_failed=outcomes["failed"],
        refunds=stripe.Refund.objects.filter(stripe_data__charge__in=charge_ids).count(),
        disputes=stripe.Dispute.objects.filter(stripe_data__charge__in=charge_ids).count(),
    )


def _who(decision: Decision) -> str:
    return decision.actor.get_username() if decision.actor else "PayOps"


def _decision_entries(decisions: list[Decision], item: ReviewItem) -> list[TimelineEntry]:
    entries = []
    for d in decisions:
        if d.action == review.NOTE:
            entries.append(
                TimelineEntry(d.created_at, "note", d.route_reason or "note", str(d.params.get("body")), _who(d))
            )
            continue
        if d.actor_id:  # a person's answer: what they said is the headline
            entries.append(TimelineEntry(d.created_at, "answer", f"{d.reason}: {d.action}", "", _who(d)))
        else:
            title = (
                f"Proposed for review: {d.action}"
                if d.pk == item.decision_id
                else f"{d.get_workflow_display()}: {d.action}"
            )
            detail = f"{d.reason} — {d.get_route_display().lower()} ({d.route_reason})" if d.route_reason else d.reason
            entries.append(TimelineEntry(d.created_at, "decision", title, detail, _who(d)))
        if d.outcome_at and d.outcome not in ("queued", "logged"):
            result = d.outcome_detail.get("error") or d.outcome_detail.get("skipped") or ""
            entries.append(
                TimelineEntry(d.outcome_at, "decision", f"{d.action}: {d.get_outcome_display().lower()}", str(result))
            )
    return entries


def timeline(item: ReviewItem) -> list[TimelineEntry]:
    """Every event, decision, answer, note and change about this booking (or, without one, this item), newest first."""
    code = item.booking_id
    decisions = list(
        Decision.objects.filter(Q(booking_id=code) if code else Q(trace_id=item.decision.trace_id))
        .select_related("actor")
        .order_by("-created_at")[:TIMELINE_LIMIT]
    )
    entries = _decision_entries(decisions, item)
    traces = {d.trace_id for d in decisions}
    for event in InboundEvent.objects.filter(trace_id__in=traces).order_by("-received_at")[:TIMELINE_LIMIT]:
        entries.append(
            TimelineEntry(
                event.received_at, "event", f"{event.get_source_display()} {event.event_type}", event.event_id
            )
        )
    rows = list(item.history.select_related("history_user").order_by("history_date")[:TIMELINE_LIMIT])
    for before, row in pairwise(rows):
        if row.status != before.status:  # a status change, not an assignment or a param change
            who = row.history_user.get_username() if row.history_user else "PayOps"
            label = ReviewStatus(row.status).label.lower()
            entries.append(TimelineEntry(row.history_date, "review", f"item #{item.pk} {label}", "", who))
    if code:
        notes = BookingNote.objects.filter(booking_code=code, written_at__isnull=False).order_by("-written_at")
        for note in notes[:TIMELINE_LIMIT]:
            entries.append(
                TimelineEntry(note.written_at or note.created_at, "note", "note written in Checkfront", note.body)
            )
        for a in Assessment.objects.filter(booking_code=code).order_by("-scored_at")[:20]:
            entries.append(
                TimelineEntry(
                    a.scored_at,
                    "assessment",
                    f"fraud score {a.score:.0f} ({a.get_band_display()})",
                    "; ".join(a.reasons),
                )
            )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


def item_detail(item_id: int) -> ItemDetail | None:
    item = ReviewItem.objects.select_related("decision", "assignee").filter(pk=item_id).first()
    if item is None:
        return None
    booking = (
        Booking.objects.prefetch_related("items").filter(code=item.booking_id).first() if item.booking_id else None
    )
    recovery = None
    case_id = item.params.get("case_id")
    if isinstance(case_id, int):
        recovery = RecoveryCase.objects.prefetch_related("attempts").filter(pk=case_id).first()
    email = booking.customer_email if booking else (recovery.customer_email if recovery else "")
    assessment = Assessment.objects.filter(decision=item.decision).first()
    if assessment is None and item.booking_id:
        assessment = Assessment.objects.filter(booking_code=item.booking_id).order_by("-scored_at").first()
    return ItemDetail(
        item=item,
        booking=booking,
        history=customer_history(email, exclude_code=item.booking_id),
        stripe_objects=stripe_objects([str(i) for i in item.decision.stripe_ids or []]),
        timeline=timeline(item),
        approvers=list(item.approvals.order_by("created_at").values_list("user__username", flat=True)),
        recovery=recovery,
        assessment=assessment,
    )
