"""The queue page over HTTP: tabs and counts, filters, search, sort, keyset pages, bad input, and its query count."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payops.models import ReviewItem, ReviewKind, ReviewStatus
from tests.console.queue_fixtures import mirror_booking, queue_item

pytestmark = pytest.mark.django_db


def ids_on(response: Any) -> list[int]:
    return [int(i) for i in re.findall(r'id="queue-row-(\d+)"', response.content.decode())]


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_the_queue_shows_open_items_with_a_count_on_each_tab(client: Client, viewer: User) -> None:
    retry = queue_item("R1", kind=ReviewKind.RETRY)
    hold = queue_item("F1", kind=ReviewKind.FRAUD_HOLD, score=85)
    queue_item("F2", kind=ReviewKind.FRAUD_HOLD, score=75)
    ReviewItem.objects.filter(pk=queue_item("X1").pk).update(status=ReviewStatus.EXECUTED)
    page = logged_in(client, viewer).get("/queue/")
    assert page.status_code == 200
    body = page.content.decode()
    assert re.search(r'id="count-fraud_hold">2<', body) and re.search(r'id="count-retry">1<', body)
    assert re.search(r'id="count-other">0<', body), "the executed item is not open"
    assert set(ids_on(page)) == {retry.pk, hold.pk, hold.pk + 1}
    tab = client.get("/queue/", {"kind": "fraud_hold"})
    assert set(ids_on(tab)) == {hold.pk, hold.pk + 1}
    # The counts are for every kind under the same filters, whichever tab is open.
    assert re.search(r'id="count-retry">1<', tab.content.decode())


def test_filters_narrow_the_queue(client: Client, reviewer: User) -> None:
    now = timezone.now()
    low = queue_item("L1", score=10, amount_minor=2_000, currency="usd")
    mid = queue_item("M1", score=50, amount_minor=9_000, currency="usd")
    high = queue_item("H1", score=90, amount_minor=150_000, currency="cad")
    unscored = queue_item("U1", score=None)
    ReviewItem.objects.filter(pk=low.pk).update(assignee=reviewer, created_at=now - timedelta(days=2))
    client = logged_in(client, reviewer)
    assert ids_on(client.get("/queue/", {"band": "high"})) == [high.pk]
    assert ids_on(client.get("/queue/", {"band": "medium"})) == [mid.pk]
    assert ids_on(client.get("/queue/", {"band": "none"})) == [unscored.pk]
    assert set(ids_on(client.get("/queue/", {"currency": "USD", "amount_min": "60.00"}))) == {mid.pk}
    assert set(ids_on(client.get("/queue/", {"currency": "usd", "amount_max": "20"}))) == {low.pk}
    assert ids_on(client.get("/queue/", {"currency": "cad"})) == [high.pk]
    assert ids_on(client.get("/queue/", {"assignee": "me"})) == [low.pk]
    assert set(ids_on(client.get("/queue/", {"assignee": "none"}))) == {mid.pk, high.pk, unscored.pk}
    assert ids_on(client.get("/queue/", {"assignee": "rita"})) == [low.pk]
    assert ids_on(client.get("/queue/", {"older_than": "24h"})) == [low.pk]
    ReviewItem.objects.filter(pk=mid.pk).update(status=ReviewStatus.REJECTED)
    assert ids_on(client.get("/queue/", {"status": "rejected"})) == [mid.pk]
    assert len(ids_on(client.get("/queue/", {"status": "any"}))) == 4


def test_search_finds_an_item_by_booking_code_customer_email_or_stripe_id(client: Client, viewer: User) -> None:
    mirror_booking("KMVQ-060314", "Jo.Walker@Example.com")
    item = queue_item("KMVQ-060314", stripe_ids=["pi_3AbC", "ch_9XyZ"])
    queue_item("OTHER-1")
    client = logged_in(client, viewer)
    for term in [
        "KMVQ-060314",
        "kmvq-060314",
        "jo.walker@example.com",
        " JO.WALKER@example.com ",
        "pi_3AbC",
        "ch_9xyz",
    ]:
        assert ids_on(client.get("/queue/", {"search": term})) == [item.pk], term
    # Whole values only: a fragment finds nothing rather than everything.
    assert ids_on(client.get("/queue/", {"search": "pi_3"})) == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("due", ["soon", "later", "none_a", "none_b"]),
        ("risk", ["later", "soon", "none_a", "none_b"]),
        ("amount", ["none_a", "soon", "later", "none_b"]),
    ],
)
def test_each_sort_puts_rows_without_a_value_last(sort: str, expected: list[str], client: Client, viewer: User) -> None:
    now = timezone.now()
    made = {
        "soon": queue_item("S", due_by=now + timedelta(hours=1), score=20, amount_minor=3_000),
        "later": queue_item("L", due_by=now + timedelta(hours=5), score=80, amount_minor=1_000),
        "none_a": queue_item("A", due_by=None, score=None, amount_minor=9_000),
        "none_b": queue_item("B", due_by=None, score=None, amount_minor=None),
    }
    order = ids_on(logged_in(client, viewer).get("/queue/", {"sort": sort}))
    assert order == [made[name].pk for name in expected]


@pytest.mark.parametrize("status", ["open", "any"])
@pytest.mark.parametrize("sort", ["due", "risk", "amount"])
def test_keyset_pages_show_every_item_once_even_when_items_arrive_meanwhile(
    sort: str, status: str, client: Client, viewer: User
) -> None:
    now = timezone.now()
    made = [
        queue_item(
            f"P{n}",
            due_by=now + timedelta(hours=n % 7) if n % 5 else None,
            score=float(n % 4 * 20) if n % 6 else None,
            amount_minor=1_000 * (n % 3 + 1) if n % 4 else None,
        ).pk
        for n in range(60)
    ]
    if status == "any":  # every status mixed through the order (on PostgreSQL each status is read apart and merged)
        closed = [ReviewStatus.EXECUTED, ReviewStatus.REJECTED, ReviewStatus.EXPIRED, ReviewStatus.FAILED]
        for n, pk in enumerate(made):
            if n % 3:
                ReviewItem.objects.filter(pk=pk).update(status=closed[n % len(closed)])
    client = logged_in(client, viewer)
    seen: list[int] = []
    cursor = ""
    for page_number in range(10):
        response = client.get("/queue/", {"sort": sort, "status": status, **({"cursor": cursor} if cursor else {})})
        seen += ids_on(response)
        if page_number == 0 and status == "any":
            shown = ReviewItem.objects.in_bulk(seen)
            column = {"due": "due_by", "risk": "risk_score", "amount": "amount_minor"}[sort]
            values = [getattr(shown[pk], column) for pk in seen]
            with_value = [v for v in values if v is not None]
            assert with_value == sorted(with_value, reverse=sort != "due"), "one order across the statuses"
        if page_number == 0:
            queue_item("LATE", due_by=now, score=99, amount_minor=99_999)  # lands before the reader's place
        found = re.search(r'cursor=([^"&]+)" rel="next"', response.content.decode())
        if not found:
            break
        cursor = found.group(1).replace("%3D", "=")
    assert sorted(seen) == sorted(made), "every item once, none twice, and the late one does not shift the pages"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"kind": "lottery"}, "unknown kind"),
        ({"status": "maybe"}, "unknown status"),
        ({"band": "purple"}, "unknown risk band"),
        ({"sort": "name"}, "unknown sort"),
        ({"older_than": "5y"}, "unknown age"),
        ({"currency": "dollars"}, "three-letter code"),
        ({"amount_min": "10"}, "choose a currency"),
        ({"currency": "usd", "amount_min": "ten"}, "is not an amount"),
        ({"currency": "jpy", "amount_max": "10.5"}, "more decimals than JPY"),
        ({"currency": "usd", "amount_min": "-5"}, "not negative"),
        ({"search": "x" * 300}, "too long"),
        ({"cursor": "not-a-cursor"}, "damaged"),
        ({"cursor": "WyJ4IiwgImEiXQ"}, "damaged"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(
    params: dict[str, str], reason: str, client: Client, viewer: User
) -> None:
    queue_item()
    response = logged_in(client, viewer).get("/queue/", params)
    assert response.status_code == 400
    assert reason in response.content.decode()


def test_the_page_costs_the_same_queries_for_3_items_as_for_60(client: Client, reviewer: User) -> None:
    client = logged_in(client, reviewer)
    soon = timezone.now() + timedelta(hours=2)
    for n in range(3):
        queue_item(f"Q{n}", kind=ReviewKind.values[n % len(ReviewKind.values)], due_by=soon)
    client.get("/queue/")  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        assert client.get("/queue/").status_code == 200
    for n in range(3, 60):  # a full first page of due items, and items without a due date after them
        queue_item(f"Q{n}", kind=ReviewKind.values[n % len(ReviewKind.values)], due_by=soon if n % 2 else None)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/queue/").status_code == 200
    assert len(many) == len(few)


def test_tabs_count_no_further_than_the_cap(client: Client, viewer: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("console.queue.COUNT_CAP", 2)
    for n in range(3):
        queue_item(f"C{n}", kind=ReviewKind.RETRY)
    queue_item("C3", kind=ReviewKind.FRAUD_HOLD)
    body = logged_in(client, viewer).get("/queue/").content.decode()
    assert re.search(r'id="count-retry" title="at least 2: tabs count no further">2\+<', body)
    assert re.search(r'id="count-fraud_hold">1<', body)
    assert re.search(r'id="count-all" title="at least 3[^"]*">3\+<', body), "the whole queue is at least the sum"
    assert len(ids_on(client.get("/queue/", {"kind": "retry"}))) == 3, "the cap is on the count, not the list"


@pytest.mark.parametrize("status", ["open", "any"])
def test_the_page_costs_the_same_queries_whatever_the_statuses_hold(
    status: str, client: Client, reviewer: User
) -> None:
    client = logged_in(client, reviewer)
    queue_item("S0")
    client.get("/queue/", {"status": status})
    with CaptureQueriesContext(connection) as few:
        assert client.get("/queue/", {"status": status}).status_code == 200
    for n in range(1, 40):
        item = queue_item(f"S{n}", due_by=timezone.now() + timedelta(hours=n) if n % 2 else None)
        if n % 3 == 0:
            ReviewItem.objects.filter(pk=item.pk).update(status=ReviewStatus.EXECUTED)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/queue/", {"status": status}).status_code == 200
    assert len(many) == len(few)


def test_the_list_alone_is_sent_to_htmx_and_the_poll_keeps_the_readers_page(client: Client, viewer: User) -> None:
    for n in range(30):
        queue_item(f"H{n}")
    client = logged_in(client, viewer)
    first = client.get("/queue/")
    cursor = re.search(r'cursor=([^"&]+)" rel="next"', first.content.decode()).group(1)  # type: ignore[union-attr]
    second = client.get(f"/queue/?cursor={cursor}", headers={"HX-Request": "true", "HX-Target": "queue-list"})
    body = second.content.decode()
    assert "<html" not in body and 'id="queue-list"' in body
    # The list polls its own URL, page included, so a refresh stays where the reader is.
    assert re.search(rf'id="queue-list" hx-get="/queue/\?(&amp;)?cursor={re.escape(cursor)}"', body)
    assert len(ids_on(second)) == 5


def test_only_staff_who_may_read_the_queue_see_it(client: Client, outsider: User) -> None:
    assert client.get("/queue/").status_code == 302
    assert logged_in(client, outsider).get("/queue/").status_code == 403
