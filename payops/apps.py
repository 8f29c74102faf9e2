from django.apps import AppConfig


class PayopsConfig(AppConfig):
    name = "payops"
    verbose_name = "PayOps core"
