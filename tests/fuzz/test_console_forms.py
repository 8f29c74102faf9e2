"""Random and malformed input to every console form and htmx endpoint: never a 500; a refusal says why, writes nothing.

Each example runs in its own savepoint, rolled back after it, so every
example starts from the same review items and policies. The properties:

- the status is below 500, whatever the body, query string or headers;
- a 4xx carries a reason a person can read (text, not an empty body);
- a 4xx writes nothing: the audit log, review items, approvals, policies and
  their history, every row of them, are as they were; a GET writes nothing
  whatever it answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Model
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import Decision
from console import kinds
from console.policy_settings import PolicyForm
from payops import review
from payops.models import ReviewApproval, ReviewItem, ReviewKind, WorkflowPolicy
from tests.console.queue_fixtures import queue_item
from tests.payops.sample_workflow import ACTION

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SMALL, TWO_PEOPLE = 5_000, 300_000

# Values that have broken parsers elsewhere: numbers at and past every limit,
# the spellings of "not a number", currencies real and not, dates that do not
# exist, markup, NUL bytes, right-to-left and non-ASCII digits, sheer length.
NASTY = [
    "",
    " ",
    "-1",
    "0",
    "-0",
    "0.001",
    "30.00",
    "30,00",
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    "9" * 30,
    "9" * 5000,
    "1e309",
    "-1e309",
    "1e999999",
    "1E+999999999",
    "NaN",
    "-Infinity",
    "inf",
    "0x1F",
    "1_000",
    "١٢٣",
    "²",
    "½",
    "usd",
    "USD",
    "xxx",
    "US$",
    "€",
    "cad ",
    "true",
    "None",
    "null",
    "[]",
    "{}",
    "me",
    "nobody-by-that-name",
    "2026-02-30T25:61",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "2026-11-28T10:00",
    "2026-11-28T10:00:00+99:00",
    "yesterday",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "\x00",
    "a\x00b",
    "\u202eevil",
    "\ufeff",
    "x" * 100_000,
]
# Letters of every kind the client can send as UTF-8 (a lone surrogate cannot
# be encoded: raw bodies below carry its bytes instead).
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
VALUE = st.one_of(st.sampled_from(NASTY), TEXT, st.integers().map(str), st.floats().map(str))
# Raw bytes of a form body's value: invalid UTF-8, an encoded surrogate, a bad escape.
RAW = st.sampled_from([b"%ff%fe", b"%ED%A0%80", b"%00", b"%G1", b"%", b"a%2", b"%C0%AF", b"\xff", b"=", b"&&"])


def form(fields: list[str]) -> st.SearchStrategy[dict[str, list[str]]]:
    """A form body: the endpoint's own fields or any, each missing, present, or repeated, with any value."""
    names = st.one_of(st.sampled_from(fields), TEXT.filter(bool))
    return st.dictionaries(names, st.lists(VALUE, min_size=1, max_size=3), max_size=len(fields) + 2)


def raw_form(fields: list[str]) -> st.SearchStrategy[bytes]:
    """An application/x-www-form-urlencoded body no browser would send."""
    part = st.tuples(
        st.sampled_from(fields).map(lambda f: f.encode()),
        st.one_of(RAW, VALUE.map(lambda v: quote(v, safe="").encode())),
    ).map(lambda kv: kv[0] + b"=" + kv[1])
    return st.lists(st.one_of(part, RAW), max_size=8).map(lambda parts: b"&".join(parts))


HEADERS = st.sampled_from(
    [
        {},
        {"HX-Request": "true"},
        {"HX-Request": "true", "HX-Target": "detail"},
        {"HX-Request": "true", "HX-Target": "queue-list"},
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
        {"HX-Request": "false", "HX-Target": "\x7f" * 3},
    ]
)


def _tables() -> list[str]:
    return [
        model._meta.db_table
        for label in ("audit", "payops", "bookings", "fraud", "refunds", "disputes", "dunning", "payments")
        for model in apps.get_app_config(label).get_models()
    ]


