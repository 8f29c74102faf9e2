"""Answering from the queue over HTTP: approve, change, reject, assign, comment, bulk; roles, CSRF and races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from audit.models import ActorType, Decision, Outcome
from payops import review
from payops.models import ReviewItem, ReviewStatus
from tests.console.queue_fixtures import mirror_booking, queue_item
from tests.payops.sample_workflow import ACTION, FakeOutsideSystem

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "detail"}
SMALL, LARGE, TWO_PEOPLE = 5_000, 60_000, 300_000  # either side of the default policy's thresholds


@pytest.fixture
def post(on_commit: Any) -> Any:
    """An htmx POST as `user`; what it queued for execution runs once it has answered, as a worker would."""

    def send(client: Client, user: User | None, url: str, data: dict[str, Any] | None = None) -> Any:
        if user is not None:
            client.force_login(user)
        return on_commit(client.post, url, data or {}, headers=HTMX)

    return send


def answers(item: ReviewItem) -> list[Decision]:
    return list(Decision.objects.filter(parent_id=item.decision_id).exclude(action=review.NOTE).order_by("created_at"))


def test_a_reviewer_approves_and_it_is_carried_out_recorded_and_noted(
    post: Any, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item("B1", amount_minor=SMALL)
    response = post(client, reviewer, f"/queue/{item.pk}/approve/")
    assert response.status_code == 200
    assert "approved: carrying it out" in response.content.decode()
    assert response["HX-Trigger"] == "queue-changed"
    [child] = answers(item)
    assert (child.action, child.actor, child.actor_type, child.outcome) == (
        ACTION,
        reviewer,
        ActorType.USER,
        Outcome.EXECUTED,
    )
    assert outside.calls == 1
    assert outside.notes == [f"PayOps review #{item.pk} (Other): approved, by rita"]
    item.refresh_from_db()
    assert item.status == ReviewStatus.EXECUTED


def test_a_changed_amount_is_typed_in_major_units_and_approved_as_changed(
    post: Any, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item(amount_minor=SMALL)
    response = post(client, reviewer, f"/queue/{item.pk}/approve/", {"amount_minor": "30.00"})
    assert response.status_code == 200 and "approved with changes" in response.content.decode()
    [child] = answers(item)
    assert child.params["amount_minor"] == 3_000 and child.amount_minor == 3_000
    item.refresh_from_db()
    assert item.status == ReviewStatus.EXECUTED and item.params["amount_minor"] == 3_000
    assert outside.notes == [
        f"PayOps review #{item.pk} (Other): approved with changes (amount 50.00 → 30.00 USD), by rita"
    ]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [("lots", "is not an amount"), ("30.001", "more decimals than USD"), ("60.00", "between 1 and 5000")],
)
def test_a_bad_change_is_refused_with_its_reason_and_nothing_happens(
    post: Any, amount: str, reason: str, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item(amount_minor=SMALL)
    response = post(client, reviewer, f"/queue/{item.pk}/approve/", {"amount_minor": amount})
    assert response.status_code == 400 and reason in response.content.decode()
    item.refresh_from_db()
    assert item.status == ReviewStatus.OPEN and not answers(item) and outside.calls == 0 and not outside.notes


def test_a_rejection_needs_a_reason_and_is_recorded_with_it(
    post: Any, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item()
    empty = post(client, reviewer, f"/queue/{item.pk}/reject/", {"reason": "  "})
    assert empty.status_code == 400 and "say why" in empty.content.decode()
    response = post(client, reviewer, f"/queue/{item.pk}/reject/", {"reason": "paid by phone"})
    assert response.status_code == 200 and "rejected" in response.content.decode()
    [child] = answers(item)
    assert child.reason == "rejected: paid by phone" and child.actor == reviewer
    assert outside.calls == 0 and outside.notes == [
        f"PayOps review #{item.pk} (Other): rejected: paid by phone, by rita"
    ]


def test_assigning_gives_the_item_to_someone_who_may_act_and_is_recorded(
    post: Any, client: Client, reviewer: User, approver: User, viewer: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item()
    assert post(client, reviewer, f"/queue/{item.pk}/assign/", {"assignee": "april"}).status_code == 200
    item.refresh_from_db()
    assert item.assignee == approver
    to_viewer = post(client, reviewer, f"/queue/{item.pk}/assign/", {"assignee": "vera"})
    assert to_viewer.status_code == 400 and "may not act" in to_viewer.content.decode()
    nobody = post(client, reviewer, f"/queue/{item.pk}/assign/", {"assignee": "nobody-here"})
    assert nobody.status_code == 400 and "no active user" in nobody.content.decode()
    assert post(client, reviewer, f"/queue/{item.pk}/assign/", {"assignee": "me"}).status_code == 200
    item.refresh_from_db()
    assert item.assignee == reviewer
    recorded = Decision.objects.filter(action=review.NOTE, parent_id=item.decision_id).order_by("created_at")
    assert [d.actor for d in recorded] == [reviewer, reviewer]
    assert outside.notes[-1] == f"PayOps review #{item.pk} (Other): assigned to rita, by rita"
    assert post(client, viewer, f"/queue/{item.pk}/assign/", {"assignee": "rita"}).status_code == 403


def test_a_comment_is_kept_in_the_audit_log_noted_on_the_booking_and_shown_in_the_timeline(
    post: Any, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    mirror_booking("B1", "jo@example.com")
    item = queue_item("B1")
    assert post(client, reviewer, f"/queue/{item.pk}/comment/", {"text": ""}).status_code == 400
    assert post(client, reviewer, f"/queue/{item.pk}/comment/", {"text": "x" * 1001}).status_code == 400
    response = post(client, reviewer, f"/queue/{item.pk}/comment/", {"text": "called the customer, will pay today"})
    assert response.status_code == 200
    [note] = Decision.objects.filter(action=review.NOTE)
    assert note.actor == reviewer and note.booking_id == "B1"
    assert outside.notes == [f"PayOps review #{item.pk} (Other): comment: called the customer, will pay today, by rita"]
    panel = client.get(f"/queue/{item.pk}/", headers=HTMX).content.decode()
    assert "called the customer, will pay today" in panel and "by rita" in panel
    assert "jo@example.com" in panel, "the customer's history is in the panel"


ROLES = ["viewer", "reviewer", "approver", "admin_user_in_group"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("amount", "allowed"),
    [(SMALL, {"reviewer", "approver", "admin_user_in_group"}), (LARGE, {"approver", "admin_user_in_group"})],
)
@pytest.mark.parametrize("answer", ["approve", "reject"])
def test_every_role_gets_the_answer_its_group_allows(
    post: Any,
    role: str,
    amount: int,
    allowed: set[str],
    answer: str,
    request: Any,
    client: Client,
    outside: FakeOutsideSystem,
) -> None:
    user = request.getfixturevalue(role)
    item = queue_item(amount_minor=amount)
    response = post(client, user, f"/queue/{item.pk}/{answer}/", {"reason": "not needed"})
    item.refresh_from_db()
    if role in allowed:
        assert response.status_code == 200 and item.status != ReviewStatus.OPEN
    else:
        assert response.status_code == 403 and item.status == ReviewStatus.OPEN
        assert ("needs an Approver" if role == "reviewer" else "may read the queue") in response.content.decode()


@pytest.mark.parametrize("role", ["viewer"])
def test_a_viewer_can_read_but_not_comment_assign_or_bulk(
    post: Any, role: str, viewer: User, client: Client, outside: FakeOutsideSystem
) -> None:
    item = queue_item()
    assert post(client, viewer, f"/queue/{item.pk}/").status_code == 405
    assert client.get(f"/queue/{item.pk}/", headers=HTMX).status_code == 200
    assert post(client, None, f"/queue/{item.pk}/comment/", {"text": "hi"}).status_code == 403
    assert post(client, None, "/queue/bulk/", {"answer": "approve", "ids": [item.pk]}).status_code == 403
    assert not Decision.objects.filter(action=review.NOTE).exists()


def test_two_different_people_approve_a_large_amount(
    post: Any, client: Client, approver: User, admin_user_in_group: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item(amount_minor=TWO_PEOPLE)
    first = post(client, approver, f"/queue/{item.pk}/approve/")
    assert first.status_code == 200 and "needs a second, different person" in first.content.decode()
    again = post(client, approver, f"/queue/{item.pk}/approve/")
    assert again.status_code == 409 and "different second person" in again.content.decode()
    assert outside.calls == 0
    second = post(client, admin_user_in_group, f"/queue/{item.pk}/approve/")
    assert second.status_code == 200 and outside.calls == 1


def test_posts_without_the_csrf_token_are_refused(reviewer: User, outside: FakeOutsideSystem) -> None:
    item = queue_item()
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    for path in ("approve", "reject", "assign", "comment"):
        assert client.post(f"/queue/{item.pk}/{path}/", {"reason": "x", "text": "x"}, headers=HTMX).status_code == 403
    assert client.post("/queue/bulk/", {"answer": "approve", "ids": [item.pk]}).status_code == 403
    item.refresh_from_db()
    assert item.status == ReviewStatus.OPEN and outside.calls == 0


def test_bulk_answers_each_item_on_its_own_and_reports_refusals(
    on_commit: Any, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    small = [queue_item(f"S{n}", amount_minor=SMALL) for n in range(3)]
    large = queue_item("L", amount_minor=LARGE)
    ids = [i.pk for i in [*small, large]]
    client.force_login(reviewer)
    response = on_commit(client.post, "/queue/bulk/", {"answer": "approve", "ids": ids}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "Approved 3" in body
    assert f"#{large.pk}: this amount needs an Approver" in body
    assert outside.calls == 3
    assert ReviewItem.objects.get(pk=large.pk).status == ReviewStatus.OPEN


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"answer": "approve"}, "select at least one"),
        ({"answer": "maybe", "ids": ["1"]}, "choose approve or reject"),
        ({"answer": "approve", "ids": ["1", "x"]}, "not an item"),
        ({"answer": "reject", "ids": ["1"]}, "say why"),
        ({"answer": "approve", "ids": [str(n) for n in range(101)]}, "at most 100"),
    ],
)
def test_bad_bulk_requests_are_refused_with_the_reason(
    data: dict[str, Any], reason: str, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    client.force_login(reviewer)
    response = client.post("/queue/bulk/", data)
    assert response.status_code == 400 and reason in response.content.decode()
    assert outside.calls == 0


def test_an_unknown_item_is_404(client: Client, reviewer: User) -> None:
    client.force_login(reviewer)
    assert client.get("/queue/999999/").status_code == 404
    assert client.post("/queue/999999/approve/").status_code == 404
    assert client.post("/queue/999999/comment/", {"text": "hi"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_people_answering_one_item_at_once_one_wins_the_other_is_told_why(
    reviewer: User, approver: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item(amount_minor=SMALL)
    start = threading.Barrier(2)

    def answer(user: User, path: str) -> tuple[int, str]:
        client = Client()
        client.force_login(user)
        start.wait()
        try:
            response = client.post(f"/queue/{item.pk}/{path}/", {"reason": "duplicate"}, headers=HTMX)
            return response.status_code, response.content.decode()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(answer, [reviewer, approver], ["approve", "reject"]))
    codes = sorted(code for code, _ in results)
    assert codes == [200, 409]
    loser = next(body for code, body in results if code == 409)
    assert "already " in loser
    [answer] = answers(item)
    # The approval runs the action once; the rejection (no follow-up here) runs nothing.
    assert outside.calls == (1 if answer.reason == "approved" else 0)


def test_the_shown_amount_typed_again_is_no_change(
    post: Any, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item(amount_minor=SMALL)
    response = post(client, reviewer, f"/queue/{item.pk}/approve/", {"amount_minor": "50"})
    assert response.status_code == 200 and "approved: carrying it out now" in response.content.decode()
    item.refresh_from_db()
    assert item.status == ReviewStatus.EXECUTED and outside.notes[-1].endswith("approved, by rita")


def test_bulk_reports_a_first_of_two_approvals_apart_and_keeps_its_result_out_of_the_refreshed_list(
    on_commit: Any, client: Client, approver: User, outside: FakeOutsideSystem
) -> None:
    big = queue_item("BIG", amount_minor=TWO_PEOPLE)
    small = queue_item("S", amount_minor=SMALL)
    client.force_login(approver)
    response = on_commit(client.post, "/queue/bulk/", {"answer": "approve", "ids": [big.pk, small.pk]})
    body = response.content.decode()
    assert response.status_code == 200
    assert f"Approved 1: #{small.pk}." in body and f"a second person must approve: #{big.pk}" in body
    page = client.get("/queue/").content.decode()
    # The result sits outside the list the poll replaces, so the refresh after a bulk answer keeps it.
    assert page.index('id="bulk-result"') > page.index("<!-- end of queue-list -->")


@pytest.mark.parametrize("role", ROLES)
def test_who_may_comment_on_and_assign_an_item_whatever_its_amount(
    role: str, request: Any, post: Any, client: Client, approver: User, outside: FakeOutsideSystem
) -> None:
    user = request.getfixturevalue(role)
    item = queue_item(amount_minor=LARGE)  # needs an Approver to answer; any Reviewer may comment or assign
    commented = post(client, user, f"/queue/{item.pk}/comment/", {"text": "called the bank"})
    assigned = post(client, user, f"/queue/{item.pk}/assign/", {"assignee": "april"})
    expected = 403 if role == "viewer" else 200
    assert (commented.status_code, assigned.status_code) == (expected, expected)


def test_an_item_needing_an_approver_cannot_be_given_to_a_reviewer(
    post: Any, client: Client, reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queue_item(amount_minor=LARGE)
    response = post(client, reviewer, f"/queue/{item.pk}/assign/", {"assignee": "rita"})
    assert response.status_code == 400 and "needs one" in response.content.decode()
