"""The outbox on both databases: planning by key, exclusive claims, leases, back-off."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from storage import outbox
from storage.db import Database
from storage.models import DeliveryKind, DeliveryStatus
from storage.outbox import PlannedDelivery

NOW = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def planned(n: int) -> list[PlannedDelivery]:
    return [
        PlannedDelivery(
            key=f"countdown:1:x:0:C{i:06d}",
            kind=DeliveryKind.countdown,
            channel_id=f"C{i:06d}",
            due_at=NOW,
        )
        for i in range(n)
    ]


async def test_planning_twice_adds_each_key_once(db: Database) -> None:
    async with db.session() as session:
        assert await outbox.plan(session, planned(1200), now=NOW) == 1200
        assert await outbox.plan(session, planned(1300), now=NOW) == 100


async def test_concurrent_claims_from_two_engines_never_share_a_row(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    await first.upgrade()
    try:
        async with first.session() as session:
            await outbox.plan(session, planned(1000), now=NOW)
        claims: Counter[int] = Counter()

        async def claim_all(db: Database, worker: str) -> None:
            for _ in range(20):
                async with db.session() as session:
                    rows = await outbox.claim_due(
                        session, worker=worker, now=NOW, lease=LEASE, limit=50
                    )
                claims.update(row.id for row in rows if row.id is not None)

        await asyncio.gather(
            claim_all(first, "a"),
            claim_all(second, "b"),
            claim_all(first, "c"),
            claim_all(second, "d"),
        )
        assert len(claims) == 1000 and set(claims.values()) == {1}
    finally:
        await first.dispose()
        await second.dispose()


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_finish(
    db: Database,
) -> None:
    async with db.session() as session:
        await outbox.plan(session, planned(1), now=NOW)
        [row] = await outbox.claim_due(session, worker="old", now=NOW, lease=LEASE)
        assert await outbox.claim_due(session, worker="new", now=NOW + LEASE, lease=LEASE) == []
        [taken] = await outbox.claim_due(
            session, worker="new", now=NOW + LEASE + timedelta(seconds=1), lease=LEASE
        )
        assert taken.id == row.id and taken.attempts == 2
        assert row.id is not None
        assert not await outbox.renew(
            session, delivery_id=row.id, worker="old", now=NOW, lease=LEASE
        )
        assert not await outbox.mark_sent(
            session, delivery_id=row.id, worker="old", ts="1", now=NOW
        )
        assert await outbox.mark_sent(session, delivery_id=row.id, worker="new", ts="2", now=NOW)
        [sent] = [d for d in await outbox.unsent(session)] or [None]
        assert sent is None
        assert (await outbox.status_counts(session))[DeliveryStatus.sent] == 1


async def test_a_failed_delivery_waits_for_its_back_off(db: Database) -> None:
    async with db.session() as session:
        await outbox.plan(session, planned(1), now=NOW)
        [row] = await outbox.claim_due(session, worker="w", now=NOW, lease=LEASE)
        assert row.id is not None
        await outbox.mark_failed(
            session,
            delivery_id=row.id,
            worker="w",
            error="internal_error",
            retry_at=NOW + outbox.backoff(row.attempts),
        )
        assert (
            await outbox.claim_due(
                session, worker="w", now=NOW + timedelta(seconds=29), lease=LEASE
            )
            == []
        )
        assert (
            len(
                await outbox.claim_due(
                    session, worker="w", now=NOW + timedelta(seconds=30), lease=LEASE
                )
            )
            == 1
        )


def test_back_off_doubles_up_to_an_hour() -> None:
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert outbox.backoff(50) == timedelta(hours=1)
