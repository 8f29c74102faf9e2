"""The Dashboard: who may see it, each figure per currency and window, the htmx refresh, a constant query count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from unittest.mock import patch

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from djstripe import models as djstripe_models

from audit.models import ActorType, Decision, Mode, Outcome, Route
from console.dashboard import dashboard_figures
from dunning.models import RecoveryCase, RecoveryStatus, RetryAttempt
from fraud.models import Assessment, FraudHold, HoldStatus
from payops.charts import share_bars, value_bars
from payops.models import ReviewItem, ReviewKind, ReviewStatus, WorkflowPolicy
from payops.policy_gate import Proposal, submit_proposal

pytestmark = pytest.mark.django_db

URL = "/dashboard/"
_serial = count(1)
_OUTCOME = {Route.EXECUTE: Outcome.EXECUTED, Route.QUEUE: Outcome.QUEUED, Route.LOG: Outcome.LOGGED}


# --- rows as the workflows write them


def recovery_case(
    *,
    amount_minor: int,
    currency: str,
    status: str = RecoveryStatus.ACTIVE,
    recovered_at: datetime | None = None,
    code: str = "",
) -> RecoveryCase:
    """A failed payment's case with its first failure and, when recovered, the charge that went through."""
    n = next(_serial)
    failed_at = (recovered_at or timezone.now()) - timedelta(days=2)
    case = RecoveryCase.objects.create(
        payment_intent_id=f"pi_dash_{n}",
        booking_code=code or f"DASH-{n:04d}",
        amount_minor=amount_minor,
        currency=currency,
        status=status,
        first_failed_at=failed_at,
        last_failed_at=failed_at,
    )
    attempt = {"case": case, "amount_minor": amount_minor, "currency": currency}
    RetryAttempt.objects.create(
        number=0, attempted_at=failed_at, succeeded=False, decline_code="card_declined", **attempt
    )
    if recovered_at is not None:
        RetryAttempt.objects.create(number=1, attempted_at=recovered_at, succeeded=True, **attempt)
    return case


def decision(
    *,
    at: datetime | None = None,
    workflow: str = "dunning",
    route: str = Route.EXECUTE,
    mode: str = Mode.AUTOMATE,
    action: str = "dunning.retry",
    **fields: Any,
) -> Decision:
    """A Decision written at `at` (created_at is set by the database layer, so the clock is moved)."""
    values: dict[str, Any] = {
        "trace_id": f"trace-{next(_serial)}",
        "workflow": workflow,
        "action": action,
        "reason": "test",
        "mode": mode,
        "route": route,
        "outcome": _OUTCOME[Route(route)],
        **fields,
    }
    with patch("django.utils.timezone.now", return_value=at or timezone.now()):
        return Decision.objects.create(**values)


def review_item(
    kind: str, *, waiting: timedelta, due_in: timedelta | None = None, status: str = ReviewStatus.OPEN
) -> ReviewItem:
    item = ReviewItem.objects.create(
        kind=kind,
        status=status,
        decision=decision(route=Route.QUEUE, mode=Mode.SUGGEST),
        action="dunning.retry",
        due_by=timezone.now() + due_in if due_in is not None else None,
    )
    # created_at is auto_now_add: move it back to make the item wait.
    ReviewItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - waiting)
    return item


def fraud_hold(*, status: str = HoldStatus.HELD, resolved_at: datetime | None = None) -> FraudHold:
    code = f"FRAUD-{next(_serial):04d}"
    assessment = Assessment.objects.create(
        booking_code=code,
        stage="payment",
        score=80,
        probability=0.8,
        band="high",
        confidence=0.6,
        model_version="fraud-prior-1",
        features={},
        scored_at=timezone.now(),
    )
    return FraudHold.objects.create(
        booking_code=code,
        assessment=assessment,
        status=status,
        decision=decision(workflow="fraud", action="fraud.hold"),
        resolved_at=resolved_at,
    )


