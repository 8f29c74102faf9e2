from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from payops.event_processing import replay_events
from payops.models import InboundEvent, ReviewApproval, ReviewItem, WorkflowPolicy


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows written only by the system: viewable, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "source", "event_type", "event_id", "status", "attempts", "trace_id"]
    list_filter = ["source", "status", "event_type"]
    search_fields = ["event_id", "trace_id", "event_type"]
    date_hierarchy = "received_at"
    actions = ["replay"]

    @admin.action(description="Replay selected events (failed, ignored or processed)", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        replayed = replay_events(queryset, actor=request.user, via="the admin")  # type: ignore[arg-type]
        skipped = queryset.count() - len(replayed)
        self.message_user(request, f"Queued {len(replayed)} events again; {skipped} still in flight were left alone.")
        if skipped:
            self.message_user(request, "Events in flight cannot be replayed.", level=messages.WARNING)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payops.replay_inboundevent")


@admin.register(WorkflowPolicy)
class WorkflowPolicyAdmin(SimpleHistoryAdmin):
    list_display = [
        "workflow",
        "mode",
        "rollout_percent",
        "automate_max_risk",
        "automate_min_confidence",
        "automate_max_amount_minor",
        "threshold_currency",
        "updated_at",
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReviewApprovalInline(admin.TabularInline):
    model = ReviewApproval
    extra = 0
    readonly_fields = ["user", "created_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReviewItem)
class ReviewItemAdmin(SimpleHistoryAdmin):
    list_display = [
        "pk",
        "kind",
        "status",
        "booking_id",
        "risk_score",
        "amount_minor",
        "currency",
        "due_by",
        "assignee",
    ]
    list_filter = ["kind", "status", "required_role"]
    search_fields = ["booking_id", "decision__trace_id"]
    readonly_fields = [
        "kind",
        "status",
        "decision",
        "action",
        "params",
        "booking_id",
        "risk_score",
        "amount_minor",
        "currency",
        "required_role",
        "approvals_required",
        "created_at",
        "updated_at",
    ]
    inlines = [ReviewApprovalInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReviewApproval)
class ReviewApprovalAdmin(ReadOnlyAdmin):
    list_display = ["item", "user", "created_at"]
    search_fields = ["item__booking_id", "user__username"]
