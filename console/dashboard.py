"""What the Dashboard shows: recovered revenue, payments in recovery, fraud holds, refunds, the queue, automation.

Every figure is one aggregate query, whatever the size of the tables: the page
costs the same number of queries with ten rows or a million. Amounts are
integer minor units summed per currency, never across currencies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from djstripe import models as djstripe_models

from audit.models import Decision, Mode, Route, Workflow
from dunning.models import RecoveryCase, RecoveryStatus, RetryAttempt
from fraud.models import FraudHold, HoldStatus
from fraud.workflow import CLEAR as FRAUD_CLEAR
from payops.charts import StackedBars, share_bars, value_bars
from payops.models import ReviewItem, ReviewKind, ReviewStatus, WorkflowPolicy

# The retry model's synthetic training history (dunning.synthetic_history)
# writes recovery cases with booking codes SYN-…: training data, not money.
SYNTHETIC_PREFIX = "SYN-"
# Refunds that return (or are returning) money; failed and canceled ones did not.
REFUNDING = ["succeeded", "pending", "requires_action"]
NOT_REFUNDED = ["failed", "canceled"]
# The automation chart's series, named for what happened to a proposal.
ROUTE_SERIES = ["executed", "queued", "logged"]
# Workflows whose proposals go through the policy gate; console and operations
# Decisions are people's own actions, not proposals.
PROPOSING_WORKFLOWS = [w for w in Workflow.values if w not in (Workflow.CONSOLE, Workflow.OPERATIONS)]


@dataclass(frozen=True)
class RecoveredRevenue:
    """Money collected in one currency after a failed payment, with a bar per day."""

    currency: str
    payments: int
    amount_minor: int
    per_day: StackedBars


@dataclass(frozen=True)
class InRecovery:
    """Failed payments still open in one currency: being retried, and handed to a person."""

    currency: str
    active: int
    active_minor: int
    escalated: int
    escalated_minor: int


@dataclass(frozen=True)
class FraudHolds:
    held: int
    oldest_held_at: datetime | None
    released: int
    cancelled: int


@dataclass(frozen=True)
class Refunds:
    currency: str
    refunds: int
    amount_minor: int
    failed: int


@dataclass(frozen=True)
class QueueKind:
    """Open review items of one kind."""

    kind: str
    label: str
    open: int
    oldest_at: datetime | None
    oldest_age: timedelta | None
    past_due: int


@dataclass(frozen=True)
class WorkflowAutomation:
    """Where a workflow's proposals went: executed by PayOps, queued for a person, or only logged."""

    workflow: str
    label: str
    mode: str
    executed: int
    queued: int
    logged: int

    @property
    def total(self) -> int:
        return self.executed + self.queued + self.logged

    @property
    def automated_percent(self) -> int | None:
        """The share executed without a person, rounded; None when there was nothing to route."""
        return round(100 * self.executed / self.total) if self.total else None


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    since: datetime
    days: int
    recovered: list[RecoveredRevenue]
    in_recovery: list[InRecovery]
    fraud: FraudHolds
    refunds: list[Refunds]
    queue: list[QueueKind]
    automation: list[WorkflowAutomation]
    automation_chart: StackedBars

    @property
    def open_reviews(self) -> int:
        return sum(row.open for row in self.queue)

    @property
    def past_due_reviews(self) -> int:
        return sum(row.past_due for row in self.queue)

    @property
    def payments_in_recovery(self) -> int:
        """Cases, not money: counts add up across currencies, amounts do not."""
        return sum(row.active + row.escalated for row in self.in_recovery)


