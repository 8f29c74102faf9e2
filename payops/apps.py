from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PayopsConfig(AppConfig):
    name = "payops"
    verbose_name = "PayOps core"

    def ready(self) -> None:
        from payops import stripe_handlers  # noqa: F401 - registers the inbox's Stripe handlers
        from payops.staff_groups import on_post_migrate
        from payops.stripe_client_defaults import configure_global_stripe_client
        from payops.trace import install_log_record_factory

        install_log_record_factory()
        configure_global_stripe_client()
        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="payops-staff-groups")
