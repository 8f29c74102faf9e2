"""The Settings page: only Admins edit workflow policies, bad values change nothing, every change is in history."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from console.policy_settings import NO_USER, policy_history
from fraud.models import FraudPolicy
from payops.models import WorkflowPolicy
from payops.staff_groups import WORKFLOWS

pytestmark = pytest.mark.django_db

LIST = "/settings/"
EDIT = "/settings/dunning/"


class _FormValues(HTMLParser):
    """The values a browser would submit from the page's form: inputs, and each select's chosen option."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name") and a["name"] != "csrfmiddlewaretoken":
            self.values[a["name"] or ""] = a.get("value") or ""
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def loaded_form(client: Any, url: str = EDIT) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200
    parser = _FormValues()
    parser.feed(response.content.decode())
    return parser.values


def dunning() -> WorkflowPolicy:
    return WorkflowPolicy.objects.get(workflow="dunning")


def snapshot() -> tuple[Any, ...]:
    policy = dunning()
    return (
        policy.mode,
        policy.rollout_percent,
        policy.automate_max_risk,
        policy.automate_min_confidence,
        policy.threshold_currency,
        policy.automate_max_amount_minor,
        policy.approver_threshold_minor,
        policy.second_approval_threshold_minor,
        policy.updated_at,
        policy.history.count(),
    )


@pytest.fixture
def admin_client(client: Any, admin_user_in_group: User) -> Any:
    client.force_login(admin_user_in_group)
    return client


def test_an_admin_sees_every_workflow_with_what_its_policy_does_and_the_fraud_bands(admin_client: Any) -> None:
    WorkflowPolicy.objects.filter(workflow="payments").update(
        mode="automate", automate_max_risk=30, automate_min_confidence=0.8, threshold_currency="cad"
    )
    fraud = FraudPolicy.objects.order_by("pk").first() or FraudPolicy.objects.create()
    html = admin_client.get(LIST).content.decode()
    for workflow in WORKFLOWS:
        assert f'href="/settings/{workflow}/"' in html
    assert "automates risk ≤ 30, confidence ≥ 0.80, up to CAD 100.00; queues the rest" in html
    assert "logs every proposal; nothing is queued or run" in html  # the others start in monitor mode
    assert "two Approvers above CAD 2500.00" in html
    assert 'id="fraud-bands"' in html and "hold the booking in Checkfront" in html
    assert f'href="/admin/fraud/fraudpolicy/{fraud.pk}/change/"' in html
    assert '<link rel="stylesheet" href="/static/css/settings.css">' in html


def test_the_form_shows_amounts_in_major_units_with_every_input_labelled_and_explained(admin_client: Any) -> None:
    html = admin_client.get(EDIT).content.decode()
    values = loaded_form(admin_client)
    assert values["automate_max_amount"] == "100.00" and values["threshold_currency"] == "USD"
    assert values["mode"] == "monitor" and values["rollout_percent"] == "100"
    for name in (
        "mode",
        "rollout_percent",
        "automate_max_risk",
        "automate_min_confidence",
        "threshold_currency",
        "automate_max_amount",
        "approver_threshold",
        "second_approval_threshold",
    ):
        assert f'<label for="id_{name}">' in html
        assert f'aria-describedby="id_{name}_helptext"' in html and f'id="id_{name}_helptext"' in html
    assert "needs two different Approvers" in html and 'role="alert"' not in html


def test_an_admin_changes_the_policy_and_history_names_them_with_what_changed(
    admin_client: Any, admin_user_in_group: User
) -> None:
    form = loaded_form(admin_client)
    form.update(
        mode="automate",
        rollout_percent="50",
        automate_max_risk="40",
        automate_min_confidence="0.9",
        threshold_currency="cad",
        automate_max_amount="250.00",
        approver_threshold="500",
        second_approval_threshold="2500.5",
    )
    response = admin_client.post(EDIT, form)
    assert response.status_code == 302 and response["Location"] == LIST

    policy = dunning()
    assert (policy.mode, policy.rollout_percent, policy.automate_max_risk, policy.automate_min_confidence) == (
        "automate",
        50,
        40,
        0.9,
    )
    assert policy.threshold_currency == "cad"
    assert (
        policy.automate_max_amount_minor,
        policy.approver_threshold_minor,
        policy.second_approval_threshold_minor,
    ) == (25_000, 50_000, 250_050)
    latest = policy.history.order_by("-history_date", "-history_id").first()
    assert latest is not None and latest.history_user == admin_user_in_group

    page = admin_client.get(LIST).content.decode()
    assert "Saved the Failed-payment recovery policy." in page
    assert "automates risk ≤ 40, confidence ≥ 0.90, up to CAD 250.00 on 50% of bookings" in page
    assert "Rollout: <del>100%</del> → <ins>50%</ins>" in page
    assert "Automate up to amount: <del>USD 100.00</del> → <ins>CAD 250.00</ins>" in page
    assert f"<td>{admin_user_in_group.username}</td>" in page
    # The values from before the first change, which the data migration left without history.
    assert NO_USER in page and "first recorded with:" in page


