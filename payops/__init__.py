"""PayOps: payment operations between Checkfront and Stripe."""

from payops.celery import app as celery_app

__all__ = ["celery_app"]
