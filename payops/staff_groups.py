"""The staff groups as they stand after every migration, recreated when missing.

Migrations grant permissions (frozen lists, one migration per change). This
module only puts back groups and policies that are missing altogether, as
after the flush between transactional tests; it never changes a group that
exists, so an Admin's edits stay.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions

WORKFLOWS = ["payments", "dunning", "fraud", "refunds", "disputes"]

VIEWER = [
    ("payops", "view_inboundevent"),
    ("payops", "view_reviewitem"),
    ("payops", "view_reviewapproval"),
    ("payops", "view_workflowpolicy"),
    ("payops", "view_stripe_mirror"),
    ("audit", "view_decision"),
    ("bookings", "view_booking"),
    ("bookings", "view_bookingitem"),
    ("bookings", "view_customer"),
    ("bookings", "view_item"),
    ("bookings", "view_transaction"),
    ("bookings", "view_synccursor"),
    ("fraud", "view_assessment"),
    ("fraud", "view_fraudhold"),
    ("fraud", "view_fraudlabel"),
    ("fraud", "view_fraudmodelversion"),
    ("fraud", "view_fraudpolicy"),
    ("fraud", "view_fraudlistentry"),
    ("refunds", "view_cancellationpolicy"),
    ("refunds", "view_policytier"),
    ("refunds", "view_cancellationrefund"),
    ("refunds", "view_failedrefund"),
    ("disputes", "view_disputecase"),
]
REVIEWER = [*VIEWER, ("payops", "change_reviewitem"), ("payops", "act_on_reviewitem")]
APPROVER = [*REVIEWER, ("payops", "approve_large_reviewitem")]
ADMIN = [
    *APPROVER,
    ("payops", "change_workflowpolicy"),
    ("payops", "replay_inboundevent"),
    ("fraud", "change_fraudpolicy"),
    ("fraud", "add_fraudlistentry"),
    ("fraud", "change_fraudlistentry"),
    ("fraud", "delete_fraudlistentry"),
    *[
        ("refunds", f"{verb}_{model}")
        for model in ("cancellationpolicy", "policytier")
        for verb in ("add", "change", "delete")
    ],
]
GROUPS = {"Viewer": VIEWER, "Reviewer": REVIEWER, "Approver": APPROVER, "Admin": ADMIN}


def ensure_staff_groups(apps: Apps) -> None:
    """Create missing groups with their permissions, and missing default policies."""
    # Permissions are normally created after all migrations; make them now.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True  # type: ignore[assignment]
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, created = Group.objects.get_or_create(name=name)
        if not created:
            continue
        for app_label, codename in perms:
            # An app migrated later has no permissions yet; post_migrate
            # runs this again once every app's tables exist.
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                group.permissions.add(permission)
    WorkflowPolicy = apps.get_model("payops", "WorkflowPolicy")
    for workflow in WORKFLOWS:
        WorkflowPolicy.objects.get_or_create(workflow=workflow)


def on_post_migrate(sender: Any, apps: Apps | None = None, **kwargs: Any) -> None:
    # `flush` sends post_migrate without the migration state: use the live registry.
    ensure_staff_groups(apps or global_apps)
