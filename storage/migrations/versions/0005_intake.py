"""intake: news sources, their feed items, and review channels

Revision ID: 0005_intake
Revises: 0004_record_changes
Create Date: 2026-12-06 20:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = "0005_intake"
down_revision = "0004_record_changes"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = storage.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", String(length=100), nullable=False),
        sa.Column("url", String(length=1000), nullable=False),
        sa.Column("kind", String(length=20), nullable=False),
        sa.Column("tracks", sa.JSON(), nullable=True),
        sa.Column("confidence", String(length=20), nullable=False),
        sa.Column("poll_minutes", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("muted", sa.JSON(), nullable=False),
        sa.Column("etag", String(length=300), nullable=True),
        sa.Column("last_modified", String(length=100), nullable=True),
        sa.Column("last_polled_at", UTC(timezone=True), nullable=True),
        sa.Column("last_success_at", UTC(timezone=True), nullable=True),
        sa.Column("last_error", String(length=1000), nullable=False),
        sa.Column("last_error_at", UTC(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("items_seen", sa.Integer(), nullable=False),
        sa.Column("failing_notified", sa.Boolean(), nullable=False),
        sa.Column("next_poll_at", UTC(timezone=True), nullable=False),
        sa.Column("claimed_by", String(length=80), nullable=True),
        sa.Column("lease_until", UTC(timezone=True), nullable=True),
        sa.Column("added_by", String(length=40), nullable=False),
        sa.Column("added_at", UTC(timezone=True), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("seed_key", String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("url"),
        sa.UniqueConstraint("seed_key"),
    )
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_next_poll_at"), ["next_poll_at"], unique=False)

    op.create_table(
        "feed_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("key", String(length=1000), nullable=False),
        sa.Column("title", String(length=300), nullable=False),
        sa.Column("link", String(length=1000), nullable=False),
        sa.Column("published_at", UTC(timezone=True), nullable=True),
        sa.Column("summary", String(length=3000), nullable=False),
        sa.Column("fetched_at", UTC(timezone=True), nullable=False),
        sa.Column("state", String(length=20), nullable=False),
        sa.Column("matched", sa.JSON(), nullable=False),
        sa.Column("mentioned", sa.JSON(), nullable=False),
        sa.Column("same_as_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", String(length=40), nullable=False),
        sa.Column("decided_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.ForeignKeyConstraint(["same_as_id"], ["feed_item.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "key", name="uq_feed_item_source_key"),
    )
    with op.batch_alter_table("feed_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_item_fetched_at"), ["fetched_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_item_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_item_state"), ["state"], unique=False)

    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_column("review")
    with op.batch_alter_table("feed_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_item_state"))
        batch_op.drop_index(batch_op.f("ix_feed_item_source_id"))
        batch_op.drop_index(batch_op.f("ix_feed_item_fetched_at"))
    op.drop_table("feed_item")
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_next_poll_at"))
    op.drop_table("source")
