"""The Celery app: configured from Django settings, tasks found in every app."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payops.settings")

app = Celery("payops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
