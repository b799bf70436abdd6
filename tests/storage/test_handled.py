"""`storage/handled.py`: claiming a Slack request id once, on both databases."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlmodel import select

from storage.db import Database
from storage.handled import first_time, forget_handled
from storage.models import HandledRequest
from tests.support.people import AS_OF


async def claim(db: Database, request_id: str, at: datetime = AS_OF) -> bool:
    async with db.session() as session:
        first = await first_time(session, request_id=request_id, now=at)
        await session.commit()
    return first


async def test_the_first_claim_wins_and_a_repeat_is_refused(db: Database) -> None:
    assert await claim(db, "Ev01") is True
    assert await claim(db, "Ev01") is False
    assert await claim(db, "Ev02") is True
    async with db.session() as session:
        stored = (await session.exec(select(HandledRequest))).all()
    assert sorted(r.request_id for r in stored) == ["Ev01", "Ev02"]
    assert stored[0].handled_at == AS_OF


async def test_concurrent_claims_of_one_id_have_one_winner(db: Database) -> None:
    results = await asyncio.gather(*(claim(db, "EvRACE") for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]


async def test_an_uncommitted_claim_is_not_kept(db: Database) -> None:
    async with db.session() as session:
        assert await first_time(session, request_id="EvROLLBACK", now=AS_OF)
        await session.rollback()
    assert await claim(db, "EvROLLBACK") is True


async def test_forgetting_drops_only_the_old_ids(db: Database) -> None:
    await claim(db, "EvOLD", AS_OF - timedelta(days=2))
    await claim(db, "EvNEW", AS_OF)
    async with db.session() as session:
        assert await forget_handled(session, before=AS_OF - timedelta(days=1)) == 1
        await session.commit()
    assert await claim(db, "EvOLD") is True
    assert await claim(db, "EvNEW") is False
