"""Who may open every console URL and carry out every action: the matrix below, checked for each role over HTTP.

The URLs come from the resolver, not from a list kept here: a new URL with no
row in MATRIX (or no reason in EXCLUDED) fails `test_every_console_url_has_a_row`.
Each row names the least role that may use the URL with that method; roles
are ordered, each holding every permission of the one before
(payops/staff_groups.py). For each row and role:

- anonymous: sent to log in (302 to the login page), htmx or not;
- below the row's role: 403, and what the action would change is unchanged;
- the row's role and above: 2xx/3xx, and the action did its thing.

A method a URL does not list answers 405 to a signed-in Admin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from audit.models import Decision
from console.policy_settings import PolicyForm
from payops.models import ReviewItem, ReviewKind, WorkflowPolicy
from tests.console.queue_fixtures import queue_item

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "viewer", "reviewer", "approver", "admin"]
FIXTURE = {"viewer": "viewer", "reviewer": "reviewer", "approver": "approver", "admin": "admin_user_in_group"}
SMALL, LARGE = 5_000, 60_000  # either side of the default policy's Approver threshold
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    # Four users a test: the real hasher's work factor would be most of the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# URL name → the reason it is not in the matrix. Everything else must have a row.
EXCLUDED = {
    "admin": "the Django admin has its own permission system (is_staff + model permissions); "
    "test_the_admin_sends_anonymous_to_log_in checks its door",
    "webhook": "signed by the sender, no session: fuzzed in tests/fuzz/test_webhooks.py",
    "webhook-with-token": "authenticated by the secret in its path: fuzzed in tests/fuzz/test_webhooks.py",
    "payments:pay": "the customer's pay link: its signed token is the credential; "
    "test_a_wrong_pay_link_is_not_found_for_anyone checks it",
    "login": "the way in: open to everyone",
    "logout": "the way out: open to everyone",
}


@dataclass(frozen=True)
class Case:
    """What one request needs: its URL arguments and body, and a look at what it should change."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    state: Callable[[], Any] = lambda: None  # the read-only pages change nothing
    changes: bool = False  # an allowed request must change state()


def _item_state(item: ReviewItem) -> Callable[[], Any]:
    def state() -> Any:
        fresh = ReviewItem.objects.get(pk=item.pk)
        return (fresh.status, fresh.assignee_id, fresh.approvals.count(), Decision.objects.count())

    return state


def _no_object() -> Case:
    return Case()


def _item(amount: int = SMALL, kind: str = ReviewKind.OTHER) -> ReviewItem:
    return queue_item("B1", amount_minor=amount, kind=kind)


def _queue_item_page() -> Case:
    return Case(kwargs={"item_id": _item().pk})


def _answer(path_data: dict[str, Any], amount: int = SMALL) -> Callable[[], Case]:
    def build() -> Case:
        item = _item(amount)
        return Case(kwargs={"item_id": item.pk}, data=path_data, state=_item_state(item), changes=True)

    return build


def _bulk() -> Case:
    item = _item()
    return Case(data={"answer": "approve", "ids": [str(item.pk)]}, state=_item_state(item), changes=True)


def _fraud_decide(answer: str) -> Callable[[], Case]:
    def build() -> Case:
        item = _item(kind=ReviewKind.FRAUD_HOLD)
        data = {"reason": "card is the customer's"} if answer == "reject" else {}
        return Case(kwargs={"item_id": item.pk, "answer": answer}, data=data, state=_item_state(item), changes=True)

    return build


def _policy_state() -> Any:
    policy = WorkflowPolicy.objects.get(workflow="dunning")
    return (policy.mode, policy.rollout_percent, policy.updated_at, policy.history.count())


def _settings_page() -> Case:
    return Case(kwargs={"workflow": "dunning"})


def _settings_save() -> Case:
    policy = WorkflowPolicy.objects.get(workflow="dunning")
    form = {**PolicyForm.for_policy(policy).initial, "rollout_percent": 40}
    return Case(kwargs={"workflow": "dunning"}, data=form, state=_policy_state, changes=True)


@dataclass(frozen=True)
class Row:
    name: str  # the URL's name
    method: str
    least: str  # the least role that may
    build: Callable[[], Case] = _no_object
    label: str = ""  # tells apart two rows of one URL and method

    @property
    def id(self) -> str:
        return f"{self.name} {self.method}" + (f" ({self.label})" if self.label else "")


