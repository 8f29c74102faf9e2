"""Argument types shared by our manage.py commands."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime


def iso_datetime(value: str) -> datetime:
    """An ISO date-time; naive values are taken as UTC."""
    parsed = parse_datetime(value)
    if parsed is None:
        # argparse turns this into a clean usage error, not a traceback.
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date-time such as 2026-11-27T09:00:00Z")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)
