"""record changes: every write to the record's tables NOTIFYs parley_record (PostgreSQL)

The answer cache (bot.answers) and the lookups (storage.lookups) reuse what they read until
the record's version moves. On PostgreSQL another process's writes move it through
`NOTIFY parley_record`; this trigger sends it from the database itself, once per statement
that writes, so a write by `psql`, a migration or a Core statement is seen as well as one by
Parley's sessions. (SQLite needs nothing: `PRAGMA data_version` moves with every commit by
any connection.) The notification is delivered at commit, and not at all on rollback.

Revision ID: 0004_record_changes
Revises: 0003_search
Create Date: 2026-12-06 21:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0004_record_changes"
down_revision = "0003_search"
branch_labels = None
depends_on = None

CHANNEL = "parley_record"  # storage.version.CHANNEL, as it was when this was written
#: Every table of the record; not the bookkeeping ones (delivery, handled_request), which
#: no answer reads and the scheduler writes all the time.
RECORD_TABLES = (
    "track",
    "talks_round",
    "delegation",
    "truce",
    "truce_term",
    "truce_extension",
    "deadline",
    "sensitivity",
    "event",
    "event_sensitivity",
    "subscription",
    "role_grant",
    "audit_entry",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION parley_record_changed() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table in RECORD_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION parley_record_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in RECORD_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS parley_record_changed()")
