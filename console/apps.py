from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The finance console: review queue, dashboard, audit search and workflow settings."""

    name = "console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import notes, search_keys  # noqa: F401 - registers the note executor

        search_keys.connect()
