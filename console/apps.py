from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The finance console: review queue, dashboard, audit search and workflow settings."""

    name = "console"
    default_auto_field = "django.db.models.BigAutoField"
