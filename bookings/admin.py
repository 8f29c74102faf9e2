"""The mirror in the admin: read-only, because Checkfront is the source of truth."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from bookings.models import Booking, BookingItem, BookingNote, Customer, Item, SyncCursor, Transaction
from payops.admin import ReadOnlyAdmin


class MirrorAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    pass


class BookingItemInline(admin.TabularInline):
    model = BookingItem
    extra = 0
    can_delete = False
    fields = readonly_fields = ("line_id", "sku", "name", "qty", "start_at", "total_minor")

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Booking)
class BookingAdmin(MirrorAdmin):
    list_display = [
        "code",
        "status",
        "customer_email",
        "currency",
        "total_minor",
        "paid_minor",
        "due_minor",
        "start_at",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["code", "customer_email", "customer_name", "=checkfront_id"]
    date_hierarchy = "start_at"
    inlines = [BookingItemInline]


@admin.register(Customer)
class CustomerAdmin(MirrorAdmin):
    list_display = ["checkfront_id", "name", "email", "country", "updated_at"]
    search_fields = ["email", "name", "=checkfront_id", "code"]


@admin.register(Item)
class ItemAdmin(MirrorAdmin):
    list_display = ["checkfront_id", "sku", "name", "category"]
    search_fields = ["sku", "name"]


@admin.register(Transaction)
class TransactionAdmin(MirrorAdmin):
    list_display = ["checkfront_id", "booking_code", "status", "amount_minor", "currency", "gateway_id", "occurred_at"]
    list_filter = ["status", "gateway_id", "currency"]
    search_fields = ["checkfront_id", "booking_code"]


@admin.register(SyncCursor)
class SyncCursorAdmin(ReadOnlyAdmin):
    list_display = ["name", "cursor_at", "running_since", "last_completed_at"]


@admin.register(BookingNote)
class BookingNoteAdmin(ReadOnlyAdmin):
    list_display = ["booking_code", "body", "written_at", "created_at"]
    search_fields = ["=booking_code", "key"]
    date_hierarchy = "created_at"
