"""The Decision log is append-only: later writes only fill in the outcome."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AppendOnlyError, Decision, Outcome, Route
from tests.audit.decisions import make_decision

pytestmark = pytest.mark.django_db


def test_filling_in_the_outcome_is_allowed() -> None:
    decision = make_decision(outcome=Outcome.PENDING, route=Route.EXECUTE)
    assert Decision.objects.filter(pk=decision.pk).update(outcome=Outcome.EXECUTING) == 1
    decision.refresh_from_db()
    decision.outcome = Outcome.EXECUTED
    decision.outcome_detail = {"charge": "ch_1"}
    decision.outcome_at = timezone.now()
    decision.save(update_fields=["outcome", "outcome_detail", "outcome_at"])
    decision.refresh_from_db()
    assert decision.outcome == Outcome.EXECUTED
    assert decision.outcome_detail == {"charge": "ch_1"}


def test_changing_what_was_decided_is_refused() -> None:
    decision = make_decision()
    decision.reason = "something else"
    with pytest.raises(AppendOnlyError):
        decision.save()
    with pytest.raises(AppendOnlyError):
        decision.save(update_fields=["reason"])
    with pytest.raises(AppendOnlyError):
        Decision.objects.filter(pk=decision.pk).update(confidence=0.99)
    with pytest.raises(AppendOnlyError):
        Decision.objects.bulk_update([decision], ["reason"])
    decision.refresh_from_db()
    assert decision.reason == "soft decline"


def test_decisions_cannot_be_deleted_through_the_orm() -> None:
    decision = make_decision()
    with pytest.raises(AppendOnlyError):
        decision.delete()
    with pytest.raises(AppendOnlyError):
        Decision.objects.all().delete()
    assert Decision.objects.filter(pk=decision.pk).exists()


def test_user_actor_and_system_actor_are_kept_consistent() -> None:
    user = User.objects.create_user("ann")
    assert make_decision(actor_type="user", actor=user).actor == user
    with pytest.raises(IntegrityError), transaction.atomic():
        make_decision(actor_type="user", actor=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_decision(actor_type="system", actor=user)


def test_confidence_outside_0_1_is_refused_by_the_database() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make_decision(confidence=1.2)


def test_admin_shows_decisions_but_cannot_change_or_delete_them(client: Any) -> None:
    superuser = User.objects.create_superuser("root", "root@example.com", "pw")
    decision = make_decision()
    client.force_login(superuser)
    assert client.get("/admin/audit/decision/").status_code == 200
    page = client.get(f"/admin/audit/decision/{decision.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(f"/admin/audit/decision/{decision.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(
        "/admin/audit/decision/", {"action": "delete_selected", "_selected_action": [decision.pk], "post": "yes"}
    ).status_code in (200, 302)
    assert Decision.objects.filter(pk=decision.pk).exists()


def test_the_base_manager_and_force_update_are_guarded_too() -> None:
    decision = make_decision()
    with pytest.raises(AppendOnlyError):
        Decision._base_manager.filter(pk=decision.pk).update(reason="rewritten")
    clone = Decision(pk=decision.pk, trace_id="t1", workflow="dunning", action="x", reason="rewritten")
    with pytest.raises(AppendOnlyError):
        clone.save(force_update=True)
    decision.refresh_from_db()
    assert decision.reason == "soft decline"


def test_the_database_refuses_rewrites_that_skip_the_orm() -> None:
    from django.db import DatabaseError, connection

    decision = make_decision()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_decision SET reason = 'rewritten' WHERE id = %s", [decision.pk.hex])
    decision.refresh_from_db()
    assert decision.reason == "soft decline"


def test_a_final_outcome_is_final_in_the_database() -> None:
    from django.db import DatabaseError

    decision = make_decision()
    assert Decision.objects.filter(pk=decision.pk).update(outcome=Outcome.EXECUTED) == 1
    with pytest.raises(DatabaseError), transaction.atomic():
        Decision.objects.filter(pk=decision.pk).update(outcome=Outcome.PENDING)


def test_a_final_outcome_keeps_its_detail_time_and_attempts_in_the_database() -> None:
    from django.db import DatabaseError

    decision = make_decision(outcome=Outcome.PENDING, route=Route.EXECUTE)
    done = timezone.now()
    Decision.objects.filter(pk=decision.pk).update(
        outcome=Outcome.EXECUTED, outcome_detail={"charge": "ch_1"}, outcome_at=done
    )
    for change in (
        {"outcome_detail": {"charge": "ch_2"}},
        {"outcome_at": None},
        {"attempts": 5},
        {"outcome": Outcome.PENDING},
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            Decision.objects.filter(pk=decision.pk).update(**change)
    decision.refresh_from_db()
    assert (decision.outcome, decision.outcome_detail, decision.outcome_at, decision.attempts) == (
        Outcome.EXECUTED,
        {"charge": "ch_1"},
        done,
        0,
    )


def test_an_upsert_cannot_rewrite_a_decision() -> None:
    decision = make_decision()
    rewrite = Decision(pk=decision.pk, trace_id="t1", workflow="dunning", action="x", reason="rewritten")
    with pytest.raises(AppendOnlyError):
        Decision.objects.bulk_create([rewrite], update_conflicts=True, update_fields=["reason"], unique_fields=["id"])
    decision.refresh_from_db()
    assert decision.reason == "soft decline"


@pytest.mark.django_db(transaction=True)
def test_a_sealed_decision_cannot_be_deleted_with_raw_sql() -> None:
    """PostgreSQL's trigger refuses at once; on SQLite the seal's foreign key refuses at commit."""
    from django.db import DatabaseError, connection

    from audit.sealing import seal_decisions

    decision = make_decision()
    seal_decisions()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_decision WHERE id = %s", [decision.pk.hex])
    assert Decision.objects.filter(pk=decision.pk).exists()
