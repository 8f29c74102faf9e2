"""Disputes: an evidence package for each dispute, reviewed and submitted to Stripe before its deadline."""

from django.apps import AppConfig


class DisputesConfig(AppConfig):
    name = "disputes"
    verbose_name = "Disputes"

    def ready(self) -> None:
        from disputes import actions, executors, receivers  # noqa: F401 - registers the disputes executors
        from disputes.evidence import EVIDENCE_FIELDS
        from disputes.review_rules import changed_package_fits, evidence_text, still_answerable
        from payops import review

        receivers.connect()
        # A reviewer edits any evidence text before approving; nothing is sent once Stripe's deadline has passed.
        review.changeable(actions.SUBMIT, **dict.fromkeys(EVIDENCE_FIELDS, evidence_text))
        review.checks_changes(actions.SUBMIT, changed_package_fits)
        review.checks_approval(actions.SUBMIT, still_answerable)
        review.on_reject(actions.SUBMIT, actions.DECLINE)
