"""Cancellation policies are edited here, with their tiers; every change is kept in history with who and when."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from refunds.models import CancellationPolicy, CancellationRefund, FailedRefund, PolicyTier


class PolicyTierInline(admin.TabularInline):
    model = PolicyTier
    extra = 1


@admin.register(CancellationPolicy)
class CancellationPolicyAdmin(SimpleHistoryAdmin):
    list_display = ["name", "scope", "currency", "fee_minor", "deposit_percent", "deposit_minor", "cap_minor", "active"]
    list_filter = ["active", "currency"]
    search_fields = ["name", "category", "item__name", "item__sku"]
    autocomplete_fields: list[str] = []
    inlines = [PolicyTierInline]
    readonly_fields = ["terms_in_words", "version_now"]

    @admin.display(description="in words")
    def terms_in_words(self, policy: CancellationPolicy) -> str:
        return policy.in_words() if policy.pk else ""

    @admin.display(description="version (changes with the terms)")
    def version_now(self, policy: CancellationPolicy) -> str:
        return policy.version() if policy.pk else ""


@admin.register(CancellationRefund)
class CancellationRefundAdmin(SimpleHistoryAdmin):
    list_display = [
        "booking_code",
        "status",
        "amount_minor",
        "refunded_minor",
        "currency",
        "policy_version",
        "created_at",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["=booking_code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # worked out from Stripe and the policy; a person changes the amount in the review queue


@admin.register(FailedRefund)
class FailedRefundAdmin(admin.ModelAdmin):
    list_display = ["refund_id", "payment_intent_id", "amount_minor", "currency", "failure_reason", "created_at"]
    search_fields = ["=refund_id", "=payment_intent_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Stripe's word; the retry is answered in the review queue
