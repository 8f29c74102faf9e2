"""`manage.py build_dispute_evidence`: a package built by hand (monitor mode, backfill, rebuild); bad input refused."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from audit.models import Decision, Mode, Outcome, Route
from disputes.actions import ASSEMBLE, SUBMIT
from disputes.models import CaseStatus, DisputeCase
from payops import review
from payops.models import ReviewItem, ReviewStatus
from tests.disputes.conftest import case_of, disputed_booking, item_of, set_disputes_policy, stripe_dispute
from tests.stand_ins import StandIns

pytestmark = pytest.mark.django_db(transaction=True)


def build(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("build_dispute_evidence", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_in_monitor_mode_a_dispute_is_recorded_and_a_package_is_built_on_demand(disputes_on: StandIns) -> None:
    set_disputes_policy(Mode.MONITOR)
    code = disputed_booking(disputes_on)
    case = case_of(code)
    assert (case.status, case.proposal_id, case.package) == (CaseStatus.MONITORED, None, {})
    [assembly] = Decision.objects.filter(action=ASSEMBLE, booking_id=code)
    assert (assembly.route, assembly.route_reason) == (Route.LOG, "workflow is in monitor mode")
    assert not ReviewItem.objects.filter(booking_id=code, action=SUBMIT).exists()

    out, _ = build(case.dispute_id)  # still monitor: the package is drafted and only recorded
    case.refresh_from_db()
    assert "package recorded (logged only: workflow is in monitor mode)" in out
    assert case.status == CaseStatus.MONITORED and case.package["customer_name"] == "Dana Fox"

    set_disputes_policy(Mode.SUGGEST)
    with pytest.raises(CommandError, match="1 of 1 disputes could not be built"):
        build(case.dispute_id)  # it has a package: replacing it must be asked for
    out, _ = build(case.dispute_id, "--rebuild")
    case.refresh_from_db()
    item = item_of(code)
    assert f"package queued for review as item #{item.pk}" in out and "1 built, 0 failed, of 1 disputes" in out
    assert case.status == CaseStatus.IN_REVIEW and case.proposal_id == item.decision_id
    outcomes = Decision.objects.filter(action=SUBMIT, booking_id=code, parent=None).values_list("outcome", flat=True)
    assert sorted(outcomes) == [Outcome.LOGGED, Outcome.QUEUED]  # the monitor-mode draft stays on record


def test_a_rebuild_replaces_the_package_in_review_and_expires_the_old_item(disputes_on: StandIns) -> None:
    code = disputed_booking(disputes_on)
    first = item_of(code)
    out, _ = build("--open", "--rebuild")
    assert out.count("package queued for review") == 0  # --open only takes disputes without a package
    out, _ = build(case_of(code).dispute_id, "--rebuild")
    first.refresh_from_db()
    assert first.status == ReviewStatus.EXPIRED
    assert ReviewItem.objects.get(booking_id=code, status=ReviewStatus.OPEN).pk != first.pk


def test_open_backfills_disputes_heard_of_before_the_workflow_existed(disputes_on: StandIns) -> None:
    code = disputed_booking(disputes_on)
    dispute_id = case_of(code).dispute_id
    # As if PayOps had not handled the dispute (it predates the disputes app): only the mirror knows it.
    ReviewItem.objects.filter(booking_id=code).delete()
    DisputeCase.objects.filter(dispute_id=dispute_id).delete()
    out, _ = build("--open")
    assert f"{dispute_id}: package queued for review" in out
    assert case_of(code).status == CaseStatus.IN_REVIEW


def test_bad_input_is_refused_with_the_reason_and_a_failure_exit(disputes_on: StandIns) -> None:
    with pytest.raises(CommandError, match="name at least one dispute id, or use --open"):
        build()
    with pytest.raises(CommandError, match="not a Stripe dispute id: ch_123"):
        build("ch_123")
    with pytest.raises(CommandError, match="1 of 1 disputes could not be built"):
        build("dp_doesnotexist")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("build_dispute_evidence", "dp_doesnotexist", stdout=out, stderr=err)
    assert "dp_doesnotexist: Stripe has no dispute dp_doesnotexist" in err.getvalue()
    assert not DisputeCase.objects.exists()


def test_a_package_a_person_already_approved_is_never_rebuilt(disputes_on: StandIns, reviewer: User) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    # Approved, its submission not yet run (a busy worker): a rebuild now could send a second package after it.
    ReviewItem.objects.filter(pk=item.pk).update(status=ReviewStatus.APPROVED)
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 1 disputes could not be built"):
        call_command("build_dispute_evidence", case.dispute_id, "--rebuild", stdout=StringIO(), stderr=err)
    assert f"review item #{item.pk} is approved already" in err.getvalue()
    ReviewItem.objects.filter(pk=item.pk).update(status=ReviewStatus.OPEN)
    assert review.approve(item.pk, reviewer) is not None
    disputes_on.settle()
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("build_dispute_evidence", case.dispute_id, "--rebuild", stdout=StringIO(), stderr=err)
    assert "there is nothing to answer" in err.getvalue()
    assert ReviewItem.objects.filter(booking_id=code).count() == 1
    assert stripe_dispute(disputes_on, case.dispute_id)["evidence_details"]["submission_count"] == 1
