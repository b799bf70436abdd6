"""Slack requests already handled, by id, so a Slack retry has no second effect.

The claim is one `INSERT … ON CONFLICT DO NOTHING`: of two replicas receiving the same
event, exactly one gets True.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import HandledRequest
from storage.upsert import insert_for


async def first_time(session: AsyncSession, *, request_id: str, now: datetime) -> bool:
    """Records `request_id` as handled at `now`; False if it already was. The caller commits."""
    statement = (
        insert_for(session, HandledRequest)
        .values(request_id=request_id, handled_at=now)
        .on_conflict_do_nothing(index_elements=["request_id"])
    )
    result = await session.exec(statement)
    return bool(result.rowcount)


async def forget_handled(session: AsyncSession, *, before: datetime) -> int:
    """Drops the ids handled before `before` (Slack stops retrying after minutes)."""
    statement = delete(HandledRequest).where(col(HandledRequest.handled_at) < before)
    result = await session.exec(statement)
    return int(result.rowcount or 0)
