"""The hash chain over the Decision log: sealing, and verify_audit catching what changed behind our back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from audit.models import OUTCOME_FIELDS, AppendOnlyError, AuditSeal, Decision, Outcome, Route, SealPart
from audit.sealing import DECIDED_FIELDS, GENESIS, LOOKBACK, chain_head, seal_decisions
from audit.verification import verify_chain
from payops.celery import app as celery_app
from tests.audit.decisions import behind_the_back, make_decision

pytestmark = pytest.mark.django_db


def verify(*args: str) -> str:
    """verify_audit's output; raises CommandError (exit status 1) when it finds a problem."""
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        raise CommandError(f"{exc}\n{out.getvalue()}", returncode=exc.returncode) from exc
    return out.getvalue()


def verify_fails(*args: str) -> str:
    with pytest.raises(CommandError) as failed:
        verify(*args)
    assert failed.value.returncode == 1
    return str(failed.value)


def settle(decision: Decision, outcome: str = Outcome.EXECUTED) -> None:
    """As the executor fills in the outcome: through the ORM, outcome fields only."""
    Decision.objects.filter(pk=decision.pk).update(
        outcome=outcome, outcome_detail={"charge": "ch_1"}, outcome_at=timezone.now(), attempts=1
    )


def test_every_decision_column_is_sealed_by_one_part_or_the_other() -> None:
    columns = {field.attname for field in Decision._meta.concrete_fields}
    assert columns == set(DECIDED_FIELDS) | OUTCOME_FIELDS
    assert not set(DECIDED_FIELDS) & OUTCOME_FIELDS


def test_sealed_decisions_verify_clean_and_the_head_is_printed() -> None:
    queued = make_decision()
    logged = make_decision(outcome=Outcome.LOGGED, route=Route.LOG, reason="monitor only")
    report = seal_decisions()
    # The queued one gets its "decided" link, the logged one both at once.
    assert report.links == 3
    links = list(AuditSeal.objects.order_by("seq").values_list("decision_id", "part"))
    assert sorted(links) == sorted(
        [(queued.pk, SealPart.DECIDED), (logged.pk, SealPart.DECIDED), (logged.pk, SealPart.SETTLED)]
    )
    assert links.index((logged.pk, SealPart.DECIDED)) + 1 == links.index((logged.pk, SealPart.SETTLED))
    assert AuditSeal.objects.get(seq=1).previous_digest == GENESIS
    head = chain_head()
    out = verify()
    assert f"2 decisions, 3 links checked (all), chain head #3 {head.digest}" in out
    assert seal_decisions().links == 0  # nothing new, nothing sealed twice


def test_filling_in_the_outcome_after_the_decided_seal_stays_clean_and_is_sealed_in_turn() -> None:
    decision = make_decision(outcome=Outcome.PENDING, route=Route.EXECUTE)
    seal_decisions()
    Decision.objects.filter(pk=decision.pk).update(outcome=Outcome.EXECUTING, claimed_at=timezone.now())
    settle(decision)
    verify()  # final only moments ago: not yet overdue for its "settled" link
    assert seal_decisions().links == 1
    assert AuditSeal.objects.filter(decision=decision, part=SealPart.SETTLED).exists()
    assert "2 links checked" in verify()


def test_a_decided_field_changed_behind_the_back_is_named() -> None:
    untouched = make_decision(booking_id="BK2")
    decision = make_decision()
    seal_decisions()
    behind_the_back("UPDATE audit_decision SET reason = 'rewritten', amount_minor = 1 WHERE id = %s", [decision.pk.hex])
    failure = verify_fails()
    assert f"decision {decision.pk} changed since link" in failure
    assert "(decided): amount_minor, reason" in failure
    assert str(untouched.pk) not in failure


def test_an_outcome_changed_after_it_was_settled_is_named() -> None:
    decision = make_decision(outcome=Outcome.PENDING, route=Route.EXECUTE)
    settle(decision)
    seal_decisions()
    behind_the_back("UPDATE audit_decision SET outcome = 'pending' WHERE id = %s", [decision.pk.hex])
    failure = verify_fails()
    assert f"decision {decision.pk} changed since link #2 sealed it (settled): outcome" in failure


