"""How the queue presents each proposed action: the answer buttons, what they do, the inputs a reviewer may change.

A new kind of review item is a `ReviewKind` choice (payops/models.py), the
workflow's executor and `review.changeable` rules, and one `present(...)`
call here; a template `console/kinds/<kind>.html`, when it exists, adds that
kind's own facts to the detail panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import timezone

from disputes import actions as disputes
from disputes.evidence import EVIDENCE_FIELDS
from dunning import actions as dunning
from fraud import workflow as fraud
from payops.models import ReviewItem
from payops.money import MoneyError, from_minor, to_minor
from payops.review import changeable_fields
from refunds import actions as refunds


class BadInput(ValueError):
    """A value typed into the queue that cannot be used; the message says why."""


@dataclass(frozen=True)
class ChangeInput:
    """A param a reviewer may change before approving, as a form input."""

    param: str
    label: str
    # "money" (major units in the item's currency), "datetime" (display time zone) or "text" (several lines)
    input_type: str
    help: str = ""
    unless: str = ""  # not offered when the item's params have this set (a capture amount once captured)


@dataclass(frozen=True)
class Presentation:
    approve_label: str = "Approve"
    approve_does: str = "Carries out the proposed action."
    reject_does: str = "Records the rejection; nothing is carried out."
    inputs: tuple[ChangeInput, ...] = field(default=())


_BY_ACTION: dict[str, Presentation] = {}
DEFAULT = Presentation()


def present(action: str, presentation: Presentation) -> None:
    _BY_ACTION[action] = presentation


def presentation(item: ReviewItem) -> Presentation:
    return _BY_ACTION.get(item.action, DEFAULT)


def inputs(item: ReviewItem) -> list[ChangeInput]:
    """The inputs for what this item's workflow lets a reviewer change (review.changeable is the authority)."""
    allowed = changeable_fields(item.action)
    return [i for i in presentation(item).inputs if i.param in allowed and not (i.unless and item.params.get(i.unless))]


def kind_template(kind: str) -> str | None:
    name = f"console/kinds/{kind}.html"
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name


def input_value(item: ReviewItem, change: ChangeInput) -> str:
    """The current value, as the input shows it."""
    value = item.params.get(change.param)
    if change.input_type == "money":
        amount = value if isinstance(value, int) else item.amount_minor
        return from_minor(amount, item.currency) if amount is not None and item.currency else ""
    if change.input_type == "datetime" and isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value)
        return timezone.localtime(parsed).strftime("%Y-%m-%dT%H:%M")
    if change.input_type == "text":
        return value if isinstance(value, str) else ""
    return ""


def _lines(text: str) -> str:
    """A textarea's value as stored: browsers send CRLF line ends."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def changes_from_form(item: ReviewItem, form: Mapping[str, str]) -> dict[str, object]:
    """What the reviewer changed, in the params' own units; unchanged inputs are left out."""
    changes: dict[str, object] = {}
    for change in inputs(item):
        if change.input_type == "text":
            # Emptied is a change (the reviewer removed the text); absent from the form is not.
            if change.param in form and _lines(form[change.param]) != _lines(input_value(item, change)):
                changes[change.param] = _lines(form[change.param])
            continue
        raw = (form.get(change.param) or "").strip()
        if not raw or raw == input_value(item, change):
            continue
        if change.input_type == "money":
            try:
                changes[change.param] = to_minor(raw, item.currency)
            except MoneyError as exc:
                raise BadInput(f"{change.label}: {exc}") from exc
        elif change.input_type == "datetime":
            try:
                local = datetime.strptime(raw, "%Y-%m-%dT%H:%M")
            except ValueError as exc:
                raise BadInput(f"{change.label}: {raw!r} is not a date and time") from exc
            changes[change.param] = local.replace(tzinfo=timezone.get_default_timezone()).isoformat()
    return changes


_AMOUNT = ChangeInput(
    "amount_minor", "Capture amount", "money", "capture less than authorised; the rest is released", unless="captured"
)

present(
    fraud.RELEASE,
    Presentation(
        approve_label="Release",
        approve_does="Captures the payment and confirms the booking in Checkfront.",
        reject_does="Cancels the payment (or refunds it), cancels the booking and frees its places.",
        inputs=(_AMOUNT,),
    ),
)
present(
    fraud.CAPTURE,
    Presentation(
        approve_label="Capture",
        approve_does="Captures the authorised payment.",
        reject_does="Cancels the payment and the booking.",
        inputs=(_AMOUNT,),
    ),
)
present(
    fraud.BLOCK,
    Presentation(
        approve_label="Block",
        approve_does="Cancels the payment and the booking, and refuses this customer's details from now on.",
        reject_does="Releases the booking: the payment is captured and the booking confirmed.",
    ),
)
present(
    dunning.RETRY,
    Presentation(
        approve_label="Approve retry",
        approve_does="Charges the saved card again at the planned time (now, if that has passed).",
        reject_does="No retry is made; recovery carries on by email and pay link until the hold ends.",
        inputs=(
            ChangeInput(
                "retry_at",
                "Retry at",
                "datetime",
                "when to charge the card, in the console's time zone; before the booking's hold ends",
            ),
        ),
    ),
)
present(
    dunning.NOTIFY,
    Presentation(
        approve_label="Send",
        approve_does="Emails the customer (with a pay link where planned) and notes it on the booking.",
        reject_does="Nothing is sent.",
    ),
)
present(
    dunning.ESCALATE,
    Presentation(
        approve_label="Take over",
        approve_does="Stops automatic recovery: a person handles this booking from here.",
        reject_does="Recovery carries on automatically.",
    ),
)
present(
    dunning.CANCEL,
    Presentation(
        approve_label="Cancel booking",
        approve_does="Cancels the unpaid payment, releases the booking's places in Checkfront and tells the customer.",
        reject_does="The booking stays held; recovery stops proposing cancellation for this decision.",
    ),
)

present(
    refunds.REFUND,
    Presentation(
        approve_label="Refund",
        approve_does="Refunds the amount to the customer's card in Stripe (never more than is left of the payment) "
        "and notes it on the booking.",
        reject_does="Nothing is refunded; the payment stays as it is.",
        inputs=(ChangeInput("amount_minor", "Refund amount", "money", "refund less than proposed"),),
    ),
)

present(
    disputes.SUBMIT,
    Presentation(
        approve_label="Submit evidence",
        approve_does="Sends the evidence below to Stripe before its deadline (final: Stripe takes one submission) "
        "and notes it on the booking.",
        reject_does="Nothing is sent and the dispute is marked not contested: the bank decides for the cardholder "
        "at Stripe's deadline (accept it in Stripe to close it sooner).",
        inputs=tuple(
            ChangeInput(name, label, "text", f"Stripe's {name} field; empty leaves it out")
            for name, label in EVIDENCE_FIELDS.items()
        ),
    ),
)
