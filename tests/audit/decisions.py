"""A Decision factory and a way to write behind the application's back, for the audit tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from audit.models import Decision, Mode, Outcome, Route


def make_decision(**fields: Any) -> Decision:
    values: dict[str, Any] = {
        "trace_id": "t1",
        "workflow": "dunning",
        "booking_id": "BK1",
        "action": "retry_payment",
        "reason": "soft decline",
        "mode": Mode.SUGGEST,
        "route": Route.QUEUE,
        "outcome": Outcome.QUEUED,
        "confidence": 0.7,
        **fields,
    }
    return Decision.objects.create(**values)


@contextmanager
def triggers_off() -> Iterator[None]:
    """The audit tables' append-only triggers out of the way, as someone with database access could do.

    PostgreSQL: the replica role fires no user triggers and no foreign key
    checks (what a restore uses), and unlike ALTER TABLE ... DISABLE TRIGGER
    it does not clash with the deferred checks our own inserts left pending.
    SQLite: drop the triggers and put them back.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
            dropped: list[str] = []
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'audit%'")
            triggers = cursor.fetchall()
            for name, _ in triggers:
                cursor.execute(f"DROP TRIGGER {name}")
            dropped = [sql for _, sql in triggers]
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")
            for sql in dropped:
                cursor.execute(sql)


def behind_the_back(sql: str, params: list[Any]) -> None:
    """Run raw SQL on the audit tables with their append-only triggers out of the way."""
    with triggers_off(), connection.cursor() as cursor:
        cursor.execute(sql, params)
