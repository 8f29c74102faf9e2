"""Every staff group may read the Checkfront mirror (frozen grant)."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

PERMISSIONS = ["view_booking", "view_bookingitem", "view_customer", "view_item", "view_transaction", "view_synccursor"]
GROUPS = ["Viewer", "Reviewer", "Approver", "Admin"]


def grant(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    config = apps.get_app_config("bookings")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.filter(content_type__app_label="bookings", codename__in=PERMISSIONS))
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.add(*permissions)


def revoke(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    permissions = list(Permission.objects.filter(content_type__app_label="bookings", codename__in=PERMISSIONS))
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial"), ("payops", "0002_staff_groups_and_policies")]

    operations = [migrations.RunPython(grant, revoke)]