def test_an_htmx_save_swaps_the_editor_in_place_and_refreshes_the_overview(admin_client: Any) -> None:
    form = loaded_form(admin_client)
    form.update(mode="suggest", rollout_percent="25")
    response = admin_client.post(EDIT, form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="editor">')
    assert 'role="status">Saved the Failed-payment recovery policy.' in html
    assert 'id="policies" aria-labelledby="policies-title" hx-swap-oob="true"' in html
    assert "queues every proposal for a person on 25% of bookings" in html
    assert 'id="recent-changes" aria-labelledby="recent-title" hx-swap-oob="true"' in html
    assert dunning().mode == "suggest"


def test_the_edit_link_loads_the_form_in_place_with_htmx(admin_client: Any) -> None:
    html = admin_client.get(EDIT, HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<div id="editor">') and "<h1>" not in html
    restored = admin_client.get(EDIT, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<h1>Settings</h1>" in restored.content.decode()


def test_saving_unchanged_values_writes_no_history(admin_client: Any) -> None:
    before = snapshot()
    response = admin_client.post(EDIT, loaded_form(admin_client), follow=True)
    assert "Nothing changed in the Failed-payment recovery policy." in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("role", ["viewer", "reviewer", "approver", "outsider"])
def test_everyone_but_admins_is_refused_and_nothing_changes(client: Any, role: str, request: Any) -> None:
    client.force_login(request.getfixturevalue(role))
    before = snapshot()
    assert client.get(LIST).status_code == 403
    assert client.get(EDIT).status_code == 403
    policy = dunning()
    assert (
        client.post(EDIT, {"mode": "automate", "policy_updated_at": policy.updated_at.isoformat()}).status_code == 403
    )
    assert snapshot() == before


def test_anonymous_users_are_sent_to_log_in(client: Any) -> None:
    for response in (client.get(LIST), client.get(EDIT), client.post(EDIT, {"mode": "automate"})):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert dunning().mode == "monitor"


def test_an_unknown_workflow_is_not_found(admin_client: Any) -> None:
    assert admin_client.get("/settings/payroll/").status_code == 404
    assert admin_client.post("/settings/payroll/", {"mode": "automate"}).status_code == 404
    assert not WorkflowPolicy.objects.filter(workflow="payroll").exists()


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"rollout_percent": "101"}, "rollout_percent", "Rollout is a percentage from 0 to 100."),
        ({"rollout_percent": "-1"}, "rollout_percent", "Rollout is a percentage from 0 to 100."),
        ({"rollout_percent": "half"}, "rollout_percent", "Rollout is a whole percentage from 0 to 100."),
        ({"automate_max_risk": "101"}, "automate_max_risk", "The risk limit is a score from 0 to 100."),
        ({"automate_max_risk": "nan"}, "automate_max_risk", "The risk limit is a number from 0 to 100."),
        ({"automate_min_confidence": "1.5"}, "automate_min_confidence", "from 0 to 1, e.g. 0.80 (not 80)."),
        ({"automate_min_confidence": "-0.1"}, "automate_min_confidence", "Confidence is a share from 0 to 1"),
        ({"mode": "yolo"}, "mode", "Select a valid choice."),
        (
            {"automate_max_amount": "600.00", "approver_threshold": "500.00"},
            "automate_max_amount",
            "The automation limit (USD 600.00) cannot be above the Approver threshold (USD 500.00)",
        ),
        (
            {"approver_threshold": "500.00", "second_approval_threshold": "499.99"},
            "second_approval_threshold",
            "The two-approval threshold (USD 499.99) cannot be below the Approver threshold (USD 500.00).",
        ),
        ({"automate_max_amount": "-1"}, "automate_max_amount", "An amount cannot be negative."),
        ({"approver_threshold": "lots"}, "approver_threshold", "Enter an amount as a number, e.g. 500.00."),
        ({"approver_threshold": "1e400"}, "approver_threshold", "That amount is too large"),
        ({"automate_max_amount": "100.001"}, "automate_max_amount", "USD amounts have at most 2 decimals."),
        (
            {"threshold_currency": "JPY", "automate_max_amount": "100.50"},
            "automate_max_amount",
            "JPY amounts have no decimals.",
        ),
        ({"threshold_currency": "XYZ"}, "threshold_currency", "XYZ is not a currency Stripe accepts"),
        ({"threshold_currency": "12"}, "threshold_currency", "A currency is a 3-letter ISO code such as CAD."),
        ({"threshold_currency": "dollars"}, "threshold_currency", "A currency code has 3 letters."),
        ({"automate_max_amount": ""}, "automate_max_amount", "Enter an amount, e.g. 500.00."),
    ],
)
def test_a_bad_value_is_a_400_with_the_reason_next_to_its_field_and_nothing_saved(
    admin_client: Any, changes: dict[str, str], field: str, reason: str
) -> None:
    form = loaded_form(admin_client)
    form.update(mode="automate", rollout_percent="10")  # valid changes beside the bad one are not saved either
    form.update(changes)
    before = snapshot()
    response = admin_client.post(EDIT, form)
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(rf'<p class="error" role="alert" id="id_{field}_error">([^<]*)</p>', html)
    assert error is not None and reason in error.group(1).replace("&#x27;", "'")
    assert "Nothing was saved." in html
    assert snapshot() == before


