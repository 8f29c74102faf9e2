"""Staff access: login everywhere but webhooks, groups and permissions, the console home."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from audit.models import Decision, Mode, Outcome, Route
from payops.models import InboundEvent, WorkflowPolicy

pytestmark = pytest.mark.django_db


def test_console_needs_a_login(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_is_reachable_without_a_login(client: Any) -> None:
    assert client.get("/accounts/login/").status_code == 200


def test_staff_groups_exist_with_growing_permissions() -> None:
    perms = {
        g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()} for g in Group.objects.all()
    }
    assert set(perms) >= {"Viewer", "Reviewer", "Approver", "Admin"}
    assert "payops.view_inboundevent" in perms["Viewer"]
    assert "payops.act_on_reviewitem" not in perms["Viewer"]
    assert perms["Viewer"] < perms["Reviewer"] < perms["Approver"] < perms["Admin"]
    assert "payops.approve_large_reviewitem" in perms["Approver"] - perms["Reviewer"]
    assert {"payops.change_workflowpolicy", "payops.replay_inboundevent"} <= perms["Admin"] - perms["Approver"]


def test_each_workflow_starts_with_a_monitor_policy() -> None:
    assert set(WorkflowPolicy.objects.values_list("workflow", "mode")) >= {
        ("dunning", Mode.MONITOR),
        ("fraud", Mode.MONITOR),
        ("refunds", Mode.MONITOR),
        ("disputes", Mode.MONITOR),
    }


def test_a_user_in_no_group_is_refused(client: Any, outsider: Any) -> None:
    client.force_login(outsider)
    assert client.get("/").status_code == 403


def test_viewer_sees_recent_events_and_decisions(client: Any, viewer: Any) -> None:
    InboundEvent.objects.create(
        source="stripe", event_id="evt_home", event_type="charge.succeeded", payload={}, trace_id="t"
    )
    Decision.objects.create(
        trace_id="t",
        workflow="fraud",
        booking_id="BKHOME",
        action="hold_booking",
        reason="booked 2 h before start",
        mode=Mode.MONITOR,
        route=Route.LOG,
        outcome=Outcome.LOGGED,
        confidence=0.83,
    )
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert "evt_home" in page
    assert "BKHOME" in page and "booked 2 h before start" in page and "0.83" in page
    assert "<html" in page


def test_htmx_refresh_returns_only_the_activity_partial(client: Any, viewer: Any) -> None:
    client.force_login(viewer)
    response = client.get("/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="activity"')
    assert "<html" not in body


def test_home_page_query_count_does_not_grow_with_rows(
    client: Any, viewer: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(viewer)
    for n in range(30):
        InboundEvent.objects.create(source="stripe", event_id=f"evt_q{n}", event_type="x", payload={}, trace_id="t")
    with django_assert_max_num_queries(12):
        client.get("/", headers={"HX-Request": "true"})


def test_htmx_script_is_served_locally(client: Any, viewer: Any) -> None:
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert "/static/django_htmx/htmx" in page
    assert "cdn" not in page.lower()
    assert "X-CSRFToken" in page


def test_admin_is_for_staff_only(client: Any, viewer: Any, admin_user_in_group: Any) -> None:
    client.force_login(viewer)
    assert client.get("/admin/").status_code == 302
    client.force_login(admin_user_in_group)
    assert client.get("/admin/payops/inboundevent/").status_code == 200
    assert client.get("/admin/payops/workflowpolicy/").status_code == 200


def test_home_charts_events_per_hour_by_status(client: Any, viewer: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    three_hours_ago = timezone.now() - timedelta(hours=3)
    for n, status in enumerate(["processed", "processed", "failed"]):
        event = InboundEvent.objects.create(
            source="stripe", event_id=f"evt_c{n}", event_type="x", payload={}, trace_id="t", status=status
        )
        InboundEvent.objects.filter(pk=event.pk).update(received_at=three_hours_ago)
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert 'id="hourly-chart"' in page
    assert page.count('class="slot"') == 24
    hour = three_hours_ago.strftime("%H:00")
    assert f"{hour}: 3 events, 2 processed, 1 failed" in page
    assert "busiest hour: 3" in page


def test_an_admins_change_to_a_group_survives_later_migrations() -> None:
    from payops.staff_groups import on_post_migrate

    viewer = Group.objects.get(name="Viewer")
    viewer.permissions.remove(*viewer.permissions.filter(codename="view_workflowpolicy"))
    on_post_migrate(sender=None)
    assert not viewer.permissions.filter(codename="view_workflowpolicy").exists()


def test_the_payments_page_is_for_staff_and_says_when_nothing_is_mirrored(
    client: Any, viewer: Any, outsider: Any
) -> None:
    client.force_login(outsider)
    assert client.get("/payments/").status_code == 403
    client.force_login(viewer)
    response = client.get("/payments/", {"status": "not-a-status", "q": "x" * 500})
    assert response.status_code == 200
    assert b"No Stripe payments mirrored yet" in response.content
    assert response.context["status"] == ""
    assert len(response.context["search"]) == 100
