"""Database triggers: audit seals are append-only, and a final outcome is final in every column.

0003 stopped a final outcome from changing, but left its detail, time and
attempts writable; nothing in PayOps writes them once the outcome is final,
and the "settled" seal covers them, so the database now refuses that too.
As in 0003, SQLite gets no delete trigger (Django's test flush deletes rows;
PostgreSQL's truncates, which row triggers do not see). There, the foreign
key from a seal still refuses deleting a sealed decision, and verify_audit
reports a missing link.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

FIXED_COLUMNS = [
    "id", "trace_id", "workflow", "booking_id", "stripe_ids", "action", "params", "amount_minor", "currency",
    "reason", "reasons", "score", "confidence", "model_version", "mode", "route", "route_reason", "actor_type",
    "actor_id", "parent_id", "created_at",
]  # fmt: skip
OUTCOME_COLUMNS = ["outcome", "outcome_detail", "outcome_at", "attempts", "claimed_at", "next_attempt_at", "queued_at"]
FINAL_OUTCOMES = ["executed", "failed", "rejected", "expired", "logged"]
DECISION_MESSAGE = "audit_decision is append-only: only the outcome of an unfinished decision may be filled in"
SEAL_MESSAGE = "audit_auditseal is append-only: chain links are never changed or deleted"


def _any_changed(columns: list[str], *, distinct: str) -> str:
    return " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in columns)


def _decision_condition(*, distinct: str, outcome_columns: list[str]) -> str:
    finals = ", ".join(f"'{o}'" for o in FINAL_OUTCOMES)
    return (
        f"{_any_changed(FIXED_COLUMNS, distinct=distinct)} OR "
        f"(OLD.outcome IN ({finals}) AND ({_any_changed(outcome_columns, distinct=distinct)}))"
    )


def _set_decision_trigger(schema_editor: BaseDatabaseSchemaEditor, outcome_columns: list[str]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        condition = _decision_condition(distinct="IS DISTINCT FROM", outcome_columns=outcome_columns)
        schema_editor.execute(f"""
            CREATE OR REPLACE FUNCTION audit_decision_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    RAISE EXCEPTION '{DECISION_MESSAGE}';
                END IF;
                IF {condition} THEN
                    RAISE EXCEPTION '{DECISION_MESSAGE}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql;
        """)
    elif vendor == "sqlite":
        condition = _decision_condition(distinct="IS NOT", outcome_columns=outcome_columns)
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_decision_append_only;")
        schema_editor.execute(
            f"CREATE TRIGGER audit_decision_append_only BEFORE UPDATE ON audit_decision "
            f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{DECISION_MESSAGE}'); END;"
        )


def install(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _set_decision_trigger(schema_editor, OUTCOME_COLUMNS)
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"""
            CREATE OR REPLACE FUNCTION audit_seal_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{SEAL_MESSAGE}';
            END;
            $$ LANGUAGE plpgsql;
        """)
        schema_editor.execute(
            "CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_auditseal "
            "FOR EACH ROW EXECUTE FUNCTION audit_seal_append_only();"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER audit_seal_append_only BEFORE UPDATE ON audit_auditseal "
            f"BEGIN SELECT RAISE(ABORT, '{SEAL_MESSAGE}'); END;"
        )


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_auditseal;")
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_seal_append_only();")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_seal_append_only;")
    _set_decision_trigger(schema_editor, ["outcome"])  # back to 0003's rule


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_audit_seal_chain")]

    operations = [migrations.RunPython(install, remove)]
