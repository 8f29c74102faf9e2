"""Fraud scoring's permissions for the staff groups (frozen grant): everyone reads, Admins set policy and lists."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

READ = [
    "view_assessment",
    "view_fraudhold",
    "view_fraudlabel",
    "view_fraudmodelversion",
    "view_fraudpolicy",
    "view_fraudlistentry",
]
ADMIN = ["change_fraudpolicy", "add_fraudlistentry", "change_fraudlistentry", "delete_fraudlistentry"]
GRANTS = {"Viewer": READ, "Reviewer": READ, "Approver": READ, "Admin": READ + ADMIN}


def grant(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    config = apps.get_app_config("fraud")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=GRANTS):
        codenames = GRANTS[group.name]
        group.permissions.add(*Permission.objects.filter(content_type__app_label="fraud", codename__in=codenames))


def revoke(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="fraud"))


class Migration(migrations.Migration):
    dependencies = [("fraud", "0001_initial"), ("payops", "0002_staff_groups_and_policies")]

    operations = [migrations.RunPython(grant, revoke)]
