"""A permission to read the Stripe mirror, granted to every staff group (frozen grant)."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

GROUPS = ["Viewer", "Reviewer", "Approver", "Admin"]


def grant(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    config = apps.get_app_config("payops")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="payops", codename="view_stripe_mirror")
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.add(permission)


def revoke(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="payops", codename="view_stripe_mirror").delete()


class Migration(migrations.Migration):
    dependencies = [("payops", "0006_dispatcher_index")]

    operations = [
        migrations.AlterModelOptions(
            name="inboundevent",
            options={
                "ordering": ["-received_at"],
                "permissions": [
                    ("replay_inboundevent", "Can replay inbound events"),
                    ("view_stripe_mirror", "Can view the Stripe mirror"),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