def test_a_bad_value_sent_with_htmx_swaps_the_form_with_its_errors(admin_client: Any) -> None:
    form = loaded_form(admin_client)
    form["rollout_percent"] = "101"
    response = admin_client.post(EDIT, form, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="editor">') and 'value="101"' in html
    assert 'aria-invalid="true"' in html and "Rollout is a percentage from 0 to 100." in html


def test_a_form_without_its_version_is_refused(admin_client: Any) -> None:
    form = loaded_form(admin_client)
    form["policy_updated_at"] = "yesterday"
    before = snapshot()
    response = admin_client.post(EDIT, form)
    assert response.status_code == 400 and "reload the page" in response.content.decode()
    assert snapshot() == before


def test_a_stale_form_is_refused_with_409_and_shows_the_current_values(
    admin_client: Any, admin_user_in_group: User
) -> None:
    mine = loaded_form(admin_client)
    # Another Admin saves first.
    other = User.objects.create_user("olga", password="pw-for-tests-only")
    other.groups.add(*admin_user_in_group.groups.all())
    theirs_client = Client()
    theirs_client.force_login(other)
    theirs = loaded_form(theirs_client)
    theirs["rollout_percent"] = "20"
    assert theirs_client.post(EDIT, theirs).status_code == 302
    after_theirs = snapshot()

    mine.update(rollout_percent="80", mode="automate")
    response = admin_client.post(EDIT, mine)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Not saved: someone else changed this policy after you opened it." in html
    assert "olga" in html and "Rollout 100% → 20%" in html
    parser = _FormValues()
    parser.feed(html)
    assert parser.values["rollout_percent"] == "20" and parser.values["mode"] == "monitor"
    assert snapshot() == after_theirs

    # The form now carries the current version: saving it again works.
    parser.values["rollout_percent"] = "80"
    assert admin_client.post(EDIT, parser.values).status_code == 302
    assert dunning().rollout_percent == 80


def test_a_zero_decimal_currency_stores_whole_amounts(admin_client: Any) -> None:
    form = loaded_form(admin_client)
    form.update(
        threshold_currency="jpy",
        automate_max_amount="10000",
        approver_threshold="50000",
        second_approval_threshold="1e5",
    )
    assert admin_client.post(EDIT, form).status_code == 302
    policy = dunning()
    assert (policy.automate_max_amount_minor, policy.approver_threshold_minor) == (10_000, 50_000)
    assert policy.second_approval_threshold_minor == 100_000
    assert loaded_form(admin_client)["automate_max_amount"] == "10000"


def test_history_is_newest_first_bounded_and_says_system_when_nobody_signed_in() -> None:
    policy = dunning()
    for percent in range(60):
        policy.rollout_percent = percent
        policy.save()  # no request, no user: a command or a migration
    history = policy_history(policy, limit=50)
    assert len(history) == 50
    assert history[0].when >= history[-1].when
    assert history[0].who == NO_USER and not history[0].first
    assert [(c.label, c.old, c.new) for c in history[0].changes] == [("Rollout", "58%", "59%")]
    assert [(c.label, c.old, c.new) for c in history[-1].changes] == [("Rollout", "9%", "10%")]


def test_the_list_page_takes_the_same_queries_however_long_the_history(admin_client: Any) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST).status_code == 200
        return len(captured)

    policy = dunning()
    policy.save()
    few = queries()
    for percent in range(30):
        policy.rollout_percent = percent
        policy.save()
    assert queries() == few
    assert admin_client.get(LIST).content.decode().count('id="change-') == 20  # the recent ones only
