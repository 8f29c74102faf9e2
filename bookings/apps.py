from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Checkfront bookings"

    def ready(self) -> None:
        from bookings import webhook_handlers  # noqa: F401 - registers the inbox handlers
        from bookings.checkfront_webhooks import verify_checkfront
        from payops.webhook_verifiers import register_verifier

        register_verifier("checkfront", verify_checkfront)