def refund(*, amount_minor: int, currency: str, status: str = "succeeded", created: datetime | None = None) -> Any:
    n = next(_serial)
    charge = djstripe_models.Charge.objects.create(
        id=f"ch_dash_{n}", amount=Decimal(amount_minor) / 100, currency=currency, status="succeeded"
    )
    return djstripe_models.Refund.objects.create(
        id=f"re_dash_{n}",
        amount=amount_minor,
        currency=currency,
        charge=charge,
        created=created or timezone.now() - timedelta(hours=1),
        stripe_data={"id": f"re_dash_{n}", "object": "refund", "amount": amount_minor, "status": status},
    )


def page(client: Any) -> tuple[Any, str]:
    response = client.get(URL)
    assert response.status_code == 200, response.content.decode()[:500]
    return response.context["dashboard"], response.content.decode()


def text(html: str, element_id: str) -> str:
    """The text inside the element with this id, tags and extra spaces removed."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element {element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())


@pytest.fixture
def viewing(client: Any, viewer: User) -> Any:
    client.force_login(viewer)
    return client


# --- who may see it


def test_anonymous_users_are_sent_to_log_in(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_user_in_no_staff_group_is_refused(client: Any, outsider: User) -> None:
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


def test_every_staff_group_sees_it(
    client: Any, viewer: User, reviewer: User, approver: User, admin_user_in_group: User
) -> None:
    for user in (viewer, reviewer, approver, admin_user_in_group):
        client.force_login(user)
        response = client.get(URL)
        assert response.status_code == 200, user.username
        assert "<h1>Dashboard</h1>" in response.content.decode()


# --- the figures


def test_recovered_revenue_is_summed_per_currency_never_across(viewing: Any) -> None:
    now = timezone.now()
    recovery_case(
        amount_minor=4830, currency="cad", status=RecoveryStatus.RECOVERED, recovered_at=now - timedelta(days=1)
    )
    recovery_case(
        amount_minor=1200, currency="cad", status=RecoveryStatus.RECOVERED, recovered_at=now - timedelta(days=3)
    )
    recovery_case(
        amount_minor=9900, currency="eur", status=RecoveryStatus.RECOVERED, recovered_at=now - timedelta(days=1)
    )
    # Not recovered revenue: recovered before the window, still open, or synthetic training history.
    recovery_case(
        amount_minor=777, currency="cad", status=RecoveryStatus.RECOVERED, recovered_at=now - timedelta(days=31)
    )
    recovery_case(amount_minor=5000, currency="cad", status=RecoveryStatus.ACTIVE)
    recovery_case(
        amount_minor=8800,
        currency="cad",
        status=RecoveryStatus.RECOVERED,
        recovered_at=now - timedelta(days=1),
        code="SYN-1-00001",
    )

    figures, html = page(viewing)

    by_currency = {r.currency: (r.payments, r.amount_minor) for r in figures.recovered}
    assert by_currency == {"cad": (2, 6030), "eur": (1, 9900)}
    assert "60.30 CAD" in text(html, "recovered-cad") and "from 2 failed payments" in text(html, "recovered-cad")
    assert "99.00 EUR" in text(html, "recovered-eur")


def test_recovered_revenue_has_a_bar_per_day_with_the_days_amount(viewing: Any) -> None:
    now = timezone.now()
    yesterday = now - timedelta(days=1)
    recovery_case(amount_minor=4830, currency="cad", status=RecoveryStatus.RECOVERED, recovered_at=yesterday)
    recovery_case(amount_minor=1170, currency="cad", status=RecoveryStatus.RECOVERED, recovered_at=yesterday)

    figures, html = page(viewing)

    chart = figures.recovered[0].per_day
    assert len(chart.bars) == 30 and chart.max_total == 6000
    day = timezone.localdate(yesterday)
    bar = chart.bars[-2]
    assert bar.label == f"{day.day} {day:%b}" and bar.total == 6000 and bar.segments[0].height == chart.height
    assert sum(b.total for b in chart.bars) == 6000
    assert f"<title>{bar.label}: 60.00 CAD recovered</title>" in html
    assert 'role="img"' in html and "Revenue recovered in CAD per day" in html


def test_a_recovery_counts_on_its_day_in_the_display_time_zone(settings: Any) -> None:
    settings.TIME_ZONE = "America/Toronto"
    now = datetime(2024, 5, 10, 15, 0, tzinfo=UTC)
    # 02:00 UTC on 1 May is 22:00 on 30 April in Toronto.
    recovery_case(
        amount_minor=2500,
        currency="usd",
        status=RecoveryStatus.RECOVERED,
        recovered_at=datetime(2024, 5, 1, 2, tzinfo=UTC),
    )

    figures = dashboard_figures(now=now)

    totals = {bar.label: bar.total for bar in figures.recovered[0].per_day.bars if bar.total}
    assert totals == {"30 Apr": 2500}
    assert figures.since == datetime(2024, 4, 11, 4, 0, tzinfo=UTC)  # midnight in Toronto (EDT), 30 days back


def test_payments_in_recovery_count_retrying_and_escalated_per_currency(viewing: Any) -> None:
    recovery_case(amount_minor=1000, currency="usd")
    recovery_case(amount_minor=2550, currency="usd")
    recovery_case(amount_minor=40000, currency="usd", status=RecoveryStatus.ESCALATED)
    recovery_case(amount_minor=3000, currency="jpy")
    for status in (RecoveryStatus.CANCELLED, RecoveryStatus.CLOSED):
        recovery_case(amount_minor=9999, currency="usd", status=status)
    recovery_case(amount_minor=9999, currency="usd", code="SYN-2-00001")

    figures, html = page(viewing)

    assert [(r.currency, r.active, r.active_minor, r.escalated, r.escalated_minor) for r in figures.in_recovery] == [
        ("jpy", 1, 3000, 0, 0),
        ("usd", 2, 3550, 1, 40000),
    ]
    assert text(html, "in-recovery-usd") == "USD 2 35.50 USD 1 400.00 USD"
    assert text(html, "in-recovery-jpy") == "JPY 1 3000 JPY 0 0 JPY"  # no decimals in yen
    assert text(html, "tile-in-recovery") == "4"


def test_fraud_holds_held_now_and_resolved_in_the_window(viewing: Any) -> None:
    now = timezone.now()
    fraud_hold()
    fraud_hold()
    fraud_hold(status=HoldStatus.RELEASED, resolved_at=now - timedelta(days=2))
    fraud_hold(status=HoldStatus.CANCELLED, resolved_at=now - timedelta(days=5))
    fraud_hold(status=HoldStatus.CANCELLED, resolved_at=now - timedelta(days=6))
    fraud_hold(status=HoldStatus.RELEASED, resolved_at=now - timedelta(days=45))

    figures, html = page(viewing)

    assert (figures.fraud.held, figures.fraud.released, figures.fraud.cancelled) == (2, 1, 2)
    assert figures.fraud.oldest_held_at is not None
    assert text(html, "fraud-held").startswith("2 the oldest for")
    assert (text(html, "fraud-released"), text(html, "fraud-cancelled")) == ("1", "2")


def test_refunds_per_currency_leave_out_failed_and_older_ones(viewing: Any) -> None:
    refund(amount_minor=2000, currency="usd")
    refund(amount_minor=500, currency="usd", status="pending")
    refund(amount_minor=7000, currency="usd", status="failed")
    refund(amount_minor=1500, currency="eur")
    refund(amount_minor=9900, currency="eur", created=timezone.now() - timedelta(days=40))

    figures, html = page(viewing)

    assert [(r.currency, r.refunds, r.amount_minor, r.failed) for r in figures.refunds] == [
        ("eur", 1, 1500, 0),
        ("usd", 2, 2500, 1),
    ]
    assert text(html, "refunds-usd") == "USD 2 25.00 USD 1"
    assert text(html, "refunds-eur") == "EUR 1 15.00 EUR 0"


def test_the_review_queue_shows_each_kind_with_its_oldest_item_and_a_link_to_it(viewing: Any) -> None:
    review_item(ReviewKind.REFUND, waiting=timedelta(hours=5), due_in=timedelta(hours=-1))
    review_item(ReviewKind.REFUND, waiting=timedelta(hours=2), due_in=timedelta(hours=4))
    review_item(ReviewKind.FRAUD_HOLD, waiting=timedelta(days=3))
    review_item(ReviewKind.REFUND, waiting=timedelta(days=9), status=ReviewStatus.EXECUTED)

    figures, html = page(viewing)

    rows = {row.kind: row for row in figures.queue}
    assert set(rows) == set(ReviewKind.values)
    refunds, holds = rows[ReviewKind.REFUND], rows[ReviewKind.FRAUD_HOLD]
    assert (refunds.open, refunds.past_due, holds.open, holds.past_due) == (2, 1, 1, 0)
    assert refunds.oldest_age is not None and timedelta(hours=5) <= refunds.oldest_age < timedelta(hours=5, minutes=1)
    assert rows[ReviewKind.RETRY].open == 0 and rows[ReviewKind.RETRY].oldest_at is None
    assert text(html, "queue-refund") == "Refund 2 5 hours 1"
    assert text(html, "queue-fraud_hold") == "Fraud hold 1 3 days 0"
    assert 'href="/queue/?kind=fraud_hold"' in html
    assert (text(html, "tile-open-reviews"), text(html, "tile-past-due")) == ("3", "1")


def test_automation_counts_top_level_proposals_per_workflow_and_route(viewing: Any, reviewer: User) -> None:
    for _ in range(3):
        decision(workflow="dunning", route=Route.EXECUTE)
    queued = decision(workflow="dunning", route=Route.QUEUE, mode=Mode.SUGGEST)
    decision(workflow="refunds", route=Route.LOG, mode=Mode.MONITOR, action="refunds.issue")
    decision(workflow="refunds", route=Route.QUEUE, mode=Mode.SUGGEST, action="refunds.issue")
    # Not proposals to count: a person's answer, an operator's action, a fraud score that needed nothing, an old one.
    decision(
        workflow="dunning",
        parent=queued,
        mode=Mode.MANUAL,
        actor_type=ActorType.USER,
        actor=reviewer,
        action="approve",
    )
    decision(workflow="operations", mode=Mode.MANUAL, action="replay_event")
    decision(workflow="fraud", route=Route.LOG, action="fraud.clear")
    decision(workflow="dunning", at=timezone.now() - timedelta(days=31))

    figures, html = page(viewing)

    rows = {row.workflow: row for row in figures.automation}
    dunning, refunds, fraud = rows["dunning"], rows["refunds"], rows["fraud"]
    assert (dunning.executed, dunning.queued, dunning.logged, dunning.automated_percent) == (3, 1, 0, 75)
    assert (refunds.executed, refunds.queued, refunds.logged, refunds.automated_percent) == (0, 1, 1, 0)
    assert fraud.total == 0 and fraud.automated_percent is None
    assert "operations" not in rows and "console" not in rows
    assert text(html, "automation-dunning") == "Failed-payment recovery monitor 3 1 0 75 %"
    assert text(html, "automation-fraud") == "Fraud scoring monitor 0 0 0 –"
    assert "<title>Failed-payment recovery: 4 proposals, 3 executed (75 %), 1 queued (25 %)</title>" in html
    assert 'id="automation-chart"' in html and 'role="img"' in html


def test_a_proposal_through_the_gate_counts_where_its_policy_sent_it(viewing: Any) -> None:
    WorkflowPolicy.objects.filter(workflow="refunds").update(mode=Mode.SUGGEST)
    submit_proposal(
        Proposal(
            workflow="refunds",
            action="refunds.issue",
            reason="customer cancelled within the window",
            review_kind=ReviewKind.REFUND,
            score=10,
            confidence=0.9,
            booking_id="GATE-0001",
            amount_minor=4500,
            currency="usd",
        )
    )

    figures, html = page(viewing)

    refunds = next(row for row in figures.automation if row.workflow == "refunds")
    assert (refunds.mode, refunds.executed, refunds.queued, refunds.logged) == ("suggest", 0, 1, 0)
    assert text(html, "queue-refund").startswith("Refund 1 ")


def test_an_empty_database_shows_zeros_and_empty_states(viewing: Any) -> None:
    figures, html = page(viewing)

    assert figures.recovered == [] and figures.in_recovery == [] and figures.refunds == []
    assert figures.open_reviews == 0 and figures.fraud.held == 0
    assert "No failed payment was recovered in the last 30 days." in html
    assert "No refund in the last 30 days." in html


# --- the refresh and the cost


def test_the_htmx_refresh_renders_only_the_figures(viewing: Any) -> None:
    recovery_case(amount_minor=1000, currency="usd")
    response = viewing.get(URL, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<div id="figures" hx-get="/dashboard/" hx-trigger="every 30s"')
    assert "<h1>" not in html and text(html, "tile-in-recovery") == "1"


def _rows_of_every_kind(n: int) -> None:
    now = timezone.now()
    for i in range(n):
        currency = ("usd", "eur", "cad")[i % 3]
        recovery_case(
            amount_minor=1000 + i,
            currency=currency,
            status=RecoveryStatus.RECOVERED,
            recovered_at=now - timedelta(days=i % 30),
        )
        recovery_case(
            amount_minor=2000 + i, currency=currency, status=(RecoveryStatus.ACTIVE, RecoveryStatus.ESCALATED)[i % 2]
        )
        fraud_hold(status=(HoldStatus.HELD, HoldStatus.RELEASED, HoldStatus.CANCELLED)[i % 3], resolved_at=now)
        refund(amount_minor=300 + i, currency=currency, status=("succeeded", "failed")[i % 2])
        review_item(ReviewKind.values[i % len(ReviewKind.values)], waiting=timedelta(hours=i))
        decision(workflow=("dunning", "fraud", "refunds")[i % 3], route=(Route.EXECUTE, Route.QUEUE, Route.LOG)[i % 3])


def test_the_page_costs_the_same_queries_for_1_or_50_rows_of_everything(viewing: Any) -> None:
    counts = []
    for n in (1, 49):
        _rows_of_every_kind(n)
        with CaptureQueriesContext(connection) as queries:
            figures, _ = page(viewing)
        counts.append(len(queries))
    assert figures.open_reviews == 50 and figures.payments_in_recovery == 50
    assert counts[0] == counts[1], counts


def test_the_figures_take_one_query_each(django_assert_num_queries: Any) -> None:
    _rows_of_every_kind(6)
    # Recovered, in recovery, fraud holds, refunds, queue, automation and the policies' modes.
    with django_assert_num_queries(7):
        figures = dashboard_figures()
    assert sum(r.amount_minor for r in figures.refunds) == 300 + 302 + 304


# --- the chart geometry the page draws


def test_value_bars_scale_to_the_largest_value_and_leave_zero_days_empty() -> None:
    chart = value_bars([("1 May", 0), ("2 May", 500), ("3 May", 1000)], series="usd", width=300, height=100)
    assert [b.x for b in chart.bars] == [1, 101, 201] and chart.max_total == 1000
    assert chart.bars[0].segments == []
    assert [(s.y, s.height, s.count) for b in chart.bars[1:] for s in b.segments] == [(50, 50, 500), (0, 100, 1000)]


def test_share_bars_fill_each_bar_with_its_rows_shares() -> None:
    chart = share_bars(
        [("big", {"executed": 300, "queued": 100}), ("small", {"executed": 1, "logged": 3}), ("none", {})],
        series=["executed", "queued", "logged"],
        height=100,
    )
    big, small, none = chart.bars
    assert [(s.series, s.y, s.height) for s in big.segments] == [("executed", 25, 75), ("queued", 0, 25)]
    assert [(s.series, s.y, s.height) for s in small.segments] == [("executed", 75, 25), ("logged", 0, 75)]
    assert none.segments == [] and none.total == 0 and chart.max_total == 400