def snapshot() -> tuple[Any, ...]:
    """Every row of what the console writes, and the size of every table of ours (one query for those)."""
    dumped: list[type[Model]] = [Decision, ReviewItem, ReviewApproval, WorkflowPolicy, WorkflowPolicy.history.model]
    rows = tuple(tuple(model._default_manager.order_by("pk").values_list()) for model in dumped)
    # Table names from our own models, quoted: nothing from a request reaches this SQL.
    counts = ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(t)})" for t in _tables())  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        sizes = cursor.fetchone()
    return rows, sizes


def readable(response: Any) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return re.sub(r"<[^>]+>|\s+", " ", body.decode("utf-8", "replace")).strip()


@contextmanager
def one_example() -> Iterator[None]:
    """The example's writes are undone after it, so the next starts from the same rows."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def check(client: Client, method: str, url: str, headers: dict[str, str], **body: Any) -> Any:
    before = snapshot()
    response = client.generic(method, url, headers=headers, **body)
    assert response.status_code < 500, f"{method} {url}: {response.status_code}"
    if response.status_code >= 400:
        assert readable(response), f"{method} {url}: a {response.status_code} without a reason"
    if response.status_code >= 400 or method == "GET":
        assert snapshot() == before, f"{method} {url} answered {response.status_code} and wrote something"
    return response


def post_form(client: Client, url: str, data: dict[str, list[str]], headers: dict[str, str]) -> Any:
    from django.test.client import MULTIPART_CONTENT, encode_multipart

    boundary = "fuzzboundary"
    body = encode_multipart(boundary, data)
    return check(client, "POST", url, headers, data=body, content_type=MULTIPART_CONTENT.replace("BoUnDaRy", boundary))


def post_raw(client: Client, url: str, data: bytes, headers: dict[str, str]) -> Any:
    return check(client, "POST", url, headers, data=data, content_type="application/x-www-form-urlencoded")


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def every_input_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample action changeable through each kind of queue input: money, date and time, text."""
    from disputes.review_rules import evidence_text
    from dunning.review_rules import retry_time

    presentation = kinds.Presentation(
        inputs=(
            kinds.ChangeInput("amount_minor", "Amount", "money"),
            kinds.ChangeInput("retry_at", "Retry at", "datetime"),
            kinds.ChangeInput("product_description", "Product", "text"),
        )
    )
    monkeypatch.setitem(kinds._BY_ACTION, ACTION, presentation)
    monkeypatch.setattr(review, "_CHANGEABLE", dict(review._CHANGEABLE))
    review.changeable(ACTION, amount_minor=int, retry_at=retry_time, product_description=evidence_text)


@pytest.fixture
def items(db: None) -> dict[str, ReviewItem]:
    return {
        "small": queue_item("B1", amount_minor=SMALL),
        "two people": queue_item("B2", amount_minor=TWO_PEOPLE),
        "no amount": queue_item("B3", amount_minor=None),
        "fraud hold": queue_item("B4", amount_minor=SMALL, kind=ReviewKind.FRAUD_HOLD),
    }


@pytest.fixture
def clients(viewer: User, reviewer: User, approver: User, admin_user_in_group: User) -> dict[str, Client]:
    """A signed-in client per role, signed in once: the examples only send requests."""
    users = {"viewer": viewer, "reviewer": reviewer, "approver": approver, "admin": admin_user_in_group}
    signed_in = {}
    for role, user in users.items():
        signed_in[role] = Client()
        signed_in[role].force_login(user)
    return signed_in


ITEM_KEYS = st.sampled_from(["small", "two people", "no amount", "fraud hold"])
ROLE = st.sampled_from(["viewer", "reviewer", "approver", "admin"])
ITEM_ID = st.one_of(st.just(None), st.integers(min_value=0, max_value=10**25))  # None: one of the items


def _item_id(items: dict[str, ReviewItem], key: str, other: int | None) -> int:
    return items[key].pk if other is None else other


@FUZZ
@given(
    answer=st.sampled_from(["approve", "reject", "assign", "comment"]),
    key=ITEM_KEYS,
    other_id=ITEM_ID,
    role=ROLE,
    data=form(["amount_minor", "retry_at", "product_description", "reason", "assignee", "text"]),
    headers=HEADERS,
)
def test_queue_answers(
    every_input_type: None,
    items: dict[str, ReviewItem],
    clients: dict[str, Client],
    answer: str,
    key: str,
    other_id: int | None,
    role: str,
    data: dict[str, list[str]],
    headers: dict[str, str],
) -> None:
    with one_example():
        client = clients[role]
        post_form(client, f"/queue/{_item_id(items, key, other_id)}/{answer}/", data, headers)


