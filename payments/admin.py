"""Payment collections in the admin: read-only, written only by the collection workflow."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from payments.models import PaymentCollection
from payops.admin import ReadOnlyAdmin


@admin.register(PaymentCollection)
class PaymentCollectionAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    list_display = [
        "booking_code",
        "status",
        "amount_minor",
        "currency",
        "payment_intent_id",
        "needs_refund",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", "needs_refund", "currency"]
    search_fields = ["booking_code", "payment_intent_id", "stripe_customer_id", "=checkfront_customer_id"]
    date_hierarchy = "created_at"
