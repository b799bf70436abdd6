"""`Database.analyze()`, run after a bulk load or an import: fresh planner statistics on both
databases, and on PostgreSQL a vacuum too, so a table just filled is all-visible and its
index-only scans (search's filter, the tags' recency) need not read the heap."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, text

from storage.db import Database
from storage.models import Event
from tests.support.record import Seeded


async def test_analyze_leaves_fresh_statistics_and_on_postgresql_no_page_unvacuumed(
    db: Database, seeded: Seeded
) -> None:
    async with db.engine.begin() as conn:  # a page written after any earlier vacuum
        at = datetime(2025, 7, 30, 9, tzinfo=UTC)
        await conn.execute(
            insert(Event),
            [
                {"title": f"Bulk {n}", "occurred_at": at, "created_at": at, "zone": "UTC"}
                for n in range(300)
            ],
        )
    await db.analyze()
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            stats = await conn.execute(
                text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'event'")
            )
            assert stats.scalar_one() > 0
            return
        pages, visible, tuples = (
            await conn.execute(
                text(
                    "SELECT relpages, relallvisible, reltuples FROM pg_class "
                    "WHERE relname = 'event'"
                )
            )
        ).one()
    assert tuples >= 300  # analysed
    assert pages > 0 and visible == pages  # and vacuumed: every page all-visible
