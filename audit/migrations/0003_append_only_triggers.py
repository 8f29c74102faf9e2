"""Database triggers that keep audit_decision append-only whatever code runs.

The ORM already refuses; these catch raw SQL and anything that bypasses the
manager. Fixed columns may never change, and a final outcome is final.
On SQLite there is no delete trigger: Django's test flush empties tables with
DELETE (PostgreSQL's uses TRUNCATE, which row triggers do not see).
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

FIXED_COLUMNS = [
    "id", "trace_id", "workflow", "booking_id", "stripe_ids", "action", "params", "amount_minor", "currency",
    "reason", "reasons", "score", "confidence", "model_version", "mode", "route", "route_reason", "actor_type",
    "actor_id", "parent_id", "created_at",
]  # fmt: skip
FINAL_OUTCOMES = ["executed", "failed", "rejected", "expired", "logged"]
MESSAGE = "audit_decision is append-only: only the outcome of an unfinished decision may be filled in"


def _changed(old: str, new: str) -> str:
    return " OR ".join(f"{new}.{c} IS DISTINCT FROM {old}.{c}" for c in FIXED_COLUMNS)


def _final(old: str, new: str) -> str:
    finals = ", ".join(f"'{o}'" for o in FINAL_OUTCOMES)
    return f"({old}.outcome IN ({finals}) AND {new}.outcome IS DISTINCT FROM {old}.outcome)"


def install(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"""
            CREATE OR REPLACE FUNCTION audit_decision_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    RAISE EXCEPTION '{MESSAGE}';
                END IF;
                IF {_changed("OLD", "NEW")} OR {_final("OLD", "NEW")} THEN
                    RAISE EXCEPTION '{MESSAGE}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql;
        """)
        schema_editor.execute(
            "CREATE TRIGGER audit_decision_append_only BEFORE UPDATE OR DELETE ON audit_decision "
            "FOR EACH ROW EXECUTE FUNCTION audit_decision_append_only();"
        )
    elif vendor == "sqlite":
        condition = _changed("OLD", "NEW").replace("IS DISTINCT FROM", "IS NOT") + " OR " + _final(
            "OLD", "NEW"
        ).replace("IS DISTINCT FROM", "IS NOT")
        schema_editor.execute(
            f"CREATE TRIGGER audit_decision_append_only BEFORE UPDATE ON audit_decision "
            f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
        )


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_decision_append_only ON audit_decision;")
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_decision_append_only();")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_decision_append_only;")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_claims_and_requeue")]

    operations = [migrations.RunPython(install, remove)]