@FUZZ
@given(
    answer=st.sampled_from(["approve", "reject", "assign", "comment"]),
    key=ITEM_KEYS,
    body=raw_form(["amount_minor", "retry_at", "product_description", "reason", "assignee", "text"]),
    headers=HEADERS,
)
def test_queue_answers_with_bytes_no_browser_sends(
    client: Client,
    every_input_type: None,
    items: dict[str, ReviewItem],
    admin_user_in_group: User,
    answer: str,
    key: str,
    body: bytes,
    headers: dict[str, str],
) -> None:
    client.force_login(admin_user_in_group)
    with one_example():
        post_raw(client, f"/queue/{items[key].pk}/{answer}/", body, headers)


@FUZZ
@given(
    role=ROLE,
    answer=st.one_of(st.sampled_from(["approve", "reject"]), VALUE),
    ids=st.lists(st.one_of(st.sampled_from(["own"]), VALUE, st.integers(min_value=-1, max_value=10**25).map(str))),
    reason=st.lists(VALUE, max_size=2),
    headers=HEADERS,
)
def test_bulk_answers(
    items: dict[str, ReviewItem],
    clients: dict[str, Client],
    role: str,
    answer: str,
    ids: list[str],
    reason: list[str],
    headers: dict[str, str],
) -> None:
    own = [str(item.pk) for item in items.values()]
    chosen = [own[n % len(own)] if i == "own" else i for n, i in enumerate(ids)]
    with one_example():
        client = clients[role]
        post_form(client, "/queue/bulk/", {"answer": [answer], "ids": chosen, "reason": reason}, headers)


@FUZZ
@given(
    role=ROLE,
    key=ITEM_KEYS,
    other_id=ITEM_ID,
    answer=st.one_of(st.sampled_from(["release", "reject"]), st.from_regex(r"[-a-zA-Z0-9_]{1,40}", fullmatch=True)),
    data=form(["reason", "amount_minor"]),
    headers=HEADERS,
)
def test_fraud_decisions(
    items: dict[str, ReviewItem],
    clients: dict[str, Client],
    role: str,
    key: str,
    other_id: int | None,
    answer: str,
    data: dict[str, list[str]],
    headers: dict[str, str],
) -> None:
    with one_example():
        client = clients[role]
        post_form(client, f"/fraud/reviews/{_item_id(items, key, other_id)}/{answer}/", data, headers)


POLICY_FIELDS = [
    "mode",
    "rollout_percent",
    "automate_max_risk",
    "automate_min_confidence",
    "threshold_currency",
    "automate_max_amount",
    "approver_threshold",
    "second_approval_threshold",
    "policy_updated_at",
]


@FUZZ
@given(
    workflow=st.one_of(
        st.sampled_from(["dunning", "fraud", "refunds"]), st.from_regex(r"[-a-z0-9_]{1,20}", fullmatch=True)
    ),
    keep=st.lists(st.sampled_from(POLICY_FIELDS), unique=True),
    data=form(POLICY_FIELDS),
    headers=HEADERS,
)
def test_policy_settings(
    client: Client,
    admin_user_in_group: User,
    workflow: str,
    keep: list[str],
    data: dict[str, list[str]],
    headers: dict[str, str],
) -> None:
    """A valid form with some fields kept as loaded and the rest anything at all."""
    client.force_login(admin_user_in_group)
    with one_example():
        policy = WorkflowPolicy.objects.filter(workflow=workflow).first()
        loaded = {k: [str(v)] for k, v in PolicyForm.for_policy(policy).initial.items()} if policy else {}
        body = {**data, **{k: loaded[k] for k in keep if k in loaded}}
        post_form(client, f"/settings/{workflow}/", body, headers)


@FUZZ
@given(body=raw_form(POLICY_FIELDS), headers=HEADERS)
def test_policy_settings_with_bytes_no_browser_sends(
    client: Client, admin_user_in_group: User, body: bytes, headers: dict[str, str]
) -> None:
    client.force_login(admin_user_in_group)
    with one_example():
        post_raw(client, "/settings/dunning/", body, headers)