def test_a_deleted_link_breaks_the_chain() -> None:
    for booking in ("BK1", "BK2", "BK3"):
        make_decision(booking_id=booking)
    seal_decisions()
    behind_the_back("DELETE FROM audit_auditseal WHERE seq = 2", [])
    failure = verify_fails()
    assert "chain broken: link #2 missing before #3" in failure
    assert "unsealed" not in failure  # not overdue yet; with --unsealed-after it would be


def test_an_altered_link_is_caught() -> None:
    make_decision()
    make_decision(booking_id="BK2")
    seal_decisions()
    behind_the_back("UPDATE audit_auditseal SET payload = replace(payload, 'BK2', 'BK9') WHERE seq = 2", [])
    failure = verify_fails()
    assert "link #2 altered" in failure


def test_a_deleted_decision_is_named_by_its_link() -> None:
    decision = make_decision()
    seal_decisions()
    # In a savepoint rolled back after: the seal's foreign key would refuse the delete at commit.
    with transaction.atomic():
        behind_the_back("DELETE FROM audit_decision WHERE id = %s", [decision.pk.hex])
        failure = verify_fails()
        transaction.set_rollback(True)
    assert f"decision {decision.pk} is gone (sealed by link #1)" in failure


def test_decisions_left_unsealed_too_long_are_reported() -> None:
    decision = make_decision()
    now = timezone.now()
    assert verify_chain(now=now, unsealed_after=timedelta(minutes=10)).ok
    late = verify_chain(now=now + timedelta(minutes=11), unsealed_after=timedelta(minutes=10))
    assert not late.ok
    assert any(f"decision {decision.pk} unsealed" in problem for problem in late.problems)
    seal_decisions()
    settle(decision)  # final now, its "settled" link not yet written
    later = verify_chain(now=now + timedelta(minutes=11), unsealed_after=timedelta(minutes=10))
    assert [p for p in later.problems if "final outcome unsealed" in p]


def test_a_decision_committed_after_a_later_one_was_sealed_is_still_sealed() -> None:
    first = make_decision()
    seal_decisions()
    # As if its transaction had been open since before `first`'s insert.
    straggler = make_decision(booking_id="BK2")
    earlier = connection.ops.adapt_datetimefield_value(first.created_at - timedelta(seconds=1))
    behind_the_back("UPDATE audit_decision SET created_at = %s WHERE id = %s", [earlier, straggler.pk.hex])
    assert seal_decisions().links == 1
    assert AuditSeal.objects.filter(decision=straggler).exists()
    verify()


def test_stragglers_beyond_the_routine_lookback_are_reported_and_sealed_by_a_full_run() -> None:
    first = make_decision()
    seal_decisions()
    straggler = make_decision(booking_id="BK2")
    long_before = connection.ops.adapt_datetimefield_value(first.created_at - LOOKBACK - timedelta(minutes=1))
    behind_the_back("UPDATE audit_decision SET created_at = %s WHERE id = %s", [long_before, straggler.pk.hex])
    # Final without an outcome time, as a hand-written update could leave it.
    Decision.objects.filter(pk=first.pk).update(outcome=Outcome.EXPIRED)
    assert seal_decisions().links == 0  # the routine run looks an hour back, through indexes
    assert f"decision {straggler.pk} unsealed" in verify_fails()
    late = verify_chain(now=timezone.now() + timedelta(minutes=11), unsealed_after=timedelta(minutes=10))
    assert any(f"decision {first.pk} final outcome unsealed" in problem for problem in late.problems)
    assert "sealed 2 new links" in verify("--seal-first")


