"""Disputes' permissions for the staff groups (frozen grant): everyone reads the dispute cases."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

READ = ["view_disputecase"]
GRANTS = {"Viewer": READ, "Reviewer": READ, "Approver": READ, "Admin": READ}


def grant(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    config = apps.get_app_config("disputes")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=GRANTS):
        codenames = GRANTS[group.name]
        group.permissions.add(*Permission.objects.filter(content_type__app_label="disputes", codename__in=codenames))


def revoke(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="disputes"))


class Migration(migrations.Migration):
    dependencies = [("disputes", "0002_case_declined"), ("payops", "0002_staff_groups_and_policies")]

    operations = [migrations.RunPython(grant, revoke)]
