"""topic recency: each tag carries its event's time and visibility, indexed by topic

`/watch`, App Home and the digest show each sensitivity's latest events. Read through the
event table, that ranked every tagged event of every topic (a window over all of them: 20
ms a `/watch` at 10,000 events). With the event's `occurred_at` and `visibility` on its
tags, and an index (sensitivity_id, occurred_at, event_id), each topic's latest events are
the first entries of one index range.

The copies are kept by the database itself, for any writer: a trigger fills them when a tag
is added and another follows a change of the event's time or visibility (Parley never edits
an event, but an import, `psql` or a later feature may).

Revision ID: 0006_topic_recency
Revises: 0005_intake
Create Date: 2026-12-07 01:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = "0006_topic_recency"
down_revision = "0005_intake"
branch_labels = None
depends_on = None

INDEX = "ix_event_sensitivity_recency"

SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER event_sensitivity_recency_added AFTER INSERT ON event_sensitivity
    BEGIN
        UPDATE event_sensitivity
        SET occurred_at = (SELECT occurred_at FROM event WHERE id = NEW.event_id),
            visibility = (SELECT visibility FROM event WHERE id = NEW.event_id)
        WHERE event_id = NEW.event_id AND sensitivity_id = NEW.sensitivity_id;
    END
    """,
    """
    CREATE TRIGGER event_recency_changed AFTER UPDATE OF occurred_at, visibility ON event
    BEGIN
        UPDATE event_sensitivity SET occurred_at = NEW.occurred_at, visibility = NEW.visibility
        WHERE event_id = NEW.id;
    END
    """,
)

POSTGRES_TRIGGERS = (
    """
    CREATE FUNCTION parley_tag_recency() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT occurred_at, visibility INTO NEW.occurred_at, NEW.visibility
        FROM event WHERE id = NEW.event_id;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER event_sensitivity_recency_added BEFORE INSERT OR UPDATE ON event_sensitivity
    FOR EACH ROW EXECUTE FUNCTION parley_tag_recency()
    """,
    """
    CREATE FUNCTION parley_event_recency() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE event_sensitivity SET occurred_at = NEW.occurred_at, visibility = NEW.visibility
        WHERE event_id = NEW.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER event_recency_changed AFTER UPDATE OF occurred_at, visibility ON event
    FOR EACH ROW EXECUTE FUNCTION parley_event_recency()
    """,
)


def upgrade() -> None:
    # Plain ALTERs, not a batch: SQLite adds columns in place, and a batch's copy of the
    # table would drop the triggers already on it.
    op.add_column(
        "event_sensitivity",
        sa.Column("occurred_at", storage.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "event_sensitivity",
        sa.Column("visibility", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    )
    op.create_index(
        INDEX, "event_sensitivity", ["sensitivity_id", "occurred_at", "event_id"], unique=False
    )
    op.execute(
        "UPDATE event_sensitivity SET "
        "occurred_at = (SELECT occurred_at FROM event WHERE event.id = event_sensitivity.event_id), "
        "visibility = (SELECT visibility FROM event WHERE event.id = event_sensitivity.event_id)"
    )
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_recency_changed ON event")
        op.execute("DROP TRIGGER IF EXISTS event_sensitivity_recency_added ON event_sensitivity")
        op.execute("DROP FUNCTION IF EXISTS parley_event_recency()")
        op.execute("DROP FUNCTION IF EXISTS parley_tag_recency()")
    else:
        op.execute("DROP TRIGGER IF EXISTS event_recency_changed")
        op.execute("DROP TRIGGER IF EXISTS event_sensitivity_recency_added")
    op.drop_index(INDEX, table_name="event_sensitivity")
    with op.batch_alter_table("event_sensitivity", schema=None) as batch_op:
        batch_op.drop_column("visibility")
        batch_op.drop_column("occurred_at")
