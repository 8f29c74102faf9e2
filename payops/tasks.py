"""Celery tasks: thin wrappers that take ids and call one domain function each."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from payops import event_processing, executors

# Killed before the claim's lease ends, so the sweep never hands a row to a
# second worker while the first one still runs it.
LIMITS = {"time_limit": settings.TASK_TIME_LIMIT_SECONDS, "soft_time_limit": settings.TASK_TIME_LIMIT_SECONDS - 15}


@shared_task(name="payops.tasks.process_inbound_event", **LIMITS)
def process_inbound_event(event_pk: int) -> str | None:
    # Retries are scheduled by process_event itself (it records the failure
    # and the backoff on the row), so no Celery autoretry here.
    return event_processing.process_event(event_pk)


@shared_task(name="payops.tasks.process_inbound_events", **LIMITS)
def process_inbound_events(event_pks: list[int]) -> int:
    """A dispatcher batch: each event is claimed on its own, so a batch sent twice is processed once."""
    return sum(1 for pk in event_pks if event_processing.process_event(pk) is not None)


@shared_task(name="payops.tasks.execute_decision", **LIMITS)
def execute_decision(decision_id: str) -> str | None:
    return executors.execute_decision(decision_id)


@shared_task(name="payops.tasks.sweep_inbox")
def sweep_inbox() -> int:
    return event_processing.sweep_inbox().total


@shared_task(name="payops.tasks.sweep_executions")
def sweep_executions() -> int:
    return executors.sweep_executions()
