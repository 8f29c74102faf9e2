"""Processing stored events: handlers, ignored types, retries, the sweep and replay."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from payops import event_handlers
from payops.event_processing import process_event, replay_events, sweep_inbox
from payops.models import EventStatus, InboundEvent

pytestmark = pytest.mark.django_db


def make_event(event_type: str = "test.recorded", status: str = EventStatus.RECEIVED, **fields: Any) -> InboundEvent:
    n = InboundEvent.objects.count() + 1
    return InboundEvent.objects.create(
        source="stripe",
        event_id=f"evt_p{n}",
        event_type=event_type,
        payload={"id": f"evt_p{n}"},
        trace_id=f"trace{n}",
        status=status,
        **{"queued_at": timezone.now(), **fields},
    )


@pytest.fixture
def flaky_handler() -> Any:
    """Fails the first `failures` calls, then succeeds."""
    state = {"failures": 0, "calls": 0}

    @event_handlers.handles("stripe", "test.flaky")
    def flaky(event: InboundEvent) -> None:
        state["calls"] += 1
        if state["calls"] <= state["failures"]:
            raise RuntimeError(f"outside system down (call {state['calls']})")

    yield state
    event_handlers.unregister("stripe", "test.flaky")


def test_registered_handler_runs_and_event_is_processed(recorded_handler: list[int]) -> None:
    event = make_event()
    assert process_event(event.pk) == EventStatus.PROCESSED
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED
    assert event.attempts == 1
    assert event.processed_at is not None
    assert recorded_handler == [event.pk]


def test_event_without_handler_is_stored_and_marked_ignored() -> None:
    event = make_event("customer.tax_id.created")
    assert process_event(event.pk) == EventStatus.IGNORED
    event.refresh_from_db()
    assert event.status == EventStatus.IGNORED


def test_processing_a_finished_event_again_does_nothing(recorded_handler: list[int]) -> None:
    event = make_event()
    process_event(event.pk)
    assert process_event(event.pk) is None
    assert recorded_handler == [event.pk]


def test_event_claimed_by_another_worker_is_left_alone(recorded_handler: list[int]) -> None:
    event = make_event(status=EventStatus.PROCESSING, claimed_at=timezone.now())
    assert process_event(event.pk) is None
    assert recorded_handler == []


def make_due(event: InboundEvent) -> None:
    InboundEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_failing_handler_records_the_error_and_schedules_a_retry(flaky_handler: dict[str, int]) -> None:
    flaky_handler["failures"] = 1
    event = make_event("test.flaky")
    assert process_event(event.pk) == EventStatus.RETRYING
    event.refresh_from_db()
    assert event.status == EventStatus.RETRYING
    assert "outside system down" in event.last_error
    assert event.next_attempt_at is not None and event.next_attempt_at > timezone.now()
    # A message that arrives before the retry is due does nothing.
    assert process_event(event.pk) is None
    make_due(event)
    assert process_event(event.pk) == EventStatus.PROCESSED
    assert flaky_handler["calls"] == 2


def test_retries_back_off_then_end_in_a_visible_failed_state(settings: Any, flaky_handler: dict[str, int]) -> None:
    settings.INBOX_MAX_ATTEMPTS = 3
    flaky_handler["failures"] = 99
    event = make_event("test.flaky")
    outcomes = []
    for _ in range(3):
        outcomes.append(process_event(event.pk))
        make_due(event)
    event.refresh_from_db()
    assert outcomes == [EventStatus.RETRYING, EventStatus.RETRYING, EventStatus.FAILED]
    assert event.status == EventStatus.FAILED
    assert event.attempts == 3
    assert flaky_handler["calls"] == 3
    assert "call 3" in event.last_error


def test_long_retry_delays_are_not_left_waiting_in_the_broker(
    settings: Any, flaky_handler: dict[str, int], django_capture_on_commit_callbacks: Any
) -> None:
    settings.INBOX_RETRY_BASE_SECONDS = 3000
    flaky_handler["failures"] = 1
    event = make_event("test.flaky")
    with django_capture_on_commit_callbacks() as callbacks:
        process_event(event.pk)
    assert len(callbacks) == 1
    event.refresh_from_db()
    assert event.queued_at is not None and event.next_attempt_at is not None
    # The message is sent with a capped countdown; the sweep sends the real one when due.
    assert (event.queued_at - timezone.now()).total_seconds() <= settings.QUEUE_MAX_COUNTDOWN_SECONDS
    assert event.next_attempt_at > event.queued_at
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_inbox().requeued == 0
        assert sweep_inbox(now=event.next_attempt_at + timedelta(seconds=1)).requeued == 1


def test_backoff_grows_with_each_attempt(settings: Any) -> None:
    from payops.event_processing import retry_delay_seconds

    settings.INBOX_RETRY_BASE_SECONDS = 10
    delays = [retry_delay_seconds(n) for n in (1, 2, 3, 4)]
    assert 8 <= delays[0] <= 12
    assert all(later > earlier for earlier, later in itertools.pairwise(delays))
    assert retry_delay_seconds(50) <= 3600 * 1.2


def test_sweep_requeues_events_stuck_in_received_once(
    recorded_handler: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    stuck = make_event()
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    InboundEvent.objects.filter(pk=stuck.pk).update(received_at=ten_minutes_ago, queued_at=ten_minutes_ago)
    fresh = make_event(queued_at=timezone.now())
    with django_capture_on_commit_callbacks() as callbacks:
        first = sweep_inbox()
        second = sweep_inbox()
    assert (first.requeued, second.requeued) == (1, 0)
    assert len(callbacks) == 1
    callbacks[0]()
    assert recorded_handler == [stuck.pk]
    fresh.refresh_from_db()
    assert fresh.status == EventStatus.RECEIVED


def test_sweep_takes_back_claims_of_dead_workers(
    recorded_handler: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    dead = make_event(status=EventStatus.PROCESSING, claimed_at=timezone.now() - timedelta(hours=1), attempts=1)
    alive = make_event(status=EventStatus.PROCESSING, claimed_at=timezone.now(), attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_inbox()
    assert result.expired_claims == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == EventStatus.PROCESSED
    assert dead.attempts == 2
    assert alive.status == EventStatus.PROCESSING
    assert recorded_handler == [dead.pk]


def test_an_event_that_kills_its_worker_every_time_ends_failed(settings: Any) -> None:
    settings.INBOX_MAX_ATTEMPTS = 3
    dead = make_event(status=EventStatus.PROCESSING, claimed_at=timezone.now() - timedelta(hours=1), attempts=3)
    assert sweep_inbox().given_up == 1
    dead.refresh_from_db()
    assert dead.status == EventStatus.FAILED
    assert "died or hung" in dead.last_error


def test_a_worker_whose_claim_was_taken_back_does_not_overwrite_the_new_result(
    recorded_handler: list[int],
) -> None:
    from payops.event_processing import _finish

    event = make_event()
    process_event(event.pk)
    event.refresh_from_db()
    stale_claim = event.claimed_at - timedelta(minutes=20)
    InboundEvent.objects.filter(pk=event.pk).update(status=EventStatus.PROCESSING)
    event.claimed_at = stale_claim
    _finish(event, EventStatus.IGNORED)
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSING


def test_sweep_requeues_retries_whose_message_was_lost(
    recorded_handler: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    long_ago = timezone.now() - timedelta(minutes=30)
    lost = make_event(status=EventStatus.RETRYING, next_attempt_at=long_ago, queued_at=long_ago)
    waiting = make_event(status=EventStatus.RETRYING, next_attempt_at=timezone.now() + timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_inbox()
    assert result.requeued == 1
    assert recorded_handler == [lost.pk]
    waiting.refresh_from_db()
    assert waiting.status == EventStatus.RETRYING


def test_replay_sends_failed_events_through_again(
    recorded_handler: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    failed = make_event(status=EventStatus.FAILED, attempts=8, last_error="boom")
    in_flight = make_event(status=EventStatus.PROCESSING, claimed_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        replayed = replay_events(InboundEvent.objects.all(), actor=None, via="a test")
    assert replayed == [failed.pk]
    from audit.models import Decision

    audit_row = Decision.objects.get(action="replay_events")
    assert (audit_row.actor_type, audit_row.params["event_pks"]) == ("system", [failed.pk])
    failed.refresh_from_db()
    assert failed.status == EventStatus.PROCESSED
    assert failed.last_error == ""
    assert recorded_handler == [failed.pk]
    in_flight.refresh_from_db()
    assert in_flight.status == EventStatus.PROCESSING


def test_replay_command_filters_by_status_source_type_and_time(
    recorded_handler: list[int], capsys: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = make_event(status=EventStatus.FAILED)
    InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=3))
    recent = make_event(status=EventStatus.FAILED)
    ignored = make_event("payment_intent.created", status=EventStatus.IGNORED)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_events", "--source", "stripe", "--type", "test.*", "--since", since)
    assert "queued 1 of 1" in capsys.readouterr().out
    assert recorded_handler == [recent.pk]
    old.refresh_from_db()
    ignored.refresh_from_db()
    assert old.status == EventStatus.FAILED
    assert ignored.status == EventStatus.IGNORED


def test_replay_command_dry_run_changes_nothing(capsys: Any) -> None:
    event = make_event(status=EventStatus.FAILED)
    call_command("replay_events", "--dry-run")
    assert "1 events would be replayed" in capsys.readouterr().out
    event.refresh_from_db()
    assert event.status == EventStatus.FAILED


def test_replay_command_sync_processes_inline_and_reports(recorded_handler: list[int], capsys: Any) -> None:
    event = make_event(status=EventStatus.IGNORED)
    call_command("replay_events", "--status", "ignored", "--sync")
    assert "done: 1 processed" in capsys.readouterr().out
    assert recorded_handler == [event.pk]


def test_replay_command_sync_exits_non_zero_when_events_fail_again(flaky_handler: dict[str, int]) -> None:
    flaky_handler["failures"] = 99
    make_event("test.flaky", status=EventStatus.FAILED)
    with pytest.raises(CommandError, match="failed again"):
        call_command("replay_events", "--sync")


@pytest.mark.parametrize(
    "args",
    [["--since", "yesterday"], ["--status", "processing"], ["--source", "paypal"]],
)
def test_replay_command_rejects_bad_arguments(args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("replay_events", *args)


def test_admin_replay_action_requeues_selected_events(
    client: Any, admin_user_in_group: Any, recorded_handler: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    event = make_event(status=EventStatus.FAILED)
    client.force_login(admin_user_in_group)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/payops/inboundevent/",
            {"action": "replay", "_selected_action": [event.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert "Queued 1 events again" in response.content.decode()
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED
    from audit.models import Decision

    assert Decision.objects.get(action="replay_events").actor == admin_user_in_group


def test_trace_id_is_on_every_log_record_while_processing(recorded_handler: list[int], caplog: Any) -> None:
    event = make_event()
    with caplog.at_level("INFO", logger="payops"):
        process_event(event.pk)
    records = [r for r in caplog.records if r.name == "payops.event_processing"]
    assert records
    assert {record.trace_id for record in records} == {event.trace_id}


def test_json_log_lines_carry_the_trace_id() -> None:
    import io
    import json
    import logging

    from pythonjsonlogger.json import JsonFormatter

    from payops.trace import bound_trace

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(trace_id)s %(message)s"))
    log = logging.getLogger("payops.test_json")
    log.addHandler(handler)
    try:
        with bound_trace("trace-abc"):
            log.warning("charge %s retried", "ch_1")
    finally:
        log.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line == {
        "levelname": "WARNING",
        "name": "payops.test_json",
        "trace_id": "trace-abc",
        "message": "charge ch_1 retried",
    }


def test_bad_arguments_on_the_command_line_give_a_usage_error_not_a_traceback() -> None:
    import subprocess
    import sys

    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "manage.py", "replay_events", "--since", "yesterday"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "not an ISO date-time" in result.stderr
    assert "Traceback" not in result.stderr
