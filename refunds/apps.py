"""Refunds: proposing a refund of a payment, and carrying it out once through the gateway."""

from django.apps import AppConfig


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = "Refunds"

    def ready(self) -> None:
        from payops import review
        from refunds import actions, executors  # noqa: F401 - registers the refund executor

        # A reviewer may refund less than proposed (never more: payops.review bounds it by the proposal).
        review.changeable(actions.REFUND, amount_minor=int)
