"""scheduling: delivery retries, countdown planning and subscription start

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retry_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("planned_from", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active_since", storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_column("active_since")
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.drop_column("planned_from")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("retry_at")
