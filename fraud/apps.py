"""Fraud scoring's app: its executors, receivers, and what a reviewer's rejection or change means."""

from django.apps import AppConfig


class FraudConfig(AppConfig):
    name = "fraud"
    verbose_name = "Fraud scoring"

    def ready(self) -> None:
        from fraud import (
            executors,  # noqa: F401 - registers the fraud actions' executors
            workflow,
        )
        from fraud.receivers import connect
        from payops import review

        connect()
        # Rejecting a release cancels the booking; rejecting a block releases it.
        review.on_reject(workflow.RELEASE, workflow.CANCEL)
        review.on_reject(workflow.CAPTURE, workflow.CANCEL)
        review.on_reject(workflow.BLOCK, workflow.RELEASE)
        review.changeable(workflow.RELEASE, amount_minor=int)
        review.changeable(workflow.CAPTURE, amount_minor=int)
        review.checks_changes(workflow.RELEASE, workflow.capture_change_fits)
        review.checks_changes(workflow.CAPTURE, workflow.capture_change_fits)
