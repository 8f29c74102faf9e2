from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "dunning"
    verbose_name = "Failed-payment recovery"

    def ready(self) -> None:
        from dunning import actions, executors  # noqa: F401 - registers the dunning actions' executors
        from dunning.recovery import on_payment_canceled, on_payment_failed, on_payment_succeeded
        from dunning.review_rules import retry_fits_the_case, retry_time
        from payops import review, stripe_signals

        stripe_signals.payment_failed.connect(on_payment_failed, dispatch_uid="dunning-payment-failed")
        stripe_signals.payment_succeeded.connect(on_payment_succeeded, dispatch_uid="dunning-payment-succeeded")
        stripe_signals.payment_canceled.connect(on_payment_canceled, dispatch_uid="dunning-payment-canceled")
        # A reviewer may move a retry; the approved retry then waits for that time.
        review.changeable(actions.RETRY, retry_at=retry_time)
        review.checks_changes(actions.RETRY, retry_fits_the_case)
        review.runs_at(actions.RETRY, "retry_at")
