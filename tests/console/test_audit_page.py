"""The Audit page: who may read it, what each filter finds, paging by cursor, the CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import ActorType, Decision, Mode, Outcome, Route
from console.audit_search import CSV_HEADER
from payops.policy_gate import Proposal, submit_proposal

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def decision(*, at: datetime = NOW, **fields: Any) -> Decision:
    """A Decision written at `at` (created_at is set by the database layer, so the clock is moved)."""
    values: dict[str, Any] = {
        "trace_id": "trace-default",
        "workflow": "dunning",
        "action": "retry_payment",
        "reason": "card declined: insufficient funds",
        "mode": Mode.AUTOMATE,
        "route": Route.EXECUTE,
        "outcome": Outcome.EXECUTED,
        **fields,
    }
    with patch("django.utils.timezone.now", return_value=at):
        return Decision.objects.create(**values)


def answer(parent: Decision, user: User, *, action: str = "approve", at: datetime | None = None) -> Decision:
    return decision(
        at=at or parent.created_at + timedelta(minutes=5),
        trace_id=parent.trace_id,
        workflow=parent.workflow,
        booking_id=parent.booking_id,
        stripe_ids=parent.stripe_ids,
        action=action,
        reason=f"{action}d",
        mode=Mode.MANUAL,
        route=Route.EXECUTE,
        route_reason=f"{action}d by {user.username}",
        actor_type=ActorType.USER,
        actor=user,
        parent=parent,
    )


def found(client: Any, **params: str) -> list[Decision]:
    response = client.get("/audit/", params)
    assert response.status_code == 200, response.content.decode()[:500]
    return list(response.context["page"].decisions)


@pytest.fixture
def viewing(client: Any, viewer: User) -> Any:
    client.force_login(viewer)
    return client


# --- who may read it


def test_anonymous_users_are_sent_to_log_in(client: Any) -> None:
    for url in ("/audit/", "/audit/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_a_user_without_the_audit_permission_is_refused(client: Any, outsider: User) -> None:
    client.force_login(outsider)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def test_every_staff_group_may_read_the_audit_page(client: Any, viewer: User, admin_user_in_group: User) -> None:
    for user in (viewer, admin_user_in_group):
        client.force_login(user)
        assert client.get("/audit/").status_code == 200


# --- filters


def test_booking_id_finds_its_decisions_whatever_the_case_and_no_other_booking(viewing: Any) -> None:
    mine = decision(booking_id="ABCD-010126")
    decision(booking_id="ABCD-0101260")
    decision(booking_id="XYZ-1")
    assert found(viewing, booking="abcd-010126") == [mine]
    assert found(viewing, booking="  ABCD-010126 ") == [mine]


def test_stripe_id_matches_a_whole_id_so_pi_1_does_not_find_pi_12(viewing: Any) -> None:
    one = decision(stripe_ids=["pi_1", "ch_1"])
    twelve = decision(stripe_ids=["pi_12", "ch_12"], at=NOW + timedelta(seconds=1))
    second_in_list = decision(stripe_ids=["ch_9", "pi_1"], at=NOW + timedelta(seconds=2))
    decision(stripe_ids=[])
    assert found(viewing, stripe="pi_1") == [second_in_list, one]
    assert found(viewing, stripe="pi_12") == [twelve]
    assert found(viewing, stripe="pi_") == []
    assert found(viewing, stripe="PI_1") == []  # Stripe ids are case-sensitive


def test_trace_id_finds_the_proposal_and_every_answer_to_it(viewing: Any, approver: User) -> None:
    proposal = decision(trace_id="abc123", route=Route.QUEUE, outcome=Outcome.QUEUED)
    approval = answer(proposal, approver)
    decision(trace_id="abc1234")
    assert found(viewing, trace="abc123") == [approval, proposal]


def test_workflow_and_outcome_narrow_the_search(viewing: Any) -> None:
    fraud_failed = decision(workflow="fraud", action="hold_booking", outcome=Outcome.FAILED)
    decision(workflow="fraud", action="hold_booking", outcome=Outcome.EXECUTED)
    decision(workflow="refunds", action="refund", outcome=Outcome.FAILED)
    assert found(viewing, workflow="fraud", outcome="failed") == [fraud_failed]
    assert len(found(viewing, workflow="fraud")) == 2
    assert len(found(viewing, outcome="failed")) == 2


def test_actor_username_and_actor_type_tell_people_from_the_system(
    viewing: Any, reviewer: User, approver: User
) -> None:
    proposal = decision(route=Route.QUEUE, outcome=Outcome.QUEUED)
    by_rita = answer(proposal, reviewer, action="reject")
    by_april = answer(proposal, approver, at=NOW + timedelta(minutes=9))
    assert found(viewing, actor="RITA") == [by_rita]
    assert found(viewing, actor_type="user") == [by_april, by_rita]
    assert found(viewing, actor_type="system") == [proposal]


def test_a_date_range_means_whole_days_in_the_display_time_zone(viewing: Any, settings: Any) -> None:
    settings.TIME_ZONE = "America/Vancouver"  # UTC-7 in May
    late_on_the_1st = decision(at=datetime(2024, 5, 2, 6, 59, tzinfo=UTC))  # 23:59 on 1 May in Vancouver
    on_the_2nd = decision(at=datetime(2024, 5, 2, 7, 0, tzinfo=UTC))
    early_on_the_1st = decision(at=datetime(2024, 5, 1, 7, 0, tzinfo=UTC))
    decision(at=datetime(2024, 5, 1, 6, 59, tzinfo=UTC))  # 30 April there
    assert found(viewing, created_from="2024-05-01", created_to="2024-05-01") == [late_on_the_1st, early_on_the_1st]
    assert found(viewing, created_from="2024-05-02") == [on_the_2nd]


def test_a_decision_link_shows_it_and_the_answers_to_it(viewing: Any, approver: User) -> None:
    proposal = decision(route=Route.QUEUE, outcome=Outcome.QUEUED)
    approval = answer(proposal, approver)
    decision()
    assert found(viewing, decision=str(proposal.pk)) == [approval, proposal]


def test_a_proposal_from_the_policy_gate_is_found_by_booking_and_stripe_id(viewing: Any) -> None:
    submitted = submit_proposal(
        Proposal(
            workflow="refunds",
            action="refund",
            reason="customer cancelled 30 days ahead",
            booking_id="GATE-1",
            stripe_ids=["pi_gate", "ch_gate"],
            amount_minor=4830,
            currency="cad",
            score=12,
            confidence=0.9,
        )
    )
    assert found(viewing, booking="gate-1", stripe="ch_gate") == [submitted]


# --- what a row shows


def test_a_row_says_who_did_what_why_how_sure_and_where_it_went(viewing: Any, approver: User) -> None:
    proposal = decision(
        workflow="refunds",
        action="refund",
        booking_id="ROW-1",
        stripe_ids=["pi_row", "ch_row"],
        amount_minor=4830,
        currency="cad",
        reason="customer cancelled 30 days ahead",
        reasons=["cancelled early", "first refund"],
        score=12.5,
        confidence=0.87,
        model_version="refund-rules-3",
        route=Route.QUEUE,
        route_reason="amount above the automation limit",
        outcome=Outcome.QUEUED,
        trace_id="trace-row",
    )
    approval = answer(proposal, approver)
    html = viewing.get("/audit/", {"booking": "ROW-1"}).content.decode()
    assert "48.30 CAD" in html and "12.5" in html and "0.87" in html and "refund-rules-3" in html
    assert "customer cancelled 30 days ahead" in html and "first refund" in html
    assert "amount above the automation limit" in html and "approved by april" in html
    assert "pi_row" in html and "ch_row" in html
    assert '<strong class="actor-user">april</strong>' in html and '<span class="actor-system">System</span>' in html
    assert 'href="/audit/?trace=trace-row"' in html
    row = re.search(rf'<tr id="decision-{approval.pk}">.*?</tr>', html, re.S)
    assert row and f'href="/audit/?decision={proposal.pk}"' in row[0] and "answers" in row[0]


def test_every_form_input_has_a_label(viewing: Any) -> None:
    html = viewing.get("/audit/").content.decode()
    start = html.index('<form class="audit-search')
    form = html[start : html.index("</form>", start)]
    ids = re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', form)
    assert len(ids) == 9
    for input_id in ids:
        assert f'<label for="{input_id}">' in form, input_id


def test_htmx_search_gets_only_the_results_and_varies_on_the_header(viewing: Any) -> None:
    decision(booking_id="HX-1")
    response = viewing.get("/audit/", {"booking": "HX-1"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="audit-results"') and "HX-1" in body and "<html" not in body
    assert "HX-Request" in response["Vary"]
    restore = viewing.get("/audit/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.content.decode()


# --- paging


def test_paging_by_cursor_returns_every_matching_row_once_newest_first(viewing: Any) -> None:
    # Ties on created_at are common (one transaction writes a proposal and its
    # follow-ups): the id breaks them, so no row is skipped or repeated.
    made = [
        decision(workflow="fraud", at=NOW + timedelta(seconds=i // 7), trace_id=f"t{i}", action="hold_booking")
        for i in range(120)
    ]
    decision(workflow="dunning")
    seen: list[Decision] = []
    url = "/audit/?workflow=fraud"
    pages = 0
    while url:
        with CaptureQueriesContext(connection) as queries:
            response = viewing.get(url)
        assert response.status_code == 200
        assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
        seen.extend(response.context["page"].decisions)
        url = response.context["next_url"]
        pages += 1
    assert pages == 3 and len(seen) == 120
    assert [d.pk for d in seen] == [d.pk for d in sorted(made, key=lambda d: (d.created_at, d.pk), reverse=True)]
    assert response.context["newest_url"] == "/audit/?workflow=fraud"


def test_rows_written_meanwhile_do_not_shift_the_next_page(viewing: Any) -> None:
    for i in range(60):
        decision(at=NOW + timedelta(seconds=i))
    first = viewing.get("/audit/")
    next_url = first.context["next_url"]
    for i in range(5):
        decision(at=NOW + timedelta(hours=1, seconds=i))
    second = viewing.get(next_url).context["page"].decisions
    assert [d.created_at for d in second] == [NOW + timedelta(seconds=i) for i in range(9, -1, -1)]


def test_a_page_costs_the_same_queries_for_3_or_50_rows(viewing: Any, reviewer: User, approver: User) -> None:
    def queries_for(url: str) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = viewing.get(url)
        assert response.status_code == 200
        # The rows, their actors and the decisions they answer: one query.
        assert sum("audit_decision" in q["sql"] for q in queries.captured_queries) == 1
        return len(queries), response.context["next_url"]

    def write(count: int, workflow: str) -> None:
        for i in range(count // 2):
            proposal = decision(workflow=workflow, at=NOW + timedelta(seconds=i), stripe_ids=[f"pi_{workflow}{i}"])
            answer(proposal, reviewer if i % 2 else approver)

    write(4, "fraud")  # 2 proposals, 2 answers
    write(120, "refunds")
    few, _ = queries_for("/audit/?workflow=fraud")
    many, next_url = queries_for("/audit/?workflow=refunds")
    deeper, _ = queries_for(next_url)
    assert few == many == deeper, (few, many, deeper)


# --- bad input


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"workflow": "payroll"}, "unknown workflow &#x27;payroll&#x27;"),
        ({"outcome": "won"}, "unknown outcome"),
        ({"actor_type": "robot"}, "unknown actor_type"),
        ({"created_from": "2024-13-01"}, "is not a date (YYYY-MM-DD)"),
        ({"created_to": "yesterday"}, "is not a date (YYYY-MM-DD)"),
        ({"created_from": "2024-05-02", "created_to": "2024-05-01"}, "ends (2024-05-01) before it starts"),
        ({"booking": "B" * 65}, "booking is 65 characters long; at most 64"),
        ({"trace": "t" * 65}, "trace is 65 characters long; at most 64"),
        ({"stripe": 'pi_1"]'}, "a Stripe id has only letters, digits and underscores"),
        ({"actor": "bad\x00name"}, "actor contains control characters"),
        ({"decision": "not-a-uuid"}, "is not a decision id"),
        ({"cursor": "12.zz"}, "the page cursor is not valid"),
    ],
)
def test_a_bad_filter_is_refused_with_its_reason(viewing: Any, params: dict[str, str], reason: str) -> None:
    page = viewing.get("/audit/", params)
    assert page.status_code == 400 and reason in page.content.decode()
    assert 'role="alert"' in page.content.decode()
    if "cursor" not in params:
        export = viewing.get("/audit/export.csv", params)
        assert export.status_code == 400 and export["Content-Type"].startswith("text/plain")
        assert "Content-Disposition" not in export


def test_a_bad_filter_by_htmx_gets_the_results_partial_with_the_reason(viewing: Any) -> None:
    response = viewing.get("/audit/", {"workflow": "payroll"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 400
    assert body.lstrip().startswith('<section id="audit-results"') and "unknown workflow" in body


# --- CSV export


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200 and response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_has_a_header_and_every_matching_row_not_just_one_page(viewing: Any) -> None:
    for i in range(55):
        decision(workflow="disputes", action="submit_evidence", at=NOW + timedelta(seconds=i), trace_id=f"d{i}")
    decision(workflow="fraud")
    response = viewing.get("/audit/export.csv", {"workflow": "disputes", "cursor": "ignored"})
    assert re.fullmatch(
        r'attachment; filename="payops-decisions-\d{4}-\d{2}-\d{2}\.csv"', response["Content-Disposition"]
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response)
    assert rows[0] == CSV_HEADER
    assert len(rows) == 56 and {r[CSV_HEADER.index("workflow")] for r in rows[1:]} == {"disputes"}
    assert rows[1][CSV_HEADER.index("trace_id")] == "d54"  # newest first


def test_csv_amounts_are_minor_units_with_a_currency_and_json_columns_are_json(viewing: Any, approver: User) -> None:
    proposal = decision(
        booking_id="CSV-1",
        stripe_ids=["pi_csv", "ch_csv"],
        amount_minor=4830,
        currency="cad",
        params={"amount_minor": 4830, "attempt": 2},
        reasons=["issuer says try later"],
        score=61.5,
        confidence=0.7,
        outcome_detail={"charge": "ch_csv"},
    )
    approval = answer(proposal, approver)
    rows = read_csv(viewing.get("/audit/export.csv", {"booking": "CSV-1"}))
    by_column = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    first, second = by_column
    assert second["amount_minor"] == "4830" and second["currency"] == "CAD"
    assert second["stripe_ids"] == '["pi_csv","ch_csv"]'
    assert second["params"] == '{"amount_minor":4830,"attempt":2}'
    assert second["reasons"] == '["issuer says try later"]' and second["outcome_detail"] == '{"charge":"ch_csv"}'
    assert second["score"] == "61.5" and second["confidence"] == "0.7" and second["actor_type"] == "system"
    assert second["actor"] == "" and second["created_at"] == "2024-05-01T12:00:00+00:00"
    assert (
        first["actor"] == "april"
        and first["parent_id"] == str(proposal.pk)
        and first["decision_id"] == str(approval.pk)
    )


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(viewing: Any) -> None:
    for i, start in enumerate(["=", "+", "-", "@", "\t", "\r"]):
        decision(
            booking_id=f"INJ-{i}", reason=f'{start}HYPERLINK("http://evil.example","x")', at=NOW + timedelta(seconds=i)
        )
    decision(booking_id="INJ-SAFE", reason="a plain reason", model_version="=1+1", at=NOW + timedelta(minutes=1))
    rows = read_csv(viewing.get("/audit/export.csv"))
    reasons = [row[CSV_HEADER.index("reason")] for row in rows[1:]]
    assert reasons[0] == "a plain reason" and rows[1][CSV_HEADER.index("model_version")] == "'=1+1"
    assert all(reason.startswith("'") for reason in reasons[1:]), reasons
    assert reasons[-1] == '\'=HYPERLINK("http://evil.example","x")'
