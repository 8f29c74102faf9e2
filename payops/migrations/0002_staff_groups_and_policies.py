"""Staff groups (Viewer, Reviewer, Approver, Admin) and a monitor-mode policy per workflow."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from payops.staff_groups import GROUPS, ensure_staff_groups


def create_groups(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    ensure_staff_groups(apps)


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
