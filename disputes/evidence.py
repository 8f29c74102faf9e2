"""The evidence package: what PayOps knows about a disputed booking, written into Stripe's evidence text fields.

Stripe's file fields (receipt, customer_communication, …) need uploads PayOps
does not make; their content goes into text instead: receipts and the
payment history, the booking's notes and the emails sent, in
`uncategorized_text`. Every field a reviewer may edit is in EVIDENCE_FIELDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from disputes import rebuttals
from disputes.facts import DisputeFacts
from payops.money import from_minor

# The text fields PayOps fills or a reviewer may edit, in the order the console shows them, with their labels.
EVIDENCE_FIELDS: dict[str, str] = {
    "product_description": "What was bought",
    "service_date": "Service date",
    "customer_name": "Customer name",
    "customer_email_address": "Customer email",
    "customer_purchase_ip": "Customer IP when booking",
    "billing_address": "Billing address",
    "cancellation_policy_disclosure": "Cancellation policy, and how the customer saw it",
    "refund_policy_disclosure": "Refund policy, and how the customer saw it",
    "refund_refusal_explanation": "Why no (further) refund is owed",
    "cancellation_rebuttal": "Why the cancellation claim does not hold",
    "duplicate_charge_explanation": "Why this is not a duplicate charge",
    "duplicate_charge_id": "The other charge (duplicate claims)",
    "access_activity_log": "Booking activity",
    "uncategorized_text": "Rebuttal, payments, receipts and correspondence",
}
# Stripe accepts at most 150,000 characters of evidence text in all; the
# stand-in caps a field at 20,000. Stay within both.
MAX_FIELD_CHARS = 20_000
MAX_TOTAL_CHARS = 150_000


@dataclass(frozen=True)
class Package:
    evidence: dict[str, str]  # every EVIDENCE_FIELDS name → text ("" when there is nothing to say)
    gaps: list[str]  # what a reviewer should add or check, in words


def _money(amount_minor: int, currency: str) -> str:
    return f"{currency.upper()} {from_minor(amount_minor, currency)}"


def _at(when: datetime | None) -> str:
    if when is None:
        return "date unknown"
    return timezone.localtime(when, timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M %Z")


def fit(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """The text within Stripe's limit, saying how much was cut rather than cutting silently."""
    text = text.strip()
    if len(text) <= limit:
        return text
    marker = "\n… (cut to fit Stripe's limit)"
    return text[: limit - len(marker)].rstrip() + marker


def _product_description(facts: DisputeFacts) -> str:
    b = facts.booking
    if b is None:
        return ""
    lines = [f"Booking {b.code}" + (f": {b.summary}" if b.summary else "")]
    for item in b.items.all():
        when = f" on {_at(item.start_at)}" if item.start_at else ""
        lines.append(f"{item.qty} × {item.name or item.sku} ({_money(item.total_minor, b.currency)}){when}")
    tax = f" including tax {_money(b.tax_total_minor, b.currency)}" if b.tax_total_minor else ""
    lines.append(f"Total {_money(b.total_minor, b.currency)}{tax}; paid {_money(b.paid_minor, b.currency)}.")
    return "\n".join(lines)


def _service_date(facts: DisputeFacts) -> str:
    b = facts.booking
    if b is None or b.start_at is None:
        return ""
    zone = timezone.get_default_timezone()
    start = timezone.localtime(b.start_at, zone).date()
    end = timezone.localtime(b.end_at, zone).date() if b.end_at else start
    return start.isoformat() if end == start else f"{start.isoformat()} to {end.isoformat()}"


def _billing_address(facts: DisputeFacts) -> str:
    c = facts.customer
    if c is None:
        return ""
    parts = [c.address, c.city, " ".join(p for p in (c.region, c.postal_zip) if p), c.country]
    return ", ".join(p for p in parts if p and p != "0")


def _policy_text(facts: DisputeFacts) -> str:
    if facts.policy is None:
        return ""
    code = facts.booking.code if facts.booking else "this booking"
    policy = facts.policy
    return f"The cancellation and refund policy {policy.when} for {code} ({policy.version}): {policy.words}"


def _activity(facts: DisputeFacts) -> str:
    b = facts.booking
    if b is None:
        return ""
    lines = [f"{_at(b.booked_at)}: booking {b.code} made" + (f" from IP address {b.source_ip}" if b.source_ip else "")]
    if facts.customer_note:
        lines.append(f"The customer's note on the booking form: “{facts.customer_note}”")
    for pay in facts.payments:
        lines.append(f"{_at(pay.at)}: payment {pay.status} ({_money(pay.amount_minor, pay.currency)}, {pay.card})")
    lines.append(f"Status in our booking system now: {b.status_name or b.status}.")
    return "\n".join(lines)


