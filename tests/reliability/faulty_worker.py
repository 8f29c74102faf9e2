"""A Celery worker whose database connection drops now and then: tests only, for SQLite, which cannot drop one.

    python -m tests.reliability.faulty_worker <celery worker arguments>

RELIABILITY_DB_FAULTS drops (default 3) happen per worker process, each at a random query (one query in
RELIABILITY_DB_FAULT_ODDS, default 40), and fails that query and the next RELIABILITY_DB_FAULT_BURST (default
2) the way a lost connection does: OperationalError, with Django told an error occurred. On PostgreSQL the
tests terminate the worker's real backends instead.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payops.settings")
django.setup()

from django.db import OperationalError  # noqa: E402 - after setup
from django.db.backends.signals import connection_created  # noqa: E402

DROPS = int(os.environ.get("RELIABILITY_DB_FAULTS", "3"))
ODDS = int(os.environ.get("RELIABILITY_DB_FAULT_ODDS", "40"))
BURST = int(os.environ.get("RELIABILITY_DB_FAULT_BURST", "2"))
state = {"drops": 0, "failing": 0}


def drop_now_and_then(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    if state["failing"] == 0 and state["drops"] < DROPS and random.randrange(ODDS) == 0:
        state["drops"] += 1
        state["failing"] = BURST + 1
        print(f"reliability fault: dropping the database connection at: {sql[:80]}", file=sys.stderr, flush=True)
    if state["failing"]:
        state["failing"] -= 1
        context["connection"].errors_occurred = True
        raise OperationalError("server closed the connection unexpectedly (injected by the reliability test)")
    return execute(sql, params, many, context)


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    if drop_now_and_then not in connection.execute_wrappers:
        connection.execute_wrappers.append(drop_now_and_then)


connection_created.connect(install)

if __name__ == "__main__":
    from payops.celery import app

    app.worker_main(argv=["worker", *sys.argv[1:]])
