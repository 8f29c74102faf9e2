from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditSeal, Decision


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    """The audit log is read here, never written: no add, change or delete."""

    list_display = [
        "created_at",
        "workflow",
        "action",
        "booking_id",
        "route",
        "outcome",
        "score",
        "confidence",
        "model_version",
        "actor",
    ]
    list_filter = ["workflow", "route", "outcome", "mode", "actor_type"]
    search_fields = ["trace_id", "booking_id", "stripe_ids", "action"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditSeal)
class AuditSealAdmin(admin.ModelAdmin):
    """The hash chain, read-only like the log it seals (manage.py verify_audit checks it)."""

    list_display = ["seq", "part", "decision", "sealed_at", "digest"]
    list_filter = ["part"]
    search_fields = ["digest", "=decision__id"]
    raw_id_fields = ["decision"]
    list_select_related = ["decision"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
