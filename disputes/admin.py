"""Dispute cases in the admin: read-only records with their history; they change only through the workflow."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from disputes.models import DisputeCase
from payops.admin import ReadOnlyAdmin


@admin.register(DisputeCase)
class DisputeCaseAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = (
        "dispute_id",
        "booking_code",
        "reason",
        "amount_minor",
        "currency",
        "status",
        "stripe_status",
        "evidence_due_by",
        "loss_risk",
    )
    list_filter = ("status", "reason", "inquiry")
    search_fields = ("dispute_id", "charge_id", "payment_intent_id", "booking_code")
    date_hierarchy = "opened_at"
