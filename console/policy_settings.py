"""The Settings page's domain: the workflow-policy form, its guarded save, its history in words, its summaries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.text import capfirst

from audit.models import Mode, Workflow
from fraud.models import FraudPolicy
from payops.models import POLICY_MODES, WorkflowPolicy
from payops.money import exponent, from_minor, to_minor
from payops.staff_groups import WORKFLOWS

# Stripe's presentment currencies: a threshold in any other currency would
# never match a payment. The list lives with the Stripe simulator for now.
from payops.stripe_sim.money import CURRENCIES

HISTORY_LIMIT = 50
RECENT_LIMIT = 20
NO_USER = "system / migration"

# The amount thresholds are typed in major units ("500.00", as on an invoice)
# and stored in minor units: typing 50000 for 500.00 is a hundredfold mistake
# nobody notices, and to_minor refuses decimals the currency does not have.
AMOUNT_FIELDS = {
    "automate_max_amount": "automate_max_amount_minor",
    "approver_threshold": "approver_threshold_minor",
    "second_approval_threshold": "second_approval_threshold_minor",
}

# How each stored field reads in the history, in the model's field order.
FIELD_LABELS = {
    "mode": "Mode",
    "rollout_percent": "Rollout",
    "automate_max_risk": "Automate up to risk",
    "automate_min_confidence": "Automate from confidence",
    "threshold_currency": "Threshold currency",
    "automate_max_amount_minor": "Automate up to amount",
    "approver_threshold_minor": "Approver above",
    "second_approval_threshold_minor": "Two approvals above",
}

FRAUD_FIELDS = (
    "authorize_from",
    "elevated_from",
    "high_from",
    "block_from",
    "review_window_hours",
    "capture_margin_hours",
)

_MAX_AMOUNT_DIGITS = 15  # × 1000 (three-decimal currencies) still fits a BigIntegerField
_CURRENCY = re.compile(r"^[a-z]{3}$")


def _amount_field(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        help_text=help_text,
        min_value=Decimal(0),
        max_digits=_MAX_AMOUNT_DIGITS,
        error_messages={
            "required": "Enter an amount, e.g. 500.00.",
            "invalid": "Enter an amount as a number, e.g. 500.00.",
            "min_value": "An amount cannot be negative.",
            "max_digits": f"That amount is too large (at most {_MAX_AMOUNT_DIGITS} digits).",
        },
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _decimals(amount: Decimal) -> int:
    """How many decimals were typed: "500.00" has 2, "500" and "5E+2" none."""
    places = amount.as_tuple().exponent
    return -places if isinstance(places, int) and places < 0 else 0


class PolicyForm(forms.Form):
    """One workflow's policy, checked against everything the database's constraints enforce."""

    mode = forms.ChoiceField(
        label="Mode",
        choices=POLICY_MODES,
        help_text="Monitor: every proposal is only logged. Suggest: proposals are queued for a person "
        "(a protective action such as a fraud hold still runs). Automate: a proposal within every "
        "threshold below runs on its own, the rest are queued.",
    )
    rollout_percent = forms.IntegerField(
        label="Rollout (% of bookings)",
        min_value=0,
        max_value=100,
        help_text="Share of bookings the mode applies to, picked by a stable hash of workflow and booking "
        "so a booking always lands on the same side; the rest are only logged. 100 is every booking.",
        error_messages={
            "required": "Enter a rollout from 0 to 100.",
            "invalid": "Rollout is a whole percentage from 0 to 100.",
            "min_value": "Rollout is a percentage from 0 to 100.",
            "max_value": "Rollout is a percentage from 0 to 100.",
        },
        widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1}),
    )
    automate_max_risk = forms.FloatField(
        label="Automate up to risk score",
        min_value=0,
        max_value=100,
        help_text="Automate mode: a proposal whose risk (the action's own risk, else its score) is above "
        "this, from 0 to 100, goes to a person. A proposal without a score never runs on its own.",
        error_messages={
            "required": "Enter a risk score from 0 to 100.",
            "invalid": "The risk limit is a number from 0 to 100.",
            "min_value": "The risk limit is a score from 0 to 100.",
            "max_value": "The risk limit is a score from 0 to 100.",
        },
        widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": "any"}),
    )
    automate_min_confidence = forms.FloatField(
        label="Automate from confidence",
        min_value=0,
        max_value=1,
        help_text="Automate mode: a proposal less confident than this, from 0 to 1 (0.80 is 80%), goes to "
        "a person. A proposal without a confidence never runs on its own.",
        error_messages={
            "required": "Enter a confidence from 0 to 1.",
            "invalid": "Confidence is a number from 0 to 1, e.g. 0.80.",
            "min_value": "Confidence is a share from 0 to 1, e.g. 0.80.",
            "max_value": "Confidence is a share from 0 to 1, e.g. 0.80 (not 80).",
        },
        widget=forms.NumberInput(attrs={"min": 0, "max": 1, "step": "any"}),
    )
    threshold_currency = forms.CharField(
        label="Threshold currency",
        max_length=3,
        help_text="ISO code (CAD, USD, EUR…) of the three amounts below. A proposal in another currency "
        "is never automated and always needs an Approver.",
        error_messages={
            "required": "Enter a currency code such as CAD.",
            "max_length": "A currency code has 3 letters.",
        },
        widget=forms.TextInput(attrs={"maxlength": 3, "autocomplete": "off", "size": 4}),
    )
    automate_max_amount = _amount_field(
        "Automate up to amount",
        "Automate mode: a money-moving action above this amount goes to a person. In major units "
        "(500.00, or 500 for a currency without decimals); at most the Approver threshold.",
    )
    approver_threshold = _amount_field(
        "Approver needed above",
        "A queued action above this amount must be approved by an Approver, not a Reviewer.",
    )
    second_approval_threshold = _amount_field(
        "Two approvals above",
        "A queued action above this amount needs two different Approvers. At least the Approver threshold.",
    )
    # The policy's updated_at when the form was rendered: a save is refused
    # if someone else saved in between (see save_policy).
    policy_updated_at = forms.CharField(widget=forms.HiddenInput)

    @classmethod
    def for_policy(cls, policy: WorkflowPolicy) -> PolicyForm:
        """An unbound form showing the policy's current values, amounts in major units."""
        currency = policy.threshold_currency
        initial: dict[str, Any] = {
            "mode": policy.mode,
            "rollout_percent": policy.rollout_percent,
            "automate_max_risk": f"{policy.automate_max_risk:g}",
            "automate_min_confidence": f"{policy.automate_min_confidence:g}",
            "threshold_currency": currency.upper(),
            "policy_updated_at": policy.updated_at.isoformat(),
        }
        for name, model_field in AMOUNT_FIELDS.items():
            initial[name] = from_minor(getattr(policy, model_field), currency)
        return cls(initial=initial)

    def clean_threshold_currency(self) -> str:
        code = self.cleaned_data["threshold_currency"].strip().lower()
        if not _CURRENCY.match(code):
            raise forms.ValidationError("A currency is a 3-letter ISO code such as CAD.")
        if code not in CURRENCIES:
            raise forms.ValidationError(
                f"{code.upper()} is not a currency Stripe accepts; use an ISO code such as CAD, USD or EUR."
            )
        return code

    def clean_policy_updated_at(self) -> datetime:
        try:
            value = datetime.fromisoformat(self.cleaned_data["policy_updated_at"])
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            raise forms.ValidationError("This form does not say which version of the policy it edits: reload the page.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency = data.get("threshold_currency")
        amounts = {name: data[name] for name in AMOUNT_FIELDS if name in data}
        if currency:
            places = exponent(currency)
            for name, amount in list(amounts.items()):
                if _decimals(amount) > places:
                    decimals = "no decimals" if places == 0 else f"at most {places} decimals"
                    self.add_error(name, f"{currency.upper()} amounts have {decimals}.")
                    del amounts[name]
        unit = f"{currency.upper()} " if currency else ""
        automate, approver, second = (amounts.get(name) for name in AMOUNT_FIELDS)
        # The database's policy_thresholds_ordered, in words: automation never
        # reaches an amount a person would have to approve.
        if automate is not None and approver is not None and automate > approver:
            self.add_error(
                "automate_max_amount",
                f"The automation limit ({unit}{automate}) cannot be above the Approver threshold "
                f"({unit}{approver}): automation never moves an amount an Approver would have to approve.",
            )
        if approver is not None and second is not None and second < approver:
            self.add_error(
                "second_approval_threshold",
                f"The two-approval threshold ({unit}{second}) cannot be below the Approver threshold "
                f"({unit}{approver}).",
            )
        return data

    def policy_values(self) -> dict[str, Any]:
        """The valid form as WorkflowPolicy field values, amounts in minor units."""
        data = self.cleaned_data
        currency = data["threshold_currency"]
        values = {name: data[name] for name in ("mode", "automate_max_risk", "automate_min_confidence")}
        values["rollout_percent"] = data["rollout_percent"]
        values["threshold_currency"] = currency
        for name, model_field in AMOUNT_FIELDS.items():
            values[model_field] = to_minor(data[name], currency)
        return values


class StalePolicy(Exception):
    """The policy was saved by someone else after the form was loaded; nothing was saved."""

    def __init__(self, current: WorkflowPolicy, since: datetime) -> None:
        super().__init__(f"{current.workflow} policy changed at {current.updated_at.isoformat()}")
        self.current = current
        self.since = since


def save_policy(
    *, workflow: str, values: dict[str, Any], loaded_at: datetime, actor: AbstractBaseUser
) -> tuple[WorkflowPolicy, bool]:
    """Apply values to a workflow's policy through save(), so history records the actor.

    Returns the policy and whether anything changed (an unchanged form writes
    no history row). Raises StalePolicy when the policy's updated_at is no
    longer loaded_at.
    """
    # Read-compare-write under a row lock: two Admins saving at once cannot
    # both pass the staleness check, the second sees the first's updated_at.
    with transaction.atomic():
        policy = WorkflowPolicy.objects.select_for_update().get(workflow=workflow)
        if policy.updated_at != loaded_at:
            raise StalePolicy(policy, since=loaded_at)
        if all(getattr(policy, name) == value for name, value in values.items()):
            return policy, False
        if not policy.history.exists():
            # Rows made by the data migration have no history: record the
            # values as they were first, or this change could not say "from what".
            policy._history_user = None  # type: ignore[attr-defined]
            WorkflowPolicy.history.bulk_history_create(
                [policy],
                update=True,
                default_date=policy.updated_at,
                default_change_reason="values before the first recorded change",
            )
        for name, value in values.items():
            setattr(policy, name, value)
        policy._history_user = actor  # type: ignore[attr-defined]
        policy.save()
    return policy, True


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class PolicyChange:
    """One history row in words: who, when, and what changed from what to what."""

    history_id: int
    workflow: str
    workflow_label: str
    when: datetime
    who: str
    first: bool  # the oldest row: nothing to compare with, so `changes` lists the values
    changes: list[FieldChange]


def _shown(field: str, value: Any, currency: str) -> str:
    if field == "rollout_percent":
        return f"{value}%"
    if field == "automate_max_risk":
        return f"{value:g}"
    if field == "automate_min_confidence":
        return f"{value:.2f}"
    if field == "threshold_currency":
        return str(value).upper()
    if field in FIELD_LABELS and field.endswith("_minor"):
        return money_text(value, currency)
    return str(value)


def money_text(amount_minor: int, currency: str) -> str:
    """25000, "cad" → "CAD 250.00"."""
    return f"{currency.upper()} {from_minor(amount_minor, currency)}"


def workflow_label(workflow: str) -> str:
    return Workflow(workflow).label if workflow in Workflow.values else workflow


def _history_rows(records: list[Any], limit: int) -> list[PolicyChange]:
    """Rows newest first; records holds one more than limit when there are more, to diff the last against."""
    rows: list[PolicyChange] = []
    for index, record in enumerate(records[:limit]):
        older = records[index + 1] if index + 1 < len(records) else None
        if older is None:
            changes = [
                FieldChange(label, "", _shown(field, getattr(record, field), record.threshold_currency))
                for field, label in FIELD_LABELS.items()
            ]
        else:
            changed = set(record.diff_against(older, included_fields=list(FIELD_LABELS)).changed_fields)
            changes = [
                FieldChange(
                    label,
                    _shown(field, getattr(older, field), older.threshold_currency),
                    _shown(field, getattr(record, field), record.threshold_currency),
                )
                for field, label in FIELD_LABELS.items()
                if field in changed
            ]
        rows.append(
            PolicyChange(
                history_id=record.history_id,
                workflow=record.workflow,
                workflow_label=workflow_label(record.workflow),
                when=record.history_date,
                who=record.history_user.get_username() if record.history_user else NO_USER,
                first=older is None,
                changes=changes,
            )
        )
    return rows


def policy_history(policy: WorkflowPolicy, *, limit: int = HISTORY_LIMIT) -> list[PolicyChange]:
    """The policy's last `limit` history rows in words, newest first (one query)."""
    records = list(policy.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    return _history_rows(records, limit)


def changes_since(policy: WorkflowPolicy, since: datetime) -> list[PolicyChange]:
    """What was saved after `since`: what a person whose form was loaded then has not seen."""
    return [change for change in policy_history(policy) if change.when > since]


def policy_summary(policy: WorkflowPolicy) -> str:
    """What the gate does with this workflow's proposals, in one line."""
    if policy.mode == Mode.MONITOR:
        return "logs every proposal; nothing is queued or run"
    if policy.rollout_percent == 0:
        return "rollout 0%: every proposal is only logged"
    share = "" if policy.rollout_percent >= 100 else f" on {policy.rollout_percent}% of bookings (the rest logged)"
    if policy.mode == Mode.SUGGEST:
        return f"queues every proposal for a person{share}"
    limit = money_text(policy.automate_max_amount_minor, policy.threshold_currency)
    return (
        f"automates risk ≤ {policy.automate_max_risk:g}, confidence ≥ {policy.automate_min_confidence:.2f}, "
        f"up to {limit}{share}; queues the rest"
    )


def approval_summary(policy: WorkflowPolicy) -> str:
    """Who approves a queued proposal, by amount."""
    currency = policy.threshold_currency
    approver = money_text(policy.approver_threshold_minor, currency)
    second = money_text(policy.second_approval_threshold_minor, currency)
    return f"a Reviewer up to {approver}; an Approver above; two Approvers above {second}"


@dataclass(frozen=True)
class PolicyRow:
    policy: WorkflowPolicy
    label: str
    summary: str
    approvals: str
    last_change: PolicyChange | None


@dataclass(frozen=True)
class FraudSetting:
    label: str
    value: int
    help_text: str


@dataclass(frozen=True)
class SettingsOverview:
    rows: list[PolicyRow]
    recent: list[PolicyChange]
    fraud_policy: FraudPolicy
    fraud_settings: list[FraudSetting]


def settings_overview(*, recent_limit: int = RECENT_LIMIT) -> SettingsOverview:
    """Every workflow's policy with its summary and recent changes, and the fraud bands (read-only).

    A query per workflow for its history, so the count depends on WORKFLOWS,
    not on how long the history is.
    """
    stored = {p.workflow: p for p in WorkflowPolicy.objects.filter(workflow__in=WORKFLOWS)}
    rows: list[PolicyRow] = []
    recent: list[PolicyChange] = []
    for workflow in WORKFLOWS:
        # A workflow without a row is in monitor mode (policy_gate.policy_for);
        # showing an unsaved default keeps this page free of writes.
        policy = stored.get(workflow) or WorkflowPolicy(workflow=workflow)
        history = policy_history(policy, limit=recent_limit) if policy.pk else []
        recent.extend(history)
        rows.append(
            PolicyRow(
                policy=policy,
                label=workflow_label(workflow),
                summary=policy_summary(policy),
                approvals=approval_summary(policy),
                last_change=history[0] if history else None,
            )
        )
    recent.sort(key=lambda change: (change.when, change.history_id), reverse=True)
    fraud_policy = FraudPolicy.objects.order_by("pk").first() or FraudPolicy()
    fields = {field.name: field for field in FraudPolicy._meta.concrete_fields}
    fraud_settings = [
        FraudSetting(capfirst(str(fields[name].verbose_name)), getattr(fraud_policy, name), str(fields[name].help_text))
        for name in FRAUD_FIELDS
    ]
    return SettingsOverview(
        rows=rows, recent=recent[:recent_limit], fraud_policy=fraud_policy, fraud_settings=fraud_settings
    )