def test_expect_head_must_still_be_in_the_chain() -> None:
    make_decision()
    seal_decisions()
    recorded = chain_head().digest
    make_decision(booking_id="BK2")
    seal_decisions()
    assert "recorded head found at link #1" in verify("--expect-head", recorded)
    failure = verify_fails("--expect-head", "ab" * 32)
    assert f"recorded head {'ab' * 32} is not in the chain" in failure
    failure = verify_fails("--since-seq", "2", "--expect-head", recorded)
    assert "before --since-seq 2: not re-checked" in failure


def test_a_rewritten_chain_is_caught_only_against_a_recorded_head() -> None:
    decision = make_decision()
    seal_decisions()
    recorded = chain_head().digest
    # Rewrite row and chain together: drop the link, change the row, seal again.
    behind_the_back("DELETE FROM audit_auditseal", [])
    behind_the_back("UPDATE audit_decision SET reason = 'rewritten' WHERE id = %s", [decision.pk.hex])
    seal_decisions()
    verify()  # self-consistent again
    assert "is not in the chain" in verify_fails("--expect-head", recorded)


def test_since_seq_starts_after_a_trusted_link() -> None:
    for booking in ("BK1", "BK2", "BK3"):
        make_decision(booking_id=booking)
    seal_decisions()
    assert "2 links checked (from #2)" in verify("--since-seq", "2")
    with pytest.raises(CommandError, match="no link #9"):
        verify("--since-seq", "10")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since-seq", "0"], "--since-seq starts at 1"),
        (["--expect-head", "not-a-digest"], "64-character hex digest"),
        (["--unsealed-after", "0"], "at least 1 minute"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        verify(*args)


def test_seal_first_seals_then_verifies_and_plain_verify_seals_nothing() -> None:
    make_decision()
    verify()
    assert not AuditSeal.objects.exists()
    out = verify("--seal-first")
    assert "sealed 1 new links" in out
    assert AuditSeal.objects.count() == 1


def test_seals_cannot_be_changed_or_deleted() -> None:
    make_decision()
    seal_decisions()
    link = AuditSeal.objects.get()
    with pytest.raises(AppendOnlyError):
        link.save()
    with pytest.raises(AppendOnlyError):
        link.delete()
    with pytest.raises(AppendOnlyError):
        AuditSeal.objects.update(digest="0" * 64)
    with pytest.raises(AppendOnlyError):
        AuditSeal.objects.all().delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditseal SET payload = '{}' WHERE seq = 1")
    if connection.vendor == "postgresql":  # SQLite has no delete triggers (see migration 0006)
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditseal WHERE seq = 1")
    verify()


def test_admin_shows_the_chain_but_cannot_change_it(client: Any) -> None:
    from django.contrib.auth.models import User

    make_decision()
    seal_decisions()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    listing = client.get("/admin/audit/auditseal/")
    assert listing.status_code == 200
    assert chain_head().digest in listing.content.decode()
    assert client.post("/admin/audit/auditseal/1/delete/", {"post": "yes"}).status_code == 403
    assert AuditSeal.objects.count() == 1


def test_the_beat_schedule_runs_the_sealing_task(settings: Any) -> None:
    make_decision()
    entry = settings.CELERY_BEAT_SCHEDULE["audit-seal"]
    assert entry["schedule"] == 30
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert celery_app.tasks[entry["task"]].delay().get() == 1
    assert AuditSeal.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sealers_build_one_chain() -> None:
    decisions = [make_decision(booking_id=f"BK{n}") for n in range(60)]
    for decision in decisions[:20]:
        settle(decision)
    start = threading.Barrier(2)

    def sealer() -> int:
        try:
            start.wait()
            return seal_decisions(batch_size=7).links
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(sealer) for _ in range(2)]
        # result() re-raises whatever a sealer hit (a duplicate seq, a lock error).
        assert sum(run.result() for run in runs) == 80
    assert list(AuditSeal.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 81))
    assert AuditSeal.objects.filter(part=SealPart.DECIDED).count() == 60
    assert AuditSeal.objects.filter(part=SealPart.SETTLED).count() == 20
    assert "60 decisions, 80 links checked" in verify()
