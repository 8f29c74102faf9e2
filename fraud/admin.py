"""Fraud scoring in the admin: Admins edit the policy and the block/allow lists; the records are read-only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from fraud.models import (
    Assessment,
    FraudHold,
    FraudLabel,
    FraudListEntry,
    FraudModelVersion,
    FraudPolicy,
    PaymentSignal,
)
from payops.admin import ReadOnlyAdmin


@admin.register(FraudPolicy)
class FraudPolicyAdmin(SimpleHistoryAdmin):
    list_display = (
        "elevated_from",
        "high_from",
        "block_from",
        "review_window_hours",
        "capture_margin_hours",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not FraudPolicy.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FraudListEntry)
class FraudListEntryAdmin(SimpleHistoryAdmin):
    list_display = ("action", "kind", "value", "note", "created_by", "created_at")
    list_filter = ("action", "kind")
    search_fields = ("value", "note")
    exclude = ("created_by",)

    def save_model(self, request: HttpRequest, obj: FraudListEntry, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ("booking_code", "stage", "score", "band", "model_version", "scored_at")
    list_filter = ("stage", "band", "model_version")
    search_fields = ("booking_code", "payment_intent_id")


@admin.register(FraudHold)
class FraudHoldAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ("booking_code", "status", "payment_intent_id", "created_at", "resolved_at")
    list_filter = ("status",)
    search_fields = ("booking_code", "payment_intent_id")


@admin.register(FraudLabel)
class FraudLabelAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ("booking_code", "is_fraud", "source", "source_id", "created_at")
    list_filter = ("is_fraud", "source")
    search_fields = ("booking_code", "payment_intent_id", "charge_id")


@admin.register(PaymentSignal)
class PaymentSignalAdmin(ReadOnlyAdmin):
    list_display = ("kind", "booking_code", "at")
    list_filter = ("kind",)
    search_fields = ("booking_code",)


@admin.register(FraudModelVersion)
class FraudModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "algorithm", "training_rows", "is_current", "created_at")
