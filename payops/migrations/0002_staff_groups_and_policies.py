"""Staff groups (Viewer, Reviewer, Approver, Admin) and a monitor-mode policy per workflow.

The permission lists are frozen here; later grants come in later migrations.
"""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

VIEWER = [
    ("payops", "view_inboundevent"),
    ("payops", "view_reviewitem"),
    ("payops", "view_reviewapproval"),
    ("payops", "view_workflowpolicy"),
    ("audit", "view_decision"),
]
REVIEWER = [*VIEWER, ("payops", "change_reviewitem"), ("payops", "act_on_reviewitem")]
APPROVER = [*REVIEWER, ("payops", "approve_large_reviewitem")]
ADMIN = [*APPROVER, ("payops", "change_workflowpolicy"), ("payops", "replay_inboundevent")]
GROUPS = {"Viewer": VIEWER, "Reviewer": REVIEWER, "Approver": APPROVER, "Admin": ADMIN}
WORKFLOWS = ["payments", "dunning", "fraud", "refunds", "disputes"]


def create_groups(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Permissions are normally created after all migrations; make ours now.
    for label in ("payops", "audit"):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    WorkflowPolicy = apps.get_model("payops", "WorkflowPolicy")
    for workflow in WORKFLOWS:
        WorkflowPolicy.objects.get_or_create(workflow=workflow)


def remove_groups(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payops", "0001_initial"),
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