def dashboard_figures(*, now: datetime | None = None, days: int = 30) -> Dashboard:
    """The figures for the `days` calendar days up to `now` (today included), in the display time zone."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    now = now or timezone.now()
    first_day = timezone.localdate(now) - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    automation = automation_by_workflow(since=since, now=now)
    return Dashboard(
        now=now,
        since=since,
        days=days,
        recovered=recovered_revenue(first_day=first_day, days=days, now=now),
        in_recovery=in_recovery(),
        fraud=fraud_holds(since=since, now=now),
        refunds=refunds(since=since, now=now),
        queue=review_queue_sizes(now=now),
        automation=automation,
        automation_chart=share_bars(
            [(row.label, {"executed": row.executed, "queued": row.queued, "logged": row.logged}) for row in automation],
            series=ROUTE_SERIES,
            height=80,
        ),
    )


def recovered_revenue(*, first_day: date, days: int, now: datetime) -> list[RecoveredRevenue]:
    """Successful charges of recovered cases, per currency and local day (one query).

    A case is recovered on the day of its successful charge: the case row
    itself keeps no recovery time.
    """
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    rows = (
        RetryAttempt.objects.filter(
            succeeded=True,
            case__status=RecoveryStatus.RECOVERED,
            attempted_at__gte=since,
            attempted_at__lte=now,
        )
        .exclude(case__booking_code__startswith=SYNTHETIC_PREFIX)
        .annotate(day=TruncDate("attempted_at"))
        .values_list("currency", "day")
        .annotate(payments=Count("pk"), amount=Sum("amount_minor"))
        .order_by()
    )
    per_day: dict[str, dict[date, int]] = defaultdict(dict)
    payments: dict[str, int] = defaultdict(int)
    for currency, day, count, amount in rows:
        per_day[currency][day] = int(amount or 0)
        payments[currency] += count
    calendar = [first_day + timedelta(days=n) for n in range(days)]
    return [
        RecoveredRevenue(
            currency=currency,
            payments=payments[currency],
            amount_minor=sum(per_day[currency].values()),
            per_day=value_bars(
                [(f"{day.day} {day:%b}", per_day[currency].get(day, 0)) for day in calendar],
                series=currency,
                height=60,
            ),
        )
        for currency in sorted(per_day)
    ]


def in_recovery() -> list[InRecovery]:
    """Open recovery cases per currency: retrying (active) and with a person (escalated). One query."""
    rows = (
        RecoveryCase.objects.filter(status__in=[RecoveryStatus.ACTIVE, RecoveryStatus.ESCALATED])
        .exclude(booking_code__startswith=SYNTHETIC_PREFIX)
        .values_list("currency", "status")
        .annotate(cases=Count("pk"), amount=Sum("amount_minor"))
        .order_by()
    )
    found: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for currency, status, count, amount in rows:
        found[currency][status] = (count, int(amount or 0))
    return [
        InRecovery(
            currency=currency,
            active=found[currency].get(RecoveryStatus.ACTIVE, (0, 0))[0],
            active_minor=found[currency].get(RecoveryStatus.ACTIVE, (0, 0))[1],
            escalated=found[currency].get(RecoveryStatus.ESCALATED, (0, 0))[0],
            escalated_minor=found[currency].get(RecoveryStatus.ESCALATED, (0, 0))[1],
        )
        for currency in sorted(found)
    ]


def fraud_holds(*, since: datetime, now: datetime) -> FraudHolds:
    """Holds waiting for a person now, and those resolved since `since`. One query."""
    resolved = Q(resolved_at__gte=since, resolved_at__lte=now)
    held = Q(status=HoldStatus.HELD)
    figures = FraudHold.objects.aggregate(
        held=Count("pk", filter=held),
        oldest_held_at=Min("created_at", filter=held),
        released=Count("pk", filter=Q(status=HoldStatus.RELEASED) & resolved),
        cancelled=Count("pk", filter=Q(status=HoldStatus.CANCELLED) & resolved),
    )
    return FraudHolds(
        held=figures["held"],
        oldest_held_at=figures["oldest_held_at"],
        released=figures["released"],
        cancelled=figures["cancelled"],
    )


def refunds(*, since: datetime, now: datetime) -> list[Refunds]:
    """Refunds created in Stripe since `since`, per currency, from the dj-stripe mirror. One query.

    dj-stripe 2.11 keeps the refund's status only in `stripe_data`.
    """
    refunding = Q(stripe_data__status__in=REFUNDING)
    rows = (
        djstripe_models.Refund.objects.filter(created__gte=since, created__lte=now)
        .values_list("currency")
        .annotate(
            refunds=Count("pk", filter=refunding),
            amount=Sum("amount", filter=refunding),
            failed=Count("pk", filter=Q(stripe_data__status__in=NOT_REFUNDED)),
        )
        .order_by("currency")
    )
    return [
        Refunds(currency=currency, refunds=count, amount_minor=int(amount or 0), failed=failed)
        for currency, count, amount, failed in rows
    ]


def review_queue_sizes(*, now: datetime) -> list[QueueKind]:
    """Open review items per kind, every kind listed (zero included), with the oldest's age. One query."""
    rows = (
        ReviewItem.objects.filter(status=ReviewStatus.OPEN)
        .values_list("kind")
        .annotate(open=Count("pk"), oldest_at=Min("created_at"), past_due=Count("pk", filter=Q(due_by__lt=now)))
        .order_by()
    )
    found = {kind: (count, oldest, past_due) for kind, count, oldest, past_due in rows}
    result = []
    for kind, label in ReviewKind.choices:
        count, oldest, past_due = found.pop(kind, (0, None, 0))
        result.append(_queue_kind(kind, str(label), count, oldest, past_due, now))
    # A kind no longer in the code but still open in the table is shown, not hidden.
    for kind, (count, oldest, past_due) in sorted(found.items()):
        result.append(_queue_kind(kind, kind, count, oldest, past_due, now))
    return result


def _queue_kind(kind: str, label: str, count: int, oldest: datetime | None, past_due: int, now: datetime) -> QueueKind:
    return QueueKind(
        kind=kind,
        label=label,
        open=count,
        oldest_at=oldest,
        oldest_age=max(now - oldest, timedelta(0)) if oldest else None,
        past_due=past_due,
    )


def automation_by_workflow(*, since: datetime, now: datetime) -> list[WorkflowAutomation]:
    """Top-level proposals since `since` per workflow and route (two queries: the counts and the modes).

    Left out: people's own actions (mode manual) and the fraud scores that
    needed nothing (`fraud.clear`, recorded only), which would drown the
    fraud workflow's real proposals in "logged".
    """
    rows = (
        Decision.objects.filter(parent__isnull=True, created_at__gte=since, created_at__lte=now)
        .exclude(mode=Mode.MANUAL)
        .exclude(action=FRAUD_CLEAR)
        .values_list("workflow", "route")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for workflow, route, n in rows:
        counts[workflow][route] = n
    modes = dict(WorkflowPolicy.objects.values_list("workflow", "mode"))
    labels = dict(Workflow.choices)
    workflows = PROPOSING_WORKFLOWS + sorted(set(counts) - set(PROPOSING_WORKFLOWS))
    return [
        WorkflowAutomation(
            workflow=workflow,
            label=str(labels.get(workflow, workflow)),
            mode=modes.get(workflow, ""),
            executed=counts[workflow].get(Route.EXECUTE, 0),
            queued=counts[workflow].get(Route.QUEUE, 0),
            logged=counts[workflow].get(Route.LOG, 0),
        )
        for workflow in workflows
    ]
