"""Refunds: cancellation policies, the refund a cancelled booking is owed, and carrying refunds out once."""

from django.apps import AppConfig


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = "Refunds"

    def ready(self) -> None:
        from payops import review
        from refunds import actions, booking_notes, executors, receivers  # noqa: F401 - registers the executors

        receivers.connect()
        # A reviewer may refund less than proposed (never more: payops.review bounds it by the proposal).
        review.changeable(actions.REFUND, amount_minor=int)
        review.on_reject(actions.REFUND, actions.DECLINE)