QUERY_FIELDS = {
    "/queue/": [
        "kind",
        "status",
        "band",
        "currency",
        "amount_min",
        "amount_max",
        "assignee",
        "older_than",
        "search",
        "sort",
        "cursor",
        "open",
    ],
    "/audit/": [
        "booking",
        "stripe",
        "trace",
        "workflow",
        "outcome",
        "actor",
        "actor_type",
        "created_from",
        "created_to",
        "decision",
        "cursor",
    ],
    "/audit/export.csv": ["booking", "stripe", "workflow", "created_from", "created_to", "decision"],
    "/payments/": ["q", "status"],
    "/bookings/": ["q", "status"],
    "/fraud/": ["q"],
    "/dashboard/": ["range"],
    "/": ["page"],
    "/settings/": ["workflow"],
    "/settings/dunning/": ["workflow"],
    "/queue/{item}/": ["open"],
}
CURSORS = st.one_of(
    st.sampled_from(["", "=", "e30", "W251bGwsIDFd", "WyJ4IiwgLTFd", "WzFlOTk5LCAxXQ", "bnVsbA", "!!!!"]), TEXT
)


def query(fields: list[str]) -> st.SearchStrategy[str]:
    """A query string: the page's parameters (repeated, missing, any value, cursors of every shape) and raw bytes."""
    value = st.one_of(
        VALUE.map(lambda v: quote(v, safe="")),
        CURSORS.map(lambda v: quote(v, safe="")),
        RAW.map(lambda b: b.decode("latin-1")),
    )
    pair = st.tuples(st.sampled_from(fields), value).map(lambda kv: f"{kv[0]}={kv[1]}")
    return st.lists(pair, max_size=6).map("&".join)


@FUZZ
@given(
    page=st.sampled_from(sorted(QUERY_FIELDS)),
    data=st.data(),
    role=ROLE,
    headers=HEADERS,
)
def test_pages_with_any_query_string(
    items: dict[str, ReviewItem],
    clients: dict[str, Client],
    page: str,
    data: st.DataObject,
    role: str,
    headers: dict[str, str],
) -> None:
    qs = data.draw(query(QUERY_FIELDS[page]))
    url = page.format(item=items["small"].pk)
    with one_example():
        client = clients[role]
        check(client, "GET", f"{url}?{qs}", headers)


# What the fuzzing above found, kept as plain cases: each answered 500 before its fix.
FOUND = [
    ("admin", "approve", {"amount_minor": "1e999999"}),  # decimal.Overflow in to_minor
    ("admin", "approve", {"amount_minor": "9" * 5000}),  # int() of a 5,000-digit amount
    ("admin", "approve", {"product_description": "evidence\x00"}),  # PostgreSQL: NUL in JSON
    ("admin", "comment", {"text": "called\x00"}),  # PostgreSQL: NUL in text
    ("admin", "reject", {"reason": "no\x00"}),
    ("admin", "assign", {"assignee": "ada\x00"}),
    ("admin", "bulk", {"answer": "approve", "ids": ["²"]}),  # "²".isdigit(), int("²") raises
    ("viewer", "bulk", {"answer": "approve", "ids": ["²"]}),
]


@pytest.mark.parametrize(("role", "answer", "data"), FOUND)
def test_inputs_that_once_failed_are_refused_with_a_reason(
    every_input_type: None, items: dict[str, ReviewItem], clients: dict[str, Client], role: str, answer: str, data: Any
) -> None:
    url = "/queue/bulk/" if answer == "bulk" else f"/queue/{items['small'].pk}/{answer}/"
    response = post_form(clients[role], url, {k: v if isinstance(v, list) else [v] for k, v in data.items()}, {})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    "url",
    [
        "/queue/?currency=usd&amount_min=1e999999",
        "/queue/?currency=usd&amount_max=" + "9" * 5000,
        "/queue/?search=a%00b",
        "/queue/?assignee=a%00b",
        "/payments/?q=a%00b",
        "/bookings/?q=a%00b",
        "/bookings/?status=a%00b",
    ],
)
def test_queries_that_once_failed_are_refused_with_a_reason(clients: dict[str, Client], url: str) -> None:
    response = check(clients["viewer"], "GET", url, {})
    assert response.status_code == 400