# fmt: off
MATRIX = [
    #   URL name                 method  least role  objects it needs
    Row("console:home",          "GET",  "viewer"),
    Row("console:payments",      "GET",  "viewer"),
    Row("console:dashboard",     "GET",  "viewer"),
    Row("console:audit",         "GET",  "viewer"),
    Row("console:audit-export",  "GET",  "viewer"),
    Row("console:settings",      "GET",  "admin"),
    Row("console:settings-edit", "GET",  "admin",    _settings_page),
    Row("console:settings-edit", "POST", "admin",    _settings_save),
    Row("queue:list",            "GET",  "viewer"),
    Row("queue:item",            "GET",  "viewer",   _queue_item_page),
    Row("queue:approve",         "POST", "reviewer", _answer({})),
    Row("queue:approve",         "POST", "reviewer", _answer({"amount_minor": "30.00"}), "with a change"),
    Row("queue:approve",         "POST", "approver", _answer({}, amount=LARGE), "amount needing an Approver"),
    Row("queue:reject",          "POST", "reviewer", _answer({"reason": "customer paid by bank transfer"})),
    Row("queue:reject",          "POST", "approver", _answer({"reason": "paid"}, amount=LARGE), "amount needing an Approver"),  # noqa: E501
    Row("queue:assign",          "POST", "reviewer", _answer({"assignee": "me"})),
    Row("queue:comment",         "POST", "reviewer", _answer({"text": "called the customer"})),
    Row("queue:bulk",            "POST", "reviewer", _bulk),
    Row("bookings:list",         "GET",  "viewer"),
    Row("fraud:page",            "GET",  "viewer"),
    Row("fraud:decide",          "POST", "reviewer", _fraud_decide("release"), "release"),
    Row("fraud:decide",          "POST", "reviewer", _fraud_decide("reject"), "reject"),
]
# fmt: on


