"""Disputes: an evidence package for each dispute, reviewed and submitted to Stripe before its deadline."""

from django.apps import AppConfig


class DisputesConfig(AppConfig):
    name = "disputes"
    verbose_name = "Disputes"
