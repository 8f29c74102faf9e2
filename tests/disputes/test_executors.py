"""The assembly executor when Checkfront is down: it waits a little, then builds without Checkfront's notes."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from audit.models import Decision, Outcome
from disputes.actions import ASSEMBLE
from disputes.models import CaseStatus
from payops.executors import execute_decision
from tests.disputes.conftest import case_of, disputed_booking, item_of
from tests.stand_ins import StandIns

pytestmark = pytest.mark.django_db(transaction=True)


def test_checkfront_down_delays_the_package_then_it_is_built_from_payops_own_notes(
    disputes_on: StandIns, settings: Any
) -> None:
    settings.CHECKFRONT_MAX_ATTEMPTS = 1  # the client's own retries are tested with the client
    disputes_on.checkfront.set_faults({"status": 503, "path_prefix": "/api/3.0/booking/notes"})
    code = disputed_booking(disputes_on)
    [assembly] = Decision.objects.filter(action=ASSEMBLE, booking_id=code)
    assert assembly.outcome == Outcome.PENDING and "out of reach for now" in assembly.outcome_detail["last_error"]
    assert case_of(code).status == CaseStatus.ASSEMBLING
    for _ in range(2):  # the retries fall due (the sweep would send them)
        Decision.objects.filter(pk=assembly.pk).update(next_attempt_at=timezone.now())
        execute_decision(assembly.pk)
    assembly.refresh_from_db()
    assert assembly.outcome == Outcome.EXECUTED and assembly.attempts == 3
    case = case_of(code)
    assert case.status == CaseStatus.IN_REVIEW
    assert any(gap.startswith("Checkfront's notes could not be read") for gap in case.gaps)
    assert "PayOps: Pay CAD" in item_of(code).params["uncategorized_text"]  # PayOps's own notes stand in
    assert "Checkfront's notes could not be read" in item_of(code).decision.reason