def _url_names(patterns: list[Any], namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= _url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            names.add(f"{namespace}{pattern.name}" if pattern.name else f"{namespace}<unnamed {pattern.pattern}>")
    return names


def _excluded(name: str) -> bool:
    return name in EXCLUDED or name.split(":", 1)[0] in EXCLUDED


def test_every_console_url_has_a_row() -> None:
    names = _url_names(get_resolver().url_patterns)
    unlisted = sorted(n for n in names if not _excluded(n) and n not in {row.name for row in MATRIX})
    assert unlisted == [], f"unlisted URL: add a row to MATRIX (or a reason to EXCLUDED) for {unlisted}"
    stale = sorted({row.name for row in MATRIX} - names)
    assert stale == [], f"rows for URLs that no longer exist: {stale}"


def _client_as(client: Client, role: str, request: pytest.FixtureRequest) -> Client:
    if role != "anonymous":
        client.force_login(request.getfixturevalue(FIXTURE[role]))
    return client


def _send(client: Client, row: Row, case: Case, **headers: Any) -> Any:
    url = reverse(row.name, kwargs=case.kwargs)
    if row.method == "POST":
        return client.post(url, case.data, headers=headers)
    return client.get(url, headers=headers)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", MATRIX, ids=[row.id for row in MATRIX])
def test_each_role_gets_the_expected_answer(
    client: Client, row: Row, role: str, request: pytest.FixtureRequest
) -> None:
    _client_as(client, role, request)
    case = row.build()
    before = case.state()
    response = _send(client, row, case)
    after = case.state()
    if role == "anonymous":
        assert response.status_code == 302, response.content[:300]
        assert response["Location"].startswith(reverse("login") + "?next=")
        assert after == before
    elif ROLES.index(role) < ROLES.index(row.least):
        assert response.status_code == 403, response.content[:300]
        assert after == before, "a refused request changed something"
    else:
        assert 200 <= response.status_code < 400, response.content[:300]
        if case.changes:
            assert after != before, "an allowed action did not do its thing"


@pytest.mark.parametrize("row", [r for r in MATRIX if r.method == "GET"], ids=lambda r: r.id)
def test_anonymous_htmx_requests_are_sent_to_log_in_too(client: Client, row: Row) -> None:
    # The answer is the same redirect as for a page: htmx follows it, and the
    # page's login link takes over (there is no 401 for htmx here).
    response = _send(client, row, row.build(), **HTMX)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("row", MATRIX, ids=lambda r: r.id)
def test_htmx_requests_get_the_same_answer_as_pages(
    client: Client, row: Row, viewer: User, approver: User, admin_user_in_group: User
) -> None:
    """The partial a view returns for htmx is behind the same check: refused for the role below, allowed at it."""
    least = ROLES.index(row.least)
    below = {"viewer": None, "reviewer": viewer, "approver": viewer, "admin": approver}[row.least]
    if below is not None:
        client.force_login(below)
        case = row.build()
        before = case.state()
        assert _send(client, row, case, **HTMX).status_code == 403
        assert case.state() == before
        client.logout()
    at = {"viewer": viewer, "reviewer": approver, "approver": approver, "admin": admin_user_in_group}[row.least]
    assert ROLES.index(at.groups.get().name.lower()) >= least
    client.force_login(at)
    case = row.build()
    response = _send(client, row, case, **HTMX)
    assert 200 <= response.status_code < 400, response.content[:300]


OBJECT_ROWS = [r for r in MATRIX if r.build not in (_no_object, _settings_page, _settings_save, _bulk)]


@pytest.mark.parametrize("row", OBJECT_ROWS, ids=lambda r: r.id)
def test_a_missing_object_is_not_found_for_a_role_that_may(client: Client, row: Row, admin_user_in_group: User) -> None:
    client.force_login(admin_user_in_group)
    case = row.build()
    missing = {**case.kwargs, "item_id": 999_999}
    before = Decision.objects.count()
    response = _send(client, row, Case(kwargs=missing, data=case.data))
    assert response.status_code == 404 and response.content
    assert Decision.objects.count() == before


def test_an_unknown_workflow_policy_is_not_found(client: Client, admin_user_in_group: User) -> None:
    client.force_login(admin_user_in_group)
    assert client.get("/settings/payroll/").status_code == 404
    assert client.post("/settings/payroll/", {"mode": "automate"}).status_code == 404


@pytest.mark.parametrize("name", sorted({r.name for r in MATRIX}))
def test_a_method_a_url_does_not_list_is_not_allowed(client: Client, name: str, admin_user_in_group: User) -> None:
    client.force_login(admin_user_in_group)
    rows = [r for r in MATRIX if r.name == name]
    case = rows[0].build()
    allowed = {r.method for r in rows}
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
        before = case.state()
        response = client.generic(method, reverse(name, kwargs=case.kwargs))
        assert response.status_code == 405, f"{method} {name}: {response.status_code}"
        assert case.state() == before


def test_the_admin_sends_anonymous_to_log_in(client: Client, viewer: User) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302 and "login" in response["Location"]
    # A Viewer is not staff: the admin's own door keeps them out too.
    client.force_login(viewer)
    response = client.get("/admin/payops/reviewitem/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("role", ROLES)
def test_a_wrong_pay_link_is_not_found_for_anyone(client: Client, role: str, request: pytest.FixtureRequest) -> None:
    _client_as(client, role, request)
    for token in ("not-a-token", "a" * 400, "eyJhbGciOiJub25lIn0.e30."):
        assert client.get(f"/pay/{token}/").status_code == 404
        assert client.post(f"/pay/{token}/", {"payment_method": "pm_card_visa"}).status_code == 404


# Bodies a refused role might send: the refusal is the permission's, whatever is in them.
ODD_BODIES = [
    {},
    {"amount_minor": "lots", "reason": "", "text": "", "assignee": "nobody", "answer": "neither", "ids": ["x"]},
]


@pytest.mark.parametrize("body", range(len(ODD_BODIES)), ids=["empty", "bad values"])
@pytest.mark.parametrize("row", [r for r in MATRIX if r.method == "POST"], ids=lambda r: r.id)
def test_a_role_below_is_refused_before_its_body_is_read(
    client: Client, row: Row, body: int, request: pytest.FixtureRequest
) -> None:
    """Permission comes first: a role that may not gets 403, not a 400 about its input (which would say what fits)."""
    for role in ROLES[1 : ROLES.index(row.least)]:
        client.force_login(request.getfixturevalue(FIXTURE[role]))
        case = row.build()
        before = case.state()
        response = _send(client, row, Case(kwargs=case.kwargs, data=ODD_BODIES[body]))
        assert response.status_code == 403, f"{role}: {response.status_code} {response.content[:200]!r}"
        assert case.state() == before
