"""Recording what operators do by hand (replays, resyncs) in the same append-only log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from audit.models import ActorType, Decision, Mode, Outcome, Route, Workflow
from payops.trace import current_trace_id, new_trace_id


def record_operator_action(*, action: str, actor: User | None, reason: str, params: dict[str, Any]) -> Decision:
    """One Decision for a direct operator action: who (a user, or the system for a command), what, why."""
    return Decision.objects.create(
        trace_id=current_trace_id() or new_trace_id(),
        workflow=Workflow.OPERATIONS,
        action=action,
        params=params,
        reason=reason,
        mode=Mode.MANUAL,
        route=Route.EXECUTE,
        route_reason="operator action",
        actor_type=ActorType.USER if actor else ActorType.SYSTEM,
        actor=actor,
        outcome=Outcome.EXECUTED,
        outcome_at=timezone.now(),
    )