def _history(facts: DisputeFacts) -> list[str]:
    lines = ["Payments:"]
    for pay in facts.payments:
        checks = ", ".join(f"{k.removesuffix('_check')} {v}" for k, v in sorted(pay.checks.items()))
        extra = "; ".join(
            w
            for w in (
                f"card checks: {checks}" if checks else "",
                f"3D Secure {pay.three_d_secure}" if pay.three_d_secure else "",
                "this is the disputed charge" if pay.charge_id == facts.case.charge_id else "",
            )
            if w
        )
        lines.append(
            f"- {_at(pay.at)}: {_money(pay.amount_minor, pay.currency)} {pay.status}, {pay.card}, "
            f"Stripe {pay.charge_id}" + (f" ({extra})" if extra else "")
        )
    for t in facts.desk_transactions:
        kind = "refund" if t.status == "REFUND" else "payment"
        lines.append(
            f"- {_at(t.occurred_at)}: {kind} of {_money(t.amount_minor, t.currency)} recorded in Checkfront "
            f"({t.gateway_id or 'desk'} {t.checkfront_id})"
        )
    lines.append("Refunds:")
    lines += [
        f"- {_at(r.at)}: {_money(r.amount_minor, r.currency)} {r.status}"
        + (f" ({r.reason})" if r.reason else "")
        + f", Stripe {r.refund_id}"
        for r in facts.refunds
    ] or ["- none"]
    receipts = [p for p in facts.payments if p.status == "succeeded"]
    if receipts:
        lines.append("Receipts:")
        lines += [
            f"- {p.charge_id}: {_money(p.amount_minor, p.currency)}"
            + (f", receipt emailed to {p.receipt_email}" if p.receipt_email else "")
            + (f", {p.receipt_url}" if p.receipt_url else "")
            for p in receipts
        ]
    return lines


def _correspondence(facts: DisputeFacts) -> list[str]:
    if not facts.notes:
        return ["Communications and notes: none recorded."]
    return ["Communications and notes (oldest first):"] + [
        f"- {_at(n.at)}, {n.author}: {' '.join(n.text.split())}" for n in facts.notes
    ]


def _uncategorized(facts: DisputeFacts, rebuttal: str) -> str:
    head = [rebuttal, ""] if rebuttals.rebuttal_field(facts.case.reason) == "uncategorized_text" else []
    # Correspondence is the longest part and the least decisive: it is what gets cut, never the rebuttal.
    body = "\n".join([*head, *_history(facts), ""])
    notes = "\n".join(_correspondence(facts))
    room = MAX_FIELD_CHARS - len(body)
    if room < 200:  # a history this long leaves no useful room: say where the notes went
        return body + "Communications and notes: left out to fit Stripe's limit."
    return body + fit(notes, room)


def build(facts: DisputeFacts) -> Package:
    """The package for this dispute; every field present, empty where PayOps has nothing to say."""
    b = facts.booking
    case = facts.case
    rebuttal = rebuttals.draft(facts)
    evidence = dict.fromkeys(EVIDENCE_FIELDS, "")
    evidence.update(
        product_description=_product_description(facts),
        service_date=_service_date(facts),
        customer_name=(b.customer_name if b else "") or (facts.customer.name if facts.customer else ""),
        customer_email_address=(b.customer_email if b else "") or (facts.customer.email if facts.customer else ""),
        customer_purchase_ip=str(b.source_ip or "") if b else "",
        billing_address=_billing_address(facts),
        cancellation_policy_disclosure=_policy_text(facts),
        refund_policy_disclosure=_policy_text(facts),
        access_activity_log=_activity(facts),
        uncategorized_text=_uncategorized(facts, rebuttal),
    )
    field = rebuttals.rebuttal_field(case.reason)
    if field != "uncategorized_text":
        evidence[field] = rebuttal
    if case.reason == "duplicate":
        others = [p.charge_id for p in facts.payments if p.charge_id != case.charge_id and p.status == "succeeded"]
        evidence["duplicate_charge_id"] = others[0] if others else ""
    evidence = {name: fit(text) for name, text in evidence.items()}
    gaps = list(facts.gaps)
    if facts.policy is not None:
        gaps.append("say how and when the customer was shown the cancellation policy (the policy fields)")
    if b is not None and not b.source_ip:
        gaps.append("Checkfront recorded no IP address for the booking")
    return Package(evidence=evidence, gaps=gaps)


def total_chars(evidence: dict[str, str]) -> int:
    return sum(len(text) for text in evidence.values())
