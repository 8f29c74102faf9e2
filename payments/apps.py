from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payment collection"

    def ready(self) -> None:
        from payments import executors, receivers  # noqa: F401 - registers the executors

        receivers.connect()
