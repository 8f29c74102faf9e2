"""The Celery app: configured from Django settings, tasks found in every app."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payops.settings")

app = Celery("payops")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes every database connection before and after each
# task unless this is set: a new PostgreSQL backend (fork, authentication, cold
# caches) for every task. With it set, connections live as in a web worker:
# close_old_connections below drops one that broke or outlived CONN_MAX_AGE.
app.conf.update(CELERY_DB_REUSE_MAX=1000)
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _keep_usable_connections(sender: Any = None, **_: Any) -> None:
    # Eager tasks run inside the caller's request or test transaction: leave its connection alone.
    if sender is not None and not getattr(sender.request, "is_eager", False):
        close_old_connections()
