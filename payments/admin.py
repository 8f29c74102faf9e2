"""Payment collections in the admin: read-only, written only by the collection workflow."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from payments.models import CollectionNote, PaymentCollection
from payops.admin import ReadOnlyAdmin


class CollectionNoteInline(admin.TabularInline):
    model = CollectionNote
    extra = 0
    can_delete = False
    fields = readonly_fields = ("body", "written_at", "key")

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


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
    inlines = [CollectionNoteInline]
