from django.apps import AppConfig


class PayopsConfig(AppConfig):
    name = "payops"
    verbose_name = "PayOps core"

    def ready(self) -> None:
        from payops.trace import install_log_record_factory

        install_log_record_factory()
